// Hand-derived single groups for the reference quantizer (expected values worked out by hand
// and cross-checked with numpy, independently of this code).
import { assertEquals } from "./_assert.ts";
import { castReference, groupQuantizeReference, roundTie } from "../src/quant/reference.ts";
import type { FloatDType } from "../src/dtype.ts";
import type { TieRounding } from "../src/quant/backend.ts";

function f16bits(xs: number[]): Uint16Array {
  const a = new Float16Array(xs);
  return new Uint16Array(a.buffer);
}

function quant(
  input: Uint16Array | Float32Array,
  k: number,
  bits: 3 | 4,
  modelDtype: FloatDType,
  tie: TieRounding,
  rows = 1,
) {
  const gs = bits === 4 ? 32 : 40;
  const groups = Math.ceil(k / gs);
  const words = new Uint32Array(rows * groups * 4);
  const scales = modelDtype === "float32" ? new Float32Array(rows * groups) : new Uint16Array(rows * groups);
  groupQuantizeReference({ input, rows, k, words, scales, bits, groupSize: gs, modelDtype, tie });
  return { words: [...words].map((w) => w.toString(16)), scales: [...scales] };
}

Deno.test("roundTie: ties to even and away from zero", () => {
  assertEquals([0.5, 1.5, 2.5, 6.5, -0.5, 2.4999].map((t) => roundTie(t, "even")), [0, 2, 2, 6, 0, 2]);
  assertEquals([0.5, 1.5, 2.5, 6.5, -0.5, 2.4999].map((t) => roundTie(t, "away")), [1, 2, 3, 7, -1, 2]);
});

Deno.test("q4f16_1: spec worked example (32 f16 values, element 3 an exact tie)", () => {
  const hex = "019d 1e1e 9d9d 9b5d a0a8 a514 14ed 26dd a10a a25b 2104 1f4f 1851 a4c4 90cb 231f " +
    "a6e2 a0b0 a8de a69a a8b7 9cd1 a67d 1d8e 1a6c 9ba8 aa71 a184 93f2 18a4 a7d6 a0e4";
  const input = new Uint16Array(hex.split(" ").map((h) => parseInt(h, 16)));
  assertEquals(quant(input, 32, 4, "float16", "even"), {
    words: ["b7466687", "97478856", "83623263", "63776067"],
    scales: [0x1f5d],
  });
  assertEquals(quant(input, 32, 4, "float16", "away").words, [
    "b7467687",
    "97478856",
    "83623263",
    "63776067",
  ]);
});

Deno.test("q4f16_1: negative max and a tie at 10.5", () => {
  // max_abs 1 -> scale f16(1/7) = 0x3092; -1 -> t = 0; 0.5/scale = 3.50085 -> f16 3.5 -> t = 10.5 (tie)
  const input = f16bits([-1, 0.5, ...new Array(30).fill(0)]);
  assertEquals(quant(input, 32, 4, "float16", "even"), {
    words: ["777777a0", "77777777", "77777777", "77777777"],
    scales: [0x3092],
  });
  assertEquals(quant(input, 32, 4, "float16", "away").words[0], "777777b0");
});

Deno.test("q4f16_1: all-zero group gives zero words and +0 scale (0/0 = NaN -> code 0)", () => {
  assertEquals(quant(new Uint16Array(32), 32, 4, "float16", "even"), {
    words: ["0", "0", "0", "0"],
    scales: [0],
  });
  // a group of only -0
  assertEquals(quant(new Uint16Array(32).fill(0x8000), 32, 4, "float16", "even").words, ["0", "0", "0", "0"]);
});

Deno.test("q4f16_1: subnormal max, scale underflows to 0: +x -> inf -> 14, -x -> 0", () => {
  const input = new Uint16Array(32);
  input[0] = 0x0001; // 2^-24
  input[1] = 0x8001; // -2^-24
  // 2^-24 / 7 rounds to +0 in f16
  assertEquals(quant(input, 32, 4, "float16", "even"), { words: ["e", "0", "0", "0"], scales: [0] });
});

