/**
 * `starcoder2`: Starcoder2ForCausalLM checkpoints (StarCoder 2 3B/7B/15B). Fused `wqkv_pack`
 * (q/k/v concatenated, with the biases when `use_bias`), LayerNorms with bias, and an
 * `lm_head` that MLC always builds from `model.embed_tokens.weight` (`starcoder2_loader.py`
 * adds it first, so it is written right before the embedding; an `lm_head.weight` in the
 * checkpoint is only reported as unused).
 *
 * @module
 */
import { intField, REQUIRED, standardPostInit } from "./config.ts";
import { denseDims, from, layerNorm, linear, qkvSources, same } from "./_dense.ts";
import type { Architecture, ArchParam } from "./types.ts";

/** The starcoder2 architecture. */
export const starcoder2: Architecture = {
  name: "starcoder2",
  hfModelTypes: ["starcoder2"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "Starcoder2Config",
    fields: [
      ["vocab_size", REQUIRED],
      ["hidden_size", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["num_key_value_heads", REQUIRED],
      ["hidden_act", REQUIRED],
      ["norm_epsilon", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["rope_theta", REQUIRED],
      ["use_bias", REQUIRED],
      ["use_cache", REQUIRED],
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
  /** `param_map` order: `lm_head.weight` first (starcoder2_loader.py), then module order. */
  params(cfg) {
    const { h, i, nq, nkv, d, v } = denseDims(cfg);
    const bias = !!cfg.use_bias;
    const out: ArchParam[] = [
      from("lm_head.weight", [v, h], ["model.embed_tokens.weight"], { quant: "linear" }),
      same("model.embed_tokens.weight", [v, h], { quant: "embedding" }),
    ];
    for (let l = 0; l < intField(cfg, "num_hidden_layers"); l++) {
      const p = `model.layers.${l}`;
      const a = `${p}.self_attn`;
      const qkv = (nq + 2 * nkv) * d;
      out.push(from(`${a}.wqkv_pack.weight`, [qkv, h], qkvSources(a, "weight"), { quant: "linear" }));
      if (bias) out.push(from(`${a}.wqkv_pack.bias`, [qkv], qkvSources(a, "bias")));
      out.push(
        ...linear(`${a}.o_proj`, h, nq * d, bias),
        ...linear(`${p}.mlp.c_fc`, i, h, bias),
        ...linear(`${p}.mlp.c_proj`, h, i, bias),
        ...layerNorm(`${p}.input_layernorm`, h),
        ...layerNorm(`${p}.post_attention_layernorm`, h),
      );
    }
    out.push(...layerNorm("model.norm", h));
    return out;
  },
};
