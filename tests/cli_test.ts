// The CLI as users script it: run as a subprocess with scoped permissions.
import { assertEquals, assertOk } from "./_assert.ts";
import { llamaHfTensors, TINY_LLAMA_CONFIG, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";
import { stageOutputDir } from "../src/io/staged_dir.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const cfg = { ...TINY_LLAMA_CONFIG } as Record<string, unknown>;

async function run(perms: string[], args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...perms, CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: p.code, out: new TextDecoder().decode(p.stdout), err: new TextDecoder().decode(p.stderr) };
}

/** `convert_weight MODEL --quantization Q -o OUT` for the model written by withModel. */
const convertArgs = (dir: string, quant = "q4f16_1", ...extra: string[]): string[] => [
  "convert_weight",
  `${dir}/model`,
  "--quantization",
  quant,
  "-o",
  `${dir}/out`,
  ...extra,
];

async function withModel(fn: (dir: string) => Promise<void>, tensors = llamaHfTensors(cfg)): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await writeCheckpoint(`${dir}/model`, cfg, tensors, { dtype: "BF16", seed: 1 });
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("cli convert_weight: scoped permissions, output files, no staging left, summary", async () => {
  await withModel(async (dir) => {
    const r = await run(
      [`--allow-read=${dir}/model,${dir}/out`, `--allow-write=${dir}/out`],
      [
        "convert_weight",
        `${dir}/model/config.json`,
        "--quantization",
        "q4f16_1",
        "-o",
        `${dir}/out`,
        "--device",
        "reference",
      ],
    );
    assertEquals(r.code, 0, r.err);
    assertOk(/Converted llama to q4f16_1/.test(r.out), r.out);
    assertOk(/bits per param: 4\.\d{3}/.test(r.out), r.out);
    const files = [...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort();
    assertEquals(files, ["ndarray-cache.json", "params_shard_0.bin", "tensor-cache.json"]);
    // non-empty OUT is refused without --overwrite, accepted with it
    const again = await run(
      [`--allow-read=${dir}/model,${dir}/out`, `--allow-write=${dir}/out`],
      [
        "convert_weight",
        `${dir}/model`,
        "--quantization",
        "q0f16",
        "-o",
        `${dir}/out`,
        "--device",
        "reference",
      ],
    );
    assertEquals(again.code, 1);
    assertOk(/is not empty .*--overwrite/.test(again.err), again.err);
    const ow = await run(
      [`--allow-read=${dir}/model,${dir}/out`, `--allow-write=${dir}/out`],
      [
        "convert_weight",
        `${dir}/model`,
        "--quantization",
        "q0f16",
        "-o",
        `${dir}/out`,
        "--overwrite",
        "--quiet",
      ],
    );
    assertEquals(ow.code, 0, ow.err);
    assertEquals(ow.out, "");
    const cache = JSON.parse(await Deno.readTextFile(`${dir}/out/tensor-cache.json`));
    assertEquals(cache.metadata.BitsPerParam, 16);
    assertEquals([...Deno.readDirSync(`${dir}/out`)].length, 3);
  });
});

Deno.test("cli: a missing permission prints the exact deno run line", async () => {
  await withModel(async (dir) => {
    const r = await run([`--allow-read=${dir}/model`], convertArgs(dir));
    assertEquals(r.code, 2);
    assertOk(r.err.includes(`Missing permission: read ${dir}/out, write ${dir}/out`), r.err);
    assertOk(
      r.err.includes(
        `deno run --allow-read=${dir}/model,${dir}/out --allow-write=${dir}/out ${CLI} convert_weight`,
      ),
      r.err,
    );
  });
});

Deno.test("cli: every missing tensor is named at once; a shape mismatch names tensor, expected and actual", async () => {
  const tensors = llamaHfTensors(cfg).filter((t) =>
    t.name !== "model.layers.0.self_attn.k_proj.weight" && t.name !== "model.norm.weight"
  );
  await withModel(async (dir) => {
    const r = await run([`--allow-read=${dir}`, `--allow-write=${dir}`], convertArgs(dir));
    assertEquals(r.code, 1);
    assertOk(
      r.err.includes(
        "do not exist in the weight files (" +
          `${dir}/model/model.safetensors): model.layers.0.self_attn.k_proj.weight, model.norm.weight`,
      ),
      r.err,
    );
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["model"]);
  }, tensors);
  const bad = llamaHfTensors(cfg).map((t) =>
    t.name === "model.layers.1.mlp.up_proj.weight" ? { ...t, shape: [170, 64] } : t
  );
  await withModel(async (dir) => {
    const r = await run([`--allow-read=${dir}`, `--allow-write=${dir}`], convertArgs(dir));
    assertEquals(r.code, 1);
    assertOk(
      r.err.includes(
        "Parameter model.layers.1.mlp.gate_up_proj.weight has shape [346, 64], but expected [352, 64] " +
          "(built from model.layers.1.mlp.gate_proj.weight [176, 64], model.layers.1.mlp.up_proj.weight [170, 64])",
      ),
      r.err,
    );
  }, bad);
});

