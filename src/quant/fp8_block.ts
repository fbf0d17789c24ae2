/**
 * FP8 block-scale import (`fp8_e4m3fn_bf16_block_scale` and `_static_activation`): how MLC maps
 * a pre-quantized FP8 checkpoint (float8_e4m3fn `weight` + float32 `weight_scale_inv` per
 * `weight_block_size` block) onto `BlockScaleQuantizeLinear`. A pure copy: the same fused
 * concatenations as the float loader (axis 0), `astype` to the same dtype; everything that is
 * not a quantized Linear is cast to bfloat16.
 *
 * Sources (mlc-ai/mlc-llm at 79d603f0): `python/mlc_llm/quantization/block_scale_quantization.py`
 * L181-209 (weight `(N, K)` float8_e4m3fn, weight_scale_inv `(ceil(N/b0), ceil(K/b1))` float32,
 * bias) and L334-357 (static activation: `activation_scale (ceil(K/b1),)` float32, after the
 * bias), `quantization.py` L188-200 (model dtype bfloat16), `model/qwen3/qwen3_loader.py`
 * L75-98 (`*_scale_inv` mapped from the same-suffix HF names with the weight's concatenation).
 *
 * @module
 */
import type { ArchParam } from "../arch/types.ts";
import type { DType } from "../dtype.ts";

/** One MLC parameter of a block-scale FP8 model (sources concatenated along axis 0). */
export interface BlockScaleParam {
  /** MLC name. */
  readonly name: string;
  /** Shape (symbolic dims of non-quantized params kept). */
  readonly shape: readonly (number | string)[];
  /** Stored dtype (float32 is bf16-encoded on disk by the cache writer, as MLC's is). */
  readonly dtype: DType;
  /** HF tensor names, concatenated along axis 0. */
  readonly sources: readonly string[];
}

const FINAL_FC = new Set(["head", "lm_head", "lm_head.linear", "embed_out"]);

/**
 * The `weight_block_size` of a config's `quantization_config` (`[b0, b1]`, positive integers),
 * or an error naming what is wrong: MLC refuses block-scale quantization without it.
 *
 * @example
 * ```ts
 * import { weightBlockSize } from "./fp8_block.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(weightBlockSize({ quantization_config: { quant_method: "fp8", weight_block_size: [128, 128] } }), [128, 128]);
 * ```
 */
export function weightBlockSize(hfConfig: Record<string, unknown>): [number, number] {
  const qc = hfConfig.quantization_config as Record<string, unknown> | undefined;
  const wbs = qc?.weight_block_size ?? hfConfig.weight_block_size;
  if (wbs === undefined || wbs === null) {
    throw new Error(
      "The input model is not fp8 block quantized (config.json has no quantization_config.weight_block_size); " +
        "fp8_e4m3fn_bf16_block_scale imports pre-quantized FP8 checkpoints only",
    );
  }
  if (!Array.isArray(wbs) || wbs.length !== 2 || !wbs.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new Error(`weight_block_size must be two positive integers, got ${JSON.stringify(wbs)}`);
  }
  return [wbs[0], wbs[1]];
}

/**
 * MLC's block-scale parameter list from an architecture's no-quant parameters: each Linear
 * weight `(N, K)` that is not a final FC or MoE gate stays `weight` in float8_e4m3fn, followed
 * by `weight_scale_inv (ceil(N/b0), ceil(K/b1))` float32 from the sources' `weight_scale_inv`
 * tensors, its bias (bfloat16), then with `staticActivation` `activation_scale (ceil(K/b1),)`
 * float32; every other parameter is cast to bfloat16 (pinned float32 kept).
 *
 * @example
 * ```ts
 * import { blockScaleParams } from "./fp8_block.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const p = blockScaleParams([{ name: "m.o_proj.weight", shape: [256, 200], sources: ["m.o_proj.weight"], quant: "linear" }], [128, 128], false);
 * deepStrictEqual(p.map((x) => `${x.name} ${x.shape} ${x.dtype}`), ["m.o_proj.weight 256,200 float8_e4m3fn", "m.o_proj.weight_scale_inv 2,2 float32"]);
 * ```
 */
