/**
 * The quantization registry: every scheme of MLC's `QUANTIZATION` table that can be computed
 * offline without calibration, as data.
 *
 * @module
 */
import type { FloatDType } from "../dtype.ts";

/** Weight layout of a group-quantized Linear: NK keeps (N, K) rows, KN transposes outputs. */
export type QuantLayout = "NK" | "KN";

/** A no-quant scheme: parameters are only cast to the model dtype. */
export interface NoQuantScheme {
  /** Registry name, e.g. `q0f16`. */
  readonly name: string;
  /** Kind as in MLC (`no-quant`). */
  readonly kind: "no-quant";
  /** Model dtype every parameter is cast to. */
  readonly modelDtype: FloatDType;
}

/** A group quantization scheme (MLC `GroupQuantize`). */
export interface GroupQuantScheme {
  /** Registry name, e.g. `q4f16_1`. */
  readonly name: string;
  /** Kind as in MLC (`group-quant`). */
  readonly kind: "group-quant";
  /** Bits per code: 3 or 4. */
  readonly bits: 3 | 4;
  /** Elements per group along the last axis. */
  readonly groupSize: number;
  /** Model dtype (of scales and of the arithmetic). */
  readonly modelDtype: FloatDType;
  /** NK or KN (KN transposes Linear outputs, never embeddings). */
  readonly layout: QuantLayout;
  /** Whether embeddings are quantized. */
  readonly quantizeEmbedding: boolean;
  /** Whether the final FC (`lm_head`, `head`, `lm_head.linear`, `embed_out`) is quantized. */
  readonly quantizeFinalFc: boolean;
}

/**
 * A pre-quantized import (MLC `AWQQuantize`, kind `awq`, and `BlockScaleQuantize`, kind
 * `block-scale-quant`): the quantized parameters are copied from a quantized checkpoint, the
 * rest is cast to the model dtype.
 */
export interface ImportScheme {
  /** Registry name, e.g. `q4f16_autoawq`. */
  readonly name: string;
  /** Kind as in MLC. */
  readonly kind: "awq" | "block-scale-quant";
  /** Model dtype of the parameters that are not imported as they are. */
  readonly modelDtype: FloatDType;
  /** Block-scale only: `use_activation_scale` (an `activation_scale` per quantized Linear). */
  readonly staticActivation?: boolean;
}

/** Any scheme of the registry. */
export type QuantScheme = NoQuantScheme | GroupQuantScheme | ImportScheme;

const group = (
  name: string,
  bits: 3 | 4,
  modelDtype: FloatDType,
  layout: QuantLayout,
  quantizeEmbedding = true,
  quantizeFinalFc = true,
): GroupQuantScheme => ({
  name,
  kind: "group-quant",
  bits,
  groupSize: bits === 4 ? 32 : 40,
  modelDtype,
  layout,
  quantizeEmbedding,
  quantizeFinalFc,
});

/** All supported schemes, in MLC's registry order. */
export const QUANTIZATIONS: Readonly<Record<string, QuantScheme>> = {
  q0f16: { name: "q0f16", kind: "no-quant", modelDtype: "float16" },
  q0bf16: { name: "q0bf16", kind: "no-quant", modelDtype: "bfloat16" },
  q0f32: { name: "q0f32", kind: "no-quant", modelDtype: "float32" },
  q3f16_0: group("q3f16_0", 3, "float16", "KN"),
  q3f16_1: group("q3f16_1", 3, "float16", "NK"),
  q4f16_0: group("q4f16_0", 4, "float16", "KN"),
  q4f16_1: group("q4f16_1", 4, "float16", "NK"),
  q4bf16_0: group("q4bf16_0", 4, "bfloat16", "KN"),
  q4bf16_1: group("q4bf16_1", 4, "bfloat16", "NK"),
  q4f32_1: group("q4f32_1", 4, "float32", "NK"),
  q4f16_2: group("q4f16_2", 4, "float16", "NK", false, false),
};

