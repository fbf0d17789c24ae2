/**
 * Row-range reads of a planned parameter's built value (before the cast to the model dtype):
 * the concatenation of its sources along axis 0 (or the stack of per-expert concatenations,
 * the same bytes) read straight from the checkpoint (rows may straddle sources), or the
 * result of a whole-tensor transform. Shared by the conversion
 * pipeline (`convert.ts`) and `verify`.
 *
 * @module
 */
import type { HostTensor, ParamTransform } from "./arch/types.ts";
import type { Checkpoint } from "./checkpoint.ts";
import type { FileRange } from "./io/direct_read.ts";
import { bf16Round, type DType, f32Bits, f32BitsToBf16, itemSize, numberToF16 } from "./dtype.ts";
import type { PlannedParam } from "./plan.ts";
import { bf16Value, f16Value } from "./quant/reference.ts";

/** Applies `x + 1` in the source dtype, in place (Gemma norms). */
function addOneInPlace(data: Uint8Array, dtype: DType, count: number): void {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < count; i++) {
    if (dtype === "bfloat16") {
      const x = bf16Value(dv.getUint16(i * 2, true));
      dv.setUint16(i * 2, f32BitsToBf16(f32Bits(bf16Round(x + 1))), true);
    } else if (dtype === "float16") {
      dv.setUint16(i * 2, numberToF16(f16Value(dv.getUint16(i * 2, true)) + 1), true);
    } else {
      dv.setFloat32(i * 4, Math.fround(dv.getFloat32(i * 4, true) + 1), true);
    }
  }
}

/** bfloat16 to float32 (exact: the bits move up 16 places), `count` elements. */
function widenBf16(src: Uint8Array, dst: Uint8Array, count: number): void {
  const s = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const d = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  for (let i = 0; i < count; i++) d.setUint32(i * 4, s.getUint16(i * 2, true) << 16, true);
}

/**
 * The dtype MLC's map function computes in for these sources, and whether the stored data
 * must be widened to it first: only where it changes a value (the `+1` runs in float32 for
 * PyTorch bfloat16 sources) or where the stored dtypes differ but MLC's do not (numpy would not
 * promote). Casts of widened bfloat16 give the same bits as casts of bfloat16, so plain
 * concatenations keep the stored dtype (and direct file reads).
 */
function computeDtype(pp: PlannedParam, addOne: boolean): { dtype: DType; widen: boolean } {
  const stored = new Set(pp.sources.map((s) => s.dtype!));
  const loader = new Set(pp.sources.map((s) => s.loaderDtype ?? s.dtype!));
  if (loader.size !== 1) {
    throw new Error(
      `Parameter ${pp.param.name}: sources have different dtypes (${
        pp.sources.map((s) => `${s.name}: ${s.dtype}`).join(", ")
      }); numpy would promote them, which is not supported`,
    );
  }
  const [dtype] = loader;
  const widen = stored.size !== 1 || (addOne && !stored.has(dtype));
  return { dtype: widen ? dtype : pp.sources[0].dtype!, widen };
}

/** Reads `rows` rows of source `s` at byte `at` into `into` in `dtype` (widening bfloat16). */
async function readAs(
  ckpt: Pick<Checkpoint, "read">,
  s: PlannedParam["sources"][number],
  at: number,
  into: Uint8Array,
  dtype: DType,
): Promise<void> {
  if (s.dtype === dtype) return await ckpt.read(s.name, at, into);
  if (s.dtype !== "bfloat16" || dtype !== "float32") throw new Error(`cannot widen ${s.dtype} to ${dtype}`);
  const tmp = new Uint8Array(into.length / 2);
  await ckpt.read(s.name, at / 2, tmp);
  widenBf16(tmp, into, tmp.length / 2);
}

/**
 * A source of rows for one parameter: the concatenation of its sources along axis 0
 * (from the checkpoint) or an in-memory tensor (whole-tensor transforms).
 */
export interface RowSource {
  dtype: DType;
  rows: number;
  rowElems: number;
  read(rowStart: number, rows: number, into: Uint8Array): Promise<void>;
  /**
   * The local file ranges holding rows `[rowStart, rowStart + rows)`, where threads may read
   * them directly (see `Checkpoint.localPath`).
   */
  segments?(rowStart: number, rows: number): FileRange[];
}

/**
 * How a parameter of `shape` is cut into rows: a row is the last axis (the axis group
 * quantization runs along), the rows are all the other axes flattened, so a chunk of rows is
 * bounded by its byte size whatever the rank (a stacked expert tensor `(E, out, in)` has
 * `E * out` rows of `in` elements, not `E` rows of `out * in`). 1-D tensors are rows of one
 * element.
 *
 * @example
 * ```ts
 * import { rowLayout } from "./param_rows.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(rowLayout([8, 4096, 2048]), { rows: 32768, rowElems: 2048 });
 * ```
 */
export function rowLayout(shape: readonly number[]): { rows: number; rowElems: number } {
  const rowElems = shape.length > 1 ? shape[shape.length - 1] : 1;
  const numel = shape.reduce((a, b) => a * b, 1);
  return { rows: rowElems === 0 ? 0 : numel / rowElems, rowElems };
}

/**
 * Opens the rows of a planned parameter. Whole-tensor transforms load their sources fully;
 * concatenations read row ranges, straddling sources. With `direct`, when the checkpoint has
 * local paths for the source files, `segments` gives the file ranges of a row range (for
 * readers that fill their own memory).
 *
 * @example
 * ```ts ignore
 * const rows = await rowSourceFor(plan.params[0], checkpoint);
 * const buf = new Uint8Array(rows.rowElems * 2);
 * await rows.read(0, 1, buf);
 * ```
 */
