/**
 * `minicpm`: MiniCPMForCausalLM checkpoints, dense (MiniCPM-2B) and mixture of experts
 * (MiniCPM-MoE-8x2B, `num_experts > 0`): fused `wqkv_pack`, then a dense `gate_up_proj` /
 * `down_proj` or a router `mlp.gate` with experts stacked into `mlp.e1_e3` (w1|w3) and `mlp.e2`
 * (w2). `scale_emb` and `scale_depth` are applied by the model at run time, not folded into
 * the weights (`python/mlc_llm/model/minicpm/minicpm_loader.py`, `minicpm_model.py`).
 *
 * @module
 */
import { intField, REQUIRED, standardPostInit } from "./config.ts";
import { expertCount, stackedExperts } from "./_moe.ts";
import { type ParamSpec, standardMapping } from "./_standard.ts";
import type { Architecture } from "./types.ts";

/** The minicpm architecture. */
export const minicpm: Architecture = {
  name: "minicpm",
  hfModelTypes: ["minicpm"],
  quantKinds: ["no-quant", "group-quant"],
  refusesKnLayout: "moe",
  configClass: {
    className: "MiniCPMConfig",
    fields: [
      ["vocab_size", REQUIRED],
      ["hidden_size", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["num_key_value_heads", REQUIRED],
      ["hidden_act", REQUIRED],
      ["rms_norm_eps", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["scale_emb", REQUIRED],
      ["scale_depth", REQUIRED],
      ["dim_model_base", REQUIRED],
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
      ["num_experts", 0],
    ],
    postInit(cfg, kwargs, log) {
      // minicpm_model.py L56-L90: context window, head_dim (derived, asserted), prefill chunk
      standardPostInit(cfg, kwargs, log);
    },
  },
  params(cfg) {
    const h = intField(cfg, "hidden_size");
    const i = intField(cfg, "intermediate_size");
    const nq = intField(cfg, "num_attention_heads");
    const nkv = intField(cfg, "num_key_value_heads");
    const d = intField(cfg, "head_dim");
    const v = intField(cfg, "vocab_size");
    const layers = intField(cfg, "num_hidden_layers");
    // minicpm_model.py L257-L261: num_experts == 0 is the dense MLP
    const e = intField(cfg, "num_experts") === 0 ? 0 : expertCount(cfg, "num_experts");
    const specs: ParamSpec[] = [{ name: "model.embed_tokens.weight", shape: [v, h], quant: "embedding" }];
    for (let l = 0; l < layers; l++) {
      const p = `model.layers.${l}`;
      const m = `${p}.mlp`;
      specs.push(
        { name: `${p}.self_attn.wqkv_pack.weight`, shape: [(nq + 2 * nkv) * d, h], quant: "linear" },
        { name: `${p}.self_attn.o_proj.weight`, shape: [h, nq * d], quant: "linear" },
        ...(e === 0
          ? [
            { name: `${m}.gate_up_proj.weight`, shape: [2 * i, h], quant: "linear" as const },
            { name: `${m}.down_proj.weight`, shape: [h, i], quant: "linear" as const },
          ]
          : [
            // minicpm_model.py L175-L192: gate, e1_e3, e2; minicpm_loader.py L80-L135
            { name: `${m}.gate.weight`, shape: [e, h], quant: "linear" as const },
            ...stackedExperts({
              gateUp: `${m}.e1_e3`,
              down: `${m}.e2`,
              hf: m,
              experts: e,
              hidden: h,
              inter: i,
              names: ["w1", "w3", "w2"],
            }),
          ]),
        { name: `${p}.input_layernorm.weight`, shape: [h] },
        { name: `${p}.post_attention_layernorm.weight`, shape: [h] },
      );
    }
    specs.push({ name: "model.norm.weight", shape: [h] });
    // minicpm_loader.py L137-L140: no lm_head when tied
    if (!cfg.tie_word_embeddings) specs.push({ name: "lm_head.weight", shape: [v, h], quant: "linear" });
    return standardMapping(specs, { numLayers: layers, qkvTargetName: "wqkv_pack" });
  },
};
