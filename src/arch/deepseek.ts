/**
 * `deepseek`: DeepseekForCausalLM checkpoints (deepseek-moe-16b-base / -chat). Fused
 * `wqkv_pack`; a dense MLP on the first `first_k_dense_replace` layers, then a router, 64
 * routed experts stacked as `moe_gate_up_proj` / `moe_down_proj` and the shared experts fused
 * into `shared_experts.gate_up_proj`; the head is never tied
 * (`python/mlc_llm/model/deepseek/deepseek_loader.py`, `deepseek_model.py`). With
 * `attention_bias`, MLC maps `wqkv_pack.bias` 1:1 from a tensor HF does not have (a latent bug
 * kept here: such a checkpoint is refused, naming the missing tensor); released checkpoints
 * have no attention biases.
 *
 * @module
 */
import { intField, REQUIRED, standardPostInit } from "./config.ts";
import { deepseekMlp } from "./_deepseek.ts";
import { type ParamSpec, standardMapping } from "./_standard.ts";
import type { Architecture } from "./types.ts";

/** The deepseek architecture. */
export const deepseek: Architecture = {
  name: "deepseek",
  hfModelTypes: ["deepseek"],
  quantKinds: ["no-quant", "group-quant"],
  refusesKnLayout: "always",
  configClass: {
    className: "DeepseekConfig",
    fields: [
      ["vocab_size", REQUIRED],
      ["hidden_size", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["moe_intermediate_size", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["num_key_value_heads", REQUIRED],
      ["n_shared_experts", REQUIRED],
      ["n_routed_experts", REQUIRED],
      ["moe_layer_freq", REQUIRED],
      ["first_k_dense_replace", REQUIRED],
      ["hidden_act", REQUIRED],
      ["norm_topk_prob", REQUIRED],
      ["attention_bias", REQUIRED],
      ["rms_norm_eps", REQUIRED],
      ["use_cache", REQUIRED],
      ["bos_token_id", REQUIRED],
      ["eos_token_id", REQUIRED],
      ["tie_word_embeddings", false],
      ["rope_theta", 10000],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["tensor_parallel_shards", 1],
      ["head_dim", 0],
      ["max_batch_size", 1],
      ["num_experts_per_tok", 0],
    ],
    postInit(cfg, kwargs, log) {
      // deepseek_model.py L55-L93: context window, head_dim (derived, asserted), prefill chunk
      standardPostInit(cfg, kwargs, log);
    },
  },
  params(cfg) {
    const h = intField(cfg, "hidden_size");
    const nq = intField(cfg, "num_attention_heads");
    const nkv = intField(cfg, "num_key_value_heads");
    const d = intField(cfg, "head_dim");
    const v = intField(cfg, "vocab_size");
    const layers = intField(cfg, "num_hidden_layers");
    const bias = cfg.attention_bias === true;
    const specs: ParamSpec[] = [{ name: "model.embed_tokens.weight", shape: [v, h], quant: "embedding" }];
    for (let l = 0; l < layers; l++) {
      const p = `model.layers.${l}`;
      const a = `${p}.self_attn`;
      specs.push({ name: `${a}.wqkv_pack.weight`, shape: [(nq + 2 * nkv) * d, h], quant: "linear" });
      if (bias) {
        specs.push({
          name: `${a}.wqkv_pack.bias`,
          shape: [(nq + 2 * nkv) * d],
          sources: [`${a}.wqkv_pack.bias`],
        });
      }
      specs.push({ name: `${a}.o_proj.weight`, shape: [h, nq * d], quant: "linear" });
      if (bias) specs.push({ name: `${a}.o_proj.bias`, shape: [h] });
      specs.push(
        ...deepseekMlp(cfg, p, l, false),
        { name: `${p}.input_layernorm.weight`, shape: [h] },
        { name: `${p}.post_attention_layernorm.weight`, shape: [h] },
      );
    }
    specs.push(
      { name: "model.norm.weight", shape: [h] },
      { name: "lm_head.weight", shape: [v, h], quant: "linear" },
    );
    return standardMapping(specs, {
      numLayers: layers,
      qkvTargetName: "wqkv_pack",
      includeGateUp: false,
    });
  },
};
