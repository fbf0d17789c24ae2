/**
 * `internlm`: InternLMForCausalLM checkpoints (InternLM-7B / internlm-chat-7b, remote code).
 * The standard loader with the fused q/k/v named `wqkv_pack` and, when `bias`, its fused bias
 * and an `o_proj` bias (`internlm_loader.py`); multi-head attention only (no GQA field).
 *
 * @module
 */
import { intField, REQUIRED, standardPostInit } from "./config.ts";
import { denseDims, from, linear, qkvSources, same } from "./_dense.ts";
import { declaredUnused } from "./_standard.ts";
import type { Architecture, ArchParam } from "./types.ts";

/** The internlm architecture. */
export const internlm: Architecture = {
  name: "internlm",
  hfModelTypes: ["internlm"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "InternLMConfig",
    fields: [
      ["vocab_size", REQUIRED],
      ["hidden_size", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["rms_norm_eps", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["bias", REQUIRED],
      ["use_cache", REQUIRED],
      ["pad_token_id", REQUIRED],
      ["bos_token_id", REQUIRED],
      ["eos_token_id", REQUIRED],
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
    const bias = !!cfg.bias;
    const out: ArchParam[] = [same("model.embed_tokens.weight", [v, h], { quant: "embedding" })];
    for (let l = 0; l < intField(cfg, "num_hidden_layers"); l++) {
      const p = `model.layers.${l}`;
      const a = `${p}.self_attn`;
      out.push(from(`${a}.wqkv_pack.weight`, [3 * nq * d, h], qkvSources(a, "weight"), { quant: "linear" }));
      if (bias) out.push(from(`${a}.wqkv_pack.bias`, [3 * nq * d], qkvSources(a, "bias")));
      out.push(
        ...linear(`${a}.o_proj`, h, nq * d, bias),
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
  isUnused: declaredUnused([/^model\.layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$/]),
};
