import { assertEquals, assertOk as assert } from "./_assert.ts";
import { Buffer } from "node:buffer";
import { f32BitsToBf16Storage, type FloatDType } from "../src/dtype.ts";
import type { GroupQuantJob } from "../src/quant/backend.ts";
import { bf16Value, castReference, f16Value, groupQuantizeReference } from "../src/quant/reference.ts";
import { type GroupQuantScheme, QUANTIZATIONS } from "../src/quant/schemes.ts";
import { WASM_BASE64 } from "../src/kernels/_wasm_b64.ts";
import {
  dequantize,
  dequantMatmul,
  kernelsMemory,
  kernelsMinPages,
  kernelsModule,
  WasmBackend,
  WasmKernels,
} from "../src/kernels/wasm.ts";
import { Rng } from "../src/testing/checkpoint_gen.ts";

const K = WasmKernels.createSync();

/** Deterministic uniform [0, 1) numbers (the checkpoint generator's mulberry32). */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function toDtype(values: ArrayLike<number>, dt: FloatDType): Uint16Array | Float32Array {
  const f = Float32Array.from(values);
  if (dt === "float32") return f;
  const out = new Uint16Array(f.length);
  castReference(bytes(f), "float32", bytes(out), dt, f.length);
  return out;
}

/** Runs both implementations on the same job and asserts identical words and scales. */
function checkQuant(
  input: Uint16Array | Float32Array,
  rows: number,
  k: number,
  s: { bits: 3 | 4; groupSize: number; modelDtype: FloatDType },
  label: string,
): void {
  const groups = Math.ceil(k / s.groupSize);
  const wpg = s.groupSize / Math.floor(32 / s.bits);
  for (const tie of ["even", "away"] as const) {
    const mk = () => ({
      words: new Uint32Array(rows * groups * wpg).fill(0xdeadbeef),
      scales: s.modelDtype === "float32" ? new Float32Array(rows * groups) : new Uint16Array(rows * groups),
    });
    const a = mk(), b = mk();
    const job = { input, rows, k, bits: s.bits, groupSize: s.groupSize, modelDtype: s.modelDtype, tie };
    K.groupQuantize({ ...job, ...a } as GroupQuantJob);
    groupQuantizeReference({ ...job, ...b } as GroupQuantJob);
    for (let i = 0; i < a.words.length; i++) {
      if (a.words[i] !== b.words[i]) {
        throw new Error(
          `${label} ${tie}: word ${i}: wasm ${a.words[i].toString(16)} ref ${b.words[i].toString(16)}`,
        );
      }
    }
    assertEquals(bytes(a.scales), bytes(b.scales), `${label} ${tie}: scales`);
  }
}

const GROUP_SCHEMES = Object.values(QUANTIZATIONS).filter((s): s is GroupQuantScheme =>
  s.kind === "group-quant"
);

