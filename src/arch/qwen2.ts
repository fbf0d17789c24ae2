/**
 * `qwen2`: Qwen2ForCausalLM checkpoints (Qwen1.5, Qwen2, Qwen2.5, R1-Distill-Qwen). Fused
 * `c_attn` with a fused bias; the small models tie the head to the embedding.
 *
 * @module
 */
import { ConfigError, intField, REQUIRED, standardPostInit } from "./config.ts";
import { declaredUnused, type ParamSpec, standardMapping } from "./_standard.ts";
import type { Architecture } from "./types.ts";
import type { ModelConfig } from "./config.ts";

/** Activations MLC's Qwen2/Qwen3 MLP accepts (`ACT2FN`). */
export const QWEN_ACTIVATIONS: readonly string[] = ["gelu", "relu", "silu", "swish", "gelu_new"];

/**
 * Parameters shared by qwen2 and qwen3 (c_attn, optional biases, optional q/k norms).
 *
 * @example
 * ```ts ignore
 * qwenParams(cfg, { qkvBias: true, oBias: false, qkNorm: false });
 * ```
 */
export function qwenParams(
  cfg: ModelConfig,
  opts: { qkvBias: boolean; oBias: boolean; qkNorm: boolean },
): ReturnType<typeof standardMapping> {
  const h = intField(cfg, "hidden_size");
  const i = intField(cfg, "intermediate_size");
  const nq = intField(cfg, "num_attention_heads");
  const nkv = intField(cfg, "num_key_value_heads");
  const d = intField(cfg, "head_dim");
  const v = intField(cfg, "vocab_size");
  const layers = intField(cfg, "num_hidden_layers");
  if (!QWEN_ACTIVATIONS.includes(cfg.hidden_act as string)) {
    throw new ConfigError(
      `hidden_act ${JSON.stringify(cfg.hidden_act)} is not supported (expected one of ${
        QWEN_ACTIVATIONS.join(", ")
      })`,
    );
  }
  const specs: ParamSpec[] = [{ name: "model.embed_tokens.weight", shape: [v, h], quant: "embedding" }];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    specs.push({ name: `${p}.self_attn.c_attn.weight`, shape: [(nq + 2 * nkv) * d, h], quant: "linear" });
    if (opts.qkvBias) specs.push({ name: `${p}.self_attn.c_attn.bias`, shape: [(nq + 2 * nkv) * d] });
    specs.push({ name: `${p}.self_attn.o_proj.weight`, shape: [h, nq * d], quant: "linear" });
    if (opts.oBias) specs.push({ name: `${p}.self_attn.o_proj.bias`, shape: [h] });
    if (opts.qkNorm) {
      specs.push({ name: `${p}.self_attn.q_norm.weight`, shape: [d] }, {
        name: `${p}.self_attn.k_norm.weight`,
        shape: [d],
      });
    }
    specs.push(
      { name: `${p}.mlp.gate_up_proj.weight`, shape: [2 * i, h], quant: "linear" },
      { name: `${p}.mlp.down_proj.weight`, shape: [h, i], quant: "linear" },
      { name: `${p}.input_layernorm.weight`, shape: [h] },
      { name: `${p}.post_attention_layernorm.weight`, shape: [h] },
    );
  }
  specs.push({ name: "model.norm.weight", shape: [h] });
  if (!cfg.tie_word_embeddings) specs.push({ name: "lm_head.weight", shape: [v, h], quant: "linear" });
  return standardMapping(specs, { numLayers: layers, qkvTargetName: "c_attn", addQkvBias: true });
}

/** The qwen2 architecture. */
export const qwen2: Architecture = {
  name: "qwen2",
  hfModelTypes: ["qwen2"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "QWen2Config",
    fields: [
      ["hidden_act", REQUIRED],
      ["hidden_size", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["num_key_value_heads", REQUIRED],
      ["rms_norm_eps", REQUIRED],
      ["rope_theta", REQUIRED],
      ["vocab_size", REQUIRED],
      ["tie_word_embeddings", false],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["tensor_parallel_shards", 1],
      ["head_dim", 0],
      ["dtype", "float32"],
      ["max_batch_size", 1],
    ],
    postInit(cfg, kwargs, log) {
      standardPostInit(cfg, kwargs, log);
    },
  },
  params: (cfg) => qwenParams(cfg, { qkvBias: true, oBias: false, qkNorm: false }),
  isUnused: declaredUnused([/^model\.layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$/]),
};
