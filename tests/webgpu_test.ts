// WebGPU kernels vs the TypeScript reference, byte for byte. Runs on any WebGPU adapter,
// including Deno's llvmpipe fallback adapter on machines without a GPU; skips (with a printed
// reason) only where `navigator.gpu` or an adapter is missing.
import { assertEquals, assertOk } from "./_assert.ts";
import { castReference, groupQuantizeReference } from "../src/quant/reference.ts";
import { type GroupQuantScheme, QUANTIZATIONS } from "../src/quant/schemes.ts";
import type { DType, FloatDType } from "../src/dtype.ts";
import type { GroupQuantJob, TieRounding } from "../src/quant/backend.ts";
import { createWebGpuBackend, describeWebGpuAdapter, type WebGpuBackend } from "../src/webgpu/backend.ts";
import { Rng } from "../src/testing/checkpoint_gen.ts";

const hasGpu = typeof (globalThis.navigator as { gpu?: unknown } | undefined)?.gpu !== "undefined";
const adapter = hasGpu ? await describeWebGpuAdapter() : undefined;
const skipReason = !hasGpu ? "navigator.gpu is absent" : !adapter ? "no WebGPU adapter" : "";
if (skipReason) console.log(`webgpu_test: skipping (${skipReason})`);
else console.log(`webgpu_test: running on ${adapter!.summary}`);

const opts = { ignore: skipReason !== "", sanitizeResources: false, sanitizeOps: false };

// ---------------------------------------------------------------- helpers

/** Deterministic uniform [0, 1) numbers (the checkpoint generator's mulberry32). */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

const SCHEMES = Object.values(QUANTIZATIONS).filter((s): s is GroupQuantScheme => s.kind === "group-quant");

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** First differing element, for readable failures. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): string {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (!Object.is(a[i], b[i])) return `index ${i}: gpu ${a[i]?.toString(16)} ref ${b[i]?.toString(16)}`;
  }
  return "equal";
}

async function checkCast(gpu: WebGpuBackend, src: Uint8Array, s: DType, d: FloatDType, count: number) {
  const size = d === "float32" ? 4 : 2;
  const got = new Uint8Array(count * size + 3);
  const want = new Uint8Array(count * size + 3);
  await gpu.cast(src, s, got, d, count);
  castReference(src, s, want, d, count);
  assertEquals(firstDiff(got, want), "equal", `${s} -> ${d}`);
}

/** Model-dtype input from f32 values (through the reference cast). */
function toModel(f: Float32Array, dt: FloatDType): Uint16Array | Float32Array {
  if (dt === "float32") return f;
  const out = new Uint16Array(f.length);
  castReference(bytesOf(f), "float32", bytesOf(out), dt, f.length);
  return out;
}

function outputs(rows: number, k: number, s: { groupSize: number; modelDtype: FloatDType }) {
  const groups = Math.ceil(k / s.groupSize);
  return {
    words: new Uint32Array(rows * groups * 4),
    scales: s.modelDtype === "float32" ? new Float32Array(rows * groups) : new Uint16Array(rows * groups),
  };
}

async function checkQuant(
  gpu: WebGpuBackend,
  s: { bits: 3 | 4; groupSize: number; modelDtype: FloatDType },
  input: Uint16Array | Float32Array,
  rows: number,
  k: number,
  tie: TieRounding,
  label: string,
): Promise<GroupQuantJob> {
  const a = outputs(rows, k, s);
  const b = outputs(rows, k, s);
  const base = { input, rows, k, bits: s.bits, groupSize: s.groupSize, modelDtype: s.modelDtype, tie };
  await gpu.groupQuantize({ ...base, ...a });
  groupQuantizeReference({ ...base, ...b });
  assertEquals(firstDiff(a.words, b.words), "equal", `${label}: words`);
  assertEquals(firstDiff(bytesOf(a.scales), bytesOf(b.scales)), "equal", `${label}: scale bytes`);
  return { ...base, ...a };
}