Deno.test("the base64 module is the one copy of the kernels: a valid wasm module, no .wasm file beside it", () => {
  const wasm = new Uint8Array(Buffer.from(WASM_BASE64, "base64"));
  assertEquals([...wasm.subarray(0, 8)], [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  assertEquals(WebAssembly.validate(wasm), true);
  assertEquals(wasm.length, 135762); // kernels/check.sh: a fresh build gives these bytes
  const names = [...Deno.readDirSync(new URL("../src/kernels/", import.meta.url))].map((e) => e.name).sort();
  assertEquals(names, ["_wasm_b64.ts", "job.ts", "md5.ts", "wasm.ts"]);
});

Deno.test("the module imports its memory; two instances of the shared variant share one", () => {
  const mod = new WebAssembly.Module(Buffer.from(WASM_BASE64, "base64"));
  assertEquals(WebAssembly.Module.imports(mod), [{ module: "env", name: "memory", kind: "memory" }]);
  assert(WebAssembly.Module.exports(mod).some((e) => e.name === "__stack_pointer" && e.kind === "global"));
  assertEquals(K.exports.heap_base() % 16, 0);
  // the plain module takes a plain memory, the shared variant a shared one
  const link = (m: WebAssembly.Module, memory: WebAssembly.Memory) => {
    try {
      new WebAssembly.Instance(m, { env: { memory } });
      return "ok";
    } catch (e) {
      return (e as Error).name;
    }
  };
  assertEquals(link(kernelsModule(true), kernelsMemory()), "LinkError");
  assertEquals(link(kernelsModule(), kernelsMemory(true)), "LinkError");
  assertEquals(link(kernelsModule(true), kernelsMemory(true)), "ok");
  // two instances, own stacks, one memory: bf16 -> f16 casts in separate regions
  const memory = kernelsMemory(true, 8);
  assert(K.exports.heap_base() <= 4 * 65536); // (pages 4 to 7 are free)
  assert(memory.buffer instanceof SharedArrayBuffer);
  const [a, b] = [0, 1].map((i) => {
    const e = new WebAssembly.Instance(kernelsModule(true), { env: { memory } }).exports;
    (e.__stack_pointer as WebAssembly.Global).value = (4 + i) * 65536; // (stack region below)
    return e as unknown as { cast(src: number, sd: number, dst: number, dd: number, n: number): number };
  });
  const u16 = new Uint16Array(memory.buffer);
  const at = (page: number) => page * 65536;
  u16.set([0x3f80, 0x4049, 0x0001], at(5) / 2); // 1, 3.140625, a bf16 subnormal
  u16.set([0xbf80, 0x477f, 0x7f80], at(6) / 2); // -1, 65280, +inf
  assertEquals(a.cast(at(5), 1, at(5) + 64, 0, 3), 0);
  assertEquals(b.cast(at(6), 1, at(6) + 64, 0, 3), 0);
  assertEquals([...u16.subarray(at(5) / 2 + 32, at(5) / 2 + 35)], [0x3c00, 0x4248, 0x0000]);
  assertEquals([...u16.subarray(at(6) / 2 + 32, at(6) / 2 + 35)], [0xbc00, 0x7bf8, 0x7c00]);
  assertEquals(kernelsMinPages() > 0, true);
});

Deno.test("spec worked example q4f16_1 (quant.md 3.5), both tie rules", () => {
  const hex = "019d 1e1e 9d9d 9b5d a0a8 a514 14ed 26dd a10a a25b 2104 1f4f 1851 a4c4 90cb 231f " +
    "a6e2 a0b0 a8de a69a a8b7 9cd1 a67d 1d8e 1a6c 9ba8 aa71 a184 93f2 18a4 a7d6 a0e4";
  const input = new Uint16Array(hex.split(" ").map((h) => parseInt(h, 16)));
  const expected = {
    even: [0xb7466687, 0x97478856, 0x83623263, 0x63776067],
    away: [0xb7467687, 0x97478856, 0x83623263, 0x63776067],
  };
  for (const tie of ["even", "away"] as const) {
    const words = new Uint32Array(4), scales = new Uint16Array(1);
    K.groupQuantize({
      input,
      rows: 1,
      k: 32,
      words,
      scales,
      bits: 4,
      groupSize: 32,
      modelDtype: "float16",
      tie,
    });
    assertEquals([...words], expected[tie]);
    assertEquals(scales[0], 0x1f5d);
  }
});

Deno.test("all-zero group: scale +0, every word 0; hand-derived int3 and bf16 values", () => {
  for (const s of GROUP_SCHEMES) {
    const gs = s.groupSize;
    const input = s.modelDtype === "float32" ? new Float32Array(gs) : new Uint16Array(gs);
    const words = new Uint32Array(4).fill(1),
      scales = s.modelDtype === "float32" ? new Float32Array(1) : new Uint16Array(1);
    scales[0] = 5;
    K.groupQuantize({
      input,
      rows: 1,
      k: gs,
      words,
      scales,
      bits: s.bits,
      groupSize: gs,
      modelDtype: s.modelDtype,
      tie: "even",
    });
    assertEquals([...words], [0, 0, 0, 0], s.name);
    assertEquals(scales[0], 0, s.name);
  }
  // int3, f16: 40 x 1.0 -> scale RNE(1/3) = 0x3555, t = RNE(RNE(1/0x3555) + 3) = 6: ten 6s per word.
  const words = new Uint32Array(4), scales = new Uint16Array(1);
  K.groupQuantize({
    input: new Uint16Array(40).fill(0x3c00),
    rows: 1,
    k: 40,
    words,
    scales,
    bits: 3,
    groupSize: 40,
    modelDtype: "float16",
    tie: "even",
  });
  assertEquals(scales[0], 0x3555);
  assertEquals([...words], Array(4).fill(0x36db6db6));
  // bf16: 32 x -2.0 -> scale = bf16(2/7) = 0x3e92, codes 0 (negative max).
  const w2 = new Uint32Array(4), s2 = new Uint16Array(1);
  K.groupQuantize({
    input: new Uint16Array(32).fill(0xc000),
    rows: 1,
    k: 32,
    words: w2,
    scales: s2,
    bits: 4,
    groupSize: 32,
    modelDtype: "bfloat16",
    tie: "even",
  });
  assertEquals(s2[0], 0x3e92);
  assertEquals([...w2], [0, 0, 0, 0]);
});

Deno.test("quantize edge cases vs reference, every group scheme", () => {
  const r = rng(1);
  for (const s of GROUP_SCHEMES) {
    const gs = s.groupSize;
    const dt = s.modelDtype;
    const cases: Record<string, number[]> = {
      zeros: Array(gs).fill(0),
      negzeros: Array.from({ length: gs }, (_, i) => (i % 2 ? -0 : 0)),
      negmax: Array.from({ length: gs }, (_, i) => (i === 5 ? -3 : r() - 0.5)),
      equalmax: Array.from({ length: gs }, (_, i) => (i % 3 ? 0.25 : -0.25)),
      nanFirst: Array.from({ length: gs }, (_, i) => (i === 0 ? NaN : r() - 0.5)),
      nanMid: Array.from({ length: gs }, (_, i) => (i === 13 ? NaN : r() - 0.5)),
      nanLast: Array.from({ length: gs }, (_, i) => (i === gs - 1 ? NaN : r() - 0.5)),
      allNan: Array(gs).fill(NaN),
      inf: Array.from({ length: gs }, (_, i) => (i === 3 ? Infinity : r() - 0.5)),
      negInf: Array.from({ length: gs }, (_, i) => (i === 7 ? -Infinity : i === 8 ? 0 : r() - 0.5)),
      infNan: Array.from({ length: gs }, (_, i) => (i === 2 ? Infinity : i === 9 ? NaN : r())),
      subnormals: Array.from({ length: gs }, (_, i) => (i - gs / 2) * 2 ** -24),
      tinyScaleZero: Array.from(
        { length: gs },
        (_, i) => (i === 0 ? 3 * 2 ** -24 : i % 2 ? 2 ** -24 : -(2 ** -24)),
      ),
      tinyScaleSub: Array.from({ length: gs }, () => (r() - 0.5) * 2 ** -12),
      f32tiny: Array.from({ length: gs }, (_, i) => (r() - 0.5) * 2 ** -130 * (i + 1)),
      huge: Array.from({ length: gs }, (_, i) => (i === 1 ? 65504 : (r() - 0.5) * 60000)),
      bf16huge: Array.from({ length: gs }, (_, i) => (i === 1 ? 3.3e38 : (r() - 0.5) * 3e38)),
      mixedScale: Array.from({ length: gs }, (_, i) => (i === 4 ? 1000 : (r() - 0.5) * 1e-3)),
    };
    for (const [name, vals] of Object.entries(cases)) {
      checkQuant(toDtype(vals, dt), 1, gs, s, `${s.name} ${name}`);
      // the same group in a ragged tail and in a second row
      const two = [...Array.from({ length: gs + 5 }, () => gauss(r) * 0.02), ...vals.slice(0, gs - 3)];
      checkQuant(toDtype(two, dt), 1, two.length, s, `${s.name} ${name} ragged`);
      checkQuant(toDtype([...vals, ...vals.map((v) => -v)], dt), 2, gs, s, `${s.name} ${name} rows`);
    }
  }
});

Deno.test("quantize NaN payloads and signs vs reference", () => {
  for (const s of GROUP_SCHEMES) {
    const gs = s.groupSize;
    const pats = s.modelDtype === "float32"
      ? [0x7fc00000, 0xffc00000, 0x7f800001, 0xff812345, 0x7fffffff]
      : s.modelDtype === "bfloat16"
      ? [0x7fc0, 0xffc0, 0x7f81, 0xff85, 0x7fff]
      : [0x7e00, 0xfe00, 0x7c01, 0xfc85, 0x7fff];
    for (const p of pats) {
      for (const pos of [0, 11, gs - 1]) {
        const input = s.modelDtype === "float32" ? new Uint32Array(gs) : new Uint16Array(gs);
        for (let i = 0; i < gs; i++) {
          input[i] = s.modelDtype === "float32" ? 0x3f000000 + i * 4099 : 0x3800 + i * 7;
        }
        input[pos] = p;
        const typed = s.modelDtype === "float32" ? new Float32Array(input.buffer) : input as Uint16Array;
        checkQuant(typed, 1, gs, s, `${s.name} nan ${p.toString(16)}@${pos}`);
      }
    }
  }
});

Deno.test("quantize exact ties (t = k + 0.5 after the dtype rounding) vs reference", () => {
  for (const s of GROUP_SCHEMES) {
    const gs = s.groupSize, maxInt = 2 ** (s.bits - 1) - 1;
    const rows = 16;
    const vals: number[] = [];
    const r = rng(7 + s.bits);
    for (let row = 0; row < rows; row++) {
      // choose a max so the scale is exactly representable, then place exact ties (q = j + 0.5 - maxInt)
      const scale = 2 ** -(row % 9) * (1 + Math.floor(r() * 8) / 8);
      for (let i = 0; i < gs; i++) {
        vals.push(i === 0 ? scale * maxInt : (Math.floor(r() * 2 * maxInt) + 0.5 - maxInt) * scale);
      }
    }
    checkQuant(toDtype(vals, s.modelDtype), rows, gs, s, `${s.name} ties`);
  }
});

Deno.test("quantize random data vs reference (several shapes, heavy tails, specials)", () => {
  const r = rng(42);
  for (const s of GROUP_SCHEMES) {
    for (const [rows, k] of [[3, 256], [5, 320], [2, 1000], [4, 33], [1, 7], [6, 2048 + 40 + 3]]) {
      const vals = Array.from({ length: rows * k }, (_, i) => {
        const u = r();
        if (u < 0.001) return [NaN, Infinity, -Infinity, 0, -0, 2 ** -24][i % 6];
        if (u < 0.05) return gauss(r) * 10;
        return gauss(r) * (i % 512 < 40 ? 1e-6 : 0.02);
      });
      checkQuant(toDtype(vals, s.modelDtype), rows, k, s, `${s.name} ${rows}x${k}`);
    }
  }
});

Deno.test("quantize non-registry group sizes (scalar path) and chunking by rows", () => {
  const r = rng(5);
  const vals = Array.from({ length: 9 * 130 }, () => gauss(r));
  for (const dt of ["float16", "bfloat16", "float32"] as const) {
    checkQuant(toDtype(vals, dt), 9, 130, { bits: 4, groupSize: 64, modelDtype: dt }, `gs64 ${dt}`);
    checkQuant(toDtype(vals, dt), 9, 130, { bits: 3, groupSize: 20, modelDtype: dt }, `gs20 ${dt}`);
  }
  const k2 = WasmKernels.createSync();
  k2.chunkElems = 100; // forces one row per chunk and several chunks
  const input = toDtype(vals, "float16") as Uint16Array;
  const a = { words: new Uint32Array(9 * 5 * 4), scales: new Uint16Array(9 * 5) };
  const b = { words: new Uint32Array(9 * 5 * 4), scales: new Uint16Array(9 * 5) };
  const job = {
    input,
    rows: 9,
    k: 130,
    bits: 4 as const,
    groupSize: 32,
    modelDtype: "float16" as const,
    tie: "even" as const,
  };
  k2.groupQuantize({ ...job, ...a });
  groupQuantizeReference({ ...job, ...b });
  assertEquals(a, b);
});

Deno.test("conversions: all 65536 f16 and bf16 patterns vs castReference", () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const pairs: [FloatDType, FloatDType][] = [
    ["float16", "float32"],
    ["float16", "bfloat16"],
    ["bfloat16", "float32"],
    ["bfloat16", "float16"],
  ];
  const backend = new WasmBackend(K);
  for (const [s, d] of pairs) {
    const size = d === "float32" ? 4 : 2;
    const a = new Uint8Array(65536 * size), b = new Uint8Array(65536 * size);
    backend.cast(bytes(all), s, a, d, 65536);
    castReference(bytes(all), s, b, d, 65536);
    assertEquals(Buffer.from(a).equals(Buffer.from(b)), true, `${s} -> ${d}`);
  }
  // spot values
  assertEquals(K.convert("f16>f32", new Uint16Array([0x0001, 0x8400, 0x7c00, 0xfc01]))[0], 0x33800000);
  assertEquals([...K.convert("f16>f32", new Uint16Array([0x8400, 0x7c00, 0xfc01]))], [
    0xb8800000,
    0x7f800000,
    0x7fc00000,
  ]);
  assertEquals([...K.convert("bf16>f16", new Uint16Array([0x3f80, 0x4780, 0x3380, 0x3300, 0xff81]))], [
    0x3c00,
    0x7c00,
    0x0001,
    0x0000,
    0xfe00,
  ]);
});

function f32Samples(): Uint32Array {
  const r = rng(9);
  const special = [
    0,
    0x80000000,
    1,
    0x807fffff,
    0x00800000,
    0x3f800000,
    0x3f808000,
    0x3f818000,
    0x3f80ffff,
    0x3dcccccd,
    0x7f7f0000,
    0x7f7effff,
    0x7f7f7fff,
    0x7f7f8000,
    0x7f7fffff,
    0xff7f0000,
    0xff7effff,
    0xff7fffff,
    0x7f800000,
    0xff800000,
    0x7fc00000,
    0xffc00000,
    0x7f800001,
    0xff812345,
    0x7fffffff,
    0x477fefff,
    0x477ff000,
    0x477fe000,
    0x477fffff,
    0x47800000,
    0x38800000,
    0x387fffff,
    0x387fe000,
    0x387ff000,
    0x33800000,
    0x33000000,
    0x33000001,
    0x337fffff,
    0x33c00000,
    0x00000001,
    0x2f800000,
  ];
  const out = new Uint32Array(200000 + special.length * 3);
  let n = 0;
  for (const s of special) for (const d of [0, 1, -1]) out[n++] = (s + d) >>> 0;
  while (n < out.length) {
    const u = r();
    // uniform bit patterns, and patterns concentrated around f16's range
    out[n++] = u < 0.5
      ? Math.floor(r() * 2 ** 32)
      : ((Math.floor(r() * 2 ** 31) & 0x87ffffff) | 0x30000000) >>> 0;
  }
  return out;
}

Deno.test("conversions: f32 samples (limits, ties, subnormals, NaN) vs castReference and storage encoding", () => {
  const src = f32Samples();
  const n = src.length;
  for (const d of ["float16", "bfloat16"] as const) {
    const a = new Uint8Array(n * 2), b = new Uint8Array(n * 2);
    new WasmBackend(K).cast(bytes(src), "float32", a, d, n);
    castReference(bytes(src), "float32", b, d, n);
    assertEquals(Buffer.from(a).equals(Buffer.from(b)), true, `float32 -> ${d}`);
  }
  const st = K.convert("f32>bf16-storage", src) as Uint16Array;
  for (let i = 0; i < n; i++) assertEquals(st[i], f32BitsToBf16Storage(src[i]), src[i].toString(16));
  assertEquals([
    ...K.convert("f32>bf16-storage", new Uint32Array([0x3f808000, 0x3f818000, 0x7f7fffff, 0xffc00000])),
  ], [
    0x3f80,
    0x3f82,
    0x7f7f,
    0xffc0,
  ]);
  // chunked conversion equals the single-call one
  const k2 = WasmKernels.createSync();
  k2.chunkElems = 1000;
  assertEquals(k2.convert("f32>f16", src), K.convert("f32>f16", src));
});

function refDequant(
  words: Uint32Array,
  scales: Uint16Array | Float32Array,
  rows: number,
  k: number,
  s: GroupQuantScheme,
): Float64Array {
  const epw = Math.floor(32 / s.bits), wpg = s.groupSize / epw, groups = Math.ceil(k / s.groupSize);
  const maxInt = 2 ** (s.bits - 1) - 1;
  const out = new Float64Array(rows * k);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) {
      const g = Math.floor(j / s.groupSize), idx = j % s.groupSize;
      const w = words[(r * groups + g) * wpg + Math.floor(idx / epw)];
      const code = (w >>> ((idx % epw) * s.bits)) & ((1 << s.bits) - 1);
      const sc = scales[r * groups + g];
      const sv = s.modelDtype === "float16" ? f16Value(sc) : s.modelDtype === "bfloat16" ? bf16Value(sc) : sc;
      out[r * k + j] = (code - maxInt) * sv;
    }
  }
  return out;
}

