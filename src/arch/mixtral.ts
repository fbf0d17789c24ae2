/**
 * `mixtral`: MixtralForCausalLM checkpoints (Mixtral-8x7B, 8x22B). Llama attention with a
 * sparse MoE block per layer: the router `moe.gate` (never quantized: MLC's `is_moe_gate`) and
 * the experts stacked into `moe.e1_e3` (w1|w3 per expert) and `moe.e2` (w2)
 * (`python/mlc_llm/model/mixtral/mixtral_loader.py`, `mixtral_model.py`).
 *
 * @module
 */
import { ConfigError, intField } from "./config.ts";
import { expertCount, stackedExperts } from "./_moe.ts";
import { declaredUnused, type ParamSpec, standardMapping } from "./_standard.ts";
import type { Architecture } from "./types.ts";
import { llama } from "./llama.ts";

/** The mixtral architecture. */
export const mixtral: Architecture = {
  name: "mixtral",
  hfModelTypes: ["mixtral"],
  quantKinds: ["no-quant", "group-quant"],
  refusesKnLayout: "always",
  configClass: {
    className: "MixtralConfig",
    // MixtralConfig(LlamaConfig): the parent's fields and __post_init__, then its own fields
    fields: [...llama.configClass.fields, ["num_local_experts", 0], ["num_experts_per_tok", 0]],
    postInit: (cfg, kwargs, log) => llama.configClass.postInit(cfg, kwargs, log),
  },
  params(cfg) {
    const h = intField(cfg, "hidden_size");
    const nq = intField(cfg, "num_attention_heads");
    const nkv = intField(cfg, "num_key_value_heads");
    const d = intField(cfg, "head_dim");
    const layers = intField(cfg, "num_hidden_layers");
    const e = expertCount(cfg, "num_local_experts");
    if (h % nq !== 0) throw new ConfigError("hidden_size must be a multiple of num_attention_heads");
    const specs: ParamSpec[] = [{
      name: "model.embed_tokens.weight",
      shape: ["vocab_size", h],
      quant: "embedding",
    }];
    for (let l = 0; l < layers; l++) {
      const p = `model.layers.${l}`;
      specs.push(
        { name: `${p}.self_attn.qkv_proj.weight`, shape: [(nq + 2 * nkv) * d, h], quant: "linear" },
        { name: `${p}.self_attn.o_proj.weight`, shape: [h, nq * d], quant: "linear" },
        // mixtral_loader.py L106-L115: the router, 1:1 from block_sparse_moe.gate
        {
          name: `${p}.moe.gate.weight`,
          shape: [e, h],
          quant: "linear",
          sources: [`${p}.block_sparse_moe.gate.weight`],
        },
        // mixtral_loader.py L62-L104: w1|w3 per expert, stacked; w2 stacked
        ...stackedExperts({
          gateUp: `${p}.moe.e1_e3`,
          down: `${p}.moe.e2`,
          hf: `${p}.block_sparse_moe`,
          experts: e,
          hidden: h,
          inter: intField(cfg, "intermediate_size"),
          names: ["w1", "w3", "w2"],
        }),
        { name: `${p}.input_layernorm.weight`, shape: [h] },
        { name: `${p}.post_attention_layernorm.weight`, shape: [h] },
      );
    }
    specs.push({ name: "model.norm.weight", shape: [h] });
    if (!cfg.tie_word_embeddings) {
      specs.push({ name: "lm_head.weight", shape: ["vocab_size", h], quant: "linear" });
    }
    return standardMapping(specs, { numLayers: layers, includeGateUp: false });
  },
  isUnused: declaredUnused([/^model\.layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$/]),
};
