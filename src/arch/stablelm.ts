/**
 * `stablelm`: StableLmForCausalLM checkpoints (StableLM-3B-4E1T, StableLM 2 1.6B / Zephyr). The
 * standard loader with a fused `qkv_proj` (plus its bias when `use_qkv_bias`, StableLM 2),
 * fused `gate_up_proj`, LayerNorms with bias and an untied `lm_head` (`stablelm_loader.py`).
 * `qk_layernorm` weights (StableLM 2 12B) are not part of MLC's model: they are reported unused.
 *
 * @module
 */
import { intField, REQUIRED, standardPostInit } from "./config.ts";
import { denseDims, from, layerNorm, linear, qkvSources, same } from "./_dense.ts";
import type { Architecture, ArchParam } from "./types.ts";

/** The stablelm architecture. */
export const stablelm: Architecture = {
  name: "stablelm",
  hfModelTypes: ["stablelm"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "StableLmConfig",
    fields: [
      ["vocab_size", REQUIRED],
      ["hidden_size", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["num_key_value_heads", REQUIRED],
      ["layer_norm_eps", REQUIRED],
      ["partial_rotary_factor", REQUIRED],
      ["rope_theta", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["use_qkv_bias", false],
      ["head_dim", 0],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["tensor_parallel_shards", 1],
      ["max_batch_size", 1],
    ],
    postInit: (cfg, kwargs, log) => standardPostInit(cfg, kwargs, log),
  },
  params(cfg) {
    const { h, i, nq, nkv, d, v } = denseDims(cfg);
    const out: ArchParam[] = [same("model.embed_tokens.weight", [v, h], { quant: "embedding" })];
    for (let l = 0; l < intField(cfg, "num_hidden_layers"); l++) {
      const p = `model.layers.${l}`;
      const a = `${p}.self_attn`;
      const qkv = (nq + 2 * nkv) * d;
      out.push(from(`${a}.qkv_proj.weight`, [qkv, h], qkvSources(a, "weight"), { quant: "linear" }));
      if (cfg.use_qkv_bias) out.push(from(`${a}.qkv_proj.bias`, [qkv], qkvSources(a, "bias")));
      out.push(
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
    out.push(...layerNorm("model.norm", h), ...linear("lm_head", v, h, false));
    return out;
  },
};
