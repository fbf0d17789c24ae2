// Hostile and unlucky inputs (issue 17): each a copy of the tiny model with one defect, run
// through the CLI with permissions scoped to its directory. Every one is refused with a message
// naming the file and the defect, without a permission prompt or a stack trace; ordinary
// layouts (links inside the model directory, a Hugging Face cache snapshot) still convert.
import { assertEquals, assertOk } from "./_assert.ts";
import { cli, convertArgs, judge, rewriteSafetensors, runCase, tinyModel } from "./_hostile.ts";
import {
  ACCEPTED_CASES,
  CONFIG_CASES,
  DEEP_JSON_CASES,
  FILE_CASES,
  OUTPUT_CASES,
  SCOPE_CASES,
  TEMPLATE_CASES,
  TORCH_CASES,
} from "./_hostile_corpus.ts";
import { normalizePath } from "../src/io/scope.ts";

for (
  const c of [
    ...SCOPE_CASES,
    ...CONFIG_CASES,
    ...TEMPLATE_CASES,
    ...FILE_CASES,
    ...OUTPUT_CASES,
    ...TORCH_CASES,
    ...DEEP_JSON_CASES,
    ...ACCEPTED_CASES,
  ]
) {
  Deno.test(`hostile input: ${c.name}`, async () => {
    const r = await runCase(c, { rss: true });
    const problems = judge(c, r);
    assertEquals(problems, [], problems.join("\n"));
  });
}

