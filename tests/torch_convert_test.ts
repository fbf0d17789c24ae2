// PyTorch checkpoints written by real torch.save (tests/fixtures/torch, made by make_fixtures.py)
// convert to the same bytes as the same weights in safetensors, on every backend: reference, cpu
// (one thread; worker threads reading the .bin ranges themselves) and WebGPU (Deno's llvmpipe
// adapter; skipped with a reason where there is none). The safetensors twins carry an index in
// the same order, so MLC would emit the tensors in the same order from both (spec models.md
// §1.5, §3.1: weight_map order; a lone pytorch_model.bin: its pickled order).
import { assertEquals, assertOk } from "./_assert.ts";
import { FakeHub } from "./_hub_server.ts";
import { main } from "../cli.ts";
import type { Io } from "../src/cli/_common.ts";
import { rowSourceFor } from "../src/param_rows.ts";
import type { SourceTensor } from "../src/checkpoint.ts";
import { bf16ToNumber, numberToF16 } from "../src/dtype.ts";
import { convertWeight } from "../src/convert.ts";
import { denoSource } from "../src/io/deno_fs.ts";
import { memoryOutput } from "../src/io/memory.ts";
import { WasmBackend } from "../src/kernels/wasm.ts";
import { loadModelConfig, openWeights } from "../src/model.ts";
import { planConversion, type PlannedParam } from "../src/plan.ts";
import type { QuantBackend } from "../src/quant/backend.ts";
import { ReferenceBackend } from "../src/quant/reference.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { createWebGpuBackend, describeWebGpuAdapter } from "../src/webgpu/backend.ts";

const FIX = new URL("./fixtures/torch/", import.meta.url).pathname;
const CASES = ["bf16", "f16-sharded", "f32", "views"];

const hasGpu = typeof (globalThis.navigator as { gpu?: unknown } | undefined)?.gpu !== "undefined";
const gpuSkip = !hasGpu
  ? "navigator.gpu is absent"
  : !(await describeWebGpuAdapter())
  ? "no WebGPU adapter"
  : "";
if (gpuSkip) console.log(`torch_convert_test: WebGPU runs skipped (${gpuSkip})`);

interface Run {
  label: string;
  backend: () => Promise<QuantBackend>;
  threads?: number;
  directReads?: boolean;
}

const RUNS: Run[] = [
  { label: "reference", backend: () => Promise.resolve(new ReferenceBackend()) },
  { label: "cpu", backend: () => Promise.resolve(new WasmBackend()) },
  {
    label: "cpu, 2 workers reading the files",
    backend: () => Promise.resolve(new WasmBackend()),
    threads: 2,
    directReads: true,
  },
];

async function convertDir(
  dir: string,
  quant: string,
  run: Run,
  format: "auto" | "huggingface-torch" = "auto",
) {
  const store = denoSource();
  const model = await loadModelConfig(store, dir);
  const { checkpoint, warnings } = await openWeights(store, model.dir, "auto", format);
  const plan = planConversion({
    arch: model.arch,
    config: model.config,
    scheme: getQuantization(quant),
    checkpoint,
  });
  assertEquals(plan.problems, []);
  const output = memoryOutput();
  const backend = await run.backend();
  try {
    await convertWeight({
      plan,
      checkpoint,
      backend,
      output,
      threads: run.threads,
      directReads: run.directReads,
    });
  } finally {
    await backend.close();
    checkpoint.close();
  }
  return { files: output.files, warnings, records: plan.outputs.map((o) => o.name) };
}

function sameFiles(a: Map<string, Uint8Array>, b: Map<string, Uint8Array>, what: string): void {
  assertEquals([...a.keys()].sort(), [...b.keys()].sort(), what);
  for (const [name, bytes] of b) {
    const x = a.get(name)!;
    assertOk(x.length === bytes.length && x.every((v, i) => v === bytes[i]), `${what}: ${name} differs`);
  }
}

for (const c of CASES) {
  Deno.test(`torch ${c}: .bin converts to the same bytes as safetensors (reference, cpu, cpu workers)`, async () => {
    for (const quant of ["q4f16_1", "q0f16", "q0f32", "q4bf16_1"]) {
      for (const run of RUNS) {
        const t = await convertDir(`${FIX}${c}/torch`, quant, run);
        const s = await convertDir(`${FIX}${c}/safetensors`, quant, run);
        assertEquals(t.records, s.records);
        sameFiles(t.files, s.files, `${c} ${quant} ${run.label}`);
      }
    }
  });
}

