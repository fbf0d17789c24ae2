/**
 * Types of the architecture registry: how one MLC model type maps HF tensors to MLC
 * parameters.
 *
 * @module
 */
import type { DType } from "../dtype.ts";
import type { ConfigClass, ModelConfig } from "./config.ts";

/** A shape dimension: a number, or a symbolic name (e.g. `"vocab_size"`) that accepts any size. */
export type Dim = number | string;

/** A tensor held in memory (used by whole-tensor transforms). */
export interface HostTensor {
  /** Element dtype. */
  dtype: DType;
  /** Shape. */
  shape: number[];
  /** Little-endian element bytes, row-major. */
  data: Uint8Array;
}

/**
 * How a parameter's value is built from its HF sources (`map_func`).
 * - `concat` (default): concatenate along axis 0 in the source dtype, then cast. With
 *   `addOne`, `x + 1` is computed in the source dtype before the cast (Gemma norms).
 * - `whole`: arbitrary function of the fully loaded sources (row permutations,
 *   transposes, value maps); its result is then cast to the parameter dtype. `target` is that
 *   dtype, for maps that compute in it (rwkv's rescale divides after the cast).
 * - `stack`: MoE experts (MLC's `combine_expert_gate_up` / `np.stack`): the sources are
 *   `experts` equal consecutive groups (one per expert, e.g. `w1_e, w3_e`), each group is
 *   concatenated along axis 0 and the results are stacked on a new axis 0, giving
 *   `(experts, groupRows, ...)`. Its bytes are the sources' bytes one after another, so it is
 *   read row range by row range straight from the sources, like `concat`.
 * - `concat1`: `np.concatenate(axis=1)` of 2-D sources with equal row counts (AWQ's fused
 *   `qweight` / `qzeros` / `scales`): an output row is the sources' rows side by side, so it is
 *   read row range by row range too.
 */
export type ParamTransform =
  | { readonly kind: "concat"; readonly addOne?: boolean }
  | { readonly kind: "concat1" }
  | { readonly kind: "stack"; readonly experts: number }
  | {
    readonly kind: "whole";
    readonly apply: (sources: HostTensor[], target: DType) => HostTensor;
    /** Shape of the result from the source shapes (default: the declared shape). */
    readonly outShape?: (sourceShapes: number[][]) => number[];
  };

/** One MLC parameter of a model, in module (`named_parameters`) order. */
export interface ArchParam {
  /** MLC name, e.g. `model.layers.0.self_attn.qkv_proj.weight`. */
  readonly name: string;
  /** Expected shape before quantization. */
  readonly shape: readonly Dim[];
  /**
   * Pinned dtype (e.g. `float32` for gpt_neox MLP biases); default: the model dtype. Pre-quantized
   * imports also pin `uint32`, `float8_e4m3fn`, `float16` or `bfloat16`.
   */
  readonly dtype?: DType;
  /** HF tensor names this parameter is built from (`param_map` entry). */
  readonly sources: readonly string[];
  /** Value transform; default `concat`. */
  readonly transform?: ParamTransform;
  /**
   * Module kind of the owner when quantizable: `linear`, `embedding`, or `experts` (MLC's
   * `MixtralExperts`, a stacked `(E, out, in)` weight: group quantization along `in`, no KN
   * layout).
   */
  readonly quant?: "linear" | "embedding" | "experts";
  /**
   * Pre-quantized imports (AWQ, FP8 block-scale): the safetensors dtype every source must have;
   * the bytes are copied unchanged as {@link ArchParam.dtype} (MLC's same-bits `astype`).
   */
  readonly raw?: string;
}

/** An architecture of the registry (one MLC `MODELS` key). */
export interface Architecture {
  /** Registry key (`llama`, `mistral`, ...). */
  readonly name: string;
  /** HF `model_type` values that auto-detection maps to this key. */
  readonly hfModelTypes: readonly string[];
  /** Config dataclass (parsing shared by convert_weight and gen_config). */
  readonly configClass: ConfigClass;
  /** Quantization kinds this model supports (MLC `Model.quantize` keys). */
  readonly quantKinds: readonly ("no-quant" | "group-quant")[];
  /**
   * Group quantization's KN layouts (`q4f16_0`, `q3f16_0`, `q4bf16_0`) are refused: MLC's
   * quantized stacked experts (`GroupQuantizeMixtralExperts`) have no KN layout. `moe`: only
   * the type's MoE configs have such experts (minicpm); its dense configs take KN.
   */
  readonly refusesKnLayout?: "always" | "moe";
  /**
   * Parameters with their HF sources, in module order (MLC's `param_map` insertion order, which
   * decides the order of parameters sharing a source: gpt2 lists `lm_head.weight` first).
   */
  params(cfg: ModelConfig): ArchParam[];
  /** HF names declared unused (no warning, not counted in BitsPerParam). */
  isUnused?(hfName: string, cfg: ModelConfig): boolean;
}