/** Random values of widely varying magnitude, with some exact zeros. */
function randomValues(n: number, seed: number, span = 12): Float32Array {
  const r = rng(seed);
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = r();
    f[i] = x < 0.03 ? 0 : (r() - 0.5) * 2 ** (Math.floor(r() * span) - span / 2);
  }
  return f;
}

/**
 * Groups full of exact ties: max = maxInt * 2^e (so the scale is exactly 2^e) and other elements
 * (j + 1/2) * 2^e, which makes w / scale + maxInt land on half-integers.
 */
function tieValues(groups: number, gs: number, maxInt: number, seed: number): Float32Array {
  const r = rng(seed);
  const f = new Float32Array(groups * gs);
  for (let g = 0; g < groups; g++) {
    const e = 2 ** (Math.floor(r() * 8) - 4);
    for (let j = 0; j < gs; j++) {
      const h = Math.floor(r() * 2 * maxInt) - maxInt + 0.5; // -maxInt+0.5 .. maxInt-0.5
      f[g * gs + j] = h * e;
    }
    f[g * gs + Math.floor(r() * gs)] = (r() < 0.5 ? -1 : 1) * maxInt * e;
  }
  return f;
}

// ---------------------------------------------------------------- environment

Deno.test("describeWebGpuAdapter / createWebGpuBackend honour fallback adapters", opts, async () => {
  const d = (await describeWebGpuAdapter())!;
  assertEquals(typeof d.isFallbackAdapter, "boolean");
  assertOk(d.maxStorageBufferBindingSize > 0 && d.maxBufferSize > 0);
  const strict = await createWebGpuBackend({ allowFallback: false });
  assertEquals(strict === undefined, d.isFallbackAdapter);
  await strict?.close();
});

// ---------------------------------------------------------------- casts

Deno.test("cast: hand-derived values", opts, async () => {
  const gpu = (await createWebGpuBackend({ allowFallback: true }))!;
  const f32 = new Uint32Array([
    0x477fefff, // 65503.996 -> f16 max 0x7bff
    0x477ff000, // 65520: tie between 65504 and 2^16 -> inf
    0x33000000, // 2^-25: tie between 0 and 2^-24 -> +0
    0x33000001, // just above -> 2^-24
    0xb3c00000, // -1.5 * 2^-24: tie between 1 and 2 ulps -> 2 (even)
    0x3f808000, // 1.00390625: bf16 tie -> 0x3f80
    0x7fc12345, // NaN keeps sign, payload dropped
    0xff800000, // -inf
  ]);
  const h = new Uint16Array(8);
  await gpu.cast(bytesOf(f32), "float32", bytesOf(h), "float16", 8);
  assertEquals([...h], [0x7bff, 0x7c00, 0x0000, 0x0001, 0x8002, 0x3c04, 0x7e00, 0xfc00]);
  const b = new Uint16Array(8);
  await gpu.cast(bytesOf(f32), "float32", bytesOf(b), "bfloat16", 8);
  assertEquals([...b], [0x4780, 0x4780, 0x3300, 0x3300, 0xb3c0, 0x3f80, 0x7fc0, 0xff80]);
  const bf = new Uint16Array([0x3f80, 0x0001, 0x477f, 0x4780]); // 1, bf16 min subnormal, 65280, 65536
  const out = new Uint16Array(4);
  await gpu.cast(bytesOf(bf), "bfloat16", bytesOf(out), "float16", 4);
  assertEquals([...out], [0x3c00, 0x0000, 0x7bf8, 0x7c00]);
  await gpu.close();
});

Deno.test("cast: all 65536 f16 and bf16 patterns to every other dtype", opts, async () => {
  const gpu = (await createWebGpuBackend({ allowFallback: true }))!;
  const all = new Uint16Array(65536).map((_, i) => i);
  for (
    const [s, d] of [["float16", "bfloat16"], ["float16", "float32"], ["bfloat16", "float16"], [
      "bfloat16",
      "float32",
    ]] as const
  ) {
    await checkCast(gpu, bytesOf(all), s, d, 65536);
  }
  await gpu.close();
});

