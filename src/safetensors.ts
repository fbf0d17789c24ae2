/**
 * Safetensors reader: validates the header and reads byte ranges on demand (never whole
 * files).
 *
 * @module
 */
import type { DType, QuantSourceDType } from "./dtype.ts";
import type { RandomAccessFile } from "./io/types.ts";
import { HeaderTextProblem, layoutProblem, scanHeaderText } from "./_safetensors_strict.ts";
import { echo } from "./text.ts";

/** Safetensors dtype names with their item sizes (all known to the format). */
const ST_ITEM_SIZE: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

/** Safetensors dtypes we can convert, and their dtype names. */
export const SUPPORTED_SOURCE_DTYPES: Readonly<Record<string, DType>> = {
  F16: "float16",
  BF16: "bfloat16",
  F32: "float32",
};

/**
 * Safetensors dtypes of pre-quantized checkpoints (FP8 weights, AWQ's packed int32 words,
 * int8/uint8 scales and zeros) and their dtype names (numpy / ml_dtypes spelling). They are read
 * raw by the schemes that import them (`decodeQuantSource` in dtype.ts); a plain conversion refuses them.
 */
export const QUANT_SOURCE_DTYPES: Readonly<Record<string, QuantSourceDType>> = {
  F8_E4M3: "float8_e4m3fn",
  F8_E5M2: "float8_e5m2",
  I32: "int32",
  I8: "int8",
  U8: "uint8",
};

/**
 * Why a conversion cannot take a tensor of this safetensors dtype: the pre-quantized dtypes name
 * the checkpoint kind they come from.
 *
 * @example
 * ```ts
 * import { unsupportedDtypeReason } from "./safetensors.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(unsupportedDtypeReason("F64"), "which is not supported (expected F16, BF16 or F32)");
 * ```
 */
export function unsupportedDtypeReason(stDtype: string): string {
  const base = "which is not supported (expected F16, BF16 or F32)";
  if (stDtype === "F8_E4M3" || stDtype === "F8_E5M2") {
    return `${base}: this is a pre-quantized FP8 checkpoint, which only MLC's FP8 quantizations ` +
      "(fp8_e4m3fn_bf16_block_scale, ...) import, and those are not implemented here yet";
  }
  if (stDtype === "I32") {
    return `${base}: packed int32 words come from a pre-quantized (AWQ/GPTQ) checkpoint, which only ` +
      "q4f16_autoawq with --source-format awq imports in MLC, and that is not implemented here yet";
  }
  return base;
}

/** Largest header accepted (as the reference implementation: 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor entry of a safetensors header. */
export interface SafetensorsEntry {
  /** Tensor name. */
  readonly name: string;
  /** Safetensors dtype string (`F16`, `BF16`, `F32`, ...). */
  readonly stDtype: string;
  /** Shape. */
  readonly shape: readonly number[];
  /** Absolute file offset of the data. */
  readonly offset: number;
  /** Byte length. */
  readonly nbytes: number;
}

/** A parsed safetensors header. */
export interface SafetensorsHeader {
  /** Tensors in header (JSON) order. */
  readonly entries: readonly SafetensorsEntry[];
  /** By name. */
  readonly byName: ReadonlyMap<string, SafetensorsEntry>;
  /** `__metadata__`, if any. */
  readonly metadata: Record<string, string> | undefined;
}

/** Error for a malformed safetensors file; names the file. */
export class SafetensorsError extends Error {
  /** Creates the error. */
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = "SafetensorsError";
  }
}

/**
 * Reads and validates the header of a safetensors file as strictly as the reference reader:
 * length bound, UTF-8 JSON, no duplicate names, nesting depth, dtype names, integral shapes and
 * offsets, byte size = product(shape) x item size (exact), `__metadata__` a flat string map,
 * and the tensors tiling the data area exactly (no overlap, hole or trailing bytes).
 *
 * @example
 * ```ts ignore
 * import { readSafetensorsHeader } from "@mlc-deno/convert";
 * import { openRandomAccess } from "./io/deno_fs.ts";
 * const f = await openRandomAccess("model.safetensors");
 * const h = await readSafetensorsHeader(f, "model.safetensors");
 * console.log(h.entries.map((e) => e.name));
 * ```
 */
export async function readSafetensorsHeader(
  file: RandomAccessFile,
  path: string,
): Promise<SafetensorsHeader> {
  const json = await readHeaderJson(file, path);
  const dataStart = 8 + json.headerBytes;
  const dataLen = file.size - dataStart;
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> | undefined;
  for (const [name, raw] of Object.entries(json.header)) {
    if (name === "__metadata__") metadata = checkedMetadata(raw, path);
    else entries.push(checkedEntry(name, raw, path, dataStart, dataLen));
  }
  const spans = entries.map((e) => ({
    name: e.name,
    begin: e.offset - dataStart,
    end: e.offset - dataStart + e.nbytes,
  }));
  const layout = layoutProblem(spans, dataLen);
  if (layout) throw new SafetensorsError(path, layout);
  return { entries, byName: new Map(entries.map((e) => [e.name, e])), metadata };
}

