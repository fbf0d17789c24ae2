/**
 * `cohere`: CohereForCausalLM checkpoints (Aya-23 8B/35B, Command-R). Fused `qkv_proj`, an
 * `out_proj` read from HF's `o_proj` (`cohere_loader._cohere_name_transform`), separate
 * `gate_proj`/`up_proj`/`down_proj` (no fusion), one weight-only LayerNorm per layer (attention
 * and MLP run in parallel) and no head: the logits use the embedding (`logit_scale` at run time).
 * Config quirk kept from MLC: every derived value (context window, prefill chunk, kv heads,
 * `head_dim`) is set only when `position_embedding_base` is 0, and `rope_theta` is read, not
 * popped. `use_qk_norm` weights (Command-R+) are not in MLC's model: they are reported unused.
 *
 * @module
 */
import { ConfigError, intField, REQUIRED, resolvePrefill } from "./_config.ts";
import { from, linear, qkvSources, requireDivisible, same } from "./_dense.ts";
import type { Architecture, ArchParam } from "./_types.ts";
import { num } from "../pyjson.ts";

/** The cohere architecture. */
export const cohere: Architecture = {
  name: "cohere",
  hfModelTypes: ["cohere"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "CohereConfig",
    fields: [
      ["model_type", REQUIRED],
      ["hidden_size", REQUIRED],
      ["vocab_size", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["num_key_value_heads", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["layer_norm_eps", REQUIRED],
      ["position_embedding_base", 0],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["head_dim", 0],
      ["tensor_parallel_shards", 1],
      ["max_batch_size", 1],
    ],
    postInit(cfg, kwargs, log) {
      if (num(cfg.position_embedding_base) !== 0) return; // cohere_model.py: all of it under this if
      cfg.position_embedding_base = Object.hasOwn(kwargs, "rope_theta") ? kwargs.rope_theta : 10000;
      if (num(cfg.context_window_size) === 0) {
        for (const k of ["max_position_embeddings", "max_sequence_length"]) {
          if (Object.hasOwn(kwargs, k)) {
            cfg.context_window_size = kwargs[k];
            delete kwargs[k];
            log(
              "info",
              `context_window_size not found in config.json. Falling back to ${k} (${
                String(cfg.context_window_size)
              })`,
            );
            break;
          }
        }
      }
      resolvePrefill(cfg, log);
      if (cfg.num_key_value_heads === null || num(cfg.num_key_value_heads) === 0) {
        cfg.num_key_value_heads = cfg.num_attention_heads;
      }
      const nq = intField(cfg, "num_attention_heads");
      const h = intField(cfg, "hidden_size");
      if (num(cfg.head_dim) === 0) cfg.head_dim = Math.floor(h / nq);
      if (intField(cfg, "head_dim") * nq !== h) {
        throw new ConfigError("head_dim * num_attention_heads != hidden_size");
      }
      if (nq % intField(cfg, "num_key_value_heads") !== 0) {
        throw new ConfigError("num_attention_heads % num_key_value_heads != 0");
      }
    },
  },
  params(cfg) {
    const h = intField(cfg, "hidden_size");
    const i = intField(cfg, "intermediate_size");
    const nq = intField(cfg, "num_attention_heads");
    const nkv = intField(cfg, "num_key_value_heads");
    const d = intField(cfg, "head_dim");
    requireDivisible(h, nq, "hidden_size", "num_attention_heads");
    if (d === 0) {
      throw new ConfigError(
        "head_dim is 0: CohereConfig derives it only when position_embedding_base is 0 (set head_dim in config.json)",
      );
    }
    const out: ArchParam[] = [same("model.embed_tokens.weight", ["vocab_size", h], { quant: "embedding" })];
    for (let l = 0; l < intField(cfg, "num_hidden_layers"); l++) {
      const p = `model.layers.${l}`;
      const a = `${p}.self_attn`;
      out.push(
        from(`${a}.qkv_proj.weight`, [(nq + 2 * nkv) * d, h], qkvSources(a, "weight"), { quant: "linear" }),
        from(`${a}.out_proj.weight`, [h, nq * d], [`${a}.o_proj.weight`], { quant: "linear" }),
        ...linear(`${p}.mlp.gate_proj`, i, h, false),
        ...linear(`${p}.mlp.up_proj`, i, h, false),
        ...linear(`${p}.mlp.down_proj`, h, i, false),
        same(`${p}.input_layernorm.weight`, [h]),
      );
    }
    out.push(same("model.norm.weight", [h]));
    return out;
  },
};