function quantized(s: GroupQuantScheme, rows: number, k: number, seed: number) {
  const r = rng(seed);
  const input = toDtype(Array.from({ length: rows * k }, () => gauss(r) * 0.02), s.modelDtype);
  const groups = Math.ceil(k / s.groupSize);
  const words = new Uint32Array(rows * groups * 4);
  const scales = s.modelDtype === "float32"
    ? new Float32Array(rows * groups)
    : new Uint16Array(rows * groups);
  groupQuantizeReference({
    input,
    rows,
    k,
    words,
    scales,
    bits: s.bits,
    groupSize: s.groupSize,
    modelDtype: s.modelDtype,
    tie: "even",
  });
  return { words, scales };
}

Deno.test("dequantize vs float64 reference (exact), every scheme, ragged K", () => {
  for (const s of GROUP_SCHEMES) {
    for (const [rows, k] of [[3, 128], [2, 120], [4, 77]]) {
      const { words, scales } = quantized(s, rows, k, rows * k);
      const got = dequantize(words, scales, rows, k, s);
      const want = refDequant(words, scales, rows, k, s);
      for (let i = 0; i < got.length; i++) {
        if (got[i] !== Math.fround(want[i])) {
          throw new Error(`${s.name} ${rows}x${k} [${i}]: ${got[i]} vs ${want[i]}`);
        }
      }
    }
  }
});

