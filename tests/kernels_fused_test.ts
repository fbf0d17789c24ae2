// Fused cast + group quantization (kernels/src/fused.rs) against the reference: cast with
// castReference, then groupQuantizeReference. Every source/model dtype pair and scheme, both
// tie rules, on edge cases and random data.
import { assertEquals } from "./_assert.ts";
import type { FloatDType } from "../src/dtype.ts";
import type { GroupQuantJob } from "../src/quant/backend.ts";
import { castReference, groupQuantizeReference } from "../src/quant/reference.ts";
import { type GroupQuantScheme, QUANTIZATIONS } from "../src/quant/schemes.ts";
import { WasmBackend, WasmKernels } from "../src/kernels/wasm.ts";
import { Rng } from "../src/testing/checkpoint_gen.ts";

const K = WasmKernels.createSync();
const DTYPES: FloatDType[] = ["float16", "bfloat16", "float32"];
const SIZE: Record<FloatDType, number> = { float16: 2, bfloat16: 2, float32: 4 };
const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Deterministic uniform [0, 1) numbers (the checkpoint generator's mulberry32). */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

/** Source bytes of `dt` from f32 values (castReference), or raw patterns when given as bits. */
function source(values: ArrayLike<number>, dt: FloatDType): Uint8Array {
  const f = Float32Array.from(values);
  if (dt === "float32") return bytes(f);
  const out = new Uint8Array(f.length * 2);
  castReference(bytes(f), "float32", out, dt, f.length);
  return out;
}

const SCHEMES = [
  { bits: 4 as const, groupSize: 32 },
  { bits: 3 as const, groupSize: 40 },
  { bits: 4 as const, groupSize: 64 }, // scalar path
];

function check(src: Uint8Array, sdt: FloatDType, rows: number, k: number, label: string): void {
  for (const md of DTYPES) {
    for (const s of SCHEMES) {
      for (const tie of ["even", "away"] as const) {
        const groups = Math.ceil(k / s.groupSize);
        const wpg = s.groupSize / Math.floor(32 / s.bits);
        const mk = () => ({
          words: new Uint32Array(rows * groups * wpg).fill(0xdeadbeef),
          scales: md === "float32" ? new Float32Array(rows * groups) : new Uint16Array(rows * groups),
        });
        const a = mk(), b = mk();
        const job = { rows, k, ...s, modelDtype: md, tie };
        K.castGroupQuantize(src, sdt, { ...job, ...a });
        const cast = new Uint8Array(rows * k * SIZE[md]);
        castReference(src, sdt, cast, md, rows * k);
        const input = md === "float32" ? new Float32Array(cast.buffer) : new Uint16Array(cast.buffer);
        groupQuantizeReference({ ...job, ...b, input } as GroupQuantJob);
        const at = `${label}: ${sdt}->${md} int${s.bits}/${s.groupSize} ${tie}`;
        for (let i = 0; i < a.words.length; i++) {
          if (a.words[i] !== b.words[i]) {
            throw new Error(
              `${at}: word ${i}: wasm ${a.words[i].toString(16)} ref ${b.words[i].toString(16)}`,
            );
          }
        }
        assertEquals(bytes(a.scales), bytes(b.scales), `${at}: scales`);
      }
    }
  }
}

Deno.test("fused: hand-derived bf16 -> q4f16_1 group (1.0 everywhere)", () => {
  const src = bytes(new Uint16Array(32).fill(0x3f80));
  const words = new Uint32Array(4), scales = new Uint16Array(1);
  K.castGroupQuantize(src, "bfloat16", {
    rows: 1,
    k: 32,
    words,
    scales,
    bits: 4,
    groupSize: 32,
    modelDtype: "float16",
    tie: "even",
  });
  // scale f16(1/7) = 0x3092; 1 / 0.14282 = 7.0017 -> f16 7.0 -> 14: every nibble 0xe
  assertEquals([...words], [0xeeeeeeee, 0xeeeeeeee, 0xeeeeeeee, 0xeeeeeeee]);
  assertEquals(scales[0], 0x3092);
});

Deno.test("fused: edge cases (zeros, NaN/Inf, subnormals, f16 overflow, ties) every pair", () => {
  const r = rng(7);
  const specials = [
    0,
    -0,
    NaN,
    Infinity,
    -Infinity,
    65504,
    65519,
    65520,
    65536,
    1e38,
    -3e38,
    2 ** -24,
    2 ** -25,
    3 * 2 ** -26,
    2 ** -14,
    2 ** -15 + 2 ** -24,
    1e-40,
    -1e-42,
    2 ** -133,
  ];
  const cases: [string, number[]][] = [];
  for (const v of specials) {
    // a group of random values with one special, and a group of the special alone
    cases.push([
      `special ${v}`,
      Array.from({ length: 120 }, (_, i) => (i % 37 === 5 ? v : (r() - 0.5) * 0.1)),
    ]);
    cases.push([`all ${v}`, Array.from({ length: 120 }, () => v)]);
  }
  // tiny groups: every value subnormal in f16, scales that are f16 subnormals or zero
  cases.push(["tiny", Array.from({ length: 120 }, () => (r() - 0.5) * 2 ** -20)]);
  cases.push(["tinier", Array.from({ length: 120 }, () => (r() - 0.5) * 2 ** -26)]);
  // ties after the dtype rounding: w / scale lands on k + 0.5 with scale 1 (max 7 or 3)
  cases.push(["ties", Array.from({ length: 120 }, (_, i) => (i % 8 === 0 ? 7 : ((i % 15) - 7) + 0.5))]);
  cases.push(["ties3", Array.from({ length: 120 }, (_, i) => (i % 10 === 0 ? 3 : ((i % 7) - 3) + 0.5))]);
  // near ties: t = w + 7 lands within an f16 step of k + 0.5, where rounding t to f16 first
  // decides the code (scale 1; exact in f16 and f32 sources, bf16 rounds them)
  const near = [-7, -4, -1, 0, 2, 5, 6].flatMap((n) =>
    [-1, 1].flatMap((sign) => [7, 8, 9, 10, 11, 12].map((e) => n + 0.5 + sign * 2 ** -e))
  );
  cases.push(["near ties", Array.from({ length: 120 }, (_, i) => (i % 8 === 0 ? 7 : near[i % near.length]))]);
  // bf16 values near f16's overflow and rounding boundaries
  cases.push(["near-overflow", Array.from({ length: 120 }, (_, i) => 65000 + i * 10 * (i % 2 ? -1 : 1))]);
  for (const [label, values] of cases) {
    for (const sdt of DTYPES) {
      // ragged tails: K = 120 (not a multiple of 32), and rows of 60 and 40
      check(source(values, sdt), sdt, 1, 120, label);
      check(source(values, sdt), sdt, 2, 60, `${label} (2x60)`);
      check(source(values, sdt), sdt, 3, 40, `${label} (3x40)`);
      // blocks of four full groups (the four-scales-at-once path), specials in any of them
      check(source([...values, ...values, ...values.slice(0, 16)], sdt), sdt, 1, 256, `${label} (1x256)`);
    }
  }
});

Deno.test("fused: raw bf16 and f16 bit patterns (NaN payloads, every exponent)", () => {
  const r = rng(11);
  for (const sdt of ["bfloat16", "float16"] as const) {
    const n = 64 * 40;
    const bits = new Uint16Array(n);
    for (let i = 0; i < n; i++) bits[i] = Math.floor(r() * 65536);
    check(bytes(bits), sdt, 40, 64, `${sdt} random bits`);
    // rows of 128: four groups at a time (the fast path's blocks), NaN and inf in most of them
    check(bytes(bits), sdt, 20, 128, `${sdt} random bits (20x128)`);
  }
});

Deno.test("fused: random Gaussian-like data, several shapes, every pair", () => {
  const r = rng(3);
  for (const [rows, k] of [[7, 256], [3, 1000], [1, 32], [5, 2048], [2, 33]]) {
    const v = Array.from({ length: rows * k }, (_, i) => {
      const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
      return g * 0.02 * (i % 97 === 0 ? 30 : 1) * (i % 501 === 3 ? 1e-4 : 1);
    });
    for (const sdt of DTYPES) check(source(v, sdt), sdt, rows, k, `random ${rows}x${k}`);
  }
});

Deno.test("fused: every registry scheme through WasmBackend.castGroupQuantize", async () => {
  const b = new WasmBackend();
  const r = rng(5);
  const schemes = Object.values(QUANTIZATIONS).filter((s): s is GroupQuantScheme => s.kind === "group-quant");
  for (const s of schemes) {
    const rows = 4, k = 3 * s.groupSize + 8;
    const v = Array.from({ length: rows * k }, () => (r() - 0.5) * 0.2);
    const src = source(v, "bfloat16");
    const groups = Math.ceil(k / s.groupSize);
    const wpg = s.groupSize / Math.floor(32 / s.bits);
    const md = s.modelDtype;
    const mk = () => ({
      words: new Uint32Array(rows * groups * wpg),
      scales: md === "float32" ? new Float32Array(rows * groups) : new Uint16Array(rows * groups),
    });
    const a = mk(), c = mk();
    const job = { rows, k, bits: s.bits, groupSize: s.groupSize, modelDtype: md, tie: "even" as const };
    await b.castGroupQuantize(src, "bfloat16", { ...job, ...a });
    const cast = new Uint8Array(rows * k * SIZE[md]);
    castReference(src, "bfloat16", cast, md, rows * k);
    const input = md === "float32" ? new Float32Array(cast.buffer) : new Uint16Array(cast.buffer);
    groupQuantizeReference({ ...job, ...c, input } as GroupQuantJob);
    assertEquals([...a.words], [...c.words], s.name);
    assertEquals(bytes(a.scales), bytes(c.scales), s.name);
  }
});
