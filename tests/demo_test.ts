// The demo and the published package (issue 13): the demo model is generated in code (the package
// ships no model files), and `demo` runs from the files `deno publish` would upload, alone.
import { assertEquals, assertOk } from "./_assert.ts";
import { createHash } from "node:crypto";
import { demoModelFiles, writeDemoModel } from "../src/cli/_demo_model.ts";
import { DEMO_TOKENIZER_MODEL_BASE64 } from "../src/cli/_demo_tokenizer.ts";
import { llamaHfTensors, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");
const root = new URL("../", import.meta.url).pathname;
const deno = Deno.execPath();

Deno.test("demo model: the bytes of the former examples/tiny-llama, and the test generator's", async () => {
  const files = demoModelFiles();
  // md5s of examples/tiny-llama as committed before the model was generated in code
  assertEquals(Object.fromEntries([...files].map(([n, b]) => [n, md5(b)])), {
    "config.json": "37f23e629520972d710c061a139bd6ad",
    "model.safetensors": "87ee97ed2f3e588c5dc56d43613db4fe",
    "tokenizer.model": "ff8c32e62c038697f6ddc1928301bca9",
    "tokenizer_config.json": "f54d4d6234ed690e8384a4d3f9cb4aac",
  });
  const fixture = await Deno.readFile(new URL("./fixtures/sentencepiece/llama_bpe.model", import.meta.url));
  assertEquals(DEMO_TOKENIZER_MODEL_BASE64, btoa(String.fromCharCode(...fixture)));
  const dir = await Deno.makeTempDir();
  try {
    const config = JSON.parse(new TextDecoder().decode(files.get("config.json")));
    await writeCheckpoint(dir, config, llamaHfTensors(config), { dtype: "BF16", seed: 42 });
    assertEquals(md5(await Deno.readFile(`${dir}/model.safetensors`)), md5(files.get("model.safetensors")!));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("demo model: rewritten in place; a directory with other files is refused, untouched", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeDemoModel(`${dir}/m`);
    await writeDemoModel(`${dir}/m`);
    assertEquals(
      [...Deno.readDirSync(`${dir}/m`)].map((e) => e.name).sort(),
      [...demoModelFiles().keys()].sort(),
    );
    await Deno.writeTextFile(`${dir}/m/notes.txt`, "mine");
    let message = "";
    await writeDemoModel(`${dir}/m`).catch((e) => message = e.message);
    assertEquals(
      message,
      `${dir}/m holds files that are not the demo model's (notes.txt): choose another --model directory`,
    );
    assertEquals(await Deno.readTextFile(`${dir}/m/notes.txt`), "mine");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The files `deno publish --dry-run` lists, relative to the repository. */
async function publishedFiles(): Promise<string[]> {
  const r = await new Deno.Command(deno, {
    args: ["publish", "--dry-run", "--allow-dirty", "--no-check"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  assertOk(r.success, text);
  return [...text.matchAll(/file:\/\/(\S+)/g)].map((m) => m[1].slice(root.length)).sort();
}

Deno.test({
  name:
    "package: no tests, test generators, .wasm copy or examples; demo runs from the published files alone",
  sanitizeResources: false,
  async fn() {
    const files = await publishedFiles();
    assertOk(
      files.includes("cli.ts") && files.includes("mod.ts") && files.includes("src/kernels/_wasm_b64.ts"),
    );
    const unwanted = files.filter((f) =>
      /^(tests|examples|bench|tools|kernels)\/|^src\/testing\/|_test\.ts$|\.wasm$/.test(f)
    );
    assertEquals(unwanted, []);
    const pkg = await Deno.makeTempDir();
    const work = await Deno.makeTempDir();
    try {
      for (const f of files) {
        await Deno.mkdir(`${pkg}/${f}`.replace(/\/[^/]*$/, ""), { recursive: true });
        await Deno.copyFile(`${root}${f}`, `${pkg}/${f}`);
      }
      const r = await new Deno.Command(deno, {
        args: [
          "run",
          "--allow-read=dist",
          "--allow-write=dist",
          `${pkg}/cli.ts`,
          "demo",
          "--json",
          "--device",
          "cpu",
        ],
        cwd: work,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(r.stderr);
      assertEquals(r.code, 0, err);
      const result = JSON.parse(new TextDecoder().decode(r.stdout));
      assertEquals([result.ok, result.model, result.output], [
        true,
        "dist/tiny-llama",
        "dist/tiny-llama-q4f16_1-MLC",
      ]);
      assertEquals(result.files, [
        "mlc-chat-config.json",
        "ndarray-cache.json",
        "params_shard_0.bin",
        "tensor-cache.json",
        "tokenizer.json",
        "tokenizer.model",
        "tokenizer_config.json",
      ]);
      assertEquals(result.convert_weight.metadata, {
        ParamSize: 25,
        ParamBytes: 154432,
        BitsPerParam: 4.547467608951708,
      });
      assertEquals(result.convert_weight.total_params, 271680);
    } finally {
      await Deno.remove(pkg, { recursive: true });
      await Deno.remove(work, { recursive: true });
    }
  },
});

Deno.test("deno compile cli.ts would embed only published files and @huggingface/jinja (deno info's graph)", async () => {
  const r = await new Deno.Command(deno, {
    args: ["info", "--lock=deno.lock", "--json", "cli.ts"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertOk(r.success, new TextDecoder().decode(r.stderr));
  const info = JSON.parse(new TextDecoder().decode(r.stdout));
  const specs: string[] = info.modules.map((m: { specifier: string }) => m.specifier);
  const local = specs.filter((s) => s.startsWith(`file://${root}`)).map((s) =>
    s.slice(`file://${root}`.length)
  );
  assertEquals(specs.filter((s) => !s.startsWith("file://")).sort(), [
    "node:crypto",
    "node:fs",
    "npm:/@huggingface/jinja@0.5.11",
  ]);
  // (the `chat` command's runtime is imported by a computed specifier: not in the graph; a compiled
  // binary downloads it when `chat` first runs)
  assertEquals(Object.keys(info.npmPackages), ["@huggingface/jinja@0.5.11"]);
  const published = new Set(await publishedFiles());
  assertEquals(local.filter((f) => !published.has(f)), []);
  assertOk(local.includes("src/kernels/_wasm_b64.ts") && local.includes("src/cli/_demo_tokenizer.ts"));
  // (the workers are data: URLs built from the graph's own code: nothing to --include)
});
