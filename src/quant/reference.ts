/**
 * Scalar TypeScript reference of the conversion and group quantization kernels: the
 * executable specification the WASM and WebGPU kernels are tested against.
 *
 * Semantics are MLC's CPU/LLVM ones (see shared spec quant.md section 3): for float16 every
 * `/` and `+` is rounded to float16 (computed in float64 then rounded, which is exact since
 * 53 >= 2*11+2); for float32 each op rounds to float32; bfloat16 computes in float32 and rounds
 * only the stored scale to bfloat16.
 *
 * @module
 */
import { type DType, f32Bits, f32BitsToBf16, type FloatDType, numberToF16 } from "../dtype.ts";
import type { GroupQuantJob, QuantBackend, TieRounding } from "./backend.ts";
import { groupConstants } from "./schemes.ts";

const F16_TABLE: Float64Array = (() => {
  const t = new Float64Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    t[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1024 + m) * 2 ** (e - 25);
  }
  return t;
})();

/**
 * f16 bits -> value, by table.
 *
 * @example
 * ```ts
 * import { f16Value } from "./reference.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(f16Value(0x3c00), 1);
 * ```
 */
export function f16Value(h: number): number {
  return F16_TABLE[h];
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * bf16 bits -> value.
 *
 * @example
 * ```ts
 * import { bf16Value } from "./reference.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(bf16Value(0xbf80), -1);
 * ```
 */
export function bf16Value(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/**
 * `round` with the given tie rule (IEEE roundTiesToEven, or half away from zero).
 *
 * @example
 * ```ts
 * import { roundTie } from "./reference.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(roundTie(6.5, "even"), 6);
 * deepStrictEqual(roundTie(6.5, "away"), 7);
 * ```
 */
export function roundTie(t: number, tie: TieRounding): number {
  if (tie === "away") return t < 0 ? -Math.floor(-t + 0.5) : Math.floor(t + 0.5);
  const f = Math.floor(t);
  const d = t - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Reference group quantization (NK layout), exactly as MLC's CPU kernel.
 *
 * @example
 * ```ts
 * import { groupQuantizeReference } from "./reference.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const input = new Uint16Array(32).fill(0x3c00); // 32 x 1.0 (f16)
 * const words = new Uint32Array(4), scales = new Uint16Array(1);
 * groupQuantizeReference({ input, rows: 1, k: 32, words, scales, bits: 4, groupSize: 32,
 *   modelDtype: "float16", tie: "even" });
 * deepStrictEqual(words[0].toString(16), "eeeeeeee"); // every code 14
 * ```
 */
export function groupQuantizeReference(job: GroupQuantJob): void {
  const { rows, k, bits, groupSize, modelDtype, tie } = job;
  const { elemPerWord, wordsPerGroup, maxInt } = groupConstants(job);
  const groups = Math.ceil(k / groupSize);
  const wordsPerRow = groups * wordsPerGroup;
  const maxCode = 2 * maxInt;
  const isF16 = modelDtype === "float16";
  const isBf16 = modelDtype === "bfloat16";
  const in16 = job.input as Uint16Array;
  const in32 = job.input as Float32Array;
  const val = isF16
    ? (i: number) => F16_TABLE[in16[i]]
    : isBf16
    ? (i: number) => bf16Value(in16[i])
    : (i: number) => in32[i];
  const rnd = isF16 ? Math.f16round : Math.fround; // bf16 computes in f32 (BF16ComputeLegalize)
  const codes = new Uint8Array(groupSize);
  for (let r = 0; r < rows; r++) {
    const rowBase = r * k;
    for (let g = 0; g < groups; g++) {
      const start = g * groupSize;
      const n = Math.min(groupSize, k - start);
      // max_abs: sequential select(acc > v, acc, v), init lowest(mdt)
      let acc = -Infinity;
      for (let j = 0; j < n; j++) {
        const v = Math.abs(val(rowBase + start + j));
        acc = acc > v ? acc : v;
      }
      let scale: number;
      let scaleOut: number;
      if (isF16) {
        scale = Math.f16round(acc / maxInt);
        scaleOut = numberToF16(scale);
      } else if (isBf16) {
        const bits = f32Bits(Math.fround(acc / maxInt));
        // TVM's legalized store: RNE by bit arithmetic, no NaN special case
        scaleOut = ((bits + ((bits >>> 16) & 1) + 0x7fff) >>> 16) & 0xffff;
        // KN (output_transpose): the codes use the internal float32 scale, unrounded
        scale = job.outputTranspose ? Math.fround(acc / maxInt) : bf16Value(scaleOut);
      } else {
        scale = Math.fround(acc / maxInt);
        scaleOut = scale;
      }
      job.scales[r * groups + g] = scaleOut;
      for (let j = 0; j < n; j++) {
        const w = val(rowBase + start + j);
        const t = rnd(rnd(w / scale) + maxInt);
        const rr = roundTie(t, tie);
        const c1 = rr > 0 ? rr : 0;
        codes[j] = c1 < maxCode ? c1 : maxCode;
      }
      for (let j = n; j < groupSize; j++) codes[j] = 0;
      const wbase = r * wordsPerRow + g * wordsPerGroup;
      for (let w = 0; w < wordsPerGroup; w++) {
        let word = 0;
        for (let e = 0; e < elemPerWord; e++) {
          const idx = w * elemPerWord + e;
          if (start + idx < k) word |= codes[idx] << (e * bits);
        }
        job.words[wbase + w] = word >>> 0;
      }
    }
  }
}

/**
 * Reference dtype cast (numpy / ml_dtypes `astype`), element by element.
 *
 * @example
 * ```ts
 * import { castReference } from "./reference.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const src = new Uint8Array(new Uint16Array([0x3f80]).buffer); // bf16 1.0
 * const dst = new Uint8Array(2);
 * castReference(src, "bfloat16", dst, "float16", 1);
 * deepStrictEqual(new Uint16Array(dst.buffer)[0], 0x3c00);
 * ```
 */
export function castReference(
  src: Uint8Array,
  srcDtype: DType,
  dst: Uint8Array,
  dstDtype: FloatDType,
  count: number,
): void {
  const sv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  if (srcDtype === dstDtype) {
    dst.set(src.subarray(0, count * (dstDtype === "float32" ? 4 : 2)));
    return;
  }
  for (let i = 0; i < count; i++) {
    let x: number;
    let bits32: number;
    switch (srcDtype) {
      case "float16":
        x = F16_TABLE[sv.getUint16(i * 2, true)];
        bits32 = f32Bits(x);
        break;
      case "bfloat16":
        bits32 = sv.getUint16(i * 2, true) << 16;
        x = bf16Value(bits32 >>> 16);
        break;
      case "float32":
        bits32 = sv.getUint32(i * 4, true);
        x = sv.getFloat32(i * 4, true);
        break;
      default:
        throw new Error(`cannot cast ${srcDtype} to ${dstDtype}`);
    }
    if (dstDtype === "float16") {
      dv.setUint16(i * 2, x !== x ? ((bits32 >>> 16) & 0x8000) | 0x7e00 : numberToF16(x), true);
    } else if (dstDtype === "bfloat16") dv.setUint16(i * 2, f32BitsToBf16(bits32), true);
    else dv.setFloat32(i * 4, x, true);
  }
}

/** The scalar TypeScript backend (`--device reference`). */
export class ReferenceBackend implements QuantBackend {
  /** Backend name. */
  readonly name = "reference";
  /** Description. */
  readonly description = "scalar TypeScript reference";
  /** Cast, see {@link castReference}. */
  cast(
    src: Uint8Array,
    srcDtype: DType,
    dst: Uint8Array,
    dstDtype: FloatDType,
    count: number,
  ): Promise<void> {
    castReference(src, srcDtype, dst, dstDtype, count);
    return Promise.resolve();
  }
  /** Group quantization, see {@link groupQuantizeReference}. */
  groupQuantize(job: GroupQuantJob): Promise<void> {
    groupQuantizeReference(job);
    return Promise.resolve();
  }
  /** Nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
