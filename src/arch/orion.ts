/**
 * `orion`: OrionForCausalLM checkpoints (Orion-14B base/chat, remote code). Llama-like fused
 * `qkv_proj` and `gate_up_proj` (standard loader, `orion_loader.py`), but the norms are
 * LayerNorms with a bias; the vocabulary dimension is symbolic.
 *
 * @module
 */
import {
  intField,
  REQUIRED,
  resolveContextWindow,
  resolveHeadDim,
  resolveKvHeads,
  resolvePrefill,
  resolveRopeBase,
} from "./config.ts";
import { denseDims, from, layerNorm, linear, qkvSources, same } from "./_dense.ts";
import { declaredUnused } from "./_standard.ts";
import type { Architecture, ArchParam } from "./types.ts";

/** The orion architecture. */
export const orion: Architecture = {
  name: "orion",
  hfModelTypes: ["orion"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "OrionConfig",
    fields: [
      ["hidden_size", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["rms_norm_eps", REQUIRED],
      ["vocab_size", REQUIRED],
      ["position_embedding_base", 0],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["num_key_value_heads", 0],
      ["head_dim", 0],
      ["tensor_parallel_shards", 1],
      ["max_batch_size", 1],
    ],
    postInit(cfg, kwargs, log) {
      resolveRopeBase(cfg, kwargs);
      resolveContextWindow(cfg, kwargs, log);
      resolveKvHeads(cfg);
      resolveHeadDim(cfg);
      resolvePrefill(cfg, log);
    },
  },
  params(cfg) {
    const { h, i, nq, nkv, d } = denseDims(cfg);
    const out: ArchParam[] = [same("model.embed_tokens.weight", ["vocab_size", h], { quant: "embedding" })];
    for (let l = 0; l < intField(cfg, "num_hidden_layers"); l++) {
      const p = `model.layers.${l}`;
      const a = `${p}.self_attn`;
      out.push(
        from(`${a}.qkv_proj.weight`, [(nq + 2 * nkv) * d, h], qkvSources(a, "weight"), { quant: "linear" }),
        ...linear(`${a}.o_proj`, h, nq * d, false),
        from(`${p}.mlp.gate_up_proj.weight`, [2 * i, h], [
          `${p}.mlp.gate_proj.weight`,
          `${p}.mlp.up_proj.weight`,
        ], {
          quant: "linear",
        }),
        ...linear(`${p}.mlp.down_proj`, h, i, false),
        ...layerNorm(`${p}.input_layernorm`, h),
        ...layerNorm(`${p}.post_attention_layernorm`, h),
      );
    }
    out.push(...layerNorm("model.norm", h), ...linear("lm_head", "vocab_size", h, false));
    return out;
  },
  isUnused: declaredUnused([/^model\.layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$/]),
};
