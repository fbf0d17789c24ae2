/**
 * Data types and exact scalar conversions between float16, bfloat16 and float32 bit patterns
 * (round to nearest even, IEEE subnormals, overflow to infinity, NaN kept).
 *
 * @module
 */

/** Element types that appear in sources and outputs. */
export type DType = "float16" | "bfloat16" | "float32" | "uint32" | "float8_e4m3fn";

/** Floating-point model dtypes a quantization scheme computes in. */
export type FloatDType = "float16" | "bfloat16" | "float32";

/** Bytes per element of a dtype as MLC counts it (float32 counts 4). */
export const ITEM_SIZE: Readonly<Record<DType, number>> = {
  float16: 2,
  bfloat16: 2,
  float32: 4,
  uint32: 4,
  float8_e4m3fn: 1,
};

/**
 * Bytes per element of a dtype.
 *
 * @example
 * ```ts
 * import { itemSize } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(itemSize("bfloat16"), 2);
 * ```
 */
export function itemSize(dtype: DType): number {
  return ITEM_SIZE[dtype];
}

const f32 = new Float32Array(1);
const F16A = new Float16Array(1);
const U16A = new Uint16Array(F16A.buffer);
const u32 = new Uint32Array(f32.buffer);

/**
 * Float16 bits to a number (exact).
 *
 * @example
 * ```ts
 * import { f16ToNumber } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(f16ToNumber(0x3c00), 1);
 * ```
 */
export function f16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1024 + m) * 2 ** (e - 25);
}

/**
 * A number to float16 bits, round to nearest even (overflow to infinity; NaN -> 0x7e00 with
 * sign kept).
 *
 * @example
 * ```ts
 * import { numberToF16 } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(numberToF16(1.00048828125), 0x3c00); // tie to even
 * ```
 */
export function numberToF16(x: number): number {
  F16A[0] = x;
  const h = U16A[0];
  return (h & 0x7fff) > 0x7c00 ? (h & 0x8000) | 0x7e00 : h;
}

/**
 * Bfloat16 bits to a number (exact).
 *
 * @example
 * ```ts
 * import { bf16ToNumber } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(bf16ToNumber(0x3f80), 1);
 * ```
 */
export function bf16ToNumber(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/**
 * Float32 bits of a number (after rounding it to float32).
 *
 * @example
 * ```ts
 * import { f32Bits } from "./dtype.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(f32Bits(1), 0x3f800000);
 * ```
 */
export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0];
}

/**
 * Number from float32 bits.
 *
 * @example
 * ```ts
 * import { f32FromBits } from "./dtype.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(f32FromBits(0x3f800000), 1);
 * ```
 */
export function f32FromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

/**
 * Float32 bits to bfloat16 bits as ml_dtypes casts them: round to nearest even, NaN kept
 * quiet with its sign (0x7fc0), overflow to infinity.
 *
 * @example
 * ```ts
 * import { f32BitsToBf16 } from "./dtype.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(f32BitsToBf16(0x3f808000), 0x3f80); // tie to even
 * ```
 */
export function f32BitsToBf16(u: number): number {
  u >>>= 0;
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) {
    return ((u >>> 16) & 0x8000) | 0x7fc0;
  }
  return ((u + ((u >>> 16) & 1) + 0x7fff) >>> 16) & 0xffff;
}

/**
 * TVM's `f32-to-bf16` storage encoding (`tvmjs._convert_f32_to_bf16`): round to nearest even
 * when |v| < 0x7F7F0000 as float, otherwise truncation (so NaN and infinities keep their top
 * bits and huge finite values clip to 0x7f7f).
 *
 * @example
 * ```ts
 * import { f32BitsToBf16Storage } from "./dtype.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(f32BitsToBf16Storage(0x7f7fffff), 0x7f7f);
 * ```
 */
export function f32BitsToBf16Storage(u: number): number {
  u >>>= 0;
  const mag = u & 0x7fffffff;
  if (mag < 0x7f7f0000) return ((u + ((u >>> 16) & 1) + 0x7fff) >>> 16) & 0xffff;
  return u >>> 16;
}

/**
 * Round a number to bfloat16 precision (RNE via float32), returned as a number.
 *
 * @example
 * ```ts
 * import { bf16Round } from "./dtype.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(bf16Round(1 + 2 ** -9), 1); // tie to even
 * ```
 */
export function bf16Round(x: number): number {
  return bf16ToNumber(f32BitsToBf16(f32Bits(x)));
}

/** Source-only element types: pre-quantized checkpoints (FP8, AWQ) store these; no output uses them. */
export type QuantSourceDType = "float8_e4m3fn" | "float8_e5m2" | "int32" | "int8" | "uint8";

/** Bytes per element of each source-only dtype. */
export const QUANT_SOURCE_ITEM_SIZE: Readonly<Record<QuantSourceDType, number>> = {
  float8_e4m3fn: 1,
  float8_e5m2: 1,
  int32: 4,
  int8: 1,
  uint8: 1,
};

/**
 * float8_e4m3fn bits to a number (exact): bias 7, no infinities, S.1111.111 is NaN, largest
 * finite 448, smallest subnormal 2^-9 (the OCP FP8 / torch.float8_e4m3fn encoding).
 *
 * @example
 * ```ts
 * import { e4m3fnToNumber } from "./dtype.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(e4m3fnToNumber(0x7e), 448);
 * ```
 */
export function e4m3fnToNumber(b: number): number {
  const s = b & 0x80 ? -1 : 1;
  const e = (b >> 3) & 0xf;
  const m = b & 7;
  if (e === 15 && m === 7) return NaN;
  if (e === 0) return s * m * 2 ** -9;
  return s * (8 + m) * 2 ** (e - 10);
}

/**
 * float8_e5m2 bits to a number (exact): the top byte of a float16 (bias 15, infinities and
 * NaN as IEEE).
 *
 * @example
 * ```ts
 * import { e5m2ToNumber } from "./dtype.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(e5m2ToNumber(0x3c), 1);
 * ```
 */
export function e5m2ToNumber(b: number): number {
  return f16ToNumber((b & 0xff) << 8);
}

/**
 * Decodes `count` little-endian elements of a source-only dtype to numbers (exact: every FP8,
 * int8, uint8 and int32 value is a float64).
 *
 * @example
 * ```ts
 * import { decodeQuantSource } from "./dtype.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual([...decodeQuantSource(new Uint8Array([0x38, 0xb8]), "float8_e4m3fn", 2)], [1, -1]);
 * ```
 */
export function decodeQuantSource(bytes: Uint8Array, dtype: QuantSourceDType, count: number): Float64Array {
  const need = count * QUANT_SOURCE_ITEM_SIZE[dtype];
  if (bytes.length < need) {
    throw new RangeError(`${count} ${dtype} elements need ${need} bytes, got ${bytes.length}`);
  }
  const out = new Float64Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case "float8_e4m3fn":
        out[i] = e4m3fnToNumber(bytes[i]);
        break;
      case "float8_e5m2":
        out[i] = e5m2ToNumber(bytes[i]);
        break;
      case "int32":
        out[i] = dv.getInt32(4 * i, true);
        break;
      case "int8":
        out[i] = dv.getInt8(i);
        break;
      case "uint8":
        out[i] = bytes[i];
        break;
    }
  }
  return out;
}