export function blockScaleParams(
  params: readonly ArchParam[],
  [b0, b1]: readonly [number, number],
  staticActivation: boolean,
): BlockScaleParam[] {
  const out: BlockScaleParam[] = [];
  let pendingActivation: BlockScaleParam | undefined;
  const flush = () => {
    if (pendingActivation) out.push(pendingActivation);
    pendingActivation = undefined;
  };
  for (const p of params) {
    const module = p.name.endsWith(".weight") ? p.name.slice(0, -".weight".length) : undefined;
    const isBias = pendingActivation !== undefined &&
      p.name === `${pendingActivation.name.slice(0, -17)}.bias`;
    if (!isBias) flush();
    const gate = module?.endsWith("gate") && typeof p.shape[0] === "number" && p.shape[0] <= 256;
    if (/\.w_u[kv]$/.test(p.name)) {
      out.push(...mlaParams(p, [b0, b1]));
      continue;
    }
    if (p.quant === "experts" && module !== undefined) {
      out.push(...expertParams(p, [b0, b1]));
      continue;
    }
    if (p.quant !== "linear" || module === undefined || FINAL_FC.has(module) || gate) {
      out.push({ name: p.name, shape: p.shape, dtype: p.dtype ?? "bfloat16", sources: p.sources });
      continue;
    }
    const [n, k] = p.shape;
    if (typeof n !== "number" || typeof k !== "number") {
      throw new Error(
        `${p.name}: block-scale FP8 needs a fixed (N, K) shape, got ${JSON.stringify(p.shape)}`,
      );
    }
    out.push(
      { name: p.name, shape: [n, k], dtype: "float8_e4m3fn", sources: p.sources },
      {
        name: `${p.name}_scale_inv`,
        shape: [Math.ceil(n / b0), Math.ceil(k / b1)],
        dtype: "float32",
        sources: p.sources.map((s) => `${s}_scale_inv`),
      },
    );
    if (staticActivation) {
      pendingActivation = {
        name: `${module}.activation_scale`,
        shape: [Math.ceil(k / b1)],
        dtype: "float32",
        sources: [`${module}.activation_scale`],
      };
    }
  }
  flush();
  return out;
}

/**
 * `BlockScaleQuantizeMixtralExperts` (block_scale_quantization.py): stacked weight `(E, N, K)`
 * float8_e4m3fn and `weight_scale_inv (E, ceil(N/b0), ceil(K/b1))` float32, no bias and no
 * activation scale (also under the static-activation scheme).
 */
function expertParams(p: ArchParam, [b0, b1]: readonly [number, number]): BlockScaleParam[] {
  const [e, n, k] = p.shape;
  if (p.shape.length !== 3 || typeof e !== "number" || typeof n !== "number" || typeof k !== "number") {
    throw new Error(
      `${p.name}: block-scale FP8 experts need a fixed (E, N, K) shape, got ${JSON.stringify(p.shape)}`,
    );
  }
  return [
    { name: p.name, shape: [e, n, k], dtype: "float8_e4m3fn", sources: p.sources },
    {
      name: `${p.name}_scale_inv`,
      shape: [e, Math.ceil(n / b0), Math.ceil(k / b1)],
      dtype: "float32",
      sources: p.sources.map((s) => `${s}_scale_inv`),
    },
  ];
}

/**
 * DeepSeek MLA `w_uk (H, rank, nope)` / `w_uv (H, v, rank)` under block-scale
 * (block_scale_quantization.py `_Mutator`, the `hasattr(node, "w_uk")` branch): the weight in
 * float8_e4m3fn and `w_uk_scale_inv (H, rank // b1, nope // b0)` / `w_uv_scale_inv
 * (H, v // b0, rank // b1)` float32; `nope` must be a multiple of b0 and `v` of b1.
 */
function mlaParams(p: ArchParam, [b0, b1]: readonly [number, number]): BlockScaleParam[] {
  const [h, x, y] = p.shape;
  if (typeof h !== "number" || typeof x !== "number" || typeof y !== "number") {
    throw new Error(`${p.name}: block-scale FP8 needs a fixed shape, got ${JSON.stringify(p.shape)}`);
  }
  const uk = p.name.endsWith("w_uk");
  const [nope, v, rank] = uk ? [y, undefined, x] : [undefined, x, y];
  if ((nope !== undefined && nope % b0 !== 0) || (v !== undefined && v % b1 !== 0)) {
    throw new Error(
      "Invalid DeepSeek model config: qk_nope_head_dim must be multiple of weight_block_size[0], and " +
        `v_head_dim must be multiple of weight_block_size[1]. However, ${
          uk ? `qk_nope_head_dim is ${nope}` : `v_head_dim is ${v}`
        }, weight_block_size is [${b0}, ${b1}].`,
    );
  }
  const scale = uk ? [h, Math.floor(rank / b1), nope! / b0] : [h, v! / b0, Math.floor(rank / b1)];
  return [
    { name: p.name, shape: [h, x, y], dtype: "float8_e4m3fn", sources: p.sources },
    {
      name: `${p.name}_scale_inv`,
      shape: scale,
      dtype: "float32",
      sources: p.sources.map((s) => `${s}_scale_inv`),
    },
  ];
}
