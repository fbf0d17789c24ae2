/**
 * Whole-tensor value transforms used by architecture loaders (MLC `map_func`s that are more
 * than a concatenation): Conv1D transposes (gpt2) and the GPT-NeoX QKV de-interleave.
 * They move elements only (no arithmetic), so they work on any dtype; the pipeline casts
 * the result to the parameter dtype afterwards.
 *
 * @module
 */
import { itemSize } from "../dtype.ts";
import type { HostTensor, ParamTransform } from "./_types.ts";

/**
 * Transposes a 2-D tensor (numpy `x.transpose()`).
 *
 * @example
 * ```ts
 * import { transpose2d } from "./_transforms.ts";
 * const t = transpose2d({ dtype: "float16", shape: [1, 2], data: new Uint8Array([1, 0, 2, 0]) });
 * t.shape; // [2, 1]
 * ```
 */
export function transpose2d(t: HostTensor): HostTensor {
  if (t.shape.length !== 2) {
    throw new Error(`transpose2d: expected a 2-D tensor, got shape [${t.shape.join(", ")}]`);
  }
  const [rows, cols] = t.shape;
  const e = itemSize(t.dtype);
  const out = new Uint8Array(rows * cols * e);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const src = (r * cols + c) * e;
      const dst = (c * rows + r) * e;
      for (let b = 0; b < e; b++) out[dst + b] = t.data[src + b];
    }
  }
  return { dtype: t.dtype, shape: [cols, rows], data: out };
}

/**
 * GPT-NeoX QKV de-interleave (`gpt_neox_loader.transform_qkv_layout`): HF rows are grouped
 * per head as `[q_h, k_h, v_h]` (each `headDim` rows); MLC wants `[all q; all k; all v]`.
 * Row map: `new[p*heads*headDim + h*headDim + d] = old[h*3*headDim + p*headDim + d]`.
 * A 1-D tensor (the bias) is treated as rows of one element. The shape is kept.
 *
 * @example
 * ```ts
 * import { deinterleaveQkv } from "./_transforms.ts";
 * // 2 heads, head_dim 1: rows [q0 k0 v0 q1 k1 v1] -> [q0 q1 k0 k1 v0 v1]
 * const t = deinterleaveQkv({ dtype: "float16", shape: [6], data: new Uint8Array([0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0]) }, 2, 1);
 * Array.from(t.data.filter((_, i) => i % 2 === 0)); // [0, 3, 1, 4, 2, 5]
 * ```
 */
export function deinterleaveQkv(t: HostTensor, heads: number, headDim: number): HostTensor {
  const rows = t.shape[0];
  if (rows !== 3 * heads * headDim) {
    throw new Error(
      `deinterleaveQkv: expected ${3 * heads * headDim} rows (3 x ${heads} heads x ${headDim}), got shape [${
        t.shape.join(", ")
      }]`,
    );
  }
  const rowBytes = t.shape.slice(1).reduce((a, b) => a * b, 1) * itemSize(t.dtype);
  const out = new Uint8Array(t.data.length);
  for (let h = 0; h < heads; h++) {
    for (let p = 0; p < 3; p++) {
      for (let d = 0; d < headDim; d++) {
        const oldRow = h * 3 * headDim + p * headDim + d;
        const newRow = p * heads * headDim + h * headDim + d;
        out.set(t.data.subarray(oldRow * rowBytes, (oldRow + 1) * rowBytes), newRow * rowBytes);
      }
    }
  }
  return { dtype: t.dtype, shape: [...t.shape], data: out };
}

/** `whole` transform: transpose the single 2-D source (Conv1D weights); shape is the transposed source shape. */
export const TRANSPOSE: ParamTransform = {
  kind: "whole",
  apply: (sources) => transpose2d(sources[0]),
  outShape: (shapes) => shapes[0].length === 2 ? [shapes[0][1], shapes[0][0]] : [...shapes[0]].reverse(),
};

/**
 * `whole` transform: GPT-NeoX QKV de-interleave of the single source (shape kept).
 *
 * @example
 * ```ts
 * import { deinterleaveQkvTransform } from "./_transforms.ts";
 * deinterleaveQkvTransform(32, 80).kind; // "whole"
 * ```
 */
export function deinterleaveQkvTransform(heads: number, headDim: number): ParamTransform {
  return {
    kind: "whole",
    apply: (sources) => deinterleaveQkv(sources[0], heads, headDim),
    outShape: (shapes) => [...shapes[0]],
  };
}
