/**
 * `baichuan`: BaichuanForCausalLM checkpoints (Baichuan-7B, Baichuan2-7B/13B, remote code). HF
 * already stores q/k/v fused as `W_pack` (copied 1:1); `gate_up_proj` is gate then up; the head
 * is always a separate `lm_head` (`baichuan_loader.py`: the standard loader without q/k/v
 * fusion). As in MLC, Baichuan2's `lm_head` is copied as stored (HF normalizes its rows at run
 * time; MLC's model does not).
 *
 * @module
 */
import { intField, REQUIRED, standardPostInit } from "./config.ts";
import { denseDims, from, linear, same } from "./_dense.ts";
import type { Architecture, ArchParam } from "./types.ts";

/** The baichuan architecture. */
export const baichuan: Architecture = {
  name: "baichuan",
  hfModelTypes: ["baichuan"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "BaichuanConfig",
    fields: [
      ["vocab_size", REQUIRED],
      ["hidden_size", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["initializer_range", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["rms_norm_eps", REQUIRED],
      ["use_cache", REQUIRED],
      ["pad_token_id", REQUIRED],
      ["bos_token_id", REQUIRED],
      ["eos_token_id", REQUIRED],
      ["tie_word_embeddings", REQUIRED],
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
    const out: ArchParam[] = [same("model.embed_tokens.weight", [v, h], { quant: "embedding" })];
    for (let l = 0; l < intField(cfg, "num_hidden_layers"); l++) {
      const p = `model.layers.${l}`;
      out.push(
        ...linear(`${p}.self_attn.W_pack`, 3 * nq * d, h, false),
        ...linear(`${p}.self_attn.o_proj`, h, nq * d, false),
        from(`${p}.mlp.gate_up_proj.weight`, [2 * i, h], [
          `${p}.mlp.gate_proj.weight`,
          `${p}.mlp.up_proj.weight`,
        ], {
          quant: "linear",
        }),
        ...linear(`${p}.mlp.down_proj`, h, i, false),
        same(`${p}.input_layernorm.weight`, [h]),
        same(`${p}.post_attention_layernorm.weight`, [h]),
      );
    }
    out.push(same("model.norm.weight", [h]), ...linear("lm_head", v, h, false));
    return out;
  },
};
