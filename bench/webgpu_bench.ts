// WebGPU kernel throughput vs the scalar TypeScript reference.
//
//   deno run --allow-read bench/webgpu_bench.ts [--mib 32] [--iters 3] [--ref-mib 4] [--strict]
//
// Runs unchanged on a machine with a real GPU (it uses the best adapter Deno offers; with
// `--strict` it refuses a software fallback adapter). Reports GB/s of model-dtype (f16/bf16)
// input for group quantization and for the bf16 -> f16 cast, and checks that the GPU output
// equals the reference on the slice the reference measured.
import { castReference, groupQuantizeReference } from "../src/quant/reference.ts";
import { type GroupQuantScheme, QUANTIZATIONS } from "../src/quant/schemes.ts";
import { createWebGpuBackend } from "../src/webgpu/backend.ts";
import type { GroupQuantJob } from "../src/quant/backend.ts";

function arg(name: string, def: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : def;
}
const MIB = arg("mib", 32);
const ITERS = arg("iters", 3);
const REF_MIB = arg("ref-mib", 4);
const strict = Deno.args.includes("--strict");

const gpu = await createWebGpuBackend({ allowFallback: !strict });
if (!gpu) {
  console.log("no usable WebGPU adapter", strict ? "(fallback adapters refused by --strict)" : "");
  Deno.exit(1);
}
console.log(`adapter: ${gpu.description}`);
console.log(`cpu: ${navigator.hardwareConcurrency} threads; input ${MIB} MiB per run, best of ${ITERS}`);

/** Deterministic model-dtype input: Gaussian-ish f32 values cast to f16/bf16. */
function makeInput(elems: number, dtype: "float16" | "bfloat16"): Uint16Array {
  const f = new Float32Array(elems);
  let a = 12345;
  for (let i = 0; i < elems; i++) {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    const u = a / 4294967296;
    f[i] = (u - 0.5) * (u - 0.5) * (u < 0.5 ? -0.2 : 0.2) + (u - 0.5) * 0.01;
  }
  const out = new Uint16Array(elems);
  castReference(new Uint8Array(f.buffer), "float32", new Uint8Array(out.buffer), dtype, elems);
  return out;
}

async function best(fn: () => Promise<void> | void, iters: number): Promise<number> {
  let t = Infinity;
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await fn();
    t = Math.min(t, performance.now() - t0);
  }
  return t / 1000;
}

const K = 4096;
const rows = Math.max(1, Math.floor((MIB * 2 ** 20) / (2 * K)));
const refRows = Math.max(1, Math.min(rows, Math.floor((REF_MIB * 2 ** 20) / (2 * K))));
const results: string[] = [];

for (const name of ["q4f16_1", "q3f16_1", "q4bf16_1"]) {
  const s = QUANTIZATIONS[name] as GroupQuantScheme;
  const dtype = s.modelDtype as "float16" | "bfloat16";
  const input = makeInput(rows * K, dtype);
  const groups = Math.ceil(K / s.groupSize);
  const mk = (r: number): GroupQuantJob => ({
    input: input.subarray(0, r * K),
    rows: r,
    k: K,
    bits: s.bits,
    groupSize: s.groupSize,
    modelDtype: s.modelDtype,
    tie: "even",
    words: new Uint32Array(r * groups * 4),
    scales: new Uint16Array(r * groups),
  });
  const gJob = mk(rows);
  await gpu.groupQuantize(mk(1)); // compile
  const tg = await best(() => gpu.groupQuantize(gJob), ITERS);
  const rJob = mk(refRows);
  const tr = await best(() => groupQuantizeReference(rJob), 1);
  const same = gJob.words.subarray(0, rJob.words.length).every((w, i) => w === rJob.words[i]) &&
    gJob.scales.subarray(0, rJob.scales.length).every((v, i) => v === rJob.scales[i]);
  const gbG = (rows * K * 2) / tg / 1e9;
  const gbR = (refRows * K * 2) / tr / 1e9;
  results.push(
    `${name.padEnd(9)} quantize  webgpu ${gbG.toFixed(3)} GB/s   reference ${gbR.toFixed(3)} GB/s   ` +
      `ratio ${(gbG / gbR).toFixed(2)}x   identical: ${same}`,
  );
  console.log(results.at(-1));
}

