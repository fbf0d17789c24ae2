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
import {
  ConfigError,
  intField,
  REQUIRED,
  resolveContextWindow,
  resolveHeadDim,
  resolveKvHeads,
  resolvePrefill,
} from "./config.ts";
import { denseDims, from, linear, qkvSources, requireDivisible, same } from "./_dense.ts";
import type { Architecture, ArchParam } from "./types.ts";
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
      // the window keys are optional here: no error when none is present
      if (["max_position_embeddings", "max_sequence_length"].some((k) => Object.hasOwn(kwargs, k))) {
        resolveContextWindow(cfg, kwargs, log);
      }
      resolvePrefill(cfg, log);
      resolveKvHeads(cfg);
      resolveHeadDim(cfg);
    },
  },
  params(cfg) {
    const { h, i, nq, nkv, d } = denseDims(cfg);
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