Deno.test("q4f16_1: ragged K = 40 pads the last group with zero bits, not code 7", () => {
  const input = f16bits(new Array(40).fill(1));
  // 1 / f16(1/7) = 7.0017 -> f16 7.0 -> t = 14
  assertEquals(quant(input, 40, 4, "float16", "even"), {
    words: ["eeeeeeee", "eeeeeeee", "eeeeeeee", "eeeeeeee", "eeeeeeee", "0", "0", "0"],
    scales: [0x3092, 0x3092],
  });
});

Deno.test("q3f16_1: int3 packs 10 codes per word, ties under both rules", () => {
  // scale = 3/3 = 1; t = w + 3 = [6,3,0,4.5,1.5,4,2,3.25,5.5,2.5]
  const input = f16bits([3, 0, -3, 1.5, -1.5, 1, -1, 0.25, 2.5, -0.5]);
  assertEquals(quant(input, 10, 3, "float16", "even"), {
    words: ["166a281e", "0", "0", "0"],
    scales: [0x3c00],
  });
  assertEquals(quant(input, 10, 3, "float16", "away").words[0], "1e6a2a1e");
});

Deno.test("q4f32_1: float32 arithmetic, scale kept as float32", () => {
  const input = new Float32Array([-1, 0.5, ...new Array(30).fill(0)]);
  const r = quant(input, 32, 4, "float32", "even");
  assertEquals(r.words, ["777777a0", "77777777", "77777777", "77777777"]);
  assertEquals(new Uint32Array(new Float32Array(r.scales).buffer)[0], 0x3e124925);
  assertEquals(quant(input, 32, 4, "float32", "away").words[0], "777777b0");
});

Deno.test("q4bf16_1: f32 arithmetic with a bf16-rounded scale (no tie here, unlike f16)", () => {
  // scale = RNE_bf16(1/7 as f32) = 0x3e12 = 0.142578125; 0.5/scale + 7 = 10.50685 -> 11
  const input = new Uint16Array(32);
  input[0] = 0xbf80; // -1
  input[1] = 0x3f00; // 0.5
  assertEquals(quant(input, 32, 4, "bfloat16", "even"), {
    words: ["777777b0", "77777777", "77777777", "77777777"],
    scales: [0x3e12],
  });
});

Deno.test("castReference: bf16 -> f16 rounds to nearest even, overflows to inf, keeps NaN", () => {
  const src = new Uint16Array([0x3f80, 0x3f81, 0x4780, 0x477f, 0x7fc0, 0x3380, 0x0001, 0xc780]);
  const dst = new Uint8Array(src.length * 2);
  castReference(new Uint8Array(src.buffer), "bfloat16", dst, "float16", src.length);
  // 1.0; 1.0078125 -> 0x3c08; 65536 -> inf; 65280 -> 0x7bf8; NaN; 2^-24 -> 0x0001; tiny -> 0; -65536 -> -inf
  assertEquals([...new Uint16Array(dst.buffer)], [
    0x3c00,
    0x3c08,
    0x7c00,
    0x7bf8,
    0x7e00,
    0x0001,
    0x0000,
    0xfc00,
  ]);
});

Deno.test("castReference: f16 -> bf16 and f32 -> bf16 round to nearest even", () => {
  const f16 = new Uint16Array([0x3c01, 0x3c02, 0x0001]); // 1+2^-10, 1+2^-9, 2^-24
  const out = new Uint8Array(6);
  castReference(new Uint8Array(f16.buffer), "float16", out, "bfloat16", 3);
  assertEquals([...new Uint16Array(out.buffer)], [0x3f80, 0x3f80, 0x3380]);
  const f32 = new Uint32Array([0x3f808000, 0x3f818000, 0x3dcccccd]);
  const out2 = new Uint8Array(6);
  castReference(new Uint8Array(f32.buffer), "float32", out2, "bfloat16", 3);
  assertEquals([...new Uint16Array(out2.buffer)], [0x3f80, 0x3f82, 0x3dcd]);
});