{
  // the conversion's usual path: bf16 checkpoint -> q4f16_1, cast fused into the quantize kernel
  const s = QUANTIZATIONS.q4f16_1 as GroupQuantScheme;
  const src = new Uint8Array(makeInput(rows * K, "bfloat16").buffer);
  const groups = K / s.groupSize;
  const job = {
    rows,
    k: K,
    bits: s.bits,
    groupSize: s.groupSize,
    modelDtype: s.modelDtype,
    tie: "even" as const,
    words: new Uint32Array(rows * groups * 4),
    scales: new Uint16Array(rows * groups),
  };
  await gpu.castGroupQuantize(src.subarray(0, 2 * K), "bfloat16", { ...job, rows: 1 });
  const tg = await best(() => gpu.castGroupQuantize(src, "bfloat16", job), ITERS);
  const rElems = refRows * K;
  const md = new Uint8Array(rElems * 2);
  const rJob = { ...job, rows: refRows, input: new Uint16Array(md.buffer) };
  const tr = await best(() => {
    castReference(src, "bfloat16", md, "float16", rElems);
    groupQuantizeReference(rJob);
  }, 1);
  const same = rJob.words.every((w, i) => w === job.words[i]);
  results.push(
    `bf16->q4f16_1 fused cast+quantize  webgpu ${(rows * K * 2 / tg / 1e9).toFixed(3)} GB/s   reference ${
      (rElems * 2 / tr / 1e9).toFixed(3)
    } GB/s   identical: ${same}`,
  );
  console.log(results.at(-1));
}

{
  const elems = rows * K;
  const src = makeInput(elems, "bfloat16");
  const srcBytes = new Uint8Array(src.buffer);
  const dst = new Uint8Array(elems * 2);
  await gpu.cast(srcBytes.subarray(0, 8), "bfloat16", dst, "float16", 4);
  const tg = await best(() => gpu.cast(srcBytes, "bfloat16", dst, "float16", elems), ITERS);
  const refElems = refRows * K;
  const ref = new Uint8Array(refElems * 2);
  const tr = await best(() => castReference(srcBytes, "bfloat16", ref, "float16", refElems), 1);
  const same = ref.every((b, i) => b === dst[i]);
  results.push(
    `bf16->f16 cast      webgpu ${(elems * 2 / tg / 1e9).toFixed(3)} GB/s   reference ${
      (refElems * 2 / tr / 1e9).toFixed(3)
    } GB/s   identical: ${same}`,
  );
  console.log(results.at(-1));
}

{
  // GEMV on the q4f16_1 weight (rows x 4096), batch 1 and 8
  const s = QUANTIZATIONS.q4f16_1 as GroupQuantScheme;
  const n = Math.min(rows, 4096);
  const groups = K / s.groupSize;
  const job = {
    words: new Uint32Array(n * groups * 4).map((_, i) => Math.imul(i, 2654435761) >>> 0 & 0xeeeeeeee),
    scales: new Uint16Array(n * groups).fill(0x2000),
    rows: n,
    k: K,
    bits: 4 as const,
    groupSize: 32,
    modelDtype: "float16" as const,
  };
  for (const batch of [1, 8]) {
    const x = new Float32Array(batch * K).fill(0.5);
    await gpu.dequantMatmul({ ...job, x, batch });
    const t = await best(() => gpu.dequantMatmul({ ...job, x, batch }).then(() => {}), ITERS);
    results.push(
      `dequant-matmul ${n}x${K} batch ${batch}: ${(t * 1000).toFixed(1)} ms (${
        (n * K * 0.5 / t / 1e9).toFixed(3)
      } GB/s of int4 weights)`,
    );
    console.log(results.at(-1));
  }
}

await gpu.close();
