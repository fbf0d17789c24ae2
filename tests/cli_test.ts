// The CLI as users script it: run as a subprocess with scoped permissions.
import { assertEquals, assertOk } from "./_assert.ts";
import { llamaHfTensors, TINY_LLAMA_CONFIG, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";

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

Deno.test("cli convert_weight: scoped permissions, output files, summary on stdout, MLC's closing lines on stderr", async () => {
  await withModel(async (dir) => {
    const r = await run(
      [`--allow-read=${dir}/model,${dir}/out`, `--allow-write=${dir}/out`],
      [
        "convert_weight",
        `${dir}/model/config.json`,
        "--quantization",
        "q4f16_1",
        "-o",
        `${dir}/out/`,
        "--device",
        "reference",
      ],
    );
    assertEquals(r.code, 0, r.err);
    const cache = JSON.parse(await Deno.readTextFile(`${dir}/out/tensor-cache.json`));
    const out = r.out.split("\n");
    // a small model: the rate is in MB/s or kB/s, never "0.00 GB/s"
    assertOk(
      /^Converted llama to q4f16_1 in \d+\.\d\d s \([\d.]+ (kB|MB|GB)\/s of source read\)$/.test(out[0]),
      out[0],
    );
    assertOk(!r.out.includes("0.00 GB/s"), r.out);
    assertEquals(out.slice(1, 5), [
      "  parameters:     125,248 source, 25 tensors written",
      `  bytes:          ${
        (cache.records[0].nbytes / 1e3).toFixed(1)
      } kB in 1 shard(s) (ParamBytes ${cache.metadata.ParamBytes})`,
      `  bits per param: ${cache.metadata.BitsPerParam.toFixed(3)}`,
      `  output:         ${dir}/out/`,
    ]);
    // MLC's closing lines, with MLC's wording and formats: python/mlc_llm/interface/convert_weight.py,
    // lines 200-211 (mlc-ai/mlc-llm at 79d603f0): "%s after quantization: %.3f GB" (bytes / 1024**3),
    // f"%s: {total_params:,}", "%s: %.3f" (bits), "Saved to directory: %s" (str of the Path)
    const mlc = r.err.split("\n").filter((l) => l.includes("INFO convert_weight: ")).map((l) =>
      l.replace(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] INFO convert_weight: /, "")
    );
    assertEquals(mlc, [
      `Parameter size after quantization: ${(cache.metadata.ParamBytes / 1024 ** 3).toFixed(3)} GB`,
      "Total parameters: 125,248",
      `Bits per parameter: ${cache.metadata.BitsPerParam.toFixed(3)}`,
      `Saved to directory: ${dir}/out`,
    ]);
    const files = [...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort();
    assertEquals(files, ["ndarray-cache.json", "params_shard_0.bin", "tensor-cache.json"]);
    // a previous conversion (with gen_config's outputs) is replaced without a flag; --quiet is silent
    await Deno.writeTextFile(`${dir}/out/mlc-chat-config.json`, "{}");
    const again = await run(
      [`--allow-read=${dir}/model,${dir}/out`, `--allow-write=${dir}/out`],
      convertArgs(dir, "q0f16", "--quiet"),
    );
    assertEquals([again.code, again.out, again.err], [0, "", ""]);
    const cache2 = JSON.parse(await Deno.readTextFile(`${dir}/out/tensor-cache.json`));
    assertEquals(cache2.metadata.BitsPerParam, 16);
    assertEquals([...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort(), [
      "mlc-chat-config.json",
      "ndarray-cache.json",
      "params_shard_0.bin",
      "tensor-cache.json",
    ]);
  });
});

Deno.test("cli convert_weight: other files in OUT are refused by name (before the device is probed), --overwrite writes beside them", async () => {
  await withModel(async (dir) => {
    const p = [`--allow-read=${dir}/model,${dir}/out`, `--allow-write=${dir}/out`];
    await Deno.mkdir(`${dir}/out/notes`, { recursive: true });
    await Deno.writeTextFile(`${dir}/out/README.md`, "mine");
    await Deno.writeTextFile(`${dir}/out/params_shard_0.bin`, "an old shard");
    const r = await run(p, convertArgs(dir, "q4f16_1", "--device", "webgpu"));
    assertEquals(r.code, 1);
    assertEquals(r.out, "");
    assertEquals(
      r.err.split("\n")[0],
      `error: Output directory ${dir}/out holds files that are not a previous conversion: README.md, notes/. ` +
        "A previous conversion (params_shard_*.bin, tensor-cache.json or ndarray-cache.json, gen_config outputs) " +
        "is replaced without a flag; other files are not: move them away, choose another -o, or pass --overwrite " +
        "to write the conversion beside them (they are left alone).",
    );
    // (nothing was read or probed: no model log, no device line)
    assertEquals(r.err.split("\n").filter(Boolean).length, 1, r.err);
    const ow = await run(p, convertArgs(dir, "q4f16_1", "--overwrite", "--device", "cpu"));
    assertEquals(ow.code, 0, ow.err);
    assertEquals(await Deno.readTextFile(`${dir}/out/README.md`), "mine");
    assertEquals([...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort(), [
      "README.md",
      "ndarray-cache.json",
      "notes",
      "params_shard_0.bin",
      "tensor-cache.json",
    ]);
  });
});

Deno.test("cli convert_weight --json: the result on stdout, human text on stderr; MLC device names with a note", async () => {
  await withModel(async (dir) => {
    const p = [`--allow-read=${dir}/model,${dir}/out`, `--allow-write=${dir}/out`];
    const r = await run(p, convertArgs(dir, "q4f16_1", "--json", "--device", "cuda:0"));
    assertEquals(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    const cache = JSON.parse(await Deno.readTextFile(`${dir}/out/tensor-cache.json`));
    assertEquals(
      [j.ok, j.model_type, j.quantization, j.output, j.total_params, j.metadata, j.files, j.replaced],
      [true, "llama", "q4f16_1", `${dir}/out`, 125248, cache.metadata, [
        "params_shard_0.bin",
        "ndarray-cache.json",
        "tensor-cache.json",
      ], []],
    );
    assertEquals(j.shards, [{
      dataPath: "params_shard_0.bin",
      nbytes: cache.records[0].nbytes,
      md5sum: cache.records[0].md5sum,
    }]);
    // (no real GPU here: auto's choice)
    assertOk(["cpu", "webgpu"].includes(j.device), j.device);
    assertOk(
      r.err.includes(
        "Note: --device cuda:0 (MLC's name): using a real GPU adapter through WebGPU if there is one, else cpu " +
          "(as --device auto; WebGPU picks the adapter, the index is not used)",
      ),
      r.err,
    );
    assertOk(/^Converted llama to q4f16_1 in /m.test(r.err), r.err);
    const m = await run(p, convertArgs(dir, "q4f16_1", "--json", "--device", "metal", "--quiet"));
    assertEquals([m.code, m.err, JSON.parse(m.out).replaced], [0, "", [
      "ndarray-cache.json",
      "params_shard_0.bin",
      "tensor-cache.json",
    ]]);
    const c = await run(p, convertArgs(dir, "q4f16_1", "--device", "cpu:0", "--quiet"));
    assertEquals([c.code, c.out, c.err], [0, "", ""]);
  });
});

Deno.test("cli: a missing permission prints the exact deno run line", async () => {
  await withModel(async (dir) => {
    const r = await run([`--allow-read=${dir}/model`], convertArgs(dir));
    assertEquals(r.code, 3);
    assertOk(r.err.startsWith(`error: Missing permission: read ${dir}/out, write ${dir}/out. Run:\n`), r.err);
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

Deno.test("cli: mistyped options and values get suggestions and exit 2, never a parser's raw text", async () => {
  await withModel(async (dir) => {
    const p = [`--allow-read=${dir}`, `--allow-write=${dir}`];
    const cases: [string[], string][] = [
      [
        convertArgs(dir, "q4f16_1", "--devce", "cpu"),
        "error: unknown option --devce (did you mean --device?)",
      ],
      [
        convertArgs(dir, "q4f16"),
        'error: invalid value for --quantization: "q4f16" (did you mean "q4f16_0", "q4f16_1" or "q4f16_2"?). ' +
        "Valid choices: q0f16, q0bf16, q0f32, q3f16_0, q3f16_1, q4f16_0, q4f16_1, q4bf16_0, q4bf16_1, q4f32_1, q4f16_2",
      ],
      [
        convertArgs(dir, "q4f16_1", "--device", "cdua"),
        'error: invalid value for --device: "cdua" (did you mean "cuda"?). Valid choices: auto, cpu, webgpu, ' +
        "reference (and MLC's cuda, metal, vulkan, rocm, opencl, cpu or webgpu, with an optional :N)",
      ],
      [
        convertArgs(dir, "q4f16_1", "--model-type", "llamaa"),
        'error: invalid value for --model-type: "llamaa" (did you mean "llama"?)',
      ],
      [
        convertArgs(dir, "q4f16_1", "--threads", "0"),
        'error: invalid value for --threads: "0" (an integer from 1 to 256)',
      ],
      [convertArgs(dir, "q4f16_1", "--quiet=yes"), 'error: option --quiet takes no value (got "yes")'],
      [
        ["convert_weight", `${dir}/model`, "-o", `${dir}/o`],
        "error: the following arguments are required: --quantization",
      ],
      [
        ["gen_config", `${dir}/model`, "--quantization", "q4f16_1"],
        "error: the following arguments are required: --conv-template, --output/-o",
      ],
      [["verify", "--sourse", dir], "error: unknown option --sourse (did you mean --source?)"],
      [
        ["convert-weight"],
        'error: unknown command "convert-weight" (did you mean convert_weight?). Commands: convert_weight, gen_config, verify, demo',
      ],
    ];
    for (const [args, first] of cases) {
      const r = await run(p, args);
      assertEquals([r.code, r.out], [2, ""], r.err);
      assertOk(r.err.startsWith(first), `${args.join(" ")}:\n${r.err}`);
      assertOk(!/ERR_PARSE_ARGS|TypeError|parseArgs| {4}at /.test(r.err), r.err);
    }
    // with --json, the error is a JSON result on stdout too
    const j = await run(p, convertArgs(dir, "q4f16_1", "--devce", "cpu", "--json"));
    assertEquals(j.code, 2);
    assertEquals(JSON.parse(j.out), {
      ok: false,
      exit_code: 2,
      error: "unknown option --devce (did you mean --device?)",
    });
  });
});

Deno.test("cli: --version, --help of every command, exit codes", async () => {
  const v = await run([`--allow-read=${new URL("..", import.meta.url).pathname}`], ["--version"]);
  const version = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url))).version;
  assertEquals([v.code, v.out], [
    0,
    `mlc-convert ${version} (@mlc-deno/convert, Deno ${Deno.version.deno})\n`,
  ]);
  const vj = await run([], ["--version", "--json"]);
  assertEquals(JSON.parse(vj.out), { name: "@mlc-deno/convert", version, deno: Deno.version.deno });
  for (const cmd of ["convert_weight", "gen_config", "verify", "demo"]) {
    const h = await run([], [cmd, "--help"]);
    assertEquals([h.code, h.err], [0, ""], cmd);
    assertOk(h.out.startsWith(`Usage: cli.ts ${cmd} `), h.out);
    for (const flag of ["--json", "--quiet", "-h, --help"]) {
      assertOk(h.out.includes(`  ${flag} `), `${cmd} ${flag}`);
    }
  }
  const top = await run([], ["--help"]);
  assertEquals(top.code, 0);
  assertOk(
    top.out.includes("Exit codes: 0 done, 1 failed or refused, 2 usage error, 3 missing permission,"),
    top.out,
  );
  assertEquals((await run([], [])).code, 2);
});

Deno.test("bench --help prints the options (no stack trace), and a mistyped one is a usage error", async () => {
  const bench = new URL("../bench/convert_bench.ts", import.meta.url).pathname;
  const b = async (args: string[]) => {
    const p = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", bench, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: p.code, out: new TextDecoder().decode(p.stdout), err: new TextDecoder().decode(p.stderr) };
  };
  const h = await b(["--help"]);
  assertEquals(h.code, 0, h.err);
  assertOk(h.out.startsWith("Usage: deno task bench [options]"), h.out);
  assertOk(h.out.includes("  --devices "), h.out);
  const bad = await b(["--device", "cpu"]);
  assertEquals(bad.code, 2);
  assertOk(bad.err.startsWith("error: unknown option --device (did you mean --devices?)"), bad.err);
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