Deno.test({
  name: "torch: every case converts to the same bytes on WebGPU as on the reference backend",
  ignore: gpuSkip !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const gpu: Run = {
      label: "webgpu",
      backend: async () => (await createWebGpuBackend({ allowFallback: true, chunkBytes: 8192 }))!,
    };
    for (const c of CASES) {
      for (const quant of ["q4f16_1", "q0f16"]) {
        const g = await convertDir(`${FIX}${c}/torch`, quant, gpu);
        const r = await convertDir(`${FIX}${c}/safetensors`, quant, RUNS[0]);
        sameFiles(g.files, r.files, `${c} ${quant} webgpu`);
      }
    }
  },
});

Deno.test("torch bf16: a lone pytorch_model.bin is walked in its pickled (module) order", async () => {
  const t = await convertDir(`${FIX}bf16/torch`, "q4f16_1", RUNS[0]);
  // MLC's loader: torch_to_path follows the file's dict order (huggingface_loader.py L89-92),
  // so the embedding comes first and lm_head last (sorted safetensors names put lm_head first)
  assertEquals(t.records.slice(0, 4), [
    "model.embed_tokens.q_weight",
    "model.embed_tokens.q_scale",
    "model.layers.0.self_attn.qkv_proj.q_weight",
    "model.layers.0.self_attn.qkv_proj.q_scale",
  ]);
  assertEquals(t.records.slice(-3), ["model.norm.weight", "lm_head.q_weight", "lm_head.q_scale"]);
});

Deno.test("torch views: a key holding None is skipped with MLC's warning", async () => {
  const t = await convertDir(`${FIX}views/torch`, "q0f16", RUNS[0]);
  assertEquals(t.warnings, [
    `${FIX}views/torch/pytorch_model.bin: Encountered None param, skipping it: model.rotary_emb.inv_freq`,
  ]);
});

Deno.test("--source-format: auto picks the PyTorch files first, as MLC; each format can be forced", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const f of ["config.json", "pytorch_model.bin"]) {
      await Deno.copyFile(`${FIX}bf16/torch/${f}`, `${dir}/${f}`);
    }
    await Deno.copyFile(`${FIX}bf16/safetensors/model.safetensors`, `${dir}/model.safetensors`);
    const store = denoSource();
    const auto = await openWeights(store, dir);
    assertEquals(auto.checkpoint.location, `${dir}/pytorch_model.bin`);
    assertEquals(auto.warnings, [
      `${dir} holds both huggingface-torch and huggingface-safetensor weights; reading ${dir}/pytorch_model.bin ` +
      "as MLC's auto detection does (--source-format huggingface-safetensor reads the other)",
    ]);
    assertEquals(auto.checkpoint.order[0], "model.embed_tokens.weight");
    auto.checkpoint.close();
    const st = await openWeights(store, dir, "auto", "huggingface-safetensor");
    assertEquals(st.checkpoint.location, `${dir}/model.safetensors`);
    assertEquals(st.checkpoint.tensors.get("lm_head.weight")?.file, `${dir}/model.safetensors`);
    st.checkpoint.close();
    await Deno.remove(`${dir}/pytorch_model.bin`);
    const forced = await openWeights(store, dir, "auto", "huggingface-torch").then(
      () => "",
      (e) => e.message,
    );
    assertEquals(
      forced,
      `No weights found in ${dir}: expected pytorch_model.bin.index.json, pytorch_model.bin for --source-format huggingface-torch`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gemma +1 from a .bin bfloat16 source runs in float32, as MLC's torch loader widens bf16 first", async () => {
  // loader/utils.py L49-50 (load_torch_shard): param.float() for torch.bfloat16, so gemma's
  // `x + 1` map function (gemma_loader.py) adds in float32; from safetensors it adds in bfloat16.
  // w = bf16 0x3b81 = 0.003936767578125: f32 gives 1.003936767578125 (f16 0x3c04 = 1.00390625),
  // bf16 rounds 1.0039... up to 1.0078125 (half a bf16 step is 2^-8 = 0.00390625; f16 0x3c08).
  const data = new Uint8Array([0x81, 0x3b]);
  const source = (loaderDtype?: "float32"): SourceTensor => ({
    name: "model.norm.weight",
    file: "m",
    stDtype: "BF16",
    dtype: "bfloat16",
    shape: [1],
    offset: 0,
    nbytes: 2,
    ...(loaderDtype ? { loaderDtype } : {}),
  });
  const ckpt = {
    read: (_: string, start: number, into: Uint8Array) => {
      into.set(data.subarray(start, start + into.length));
      return Promise.resolve();
    },
  };
  const param = {
    name: "model.norm.weight",
    shape: [1],
    sources: ["model.norm.weight"],
    transform: { kind: "concat", addOne: true },
  } as const;
  const results: string[] = [];
  for (const s of [source("float32"), source()]) {
    const pp: PlannedParam = {
      param,
      sources: [s],
      shape: [1],
      dtype: "float16",
      quant: undefined,
      outputs: [],
    };
    const rows = await rowSourceFor(pp, ckpt, true);
    const buf = new Uint8Array(4);
    await rows.read(0, 1, buf);
    const v = rows.dtype === "float32"
      ? new DataView(buf.buffer).getFloat32(0, true)
      : bf16ToNumber(new DataView(buf.buffer).getUint16(0, true));
    results.push(
      `${rows.dtype} ${v} f16 0x${numberToF16(v).toString(16)} direct reads: ${rows.segments !== undefined}`,
    );
  }
  assertEquals(results, [
    "float32 1.003936767578125 f16 0x3c04 direct reads: false",
    "bfloat16 1.0078125 f16 0x3c08 direct reads: false",
  ]);
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), progress: () => {}, isTerminal: false };
  const code = await main(args, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function dirFiles(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) files.set(e.name, await Deno.readFile(`${dir}/${e.name}`));
  }
  return files;
}

