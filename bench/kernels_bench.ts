/**
 * Quantize throughput of the WASM SIMD kernels vs the scalar reference, on 4 MiB chunks of
 * f16 / bf16 input (the pipeline's chunk size), and conversion throughput.
 *
 *   deno bench bench/kernels_bench.ts          (deno bench table: time per 4 MiB chunk)
 *   deno run bench/kernels_bench.ts            (prints GB/s of input)
 *
 * @module
 */
import type { FloatDType } from "../src/dtype.ts";
import type { GroupQuantJob } from "../src/quant/backend.ts";
import { castReference, groupQuantizeReference } from "../src/quant/reference.ts";
import { WasmKernels } from "../src/kernels/wasm.ts";

const ROWS = 1024, K = 2048; // 2 Mi elements = 4 MiB of f16/bf16
const kern = WasmKernels.createSync();

function job(dt: FloatDType, bits: 3 | 4): GroupQuantJob {
  const gs = bits === 4 ? 32 : 40;
  const n = ROWS * K;
  let a = 12345;
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    const u = (a >>> 8) / 16777216;
    f[i] = (u - 0.5) * 0.08 * (i % 1000 === 0 ? 20 : 1);
  }
  let input: Uint16Array | Float32Array = f;
  if (dt !== "float32") {
    input = new Uint16Array(n);
    castReference(new Uint8Array(f.buffer), "float32", new Uint8Array(input.buffer), dt, n);
  }
  const groups = Math.ceil(K / gs);
  return {
    input,
    rows: ROWS,
    k: K,
    words: new Uint32Array(ROWS * groups * 4),
    scales: dt === "float32" ? new Float32Array(ROWS * groups) : new Uint16Array(ROWS * groups),
    bits,
    groupSize: gs,
    modelDtype: dt,
    tie: "even",
  };
}

const cases: [string, GroupQuantJob][] = [
  ["q4f16_1", job("float16", 4)],
  ["q4bf16_1", job("bfloat16", 4)],
  ["q3f16_1", job("float16", 3)],
];

/**
 * Bytes of wasm memory of one runner's own, above the first 16 MiB (where `groupQuantize` copies
 * its inputs and outputs: `reserve` always answers the heap base), so no case overwrites another's
 * data, whatever order `deno bench` runs them in.
 */
let placedEnd = 16 << 20;
function place(bytes: number): number {
  const at = placedEnd;
  placedEnd += (bytes + 0xffff) & ~0xffff;
  return kern.reserve(placedEnd) + at;
}

/** The kernel alone, on data already in wasm memory (no copies). */
function rawRunner(j: GroupQuantJob): () => void {
  const inBytes = j.input.byteLength;
  const p = place(inBytes + j.words.byteLength + j.scales.byteLength + 64);
  new Uint8Array(kern.exports.memory.buffer, p, inBytes).set(new Uint8Array(j.input.buffer));
  const pw = p + inBytes, ps = pw + j.words.byteLength;
  const dt = j.modelDtype === "float16" ? 0 : j.modelDtype === "bfloat16" ? 1 : 2;
  return () => void kern.exports.group_quantize(p, j.rows, j.k, pw, ps, j.bits, j.groupSize, dt, 0);
}

/** The fused kernel alone: bf16 source rows cast to f16 and quantized (q4f16_1 on bf16 checkpoints). */
function fusedRunner(j: GroupQuantJob, tie: 0 | 1): () => void {
  const inBytes = j.input.byteLength;
  const p = place(inBytes + j.k * 4 + ROWS * K + 64);
  new Uint8Array(kern.exports.memory.buffer, p, inBytes).set(new Uint8Array(j.input.buffer));
  const scratch = p + inBytes, pw = scratch + j.k * 4, ps = pw + (ROWS * K) / 2;
  return () => void kern.exports.cast_group_quantize(p, 1, j.rows, j.k, scratch, pw, ps, 4, 32, 0, tie);
}
const fusedEven = fusedRunner(cases[1][1], 0), fusedAway = fusedRunner(cases[1][1], 1);
Deno.bench("q4f16_1 from bf16, fused kernel, ties even, 4 MiB", { group: "fused" }, () => fusedEven());
Deno.bench("q4f16_1 from bf16, fused kernel, ties away, 4 MiB", { group: "fused" }, () => fusedAway());

for (const [name, j] of cases) {
  Deno.bench(
    `${name} wasm (with copies), 4 MiB`,
    { group: name, baseline: true },
    () => void kern.groupQuantize(j),
  );
  const raw = rawRunner(j);
  Deno.bench(`${name} wasm kernel only, 4 MiB`, { group: name }, () => raw());
  Deno.bench(`${name} reference, 4 MiB`, { group: name, n: 3 }, () => groupQuantizeReference(j));
}

const bf = cases[1][1].input as Uint16Array;
const out16 = new Uint16Array(bf.length);
Deno.bench("cast bf16->f16 wasm, 4 MiB", { group: "cast", baseline: true }, () => {
  kern.convert("bf16>f16", bf, out16);
});
Deno.bench("cast bf16->f16 reference, 4 MiB", { group: "cast", n: 3 }, () => {
  castReference(new Uint8Array(bf.buffer), "bfloat16", new Uint8Array(out16.buffer), "float16", bf.length);
});

function gbps(fn: () => void, bytes: number, minMs = 1500): number {
  fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    fn();
    n++;
    t = performance.now();
  }
  return (bytes * n) / ((t - t0) / 1000) / 1e9;
}

if (import.meta.main) {
  for (const [name, j] of cases) {
    const bytes = j.input.byteLength;
    const raw = rawRunner(j);
    console.log(
      `${name}: wasm ${gbps(() => kern.groupQuantize(j), bytes).toFixed(2)} GB/s, kernel only ${
        gbps(raw, bytes).toFixed(2)
      } GB/s, reference ${gbps(() => groupQuantizeReference(j), bytes, 3000).toFixed(3)} GB/s`,
    );
  }
  const bf16Bytes = cases[1][1].input.byteLength;
  console.log(
    `q4f16_1 from bf16, fused kernel only: ties even ${
      gbps(fusedEven, bf16Bytes).toFixed(2)
    } GB/s, ties away ${gbps(fusedAway, bf16Bytes).toFixed(2)} GB/s`,
  );
  console.log(
    `cast bf16->f16: wasm ${gbps(() => kern.convert("bf16>f16", bf, out16), bf.byteLength).toFixed(2)} GB/s`,
  );
  // md5 of four 24 MiB shards: multi-buffer (four lanes), scalar wasm, node:crypto
  const shards = [0, 1, 2, 3].map((i) => new Uint8Array(24 << 20).fill(i + 1));
  const all = 4 * (24 << 20);
  const { createHash } = await import("node:crypto");
  console.log(
    `md5 4 x 24 MiB: four lanes ${gbps(() => kern.md5Many(shards), all).toFixed(2)} GB/s, scalar wasm ${
      gbps(() => shards.forEach((s) => kern.md5(s)), all).toFixed(2)
    } GB/s, node:crypto ${
      gbps(() => shards.forEach((s) => createHash("md5").update(s).digest()), all).toFixed(2)
    } GB/s`,
  );
}
