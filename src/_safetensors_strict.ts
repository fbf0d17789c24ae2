/**
 * The checks of the safetensors reference reader (huggingface/safetensors,
 * `safetensors/src/tensor.rs`: `read_metadata` and `Metadata::validate`) that `JSON.parse`
 * alone cannot make: a header's raw text is scanned for duplicate names (serde keeps the last
 * one, which leaves the first one's bytes a hole the reference then refuses), dims and offsets
 * that are not plain non-negative integers (`[64.0]` parses to 64 in JavaScript; serde's
 * `usize` refuses it) and nesting deeper than a header can be (the reference's parser stops at
 * depth 128; a header never needs more than 3); the data layout is checked to be contiguous
 * from byte 0 and to cover the data area exactly (no hole, no trailing bytes).
 *
 * @module
 */
import { echo } from "./text.ts";

/** Deepest nesting of a valid header: `{ name: { shape: [ ... ] } }`. */
export const MAX_HEADER_DEPTH = 3;

/** A problem found in a header's text (message without the file name). */
export class HeaderTextProblem extends Error {
  /** Creates it. */
  constructor(message: string) {
    super(message);
    this.name = "HeaderTextProblem";
  }
}

const INTEGER_ARRAYS = new Set(["shape", "data_offsets"]);

interface Frame {
  array: boolean;
  keys?: Set<string>;
  /** The key this container is the value of. */
  key?: string;
  /** The tensor (top-level key) this container belongs to. */
  tensor?: string;
  /** The last key read, waiting for its value. */
  pending?: string;
}

const show = (s: string) => `"${echo(s)}"`;

/**
 * Scans a header's JSON text (assumed to be syntactically valid JSON or refused later by
 * `JSON.parse`): throws a {@link HeaderTextProblem} for a duplicate key in any object, nesting
 * deeper than {@link MAX_HEADER_DEPTH}, or a number in a `shape` or `data_offsets` array that is
 * not written as a plain non-negative integer. Linear in the text, no recursion.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scanHeaderText } from "./_safetensors_strict.ts";
 * assert.doesNotThrow(() => scanHeaderText('{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}'));
 * assert.throws(() => scanHeaderText('{"w":{"dtype":"F16","shape":[2.0],"data_offsets":[0,4]}}'), {
 *   message: 'tensor "w": shape holds 2.0, not a non-negative integer',
 * });
 * ```
 */
export function scanHeaderText(text: string): void {
  const stack: Frame[] = [];
  const top = () => stack[stack.length - 1];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) { // a string: a key or a value
      let j = i + 1;
      while (j < n && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      const raw = text.slice(i, j + 1);
      i = j + 1;
      const f = top();
      if (f && !f.array && f.pending === undefined) {
        let key: string;
        try {
          key = JSON.parse(raw);
        } catch {
          return; // (invalid JSON: JSON.parse reports it)
        }
        if (f.keys!.has(key)) {
          throw new HeaderTextProblem(
            stack.length === 1
              ? `tensor ${
                show(key)
              } appears twice in the header (the reference reader would keep the last entry ` +
                `and leave the first one's bytes a hole)`
              : `${f.tensor === undefined ? "" : `tensor ${show(f.tensor)}: `}key ${show(key)} appears twice`,
          );
        }
        f.keys!.add(key);
        f.pending = key;
      } else if (f && !f.array) f.pending = undefined;
      continue;
    }
    if (c === 0x7b || c === 0x5b) { // { [
      const parent = top();
      const key = parent && !parent.array ? parent.pending : parent?.key;
      const tensor = stack.length === 1 ? parent?.pending : parent?.tensor;
      if (parent && !parent.array) parent.pending = undefined;
      if (stack.length >= MAX_HEADER_DEPTH) {
        throw new HeaderTextProblem(
          `${
            tensor === undefined ? "" : `tensor ${show(tensor)}: `
          }nested deeper than a safetensors header can be ` +
            `(depth ${MAX_HEADER_DEPTH})`,
        );
      }
      stack.push(c === 0x7b ? { array: false, keys: new Set(), key, tensor } : { array: true, key, tensor });
      i++;
      continue;
    }
    if (c === 0x7d || c === 0x5d) { // } ]
      stack.pop();
      i++;
      continue;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) { // a number
      let j = i;
      while (j < n && /[-+0-9.eE]/.test(text[j])) j++;
      const tok = text.slice(i, j);
      const f = top();
      if (f?.array && f.key !== undefined && INTEGER_ARRAYS.has(f.key) && stack.length === MAX_HEADER_DEPTH) {
        if (!/^\d+$/.test(tok)) {
          throw new HeaderTextProblem(
            `tensor ${show(f.tensor ?? "")}: ${f.key} holds ${tok.slice(0, 40)}, not a non-negative integer`,
          );
        }
      }
      if (f && !f.array) f.pending = undefined;
      i = j;
      continue;
    }
    if ((c === 0x74 || c === 0x66 || c === 0x6e) && top() && !top().array) top().pending = undefined; // true false null
    i++;
  }
}

/** A tensor's place in the data area (offsets relative to its start). */
export interface DataSpan {
  /** Tensor name. */
  name: string;
  /** First byte. */
  begin: number;
  /** One past the last byte. */
  end: number;
}

/**
 * The layout rule of the reference reader: sorted by offsets, the tensors tile the data area
 * from byte 0 without a gap or an overlap, and the last one ends where the file does. Returns
 * the problem (undefined when the layout is exact).
 *
 * @example
 * ```ts
 * import { layoutProblem } from "./_safetensors_strict.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(layoutProblem([{ name: "a", begin: 0, end: 4 }, { name: "b", begin: 4, end: 8 }], 8), undefined);
 * deepStrictEqual(layoutProblem([{ name: "a", begin: 0, end: 4 }], 6), "2 bytes after the last tensor belong to no tensor (the data area is 6 bytes, the tensors end at 4); the safetensors reference reader refuses such a file");
 * ```
 */
export function layoutProblem(spans: readonly DataSpan[], dataLen: number): string | undefined {
  const sorted = [...spans].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev: DataSpan | undefined;
  for (const s of sorted) {
    if (s.begin < at) {
      return `tensors ${show(prev!.name)} and ${show(s.name)} overlap in the data area`;
    }
    if (s.begin > at) {
      return `bytes ${at}-${s.begin - 1} of the data area belong to no tensor (a hole before ${
        show(s.name)
      }); ` +
        `the safetensors reference reader refuses such a file`;
    }
    at = s.end;
    prev = s;
  }
  if (at !== dataLen) {
    return `${
      dataLen - at
    } bytes after the last tensor belong to no tensor (the data area is ${dataLen} bytes, ` +
      `the tensors end at ${at}); the safetensors reference reader refuses such a file`;
  }
  return undefined;
}