Deno.test(
  "cast: f32 patterns around every exponent, rounding boundaries, subnormals, NaN/inf",
  opts,
  async () => {
    const gpu = (await createWebGpuBackend({ allowFallback: true }))!;
    const mant = [
      0,
      1,
      2,
      0xfff,
      0x1000,
      0x1001,
      0x2000,
      0x3000,
      0x2fff,
      0x3001,
      0x7fff,
      0x8000,
      0x8001,
      0x10000,
      0x18000,
      0x17fff,
      0x400000,
      0x3fffff,
      0x7fe000,
      0x7ff000,
      0x7fefff,
      0x7fffff,
      0x7f8000,
    ];
    const pats: number[] = [];
    for (let sign = 0; sign < 2; sign++) {
      for (let e = 0; e < 256; e++) for (const m of mant) pats.push(((sign << 31) | (e << 23) | m) >>> 0);
    }
    const r = rng(7);
    for (let i = 0; i < 200000; i++) pats.push(Math.floor(r() * 2 ** 32) >>> 0);
    // concentrate random patterns on the f16 range boundaries (exponents 100..145)
    for (let i = 0; i < 100000; i++) {
      const e = 100 + Math.floor(r() * 46);
      pats.push((((r() < 0.5 ? 1 : 0) << 31) | (e << 23) | Math.floor(r() * 2 ** 23)) >>> 0);
    }
    const src = new Uint32Array(pats);
    await checkCast(gpu, bytesOf(src), "float32", "float16", src.length);
    await checkCast(gpu, bytesOf(src), "float32", "bfloat16", src.length);
    // odd counts and a source that starts 2 bytes into a buffer
    const h = new Uint16Array(1001).map((_, i) => (i * 977) & 0xffff);
    await checkCast(gpu, bytesOf(h).subarray(2), "float16", "bfloat16", 999);
    await checkCast(gpu, bytesOf(h).subarray(2), "bfloat16", "float32", 999);
    await checkCast(gpu, bytesOf(src).subarray(4, 4 + 4 * 333), "float32", "float16", 333);
    await gpu.close();
  },
);

Deno.test("cast: chunked (tiny chunk budget) equals the reference", opts, async () => {
  const gpu = (await createWebGpuBackend({ allowFallback: true, chunkBytes: 4096 }))!;
  const all = new Uint16Array(65536).map((_, i) => (i * 40503) & 0xffff);
  await checkCast(gpu, bytesOf(all), "bfloat16", "float16", 65535);
  await checkCast(gpu, bytesOf(all), "float16", "float32", 65535);
  await gpu.close();
});

// ---------------------------------------------------------------- group quantization

Deno.test("groupQuantize: spec worked example (q4f16_1) gives the hand-derived words", opts, async () => {
  const gpu = (await createWebGpuBackend({ allowFallback: true }))!;
  const hex = "019d 1e1e 9d9d 9b5d a0a8 a514 14ed 26dd a10a a25b 2104 1f4f 1851 a4c4 90cb 231f " +
    "a6e2 a0b0 a8de a69a a8b7 9cd1 a67d 1d8e 1a6c 9ba8 aa71 a184 93f2 18a4 a7d6 a0e4";
  const input = new Uint16Array(hex.split(" ").map((h) => parseInt(h, 16)));
  const s = QUANTIZATIONS.q4f16_1 as GroupQuantScheme;
  const even = await checkQuant(gpu, s, input, 1, 32, "even", "example");
  assertEquals([...even.words].map((w) => w.toString(16)), ["b7466687", "97478856", "83623263", "63776067"]);
  assertEquals([...even.scales], [0x1f5d]);
  const away = await checkQuant(gpu, s, input, 1, 32, "away", "example");
  assertEquals(away.words[0].toString(16), "b7467687");
  await gpu.close();
});