Deno.test("dequant-matmul (GEMV and small-batch GEMM) vs float64 dequant+matmul", () => {
  const r = rng(11);
  for (const s of GROUP_SCHEMES) {
    for (const [n, k] of [[5, 256], [3, 200], [4, 77], [2, 1000]]) {
      const { words, scales } = quantized(s, n, k, n + k);
      const w = refDequant(words, scales, n, k, s);
      for (const batch of [1, 2, 3, 4, 5, 8, 11]) {
        const x = Float32Array.from({ length: batch * k }, () => gauss(r));
        const y = dequantMatmul(words, scales, n, k, x, batch, s);
        for (let b = 0; b < batch; b++) {
          for (let j = 0; j < n; j++) {
            let dot = 0, mag = 0;
            for (let i = 0; i < k; i++) {
              dot += x[b * k + i] * w[j * k + i];
              mag += Math.abs(x[b * k + i] * w[j * k + i]);
            }
            const err = Math.abs(y[b * n + j] - dot);
            assert(
              err <= 2e-6 * mag + 1e-30,
              `${s.name} ${n}x${k} b=${batch}: ${y[b * n + j]} vs ${dot} (mag ${mag})`,
            );
          }
        }
      }
    }
  }
});

Deno.test("transpose kernels", () => {
  const rows = 13, cols = 21;
  const src = Uint32Array.from({ length: rows * cols }, (_, i) => i * 2654435761);
  const e = K.exports;
  const p = K.reserve(rows * cols * 8);
  new Uint32Array(e.memory.buffer, p, rows * cols).set(src);
  e.transpose_u32(p, rows, cols, p + rows * cols * 4);
  const t = new Uint32Array(e.memory.buffer, p + rows * cols * 4, rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) assertEquals(t[c * rows + r], src[r * cols + c]);
  }
  const s16 = new Uint16Array(src);
  new Uint16Array(e.memory.buffer, p, rows * cols).set(s16);
  e.transpose_u16(p, rows, cols, p + rows * cols * 2);
  const t16 = new Uint16Array(e.memory.buffer, p + rows * cols * 2, rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) assertEquals(t16[c * rows + r], s16[r * cols + c]);
  }
});

Deno.test("WasmBackend: name, cast identity and errors, async instantiation", async () => {
  const b = new WasmBackend(await WasmKernels.create());
  assertEquals(b.name, "cpu");
  const src = new Uint8Array([1, 2, 3, 4]), dst = new Uint8Array(4);
  await b.cast(src, "bfloat16", dst, "bfloat16", 2);
  assertEquals([...dst], [1, 2, 3, 4]);
  let threw = false;
  await b.cast(src, "uint32", dst, "float16", 1).catch(() => threw = true);
  assertEquals(threw, true);
  await b.close();
});
