/**
 * Non-finite source values (NaN, +Inf, -Inf): the reference count, and the error a conversion
 * ends with when tensors hold them. MLC LLM converts such values silently; a conversion here
 * refuses them unless allowed (`allowNonFinite`, the CLI's `--allow-non-finite`).
 *
 * A value is non-finite exactly when all its exponent bits are set (the invariant the WASM
 * kernel `count_nonfinite` in `kernels/src/finite.rs` shares).
 *
 * @module
 */
import type { FloatDType } from "../dtype.ts";

const EXPONENT: Readonly<Record<FloatDType, number>> = {
  float16: 0x7c00,
  bfloat16: 0x7f80,
  float32: 0x7f80_0000,
};

/**
 * The number of non-finite elements among the first `count` little-endian elements of `bytes`.
 *
 * @example
 * ```ts
 * import { countNonFinite } from "./nonfinite.ts";
 * // f16: 1.0, +Inf, NaN, -Inf, 65504 (the largest finite)
 * const h = new Uint16Array([0x3c00, 0x7c00, 0x7e00, 0xfc00, 0x7bff]);
 * const n = countNonFinite(new Uint8Array(h.buffer), "float16", 5);
 * if (n !== 3) throw new Error(`expected 3, got ${n}`);
 * ```
 */
export function countNonFinite(bytes: Uint8Array, dtype: FloatDType, count: number): number {
  const mask = EXPONENT[dtype];
  const size = dtype === "float32" ? 4 : 2;
  if (bytes.length < count * size) {
    throw new RangeError(`countNonFinite: ${count} elements need ${count * size} bytes`);
  }
  let n = 0;
  if (size === 4 && bytes.byteOffset % 4 === 0) {
    const u = new Uint32Array(bytes.buffer, bytes.byteOffset, count);
    for (let i = 0; i < count; i++) if ((u[i] & mask) === mask) n++;
  } else if (size === 2 && bytes.byteOffset % 2 === 0) {
    const u = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
    for (let i = 0; i < count; i++) if ((u[i] & mask) === mask) n++;
  } else {
    const v = new DataView(bytes.buffer, bytes.byteOffset, count * size);
    for (let i = 0; i < count; i++) {
      const bits = size === 4 ? v.getUint32(i * 4, true) : v.getUint16(i * 2, true);
      if ((bits & mask) === mask) n++;
    }
  }
  return n;
}

/** A tensor with non-finite values and how many. */
export interface NonFiniteTensor {
  /** The MLC parameter name. */
  name: string;
  /** The number of NaN and infinite source elements. */
  count: number;
}

/** How many tensors a {@link NonFiniteError} message names (all are in `tensors`). */
export const NON_FINITE_LISTED = 10;

/** A conversion refused because source tensors hold NaN or infinite values. */
export class NonFiniteError extends Error {
  /** Every tensor with non-finite values, in conversion order. */
  readonly tensors: readonly NonFiniteTensor[];
  /** Creates the error (the message names the first {@link NON_FINITE_LISTED} tensors). */
  constructor(tensors: readonly NonFiniteTensor[]) {
    const total = tensors.reduce((a, t) => a + t.count, 0);
    const lines = tensors.slice(0, NON_FINITE_LISTED).map((t) =>
      `  ${t.name}: ${t.count.toLocaleString("en-US")}`
    );
    if (tensors.length > NON_FINITE_LISTED) {
      lines.push(`  and ${(tensors.length - NON_FINITE_LISTED).toLocaleString("en-US")} more tensors`);
    }
    super(
      `${total.toLocaleString("en-US")} NaN or infinite source values in ${tensors.length} ` +
        `tensor${tensors.length === 1 ? "" : "s"} (MLC LLM would convert them silently; ` +
        `pass --allow-non-finite to convert anyway):\n${lines.join("\n")}`,
    );
    this.name = "NonFiniteError";
    this.tensors = tensors;
  }
}