Deno.test("hostile output: links planted in OUT are replaced, never written through (gen_config and convert_weight)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mlc-hostile-" });
  try {
    const model = await tinyModel(dir);
    await Deno.mkdir(`${dir}/outside`);
    await Deno.mkdir(`${dir}/gen`);
    await Deno.mkdir(`${dir}/out`);
    const victims = [
      "tokenizer.json",
      "tokenizer_config.json",
      "mlc-chat-config.json",
      ".mlc-chat-config.json.tmp",
    ];
    for (const n of victims) {
      await Deno.writeTextFile(`${dir}/outside/${n}`, "precious");
      await Deno.symlink(`${dir}/outside/${n}`, `${dir}/gen/${n}`);
    }
    await Deno.writeTextFile(`${dir}/outside/params_shard_0.bin`, "precious");
    await Deno.symlink(`${dir}/outside/params_shard_0.bin`, `${dir}/out/params_shard_0.bin`);
    await Deno.symlink(`${dir}/outside/tensor-cache.json`, `${dir}/out/tensor-cache.json`); // (dangling)
    const g = await cli(dir, [
      "gen_config",
      model,
      "--quantization",
      "q4f16_1",
      "--conv-template",
      "llama-2",
      "-o",
      `${dir}/gen`,
    ]);
    assertEquals(g.code, 0, g.err);
    const c = await cli(dir, [
      "convert_weight",
      model,
      "--quantization",
      "q4f16_1",
      "-o",
      `${dir}/out`,
      "--device",
      "reference",
    ]);
    assertEquals(c.code, 0, c.err);
    for (const n of [...victims, "params_shard_0.bin"]) {
      assertEquals(await Deno.readTextFile(`${dir}/outside/${n}`), "precious", n);
    }
    let dangling = true;
    try {
      await Deno.lstat(`${dir}/outside/tensor-cache.json`);
      dangling = false;
    } catch { /* still absent */ }
    assertOk(dangling, "tensor-cache.json was written through the dangling link");
    for (const n of ["tokenizer.json", "tokenizer_config.json", "mlc-chat-config.json"]) {
      assertOk((await Deno.lstat(`${dir}/gen/${n}`)).isFile, `${n} is a regular file now`);
    }
    assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/gen/tokenizer.json`)).model.type, "BPE");
    for (const n of ["params_shard_0.bin", "tensor-cache.json"]) {
      assertOk((await Deno.lstat(`${dir}/out/${n}`)).isFile, `${n} is a regular file now`);
    }
    // no temporary files left behind
    const left = [];
    for await (const e of Deno.readDir(`${dir}/gen`)) {
      if (e.name.startsWith(".mlc-convert")) left.push(e.name);
    }
    assertEquals(left, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostile input: a Hugging Face cache snapshot (links into ../../blobs) converts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mlc-hostile-" });
  try {
    const model = await tinyModel(dir);
    const repo = `${dir}/hub/models--org--tiny`;
    const snap = `${repo}/snapshots/0123abcd`;
    await Deno.mkdir(`${repo}/blobs`, { recursive: true });
    await Deno.mkdir(snap, { recursive: true });
    let i = 0;
    for await (const e of Deno.readDir(model)) {
      await Deno.rename(`${model}/${e.name}`, `${repo}/blobs/${++i}`);
      await Deno.symlink(`../../blobs/${i}`, `${snap}/${e.name}`);
    }
    const r = await cli(dir, [
      "convert_weight",
      snap,
      "--quantization",
      "q0f16",
      "-o",
      `${dir}/out`,
      "--device",
      "reference",
    ]);
    assertEquals(r.code, 0, r.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostile input: read access narrower than the model directory exits 3 before reading, with the line to run, never prompts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mlc-hostile-" });
  try {
    const model = await tinyModel(dir);
    const r = await cli(
      dir,
      [
        "convert_weight",
        `${model}/config.json`,
        "--quantization",
        "q0f16",
        "-o",
        `${dir}/out`,
        "--device",
        "reference",
      ],
      { perms: [`--allow-read=${model}/config.json,${dir}/out`, `--allow-write=${dir}/out`] },
    );
    assertEquals(r.code, 3, r.err);
    // (CONFIG given as its config.json: the model directory beside it is what the run reads)
    assertOk(
      /Missing permission: read \S*\/model\. Run:\n\s+deno run --allow-read=\S*\/model,\S*\/out /.test(r.err),
      r.err,
    );
    assertOk(!/Allow\?|Deno requests/.test(r.err), r.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scope: relative paths (no working-directory permission needed), and .. resolved lexically", async () => {
  assertEquals(normalizePath("a/./b/../c/"), "a/c");
  assertEquals(normalizePath("../x/../../y"), "../../y");
  assertEquals(normalizePath("/a/../../b"), "/b");
  assertEquals(normalizePath("./"), ".");
  const dir = await Deno.makeTempDir({ prefix: "mlc-hostile-" });
  try {
    await tinyModel(dir);
    const args = ["convert_weight", "model", "--quantization", "q0f16", "-o", "out", "--device", "reference"];
    const perms = ["--allow-read=model,out", "--allow-write=out"];
    const ok = await cli(dir, args, { perms, cwd: dir });
    assertEquals(ok.code, 0, ok.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostile output: long lists are capped in text, complete in --json", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mlc-hostile-" });
  try {
    const model = await tinyModel(dir);
    // keep one tensor of the checkpoint, add 30 nobody uses
    await rewriteSafetensors(model, (_t, json) => {
      const keep = json["lm_head.weight"];
      const out: Record<string, unknown> = { "lm_head.weight": { ...keep, data_offsets: [0, 256 * 64 * 2] } };
      for (let i = 0; i < 30; i++) {
        out[`extra.${i}`] = { dtype: "F16", shape: [1], data_offsets: [32768 + 2 * i, 32768 + 2 * i + 2] };
      }
      return JSON.stringify(out);
    }, () => new Uint8Array(32768 + 60));
    const r = await cli(dir, [...convertArgs(dir, model), "--json"]);
    assertEquals(r.code, 1, r.err);
    const j = JSON.parse(r.out);
    assertEquals(j.missing_tensors.length, 20);
    assertEquals(j.unused_tensors.length, 30);
    assertOk(
      /do not exist in the weight files .*: model\.embed_tokens\.weight, /.test(r.err),
      r.err,
    );
    assertOk(/Unused extern parameters: extra\.0, .*extra\.19, and 10 more/.test(r.err), r.err);
    const d = await cli(dir, [...convertArgs(dir, model), "--dry-run", "--json"]);
    assertEquals(JSON.parse(d.out).unused_tensors.length, 30);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostile input: verify refuses a shard that is a link leaving the converted directory (with and without --source)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mlc-hostile-" });
  try {
    const model = await tinyModel(dir);
    assertEquals((await cli(dir, convertArgs(dir, model))).code, 0);
    await Deno.mkdir(`${dir}/outside`);
    await Deno.rename(`${dir}/out/params_shard_0.bin`, `${dir}/outside/params_shard_0.bin`);
    await Deno.symlink(`${dir}/outside/params_shard_0.bin`, `${dir}/out/params_shard_0.bin`);
    for (const extra of [[], ["--source", model]]) {
      const r = await cli(dir, ["verify", `${dir}/out`, ...extra]);
      assertEquals(r.code, 1, r.err);
      assertOk(
        /params_shard_0\.bin is a symbolic link to .*outside\/params_shard_0\.bin, outside the model directory/
          .test(r.err + r.out),
        r.err + r.out,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