Deno.test("cli: convert_weight and verify --source on a .bin model; HF:// reads the .bin by range requests", async () => {
  const dir = await Deno.makeTempDir();
  const hub = await FakeHub.start({ cdn: true });
  const env = ["HF_ENDPOINT", "HF_TOKEN", "HF_HUB_CACHE", "HF_HOME"];
  const saved = env.map((k) => [k, Deno.env.get(k)] as const);
  try {
    const args = (src: string, out: string) => [
      "convert_weight",
      src,
      "--quantization",
      "q4f16_1",
      "-o",
      out,
      "--device",
      "cpu",
      "--threads",
      "2",
    ];
    const t = await cli(args(`${FIX}views/torch`, `${dir}/bin`));
    assertEquals(t.code, 0, t.err);
    const s = await cli(args(`${FIX}views/safetensors`, `${dir}/st`));
    assertEquals(s.code, 0, s.err);
    sameFiles(await dirFiles(`${dir}/bin`), await dirFiles(`${dir}/st`), "cli views");
    const v = await cli([
      "verify",
      `${dir}/bin`,
      "--source",
      `${FIX}views/torch`,
      "--quantization",
      "q4f16_1",
      "--json",
    ]);
    assertEquals(v.code, 0, v.err);
    assertEquals(JSON.parse(v.out).ok, true);
    // the same model on a (fake) Hub: pytorch_model.bin read by HTTP range requests, nothing stored
    hub.addRepo("org/views-bin", Object.fromEntries(await dirFiles(`${FIX}views/torch`)));
    for (const k of env) Deno.env.delete(k);
    Deno.env.set("HF_ENDPOINT", hub.url);
    Deno.env.set("HF_HUB_CACHE", `${dir}/cache`);
    const h = await cli(args("HF://org/views-bin", `${dir}/hub`));
    assertEquals(h.code, 0, h.err);
    sameFiles(await dirFiles(`${dir}/hub`), await dirFiles(`${dir}/bin`), "cli HF://");
    assertOk(hub.log.some((l) => l.path.startsWith("/cdn/") && /^bytes=\d+-\d+$/.test(l.range ?? "")));
    assertEquals(await Deno.stat(`${dir}/cache`).then(() => true, () => false), false);
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
});