/**
 * The pre-quantized imports, in MLC's registry order (`quantization.py` QUANTIZATION:
 * `q4f16_autoawq` AWQQuantize float16 group 128; the two `fp8_e4m3fn_bf16_block_scale*`
 * BlockScaleQuantize bfloat16). They convert only checkpoints quantized that way, so they are
 * kept apart from {@link QUANTIZATIONS} (which converts any float checkpoint).
 */
export const IMPORT_QUANTIZATIONS: Readonly<Record<string, ImportScheme>> = {
  q4f16_autoawq: { name: "q4f16_autoawq", kind: "awq", modelDtype: "float16" },
  fp8_e4m3fn_bf16_block_scale: {
    name: "fp8_e4m3fn_bf16_block_scale",
    kind: "block-scale-quant",
    modelDtype: "bfloat16",
  },
  fp8_e4m3fn_bf16_block_scale_static_activation: {
    name: "fp8_e4m3fn_bf16_block_scale_static_activation",
    kind: "block-scale-quant",
    modelDtype: "bfloat16",
    staticActivation: true,
  },
};

/** MLC schemes that exist but cannot be produced offline, with the reason. */
export const UNSUPPORTED_QUANTIZATIONS: Readonly<Record<string, string>> = {
  q4f16_ft: "needs CUTLASS's per-GPU-architecture weight preprocessing (ft_preprocess_weight), which MLC " +
    "runs on CUDA only and which cannot be reproduced offline byte for byte",
  e5m2_e5m2_f16: "per-tensor FP8 is not supported yet (MLC's FP8 cast depends on the device: CUDA sm89+ " +
    "saturates, TVM's software cast does not)",
  e4m3_e4m3_f16:
    "needs calibration: MLC writes its q_calibration_scale uninitialized and `mlc_llm calibrate` " +
    "fills it from activation data",
  e4m3_e4m3_f16_max_calibrate:
    "needs calibration data: it is the build `mlc_llm calibrate` runs to measure " +
    "activations, not a weight format",
};

/** Derived constants of a group scheme. */
export interface GroupConstants {
  /** Codes per uint32 word (8 for int4, 10 for int3). */
  readonly elemPerWord: number;
  /** Words per group (4 for both). */
  readonly wordsPerGroup: number;
  /** 7 for int4, 3 for int3. */
  readonly maxInt: number;
}

/**
 * Derived constants (MLC `GroupQuantize.__post_init__`).
 *
 * @example
 * ```ts
 * import { groupConstants, QUANTIZATIONS } from "./schemes.ts";
 * import type { GroupQuantScheme } from "./schemes.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(groupConstants(QUANTIZATIONS.q3f16_1 as GroupQuantScheme).elemPerWord, 10);
 * ```
 */
export function groupConstants(s: { bits: number; groupSize: number }): GroupConstants {
  const elemPerWord = Math.floor(32 / s.bits);
  if (s.groupSize % elemPerWord !== 0) throw new Error("group size must be a multiple of codes per word");
  return {
    elemPerWord,
    wordsPerGroup: s.groupSize / elemPerWord,
    maxInt: 2 ** (s.bits - 1) - 1,
  };
}

/**
 * Looks up a scheme by name, with an error listing the valid names.
 *
 * @example
 * ```ts
 * import { getQuantization } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(getQuantization("q4f16_1").kind, "group-quant");
 * ```
 */
export function getQuantization(name: string): QuantScheme {
  const s = QUANTIZATIONS[name] ?? IMPORT_QUANTIZATIONS[name];
  if (s) return s;
  const why = UNSUPPORTED_QUANTIZATIONS[name];
  if (why) {
    throw new Error(
      `Quantization "${name}" is not supported: ${why}. Supported: ${ALL_NAMES().join(", ")}`,
    );
  }
  throw new Error(`Unknown quantization "${name}". Valid choices: ${ALL_NAMES().join(", ")}`);
}

const ALL_NAMES = (): string[] => [...Object.keys(QUANTIZATIONS), ...Object.keys(IMPORT_QUANTIZATIONS)];
