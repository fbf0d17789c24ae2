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
import type { ModelConfig } from "../arch/_config.ts";
import type { Architecture, ArchParam } from "../arch/_types.ts";
import { awqParams, awqRefusal, concatAxis1 } from "./awq.ts";
import { blockScaleParams, weightBlockSize } from "./fp8_block.ts";
import type { ImportScheme } from "./schemes.ts";

/** Model types whose block-scale import is wired here (Linear layers and stacked experts). */
export const BLOCK_SCALE_ARCHITECTURES: ReadonlySet<string> = new Set([
  "qwen3",
  "qwen3-embedding",
  "qwen3_moe",
]);

/** Why a block-scale import is refused for a model type MLC does allow it for. */
const BLOCK_SCALE_REFUSALS: Readonly<Record<string, string>> = {
  deepseek_v3:
    "importing FP8 block-scale DeepSeek-V3 (stacked experts, MLA w_uk / w_uv) is not supported yet",
};

/** The safetensors dtype MLC's AWQ / FP8 loaders copy into each stored dtype. */
const RAW_SOURCE: Readonly<Record<string, string>> = {
  uint32: "I32",
  float16: "F16",
  float8_e4m3fn: "F8_E4M3",
  float32: "F32",
};

/** `np.concatenate(axis=1)` of 2-D sources: the output shape, or `[-1, -1]` when they do not fit. */
function axis1Shape(shapes: number[][]): number[] {
  const ok = shapes.every((s) => s.length === 2 && s[0] === shapes[0][0]);
  return ok ? [shapes[0][0], shapes.reduce((a, s) => a + s[1], 0)] : [-1, -1];
}

function awqImport(base: readonly ArchParam[]): ArchParam[] {
  const byName = new Map(base.map((p) => [p.name, p]));
  return awqParams(base).map((p) => {
    const original = byName.get(p.name);
    if (original && p.axis === 0) return original;
    const whole = p.sources.length > 1;
    return {
      name: p.name,
      shape: p.shape,
      dtype: p.dtype,
      sources: p.sources,
      raw: RAW_SOURCE[p.dtype],
      // llama_loader.awq: np.concatenate([q, k, v], axis=1) (one source: itself)
      ...(whole ? { transform: { kind: "whole" as const, apply: concatAxis1, outShape: axis1Shape } } : {}),
    };
  });
}

function blockScaleImport(
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
    const transform = byName.get(p.name.replace(/_scale_inv$/, ""))?.transform;
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
      const why = BLOCK_SCALE_REFUSALS[arch.name] ??
        `MLC does not allow block-scale quantization for ${arch.name}`;
      throw new Error(`Model type ${arch.name} cannot use ${scheme.name}: ${why}`);
    }
    // MLC's loader: "The input Qwen3 model is not fp8 block quantized" without weight_block_size
    const blocks = weightBlockSize(config);
    const base = arch.params({ ...config, weight_block_size: null });
    return blockScaleImport(base, blocks, scheme.staticActivation === true);
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
 * rawSourceProblem(
 *   { name: "a.weight", shape: [2, 2], sources: ["a.weight"], dtype: "float8_e4m3fn", raw: "F8_E4M3" },
 *   { name: "a.weight", file: "model.safetensors", stDtype: "BF16" },
 *   "fp8_e4m3fn_bf16_block_scale",
 * )!.startsWith("Tensor a.weight in model.safetensors has dtype BF16"); // true
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