Deno.test("groupQuantize: edge-case groups for every scheme and tie rule", opts, async () => {
  const gpu = (await createWebGpuBackend({ allowFallback: true }))!;
  const NaN32 = new Float32Array(new Uint32Array([0x7fc12345]).buffer)[0];
  for (const s of SCHEMES) {
    const gs = s.groupSize;
    const maxInt = 2 ** (s.bits - 1) - 1;
    const groups: number[][] = [];
    const fill = (v: number) => new Array(gs).fill(v);
    groups.push(fill(0)); // all-zero: 0/0 -> NaN -> code 0, scale +0
    groups.push(fill(-0)); // only -0
    groups.push([-1, 0.5, ...fill(0).slice(2)]); // negative max, tie at maxInt + 3.5
    groups.push([5, -5, 5, -5, ...fill(1).slice(4)]); // +-max
    groups.push([NaN32, ...fill(1).slice(1)]); // NaN first
    groups.push([...fill(1).slice(1), NaN32]); // NaN last: max_abs = NaN -> every code 0
    groups.push([1, 2, NaN32, 0.25, ...fill(-0.5).slice(4)]); // NaN in the middle resets the max
    groups.push([Infinity, ...fill(1).slice(1)]); // inf max -> scale inf -> codes of w/inf
    groups.push([1, -Infinity, NaN32, 3, ...fill(0.5).slice(4)]); // inf then NaN then finite max
    groups.push([65504, -65504, ...fill(3e4).slice(2)]); // f16 max
    groups.push([6e-8, -6e-8, 1.2e-7, ...fill(0).slice(3)]); // f16 subnormals: scale underflows
    groups.push([6.1e-5, -3e-5, 1e-6, 2e-6, ...fill(-7e-7).slice(4)]); // subnormal scale, clamp active
    groups.push([3.3e38, -1e38, 1e30, ...fill(-2e37).slice(3)]); // f32 overflow range
    groups.push([1e-39, -5e-40, 1e-45, 3e-41, ...fill(2e-42).slice(4)]); // f32 subnormals
    groups.push([1.5e-38, -1.2e-38, 1e-38, ...fill(5e-39).slice(3)]); // around FLT_MIN
    groups.push(Array.from({ length: gs }, (_, j) => (j - gs / 2 + 0.5) * maxInt / (gs / 2))); // ramp
    const f = new Float32Array(groups.flat());
    const input = toModel(f, s.modelDtype);
    for (const tie of ["even", "away"] as const) {
      await checkQuant(gpu, s, input, groups.length, gs, tie, `${s.name} edges ${tie}`);
      // the same data as one long row with ragged tail (drop 3 elements)
      await checkQuant(gpu, s, input, 1, input.length - 3, tie, `${s.name} edges row ${tie}`);
    }
  }
  await gpu.close();
});

Deno.test("groupQuantize: exact ties in both modes, every scheme", opts, async () => {
  const gpu = (await createWebGpuBackend({ allowFallback: true }))!;
  for (const s of SCHEMES) {
    const maxInt = 2 ** (s.bits - 1) - 1;
    const input = toModel(tieValues(64, s.groupSize, maxInt, 11), s.modelDtype);
    const even = await checkQuant(gpu, s, input, 64, s.groupSize, "even", `${s.name} ties even`);
    const away = await checkQuant(gpu, s, input, 64, s.groupSize, "away", `${s.name} ties away`);
    // the tie rule must matter on this data
    assertOk(firstDiff(even.words, away.words) !== "equal", `${s.name}: tie rule changes codes`);
  }
  await gpu.close();
});

Deno.test("groupQuantize: random data, ragged K, every scheme", opts, async () => {
  const gpu = (await createWebGpuBackend({ allowFallback: true }))!;
  let seed = 100;
  for (const s of SCHEMES) {
    for (const [rows, k] of [[1, 1], [3, 31], [5, 33], [4, 41], [7, 100], [16, 256], [9, 1000]]) {
      const input = toModel(randomValues(rows * k, seed++), s.modelDtype);
      for (const tie of ["even", "away"] as const) {
        await checkQuant(gpu, s, input, rows, k, tie, `${s.name} ${rows}x${k} ${tie}`);
      }
    }
  }
  await gpu.close();
});

