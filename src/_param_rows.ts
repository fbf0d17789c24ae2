/**
 * Row-range reads of a planned parameter's built value (before the cast to the model dtype):
 * the concatenation of its sources along axis 0 (or the stack of per-expert concatenations,
 * the same bytes) read straight from the checkpoint (rows may straddle sources), or the
 * result of a whole-tensor transform. Shared by the conversion
 * pipeline (`convert.ts`) and `verify`.
 *
 * @module
 */
import type { HostTensor } from "./arch/_types.ts";
import type { Checkpoint } from "./checkpoint.ts";
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

/**
 * A source of rows for one parameter: the concatenation of its sources along axis 0
 * (from the checkpoint) or an in-memory tensor (whole-tensor transforms).
 */
export interface RowSource {
  dtype: DType;
  rows: number;
  rowElems: number;
  read(rowStart: number, rows: number, into: Uint8Array): Promise<void>;
  /** The file ranges holding rows `[rowStart, rowStart + rows)`, when read directly. */
  segments?(rowStart: number, rows: number): [string, number, number][];
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
 * import { rowLayout } from "./_param_rows.ts";
 * rowLayout([8, 4096, 2048]); // { rows: 32768, rowElems: 2048 }
 * ```
 */
export function rowLayout(shape: readonly number[]): { rows: number; rowElems: number } {
  const rowElems = shape.length > 1 ? shape[shape.length - 1] : 1;
  const numel = shape.reduce((a, b) => a * b, 1);
  return { rows: rowElems === 0 ? 0 : numel / rowElems, rowElems };
}

/**
 * Opens the rows of a planned parameter. Whole-tensor transforms load their sources fully;
 * concatenations read row ranges, straddling sources. With `direct`, `segments` gives the file
 * ranges of a row range (for readers that fill their own memory).
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
  ckpt: Pick<Checkpoint, "read">,
  direct = false,
): Promise<RowSource> {
  const t = pp.param.transform ?? { kind: "concat" as const };
  // 1-D tensors are read element-wise (rows of one element), so 1-D concatenations
  // (fused q/k/v biases) straddle their sources like 2-D ones.
  const { rows, rowElems } = rowLayout(pp.shape);
  if (t.kind === "whole") {
    const hosts: HostTensor[] = [];
    for (const s of pp.sources) {
      const data = new Uint8Array(s.nbytes);
      await ckpt.read(s.name, 0, data);
      hosts.push({ dtype: s.dtype!, shape: [...s.shape], data });
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
  const dtypes = new Set(pp.sources.map((s) => s.dtype!));
  if (dtypes.size !== 1) {
    throw new Error(
      `Parameter ${pp.param.name}: sources have different dtypes (${
        pp.sources.map((s) => `${s.name}: ${s.dtype}`).join(", ")
      }); numpy would promote them, which is not supported`,
    );
  }
  const dtype = pp.sources[0].dtype!;
  const rb = rowElems * itemSize(dtype);
  // a source's rows in the same layout (a concatenation along axis 0, or a stack of
  // per-expert concatenations, is the sources' rows one after another)
  const srcRows = pp.sources.map((s) => s.shape.reduce((a, b) => a * b, 1) / rowElems);
  const bounds: number[] = [];
  let acc = 0;
  for (const n of srcRows) {
    bounds.push(acc);
    acc += n;
  }
  const addOne = t.kind === "concat" && t.addOne === true;
  /** Calls `f(source, firstLocalRow, rows, rowsDone)` for the pieces of a row range. */
  const pieces = (
    start: number,
    n: number,
    f: (si: number, local: number, take: number, done: number) => void,
  ) => {
    // rows may straddle sources
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
  return {
    dtype,
    rows,
    rowElems,
    async read(start, n, into) {
      const parts: [string, number, Uint8Array][] = [];
      pieces(start, n, (si, local, take, done) => {
        parts.push([pp.sources[si].name, local * rb, into.subarray(done * rb, (done + take) * rb)]);
      });
      for (const [name, at, view] of parts) await ckpt.read(name, at, view);
      if (addOne) addOneInPlace(into, dtype, n * rowElems);
    },
    segments: direct && !addOne
      ? (start, n) => {
        const out: [string, number, number][] = [];
        pieces(start, n, (si, local, take) => {
          const s = pp.sources[si];
          out.push([s.file, s.offset + local * rb, take * rb]);
        });
        return out;
      }
      : undefined,
  };
}