export async function rowSourceFor(
  pp: PlannedParam,
  ckpt: Pick<Checkpoint, "read" | "localPath">,
  direct = false,
): Promise<RowSource> {
  const t = pp.param.transform ?? { kind: "concat" as const };
  if (t.kind === "whole") return await wholeRowSource(pp, ckpt, t);
  // 1-D tensors are read element-wise (rows of one element), so 1-D concatenations
  // (fused q/k/v biases) straddle their sources like 2-D ones.
  const { rows, rowElems } = rowLayout(pp.shape);
  if (t.kind === "concat1") return axis1Rows(pp, ckpt, rows, rowElems);
  const addOne = t.kind === "concat" && t.addOne === true;
  const { dtype, widen } = computeDtype(pp, addOne);
  const rb = rowElems * itemSize(dtype);
  // a source's rows in the same layout (a concatenation along axis 0, or a stack of
  // per-expert concatenations, is the sources' rows one after another)
  const pieces = rowPieces(pp.sources.map((s) => s.shape.reduce((a, b) => a * b, 1) / rowElems));
  // local paths of the sources' files, when all have one (direct reads)
  const local = direct ? pp.sources.map((s) => ckpt.localPath?.(s.file)) : [];
  const paths = direct && local.every((p) => p !== undefined) ? local as string[] : undefined;
  return {
    dtype,
    rows,
    rowElems,
    async read(start, n, into) {
      const parts: [number, number, Uint8Array][] = [];
      pieces(start, n, (si, local, take, done) => {
        parts.push([si, local * rb, into.subarray(done * rb, (done + take) * rb)]);
      });
      for (const [si, at, view] of parts) {
        if (widen) await readAs(ckpt, pp.sources[si], at, view, dtype);
        else await ckpt.read(pp.sources[si].name, at, view);
      }
      if (addOne) addOneInPlace(into, dtype, n * rowElems);
    },
    // (strided sources are gathered by the checkpoint's read, not as file ranges)
    segments: paths && !addOne && !widen && pp.sources.every((s) => !s.strides)
      ? (start, n) => {
        const out: FileRange[] = [];
        pieces(start, n, (si, local, take) => {
          const s = pp.sources[si];
          out.push([paths[si], s.offset + local * rb, take * rb]);
        });
        return out;
      }
      : undefined,
  };
}

/**
 * A whole-tensor transform's rows: its sources loaded fully (in the dtype MLC's map function
 * receives: PyTorch bfloat16 arrives as float32), the transform applied once.
 */
async function wholeRowSource(
  pp: PlannedParam,
  ckpt: Pick<Checkpoint, "read">,
  t: Extract<ParamTransform, { kind: "whole" }>,
): Promise<RowSource> {
  const { rows, rowElems } = rowLayout(pp.shape);
  const hosts: HostTensor[] = [];
  for (const s of pp.sources) {
    const dtype = s.loaderDtype ?? s.dtype!;
    const data = new Uint8Array(s.nbytes / itemSize(s.dtype!) * itemSize(dtype));
    await readAs(ckpt, s, 0, data, dtype);
    hosts.push({ dtype, shape: [...s.shape], data });
  }
  const r = t.apply(hosts, pp.dtype);
  const rb = rowElems * itemSize(r.dtype);
  return {
    dtype: r.dtype,
    rows,
    rowElems,
    read(start, n, into) {
      into.set(r.data.subarray(start * rb, (start + n) * rb));
      return Promise.resolve();
    },
  };
}

/**
 * For sources of `srcRows` rows one after another: a function calling
 * `f(source, firstLocalRow, rows, rowsDone)` for the pieces of a row range (rows may straddle
 * sources).
 */
function rowPieces(
  srcRows: readonly number[],
): (start: number, n: number, f: (si: number, local: number, take: number, done: number) => void) => void {
  const bounds: number[] = [];
  let acc = 0;
  for (const n of srcRows) {
    bounds.push(acc);
    acc += n;
  }
  return (start, n, f) => {
    let done = 0;
    while (done < n) {
      const row = start + done;
      let si = bounds.length - 1;
      while (bounds[si] > row) si--;
      const local = row - bounds[si];
      const take = Math.min(n - done, srcRows[si] - local);
      f(si, local, take, done);
      done += take;
    }
  };
}

/**
 * `np.concatenate(axis=1)` of 2-D sources of one dtype, by row ranges: each source's rows are
 * read and laid side by side (bounded by the range, not the tensor).
 */
function axis1Rows(
  pp: PlannedParam,
  ckpt: Pick<Checkpoint, "read">,
  rows: number,
  rowElems: number,
): RowSource {
  const dtype = pp.sources[0].dtype!;
  const widths = pp.sources.map((s) => s.shape[1] * itemSize(dtype));
  const rb = rowElems * itemSize(dtype);
  return {
    dtype,
    rows,
    rowElems,
    async read(start, n, into) {
      let col = 0;
      for (const [i, s] of pp.sources.entries()) {
        const w = widths[i];
        const part = new Uint8Array(n * w);
        await ckpt.read(s.name, start * w, part);
        for (let r = 0; r < n; r++) into.set(part.subarray(r * w, (r + 1) * w), r * rb + col);
        col += w;
      }
    },
  };
}
