/**
 * `olmo`: OlmoForCausalLM checkpoints (OLMo-1B-hf, OLMo-7B-hf, OLMo-7B-0424-hf). LayerNorms are
 * non-parametric, so the only parameters are the embedding, per layer the fused `qkv_proj`,
 * `o_proj`, fused `gate_up_proj` and `down_proj`, and `lm_head` unless tied (the standard loader,
 * `olmo_loader.py`; `rotary_emb.inv_freq` declared unused).
 *
 * @module
 */
import { ConfigError, intField } from "./config.ts";
import { linear, same } from "./_dense.ts";
import { olmoLayer, olmoModelChecks, olmoPostInit } from "./_olmo.ts";
import { declaredUnused } from "./_standard.ts";
import type { Architecture, ArchParam } from "./types.ts";
import { num } from "../pyjson.ts";

/** The olmo architecture. */
export const olmo: Architecture = {
  name: "olmo",
  hfModelTypes: ["olmo"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "OLMoConfig",
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
      ["tie_word_embeddings", false],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["tensor_parallel_shards", 1],
      ["pipeline_parallel_stages", 1],
      ["max_batch_size", 1],
      ["clip_qkv", null],
    ],
    postInit(cfg, kwargs, log) {
      olmoPostInit(cfg, kwargs, log);
      if (cfg.clip_qkv !== null && cfg.clip_qkv !== undefined && !(num(cfg.clip_qkv)! > 0)) {
        throw new ConfigError(
          `'clip_qkv'(${String(num(cfg.clip_qkv) ?? cfg.clip_qkv)}) should be non-negative`,
        );
      }
    },
  },
  params(cfg) {
    olmoModelChecks(cfg);
    const h = intField(cfg, "hidden_size");
    const v = intField(cfg, "vocab_size");
    const out: ArchParam[] = [same("model.embed_tokens.weight", [v, h], { quant: "embedding" })];
    for (let l = 0; l < intField(cfg, "num_hidden_layers"); l++) {
      out.push(...olmoLayer(cfg, `model.layers.${l}`, []));
    }
    if (!cfg.tie_word_embeddings) out.push(...linear("lm_head", v, h, false));
    return out;
  },
  isUnused: declaredUnused([/^model\.layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$/]),
};
