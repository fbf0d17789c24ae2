/**
 * Whole-tensor value transforms used by architecture loaders (MLC `map_func`s that are more
 * than a concatenation): Conv1D transposes (gpt2) and the GPT-NeoX QKV de-interleave.
 * They move elements only (no arithmetic), so they work on any dtype; the pipeline casts
 * the result to the parameter dtype afterwards.
 *
 * @module
 */
import { itemSize } from "../dtype.ts";
import type { HostTensor, ParamTransform } from "./types.ts";

/**
 * Transposes a 2-D tensor (numpy `x.transpose()`).
 *
 * @example
 * ```ts
 * import { transpose2d } from "./_transforms.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const t = transpose2d({ dtype: "float16", shape: [1, 2], data: new Uint8Array([1, 0, 2, 0]) });
 * deepStrictEqual(t.shape, [2, 1]);
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
 * import { deepStrictEqual } from "node:assert/strict";
 * // 2 heads, head_dim 1: rows [q0 k0 v0 q1 k1 v1] -> [q0 q1 k0 k1 v0 v1]
 * const t = deinterleaveQkv({ dtype: "float16", shape: [6], data: new Uint8Array([0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0]) }, 2, 1);
 * deepStrictEqual(Array.from(t.data.filter((_, i) => i % 2 === 0)), [0, 3, 1, 4, 2, 5]);
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
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(deinterleaveQkvTransform(32, 80).kind, "whole");
 * ```
 */
export function deinterleaveQkvTransform(heads: number, headDim: number): ParamTransform {
  return {
    kind: "whole",
    apply: (sources) => deinterleaveQkv(sources[0], heads, headDim),
    outShape: (shapes) => [...shapes[0]],
  };
}

/**
 * InternLM2 `wqkv` regroup (`internlm2_loader._convert_wqkv_layout`): HF rows are grouped per
 * key/value head as `[q (g heads), k, v]` with `g = Nq / Nkv` (each head `headDim` rows); MLC
 * wants `[all q; all k; all v]`. For kv group `j`, slot `s` and row `r` of the head:
 * `old = (j*(g+2) + s)*headDim + r`; q (`s < g`): `new = (j*g + s)*headDim + r`; k (`s = g`):
 * `new = Nq*headDim + j*headDim + r`; v (`s = g+1`): `new = (Nq+Nkv)*headDim + j*headDim + r`.
 * Rows move whole; the shape is kept.
 *
 * @example
 * ```ts
 * import { regroupWqkv } from "./_transforms.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * // 1 kv head, g = 2, head_dim 1: rows [q0 q1 k v] stay; 2 kv heads, g = 1: [q0 k0 v0 q1 k1 v1] -> [q0 q1 k0 k1 v0 v1]
 * const t = regroupWqkv({ dtype: "float16", shape: [6], data: new Uint8Array([0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0]) }, 2, 1, 1);
 * deepStrictEqual(Array.from(t.data.filter((_, i) => i % 2 === 0)), [0, 3, 1, 4, 2, 5]);
 * ```
 */
export function regroupWqkv(t: HostTensor, kvHeads: number, groups: number, headDim: number): HostTensor {
  const rows = t.shape[0];
  if (rows !== kvHeads * (groups + 2) * headDim) {
    throw new Error(
      `regroupWqkv: expected ${
        kvHeads * (groups + 2) * headDim
      } rows (${kvHeads} kv heads x (${groups} + 2) x ${headDim}), ` +
        `got shape [${t.shape.join(", ")}]`,
    );
  }
  const rowBytes = t.shape.slice(1).reduce((a, b) => a * b, 1) * itemSize(t.dtype);
  const nq = kvHeads * groups;
  const out = new Uint8Array(t.data.length);
  for (let j = 0; j < kvHeads; j++) {
    for (let s = 0; s < groups + 2; s++) {
      const head = s < groups ? j * groups + s : s === groups ? nq + j : nq + kvHeads + j;
      for (let r = 0; r < headDim; r++) {
        const oldRow = (j * (groups + 2) + s) * headDim + r;
        const newRow = head * headDim + r;
        out.set(t.data.subarray(oldRow * rowBytes, (oldRow + 1) * rowBytes), newRow * rowBytes);
      }
    }
  }
  return { dtype: t.dtype, shape: [...t.shape], data: out };
}

/**
 * `whole` transform: InternLM2 `wqkv` regroup of the single source (shape kept).
 *
 * @example
 * ```ts
 * import { regroupWqkvTransform } from "./_transforms.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(regroupWqkvTransform(8, 4, 128).kind, "whole");
 * ```
 */
export function regroupWqkvTransform(kvHeads: number, groups: number, headDim: number): ParamTransform {
  return {
    kind: "whole",
    apply: (sources) => regroupWqkv(sources[0], kvHeads, groups, headDim),
    outShape: (shapes) => [...shapes[0]],
  };
}