/** The length prefix (bounded, inside the file) and the header: strict UTF-8 JSON, an object. */
async function readHeaderJson(
  file: RandomAccessFile,
  path: string,
): Promise<{ header: Record<string, unknown>; headerBytes: number }> {
  if (file.size < 8) {
    throw new SafetensorsError(path, `file is too small (${file.size} bytes) to be safetensors`);
  }
  const lenBuf = new Uint8Array(8);
  await file.readAt(0, lenBuf);
  const len64 = new DataView(lenBuf.buffer).getBigUint64(0, true);
  if (len64 > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(path, `header length ${len64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const hlen = Number(len64);
  if (8 + hlen > file.size) {
    throw new SafetensorsError(
      path,
      `header length ${hlen} runs past the end of the file (${file.size} bytes)`,
    );
  }
  const hbuf = new Uint8Array(hlen);
  await file.readAt(8, hbuf);
  let json: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(hbuf);
    scanHeaderText(text); // (duplicates, non-integer dims, depth: what JSON.parse cannot see)
    json = JSON.parse(text);
  } catch (e) {
    if (e instanceof HeaderTextProblem) throw new SafetensorsError(path, e.message);
    throw new SafetensorsError(path, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new SafetensorsError(path, "header is not a JSON object");
  }
  return { header: json as Record<string, unknown>, headerBytes: hlen };
}

/** One tensor entry: a known dtype, a valid shape, offsets inside the data area that hold exactly the shape. */
function checkedEntry(
  name: string,
  raw: unknown,
  path: string,
  dataStart: number,
  dataLen: number,
): SafetensorsEntry {
  const bad = (what: string): never => {
    throw new SafetensorsError(path, `tensor "${echo(name)}": ${what}`);
  };
  const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof e !== "object" || e === null) bad("entry is not an object");
  const dt = e.dtype;
  if (typeof dt !== "string" || !(dt in ST_ITEM_SIZE)) return bad(`unknown dtype ${JSON.stringify(dt)}`);
  const shape = e.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    return bad(`invalid shape ${JSON.stringify(shape)}`);
  }
  const off = e.data_offsets;
  if (
    !Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) ||
    off[1] < off[0]
  ) {
    return bad(`invalid data_offsets ${JSON.stringify(off)}`);
  }
  if (off[1] > dataLen) {
    bad(
      `data_offsets [${off[0]}, ${off[1]}] run past the end of the data area (${dataLen} bytes); ` +
        "the file may be truncated",
    );
  }
  const exact = shape.reduce((a: bigint, b: number) => a * BigInt(b), 1n) * BigInt(ST_ITEM_SIZE[dt]);
  if (exact > BigInt(Number.MAX_SAFE_INTEGER)) {
    bad(`shape ${JSON.stringify(shape)} x ${dt} is ${exact} bytes, beyond any file`);
  }
  const expected = Number(exact);
  if (off[1] - off[0] !== expected) {
    bad(`${off[1] - off[0]} data bytes but shape ${JSON.stringify(shape)} x ${dt} needs ${expected}`);
  }
  return { name, stDtype: dt, shape, offset: dataStart + off[0], nbytes: off[1] - off[0] };
}

/** `__metadata__` as the reference reads it: null, or a flat map of strings. */
function checkedMetadata(raw: unknown, path: string): Record<string, string> | undefined {
  if (raw === null) return undefined;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new SafetensorsError(
      path,
      `__metadata__ is not a map of strings (it is ${JSON.stringify(raw)?.slice(0, 40)})`,
    );
  }
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== "string") {
      throw new SafetensorsError(path, `__metadata__["${echo(k)}"] is not a string`);
    }
  }
  return raw as Record<string, string>;
}

/**
 * Serializes a safetensors file (header + data), laying data out in the given order.
 * Used by the test generator and the demo model.
 *
 * @example
 * ```ts
 * import { encodeSafetensors } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * const bytes = encodeSafetensors([{ name: "w", stDtype: "F32", shape: [1], data: new Uint8Array(4) }]);
 * deepStrictEqual(bytes.length > 12, true);
 * ```
 */
export function encodeSafetensors(
  tensors: { name: string; stDtype: string; shape: number[]; data: Uint8Array }[],
  metadata?: Record<string, string>,
): Uint8Array {
  const header = encodeSafetensorsHeader(tensors.map((t) => ({ ...t, nbytes: t.data.length })), metadata);
  const total = header.length + tensors.reduce((a, t) => a + t.data.length, 0);
  const out = new Uint8Array(total);
  out.set(header);
  let o = header.length;
  for (const t of tensors) {
    out.set(t.data, o);
    o += t.data.length;
  }
  return out;
}

/**
 * The 8-byte length plus JSON header (space-padded to 8 bytes) for tensors laid out
 * back to back in the given order.
 *
 * @example
 * ```ts
 * import { encodeSafetensorsHeader } from "./safetensors.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(encodeSafetensorsHeader([{ name: "w", stDtype: "F16", shape: [2], nbytes: 4 }]).length % 8, 0);
 * ```
 */
export function encodeSafetensorsHeader(
  tensors: { name: string; stDtype: string; shape: number[]; nbytes: number }[],
  metadata?: Record<string, string>,
): Uint8Array {
  const obj: Record<string, unknown> = {};
  if (metadata) obj.__metadata__ = metadata;
  let o = 0;
  for (const t of tensors) {
    obj[t.name] = { dtype: t.stDtype, shape: t.shape, data_offsets: [o, o + t.nbytes] };
    o += t.nbytes;
  }
  const raw = new TextEncoder().encode(JSON.stringify(obj));
  const jb = new Uint8Array(Math.ceil(raw.length / 8) * 8).fill(0x20);
  jb.set(raw);
  const out = new Uint8Array(8 + jb.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(jb.length), true);
  out.set(jb, 8);
  return out;
}
