/**
 * The parameter list of a pre-quantized import as the plan reads it: MLC's AWQ parameters
 * ({@link awqParams}) or block-scale parameters ({@link blockScaleParams}) turned into
 * architecture parameters whose quantized tensors are copied from the checkpoint bit for bit
 * (`raw`: the safetensors dtype each source must have), fused along axis 1 (AWQ) or axis 0
 * (FP8) as MLC's loaders do; the other parameters keep their declaration (cast to the model
 * dtype).
 *
 * @module
 */
import type { ModelConfig } from "../arch/config.ts";
import type { Architecture, ArchParam, ParamTransform } from "../arch/types.ts";
import { splitKvB } from "../arch/deepseek_v2.ts";
import { awqParams, awqRefusal } from "./awq.ts";
import { blockScaleParams, weightBlockSize } from "./fp8_block.ts";
import type { ImportScheme } from "./schemes.ts";

/**
 * Model types whose block-scale import is wired here (Linear layers, stacked experts, DeepSeek's
 * MLA `w_uk` / `w_uv`): every model type MLC allows it for.
 */
export const BLOCK_SCALE_ARCHITECTURES: ReadonlySet<string> = new Set([
  "qwen3",
  "qwen3-embedding",
  "qwen3_moe",
  "deepseek_v3",
]);

/** The safetensors dtype MLC's AWQ / FP8 loaders copy into each stored dtype. */
const RAW_SOURCE: Readonly<Record<string, string>> = {
  uint32: "I32",
  float16: "F16",
  float8_e4m3fn: "F8_E4M3",
  float32: "F32",
};

function awqImport(base: readonly ArchParam[]): ArchParam[] {
  const byName = new Map(base.map((p) => [p.name, p]));
  return awqParams(base).map((p) => {
    const original = byName.get(p.name);
    if (original && p.axis === 0) return original;
    return {
      name: p.name,
      shape: p.shape,
      dtype: p.dtype,
      sources: p.sources,
      raw: RAW_SOURCE[p.dtype],
      // llama_loader.awq: np.concatenate([q, k, v], axis=1) (one source: itself)
      ...(p.sources.length > 1 ? { transform: { kind: "concat1" as const } } : {}),
    };
  });
}

/**
 * deepseek_v2_loader.py (w_uk_scale_inv / w_uv_scale_inv): `kv_b_proj.weight_scale_inv`
 * reshaped to `(Nkv, (nope + v) // b0, rank // b1)`, split at `nope // b0` on axis 1, the first
 * part transposed (0, 2, 1) for `w_uk`.
 */
function mlaScaleTransform(config: ModelConfig, [b0]: [number, number], part: "uk" | "uv"): ParamTransform {
  const heads = config.num_key_value_heads as number;
  const nope = (config.qk_nope_head_dim as number) / b0;
  const v = (config.v_head_dim as number) / b0;
  return {
    kind: "whole",
    apply: ([t]) => splitKvB(t, heads, nope, v, part),
    outShape: ([[, rank]]) => part === "uk" ? [heads, rank, nope] : [heads, v, rank],
  };
}

function blockScaleImport(
  config: ModelConfig,
  base: readonly ArchParam[],
  blocks: [number, number],
  staticActivation: boolean,
): ArchParam[] {
  const byName = new Map(base.map((p) => [p.name, p]));
  // qwen3_loader's to_hf: without the `model.` prefix where the architecture's HF names lack it
  // (Qwen3-Embedding); activation scales are mapped 1:1 through it
  const noPrefix = base.some((p) => p.name.startsWith("model.") && p.sources[0] === p.name.slice(6));
  return blockScaleParams(base, blocks, staticActivation).map((p) => {
    const original = byName.get(p.name);
    if (original && p.dtype !== "float8_e4m3fn") return original;
    if (p.name.endsWith(".activation_scale") && noPrefix) {
      return { name: p.name, shape: p.shape, dtype: p.dtype, sources: [p.name.slice(6)], raw: "F32" };
    }
    // qwen3_loader: np.concatenate([q, k, v], axis=0) for the weight and its *_scale_inv alike;
    // qwen3_moe_loader: the experts' weights and scales stacked alike (the weight's transform)
    const transform = /\.w_u[kv]_scale_inv$/.test(p.name)
      ? mlaScaleTransform(config, blocks, p.name.endsWith("w_uk_scale_inv") ? "uk" : "uv")
      : byName.get(p.name.replace(/_scale_inv$/, ""))?.transform;
    return {
      name: p.name,
      shape: p.shape,
      dtype: p.dtype,
      sources: p.sources,
      raw: RAW_SOURCE[p.dtype],
      ...(transform ? { transform } : {}),
    };
  });
}

/**
 * The parameters of `arch` under a pre-quantized import `scheme`, or the reasons it cannot
 * convert (MLC has no loader for the model type, the config is not block-quantized, a Linear
 * shape does not fit the format): then the list is empty and `problems` says why.
 *
 * @example
 * ```ts ignore
 * import { importParams } from "./import_params.ts";
 * const problems: string[] = [];
 * const params = importParams(ARCHITECTURES.llama, config, IMPORT_QUANTIZATIONS.q4f16_autoawq, problems);
 * params.find((p) => p.name.endsWith("qkv_proj.qweight"))!.raw; // "I32"
 * ```
 */
export function importParams(
  arch: Architecture,
  config: ModelConfig,
  scheme: ImportScheme,
  problems: string[],
): ArchParam[] {
  try {
    if (scheme.kind === "awq") {
      const why = awqRefusal(arch.name);
      if (why) throw new Error(`Model type ${arch.name} cannot use ${scheme.name}: ${why}`);
      return awqImport(arch.params(config));
    }
    if (!BLOCK_SCALE_ARCHITECTURES.has(arch.name)) {
      throw new Error(
        `Model type ${arch.name} cannot use ${scheme.name}: MLC does not allow block-scale quantization for ` +
          `${arch.name} (it does for ${[...BLOCK_SCALE_ARCHITECTURES].join(", ")})`,
      );
    }
    // MLC's loader: "The input Qwen3 model is not fp8 block quantized" without weight_block_size
    const blocks = weightBlockSize(config);
    const base = arch.params({ ...config, weight_block_size: null });
    return blockScaleImport(config, base, blocks, scheme.staticActivation === true);
  } catch (e) {
    problems.push((e as Error).message);
    return [];
  }
}

/**
 * Why source `s` cannot be copied into pre-quantized parameter `p` (its safetensors dtype is
 * not the one MLC's loader copies bit for bit), or `undefined`.
 *
 * @example
 * ```ts
 * import { rawSourceProblem } from "./import_params.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(rawSourceProblem(
 *   { name: "a.weight", shape: [2, 2], sources: ["a.weight"], dtype: "float8_e4m3fn", raw: "F8_E4M3" },
 *   { name: "a.weight", file: "model.safetensors", stDtype: "BF16" },
 *   "fp8_e4m3fn_bf16_block_scale",
 * )!.startsWith("Tensor a.weight in model.safetensors has dtype BF16"), true);
 * ```
 */
export function rawSourceProblem(
  p: ArchParam,
  s: { name: string; file: string; stDtype: string },
  scheme: string,
): string | undefined {
  if (!p.raw || s.stDtype === p.raw) return undefined;
  return `Tensor ${s.name} in ${s.file} has dtype ${s.stDtype}, but ${scheme} copies ${p.name} ` +
    `(${p.dtype}) from ${p.raw} tensors: the checkpoint is not quantized the way ${scheme} imports`;
}