Deno.test("groupQuantize: every f16 and bf16 pattern as input", opts, async () => {
  const gpu = (await createWebGpuBackend({ allowFallback: true }))!;
  // shuffled so that groups mix magnitudes, NaNs and infinities
  const r = rng(5);
  const all = new Uint16Array(65536).map((_, i) => i);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  for (const name of ["q4f16_1", "q3f16_1", "q4bf16_1"]) {
    const s = QUANTIZATIONS[name] as GroupQuantScheme;
    for (const tie of ["even", "away"] as const) await checkQuant(gpu, s, all, 64, 1024, tie, `${name} all`);
  }
  // sorted patterns: groups of neighbouring magnitudes (subnormal groups, huge groups)
  const sorted = new Uint16Array(65536).map((_, i) => i);
  for (const name of ["q4f16_1", "q3f16_1", "q4bf16_1"]) {
    const s = QUANTIZATIONS[name] as GroupQuantScheme;
    await checkQuant(gpu, s, sorted, 64, 1024, "even", `${name} sorted`);
  }
  await gpu.close();
});

Deno.test("groupQuantize: chunking (rows split across chunks, rows longer than a chunk)", opts, async () => {
  const gpu = (await createWebGpuBackend({ allowFallback: true, chunkBytes: 4096 }))!;
  let seed = 900;
  for (const name of ["q4f16_1", "q3f16_1", "q4f32_1", "q4bf16_1"]) {
    const s = QUANTIZATIONS[name] as GroupQuantScheme;
    for (const [rows, k] of [[37, 100], [3, 5003], [2, 777]]) {
      const input = toModel(randomValues(rows * k, seed++), s.modelDtype);
      await checkQuant(gpu, s, input, rows, k, "even", `${name} chunked ${rows}x${k}`);
    }
  }
  await gpu.close();
});

Deno.test(
  "castGroupQuantize: fused cast + quantize equals cast then quantize (every src/model pair)",
  opts,
  async () => {
    const gpu = (await createWebGpuBackend({ allowFallback: true, chunkBytes: 8192 }))!;
    const r = rng(77);
    const all16 = new Uint16Array(65536).map((_, i) => i);
    for (let i = all16.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [all16[i], all16[j]] = [all16[j], all16[i]];
    }
    const f32 = new Uint32Array(40000).map(() => Math.floor(r() * 2 ** 32) >>> 0);
    const vals = new Float32Array(randomValues(20000, 78).buffer);
    const sources: [DType, Uint8Array, number][] = [
      ["float16", bytesOf(all16), 65536],
      ["bfloat16", bytesOf(all16), 65536],
      ["float32", bytesOf(f32), f32.length],
      ["float32", bytesOf(vals), vals.length],
    ];
    for (const name of ["q4f16_1", "q3f16_1", "q4bf16_1", "q4f32_1"]) {
      const s = QUANTIZATIONS[name] as GroupQuantScheme;
      for (const [srcDtype, src, n] of sources) {
        const k = 1000;
        const rows = Math.floor(n / k) - 1;
        const srcView = src.subarray(2 * (srcDtype === "float32" ? 4 : 2)); // odd element start
        const model = new Uint8Array(rows * k * (s.modelDtype === "float32" ? 4 : 2));
        castReference(srcView, srcDtype, model, s.modelDtype, rows * k);
        const input = s.modelDtype === "float32"
          ? new Float32Array(model.buffer)
          : new Uint16Array(model.buffer);
        const a = outputs(rows, k, s);
        const b = outputs(rows, k, s);
        const base = {
          rows,
          k,
          bits: s.bits,
          groupSize: s.groupSize,
          modelDtype: s.modelDtype,
          tie: "away" as const,
        };
        await gpu.castGroupQuantize(srcView, srcDtype, { ...base, ...a });
        groupQuantizeReference({ ...base, input, ...b });
        assertEquals(firstDiff(a.words, b.words), "equal", `${srcDtype} -> ${name}: words`);
        assertEquals(
          firstDiff(bytesOf(a.scales), bytesOf(b.scales)),
          "equal",
          `${srcDtype} -> ${name}: scales`,
        );
      }
    }
    await gpu.close();
  },
);

// ---------------------------------------------------------------- dequantize and matmul

function codeAt(words: Uint32Array, bits: number, row: number, k: number, idx: number, gs: number): number {
  const epw = Math.floor(32 / bits);
  const spr = Math.ceil(k / gs) * (gs / epw);
  return (words[row * spr + Math.floor(idx / epw)] >>> ((idx % epw) * bits)) & ((1 << bits) - 1);
}

