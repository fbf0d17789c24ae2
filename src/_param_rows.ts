/**
 * Row-range reads of a planned parameter's built value (before the cast to the model dtype):
 * the concatenation of its sources along axis 0 read straight from the checkpoint, or the
 * result of a whole-tensor transform. Used by `verify` (the same rules as the conversion
 * pipeline in `convert.ts`).
 *
 * @module
 */
import type { HostTensor } from "./arch/_types.ts";
import type { Checkpoint } from "./checkpoint.ts";
import { bf16Round, type DType, f32Bits, f32BitsToBf16, itemSize, numberToF16 } from "./dtype.ts";
import type { PlannedParam } from "./plan.ts";
import { bf16Value, f16Value } from "./quant/reference.ts";

/** Rows of one parameter's built value, in the source dtype. */
export interface ParamRows {
  /** Dtype of the rows (the sources' dtype, or the transform's result dtype). */
  readonly dtype: DType;
  /** Number of rows (first dimension; 1-D tensors have one element per row). */
  readonly rows: number;
  /** Elements per row. */
  readonly rowElems: number;
  /** Fills `into` with rows [start, start + count). */
  read(start: number, count: number, into: Uint8Array): Promise<void>;
}

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
 * Opens the rows of a planned parameter. Whole-tensor transforms load their sources fully (as
 * the conversion does); concatenations read row ranges, straddling sources.
 *
 * @example
 * ```ts ignore
 * import { paramRows } from "./_param_rows.ts";
 * const rows = await paramRows(plan.params[0], checkpoint);
 * const buf = new Uint8Array(rows.rowElems * 2);
 * await rows.read(0, 1, buf);
 * ```
 */
export async function paramRows(pp: PlannedParam, ckpt: Checkpoint): Promise<ParamRows> {
  const t = pp.param.transform ?? { kind: "concat" as const };
  const rowElems = pp.shape.length > 1 ? pp.shape.slice(1).reduce((a, b) => a * b, 1) : 1;
  const rows = pp.shape[0] ?? 1;
  if (t.kind === "whole") {
    const hosts: HostTensor[] = [];
    for (const s of pp.sources) {
      const data = new Uint8Array(s.nbytes);
      await ckpt.read(s.name, 0, data);
      hosts.push({ dtype: s.dtype!, shape: [...s.shape], data });
    }
    const r = t.apply(hosts);
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
    throw new Error(`Parameter ${pp.param.name}: sources have different dtypes`);
  }
  const dtype = pp.sources[0].dtype!;
  const rb = rowElems * itemSize(dtype);
  const bounds: number[] = [];
  let acc = 0;
  for (const s of pp.sources) {
    bounds.push(acc);
    acc += s.shape[0] ?? 1;
  }
  const addOne = t.addOne === true;
  return {
    dtype,
    rows,
    rowElems,
    async read(start, n, into) {
      let done = 0;
      while (done < n) {
        const row = start + done;
        let si = bounds.length - 1;
        while (bounds[si] > row) si--;
        const src = pp.sources[si];
        const local = row - bounds[si];
        const take = Math.min(n - done, (src.shape[0] ?? 1) - local);
        await ckpt.read(src.name, local * rb, into.subarray(done * rb, (done + take) * rb));
        done += take;
      }
      if (addOne) addOneInPlace(into, dtype, n * rowElems);
    },
  };
}
