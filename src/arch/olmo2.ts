/**
 * `olmo2`: Olmo2ForCausalLM checkpoints (OLMo-2-1124-7B/13B, OLMo-2-0325-32B, OLMo-2-0425-1B).
 * As `olmo`, plus per layer RMSNorm `q_norm` (`Nq*D`) and `k_norm` (`Nkv*D`) after the
 * projections, and the layer norms after the sublayers (`post_attention_layernorm`,
 * `post_feedforward_layernorm`) and a final `model.norm` (`olmo2_loader.py`, standard loader).
 *
 * @module
 */
import { intField } from "./config.ts";
import { linear, same } from "./_dense.ts";
import { olmoLayer, olmoModelChecks, olmoPostInit } from "./_olmo.ts";
import { declaredUnused } from "./_standard.ts";
import type { Architecture, ArchParam } from "./types.ts";

/** The olmo2 architecture. */
export const olmo2: Architecture = {
  name: "olmo2",
  hfModelTypes: ["olmo2"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "OLMo2Config",
    fields: [
      ["vocab_size", null],
      ["hidden_size", null],
      ["num_attention_heads", null],
      ["num_key_value_heads", 0],
      ["head_dim", 0],
      ["position_embedding_base", 0],
      ["rope_scaling", null],
      ["intermediate_size", null],
      ["hidden_act", null],
      ["num_hidden_layers", null],
      ["rms_norm_eps", 1e-5],
      ["tie_word_embeddings", false],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["tensor_parallel_shards", 1],
      ["pipeline_parallel_stages", 1],
      ["max_batch_size", 1],
    ],
    postInit: olmoPostInit,
  },
  params(cfg) {
    olmoModelChecks(cfg);
    const h = intField(cfg, "hidden_size");
    const v = intField(cfg, "vocab_size");
    const d = intField(cfg, "head_dim");
    const out: ArchParam[] = [same("model.embed_tokens.weight", [v, h], { quant: "embedding" })];
    for (let l = 0; l < intField(cfg, "num_hidden_layers"); l++) {
      const p = `model.layers.${l}`;
      out.push(
        ...olmoLayer(cfg, p, [
          same(`${p}.self_attn.q_norm.weight`, [intField(cfg, "num_attention_heads") * d]),
          same(`${p}.self_attn.k_norm.weight`, [intField(cfg, "num_key_value_heads") * d]),
        ]),
        same(`${p}.post_attention_layernorm.weight`, [h]),
        same(`${p}.post_feedforward_layernorm.weight`, [h]),
      );
    }
    out.push(same("model.norm.weight", [h]));
    if (!cfg.tie_word_embeddings) out.push(...linear("lm_head", v, h, false));
    return out;
  },
  isUnused: declaredUnused([/^model\.layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$/]),
};
