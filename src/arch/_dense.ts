/**
 * Helpers shared by the dense architectures added after the first wave (starcoder2, stablelm,
 * olmo, internlm, cohere, chatglm, baichuan, orion, qwen, nemotron, gptj, rwkv ...): parameter
 * builders that read like MLC's loaders, and the `__post_init__` rules their config classes
 * repeat (context window, `head_dim`, prefill chunk).
 *
 * @module
 */
import { ConfigError, intField, type ModelConfig } from "./config.ts";
import type { ArchParam, Dim } from "./types.ts";
import { QWEN_ACTIVATIONS } from "./qwen2.ts";

/** Extra attributes of a parameter (dtype pin, quantizable kind, transform). */
export type ParamExtra = Partial<Pick<ArchParam, "dtype" | "quant" | "transform">>;

/**
 * A parameter mapped 1:1 from the HF tensor of the same name (MLC's default mapping).
 *
 * @example
 * ```ts
 * import { same } from "./_dense.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(same("model.norm.weight", [8]).sources, ["model.norm.weight"]);
 * ```
 */
export function same(name: string, shape: readonly Dim[], extra: ParamExtra = {}): ArchParam {
  return { name, shape, sources: [name], ...extra };
}

/**
 * A parameter built from the listed HF tensors (concatenated on axis 0 unless `extra`
 * gives a transform).
 *
 * @example
 * ```ts
 * import { from } from "./_dense.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(from("a.gate_up_proj.weight", [4, 2], ["a.w1.weight", "a.w3.weight"]).sources.length, 2);
 * ```
 */
export function from(
  name: string,
  shape: readonly Dim[],
  sources: readonly string[],
  extra: ParamExtra = {},
): ArchParam {
  return { name, shape, sources, ...extra };
}

/**
 * `[<prefix>.q_proj.<kind>, <prefix>.k_proj.<kind>, <prefix>.v_proj.<kind>]`: the sources of a
 * fused q/k/v module (MLC's `qkv_names`, concatenated in that order).
 *
 * @example
 * ```ts
 * import { qkvSources } from "./_dense.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(qkvSources("model.layers.0.self_attn", "bias")[2], "model.layers.0.self_attn.v_proj.bias");
 * ```
 */
export function qkvSources(prefix: string, kind: "weight" | "bias"): string[] {
  return ["q_proj", "k_proj", "v_proj"].map((n) => `${prefix}.${n}.${kind}`);
}

/**
 * `weight` and `bias` of a LayerNorm (shape `[n]` each), 1:1.
 *
 * @example
 * ```ts
 * import { layerNorm } from "./_dense.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(layerNorm("model.norm", 8).map((p) => p.name), ["model.norm.weight", "model.norm.bias"]);
 * ```
 */
export function layerNorm(prefix: string, n: number): ArchParam[] {
  return [same(`${prefix}.weight`, [n]), same(`${prefix}.bias`, [n])];
}

/**
 * A Linear's `weight` (quantizable) and, when `bias`, its `bias`, both 1:1.
 *
 * @example
 * ```ts
 * import { linear } from "./_dense.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(linear("a.c_fc", 4, 2, true).map((p) => p.shape), [[4, 2], [4]]);
 * ```
 */
export function linear(prefix: string, out: Dim, inp: number, bias: boolean): ArchParam[] {
  const w = same(`${prefix}.weight`, [out, inp], { quant: "linear" });
  return bias ? [w, same(`${prefix}.bias`, [out])] : [w];
}

/**
 * MLC's `ACT2FN[hidden_act]` lookup when the MLP is built (gelu, relu, silu, swish, gelu_new);
 * any other activation is a `KeyError` there, a {@link ConfigError} here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requireActivation } from "./_dense.ts";
 * assert.doesNotThrow(() => requireActivation({ hidden_act: "silu" }, "hidden_act"));
 * assert.throws(() => requireActivation({ hidden_act: "tanh" }, "hidden_act"), /hidden_act "tanh" is not supported/);
 * ```
 */
export function requireActivation(cfg: ModelConfig, field: string): void {
  if (!QWEN_ACTIVATIONS.includes(cfg[field] as string)) {
    throw new ConfigError(
      `${field} ${JSON.stringify(cfg[field])} is not supported (expected one of ${
        QWEN_ACTIVATIONS.join(", ")
      })`,
    );
  }
}

/**
 * MLC's `assert hidden_size % num_attention_heads == 0` in the model constructors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requireDivisible } from "./_dense.ts";
 * assert.doesNotThrow(() => requireDivisible(64, 4, "hidden_size", "num_attention_heads"));
 * assert.throws(() => requireDivisible(64, 5, "hidden_size", "num_attention_heads"), {
 *   message: "hidden_size (64) must be a multiple of num_attention_heads (5)",
 * });
 * ```
 */
export function requireDivisible(a: number, b: number, an: string, bn: string): void {
  if (a % b !== 0) throw new ConfigError(`${an} (${a}) must be a multiple of ${bn} (${b})`);
}

/** The dimensions most dense declarations read (hidden, intermediate, heads, kv heads, head_dim, vocab). */
export interface DenseDims {
  /** `hidden_size`. */
  h: number;
  /** `intermediate_size`. */
  i: number;
  /** `num_attention_heads`. */
  nq: number;
  /** `num_key_value_heads` (`num_attention_heads` for configs without it). */
  nkv: number;
  /** `head_dim` (after post-init). */
  d: number;
  /** `vocab_size`. */
  v: number;
}

/**
 * Reads {@link DenseDims} from a parsed config.
 *
 * @example
 * ```ts
 * import { denseDims } from "./_dense.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(denseDims({ hidden_size: 8, intermediate_size: 16, num_attention_heads: 2, head_dim: 4, vocab_size: 10 }).nkv, 2);
 * ```
 */
export function denseDims(cfg: ModelConfig): DenseDims {
  const nq = intField(cfg, "num_attention_heads");
  return {
    h: intField(cfg, "hidden_size"),
    i: intField(cfg, "intermediate_size"),
    nq,
    nkv: Object.hasOwn(cfg, "num_key_value_heads") ? intField(cfg, "num_key_value_heads") : nq,
    d: intField(cfg, "head_dim"),
    v: intField(cfg, "vocab_size"),
  };
}
