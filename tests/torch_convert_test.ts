// PyTorch checkpoints written by real torch.save (tests/fixtures/torch, made by make_fixtures.py)
// convert to the same bytes as the same weights in safetensors, on every backend: reference, cpu
// (one thread; worker threads reading the .bin ranges themselves) and WebGPU (Deno's llvmpipe
// adapter; skipped with a reason where there is none). The safetensors twins carry an index in
// the same order, so MLC would emit the tensors in the same order from both (spec models.md
// §1.5, §3.1: weight_map order; a lone pytorch_model.bin: its pickled order).
import { assertEquals, assertOk } from "./_assert.ts";
import { convertWeight } from "../src/convert.ts";
import { denoSource } from "../src/io/deno_fs.ts";
import { memoryOutput } from "../src/io/memory.ts";
import { WasmBackend } from "../src/kernels/wasm.ts";
import { loadModelConfig, openWeights } from "../src/model.ts";
import { planConversion } from "../src/plan.ts";
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