function scaleValue(job: GroupQuantJob, i: number): number {
  if (job.modelDtype === "float32") return job.scales[i];
  const h = job.scales[i];
  if (job.modelDtype === "bfloat16") return new Float32Array(new Uint32Array([h << 16]).buffer)[0];
  return new Float16Array(new Uint16Array([h]).buffer)[0];
}

Deno.test("dequantize: exact (code - maxInt) * scale for every scheme", opts, async () => {
  const gpu = (await createWebGpuBackend({ allowFallback: true, chunkBytes: 8192 }))!;
  let seed = 300;
  for (const s of SCHEMES) {
    const [rows, k] = [13, 203];
    const input = toModel(randomValues(rows * k, seed++, 8), s.modelDtype);
    const job = await checkQuant(gpu, s, input, rows, k, "even", s.name);
    const got = await gpu.dequantize(job);
    const maxInt = 2 ** (s.bits - 1) - 1;
    const groups = Math.ceil(k / s.groupSize);
    const want = new Float32Array(rows * k);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < k; i++) {
        const c = codeAt(job.words, s.bits, r, k, i, s.groupSize);
        want[r * k + i] = (c - maxInt) * scaleValue(job, r * groups + Math.floor(i / s.groupSize));
      }
    }
    assertEquals(firstDiff(got, want), "equal", `${s.name} dequantize`);
  }
  await gpu.close();
});

Deno.test("dequantMatmul: hand-derived sums", opts, async () => {
  const gpu = (await createWebGpuBackend({ allowFallback: true }))!;
  // every code 8 with scale 1 (f16 0x3c00): W = all ones, so y = sum(x); row 1 has scale 2
  const words = new Uint32Array(8).fill(0x88888888);
  const scales = new Uint16Array([0x3c00, 0x4000]);
  const x = new Float32Array(64).map((_, i) => (i < 32 ? i : -1));
  const y = await gpu.dequantMatmul({
    words,
    scales,
    rows: 2,
    k: 32,
    bits: 4,
    groupSize: 32,
    modelDtype: "float16",
    x,
    batch: 2,
  });
  assertEquals([...y], [496, 992, -32, -64]);
  await gpu.close();
});

Deno.test("dequantMatmul: GEMV and small batches vs float64", opts, async () => {
  const gpu = (await createWebGpuBackend({ allowFallback: true, chunkBytes: 16384 }))!;
  let seed = 500;
  for (const name of ["q4f16_1", "q3f16_1", "q4bf16_1", "q4f32_1"]) {
    const s = QUANTIZATIONS[name] as GroupQuantScheme;
    for (const [rows, k, batch] of [[37, 257, 1], [70, 1000, 3], [5, 64, 11]]) {
      const input = toModel(randomValues(rows * k, seed++, 6), s.modelDtype);
      const job = await checkQuant(gpu, s, input, rows, k, "even", name);
      const r = rng(seed++);
      const x = new Float32Array(batch * k).map(() => r() * 2 - 1);
      const y = await gpu.dequantMatmul({ ...job, x, batch });
      const maxInt = 2 ** (s.bits - 1) - 1;
      const groups = Math.ceil(k / s.groupSize);
      for (let b = 0; b < batch; b++) {
        for (let n = 0; n < rows; n++) {
          let sum = 0;
          let mag = 0;
          for (let i = 0; i < k; i++) {
            const c = codeAt(job.words, s.bits, n, k, i, s.groupSize);
            const t = (c - maxInt) * scaleValue(job, n * groups + Math.floor(i / s.groupSize)) * x[b * k + i];
            sum += t;
            mag += Math.abs(t);
          }
          const err = Math.abs(y[b * rows + n] - sum);
          assertOk(
            err <= 4e-6 * mag + 1e-30,
            `${name} ${rows}x${k}x${batch} [${b},${n}]: ${y[b * rows + n]} vs ${sum}`,
          );
        }
      }
    }
  }
  await gpu.close();
});
