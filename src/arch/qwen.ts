/**
 * `qwen`: QWenLMHeadModel checkpoints (Qwen-1: Qwen-1.8B/7B/14B(-Chat), remote code). HF stores
 * `attn.c_attn` fused (1:1, with its bias); MLC's `mlp.gate_up_proj` is `w1` then `w2`
 * concatenated (`qwen_loader.py`), so its rows are the full HF `intermediate_size` and `c_proj`
 * takes half of it. Layer names keep HF's `transformer.h.{i}` prefix.
 *
 * @module
 */
import { intField, REQUIRED, standardPostInit } from "./config.ts";
import { denseDims, from, linear, same } from "./_dense.ts";
import type { Architecture, ArchParam } from "./types.ts";

/** The qwen architecture. */
export const qwen: Architecture = {
  name: "qwen",
  hfModelTypes: ["qwen"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "QWenConfig",
    fields: [
      ["vocab_size", REQUIRED],
      ["hidden_size", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["layer_norm_epsilon", REQUIRED],
      ["scale_attn_weights", REQUIRED],
      ["kv_channels", REQUIRED],
      ["rotary_emb_base", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["tensor_parallel_shards", 1],
      ["max_batch_size", 1],
      ["head_dim", 0],
    ],
    postInit: (cfg, kwargs, log) => standardPostInit(cfg, kwargs, log),
  },
  params(cfg) {
    const { h, i, nq, d, v } = denseDims(cfg);
    const out: ArchParam[] = [same("transformer.wte.weight", [v, h], { quant: "embedding" })];
    for (let l = 0; l < intField(cfg, "num_hidden_layers"); l++) {
      const p = `transformer.h.${l}`;
      out.push(
        ...linear(`${p}.attn.c_attn`, 3 * nq * d, h, true),
        ...linear(`${p}.attn.c_proj`, h, nq * d, false),
        from(`${p}.mlp.gate_up_proj.weight`, [i, h], [`${p}.mlp.w1.weight`, `${p}.mlp.w2.weight`], {
          quant: "linear",
        }),
        ...linear(`${p}.mlp.c_proj`, h, Math.floor(i / 2), false),
        same(`${p}.ln_1.weight`, [h]),
        same(`${p}.ln_2.weight`, [h]),
      );
    }
    out.push(same("transformer.ln_f.weight", [h]), ...linear("lm_head", v, h, false));
    return out;
  },
};