Deno.test("cli: unknown quantization, device and model type list the valid choices", async () => {
  await withModel(async (dir) => {
    const p = [`--allow-read=${dir}`, `--allow-write=${dir}`];
    const q = await run(p, ["convert_weight", `${dir}/model`, "--quantization", "q4f16", "-o", `${dir}/o`]);
    assertEquals(q.code, 1);
    assertOk(/Unknown quantization "q4f16". Valid choices: q0f16, q0bf16, q0f32, q3f16_0/.test(q.err), q.err);
    const d = await run(p, convertArgs(dir, "q4f16_1", "--device", "tpu"));
    assertEquals(d.code, 2);
    assertOk(/Unknown device "tpu". Valid choices: auto, cpu, webgpu, reference/.test(d.err), d.err);
    const m = await run(p, convertArgs(dir, "q4f16_1", "--model-type", "llamaa"));
    assertEquals(m.code, 1);
    assertOk(/Unknown model type "llamaa". Supported model types: llama/.test(m.err), m.err);
  });
});

Deno.test("cli --dry-run --json: the plan from headers, no output written", async () => {
  await withModel(async (dir) => {
    const r = await run([`--allow-read=${dir}`], [
      "convert_weight",
      `${dir}/model`,
      "--quantization",
      "q4f16_1",
      "--dry-run",
      "--json",
    ]);
    assertEquals(r.code, 0, r.err);
    const plan = JSON.parse(r.out);
    assertEquals(plan.ok, true);
    assertEquals(plan.tensors.length, 25);
    assertEquals(plan.tensors[0], {
      name: "lm_head.q_weight",
      shape: [256, 8],
      dtype: "uint32",
      nbytes: 8192,
      shard: 0,
      byteOffset: 0,
    });
    assertEquals(plan.shards, [{ dataPath: "params_shard_0.bin", nbytes: plan.total_bytes }]);
    assertEquals(plan.metadata.ParamSize, 25);
  });
});

Deno.test("staged output: an aborted run leaves no cache JSON; commit replaces an older conversion JSON-first", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const s1 = await stageOutputDir(`${dir}/out`);
    await s1.store.writeTextFile("params_shard_0.bin", "partial");
    await s1.abort();
    assertEquals([...Deno.readDirSync(`${dir}/out`)], []);
    const s2 = await stageOutputDir(`${dir}/out`);
    await s2.store.writeTextFile("params_shard_0.bin", "a");
    await s2.store.writeTextFile("params_shard_1.bin", "b");
    await s2.store.writeTextFile("tensor-cache.json", "{}");
    assertEquals(await s2.commit(), ["params_shard_0.bin", "params_shard_1.bin", "tensor-cache.json"]);
    await Deno.writeTextFile(`${dir}/out/mlc-chat-config.json`, "{}");
    const s3 = await stageOutputDir(`${dir}/out`, { overwrite: true });
    await s3.store.writeTextFile("params_shard_0.bin", "c");
    await s3.store.writeTextFile("tensor-cache.json", '{"new": 1}');
    await s3.commit();
    const files = [...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort();
    // the stale params_shard_1.bin of the older conversion is removed; gen_config's file is kept
    assertEquals(files, ["mlc-chat-config.json", "params_shard_0.bin", "tensor-cache.json"]);
    // gen_config outputs alone do not block a conversion
    await Deno.remove(`${dir}/out/params_shard_0.bin`);
    await Deno.remove(`${dir}/out/tensor-cache.json`);
    const s4 = await stageOutputDir(`${dir}/out`);
    await s4.abort();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli --dry-run: an unsupported architecture is a reported problem (with the supported list), exit 1", async () => {
  await withModel(async (dir) => {
    const c = JSON.parse(await Deno.readTextFile(`${dir}/model/config.json`));
    await Deno.writeTextFile(`${dir}/model/config.json`, JSON.stringify({ ...c, model_type: "falcon" }));
    const r = await run([`--allow-read=${dir}`], [
      "convert_weight",
      `${dir}/model`,
      "--quantization",
      "q4f16_1",
      "--dry-run",
      "--json",
    ]);
    assertEquals(r.code, 1);
    const plan = JSON.parse(r.out);
    assertEquals(plan.ok, false);
    assertOk(
      /^Unknown model type "falcon". Supported model types: llama, mistral, qwen2/.test(plan.problems[0]),
      r.out,
    );
  });
});
