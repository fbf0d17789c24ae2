/**
 * A minimal protocol-buffers wire-format reader: enough to walk the fields of a message
 * (varint, 64-bit, length-delimited, 32-bit) without a schema compiler.
 *
 * @module
 */

/** Wire type numbers of the protobuf encoding. */
export const WIRE = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

/** One field read from a message. */
export interface ProtoField {
  /** The field number. */
  num: number;
  /** The wire type (see {@link WIRE}). */
  wire: number;
  /** Varint value as a Number (exact below 2^53). Only for VARINT. */
  varint: number;
  /** The low 32 bits of a varint, as a signed int32 (how `int32` fields such as `pad_id = -1` read). */
  int32: number;
  /** The payload bytes, for LEN, I32 and I64 fields. */
  bytes: Uint8Array;
}

/** Raised when the bytes are not a well-formed protobuf message. */
export class ProtoError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "ProtoError";
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Iterates over the top-level fields of one encoded message, in file order.
 *
 * @example
 * ```ts
 * import { readFields } from "./_protobuf.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * // field 1, varint 150
 * const [f] = [...readFields(new Uint8Array([0x08, 0x96, 0x01]))];
 * deepStrictEqual([f.num, f.varint], [1, 150]);
 * ```
 */
export function* readFields(buf: Uint8Array): Generator<ProtoField> {
  let pos = 0;
  const end = buf.length;
  const varint = (): { value: number; lo: number } => {
    let value = 0;
    let lo = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw new ProtoError(`truncated varint at byte ${pos}`);
      const b = buf[pos++];
      if (shift < 32) lo |= (b & 0x7f) << shift;
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return { value, lo: lo | 0 };
    }
    throw new ProtoError(`varint longer than 10 bytes at byte ${pos}`);
  };
  while (pos < end) {
    const start = pos;
    const key = varint().value;
    const num = Math.floor(key / 8);
    const wire = key % 8;
    if (num === 0) throw new ProtoError(`field number 0 at byte ${start}`);
    let field: ProtoField;
    switch (wire) {
      case WIRE.VARINT: {
        const v = varint();
        field = { num, wire, varint: v.value, int32: v.lo, bytes: EMPTY };
        break;
      }
      case WIRE.I64:
      case WIRE.I32: {
        const n = wire === WIRE.I64 ? 8 : 4;
        if (pos + n > end) throw new ProtoError(`truncated fixed-width field ${num} at byte ${start}`);
        field = { num, wire, varint: 0, int32: 0, bytes: buf.subarray(pos, pos + n) };
        pos += n;
        break;
      }
      case WIRE.LEN: {
        const n = varint().value;
        if (pos + n > end) {
          throw new ProtoError(
            `length-delimited field ${num} at byte ${start} runs past the end (${n} bytes)`,
          );
        }
        field = { num, wire, varint: 0, int32: 0, bytes: buf.subarray(pos, pos + n) };
        pos += n;
        break;
      }
      default:
        throw new ProtoError(`unsupported wire type ${wire} (field ${num}) at byte ${start}`);
    }
    yield field;
  }
}

/**
 * Reads a little-endian IEEE float32 from a 4-byte field payload.
 *
 * @example
 * ```ts
 * import { float32 } from "./_protobuf.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(float32(new Uint8Array([0, 0, 0x80, 0xbf])), -1);
 * ```
 */
export function float32(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getFloat32(0, true);
}
