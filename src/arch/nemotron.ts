/**
 * `nemotron`: NemotronForCausalLM checkpoints (Minitron-4B/8B, Nemotron-Mini-4B). Fused
 * `qkv_proj`; the MLP has no gate (`up_proj`, `down_proj`, biases when `mlp_bias`), so there
 * is no gate/up fusion (`nemotron_loader.py`); LayerNorm1P norms carry weight and bias (the
 * `+1` is applied by the model at run time, not by the loader). The context window is the
 * required `max_position_embeddings`.
 *
 * @module
 */
import { intField, REQUIRED, resolveHeadDim, resolvePrefill } from "./config.ts";
import { denseDims, from, layerNorm, linear, qkvSources, requireDivisible, same } from "./_dense.ts";
import { declaredUnused } from "./_standard.ts";
import type { Architecture, ArchParam } from "./types.ts";
import { num } from "../pyjson.ts";

/** The nemotron architecture. */
export const nemotron: Architecture = {
  name: "nemotron",
  hfModelTypes: ["nemotron"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "NemotronConfig",
    fields: [
      ["vocab_size", REQUIRED],
      ["max_position_embeddings", REQUIRED],
      ["hidden_size", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["num_key_value_heads", REQUIRED],
      ["rope_theta", 10000],
      ["partial_rotary_factor", 0.5],
      ["rope_scaling", null],
      ["norm_eps", 1e-5],
      ["head_dim", 0],
      ["tie_word_embeddings", false],
      ["mlp_bias", false],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["tensor_parallel_shards", 1],
      ["pipeline_parallel_stages", 1],
      ["max_batch_size", 1],
      ["disaggregation", false],
    ],
    postInit(cfg, _kwargs, log) {
      if (num(cfg.context_window_size) === 0) cfg.context_window_size = cfg.max_position_embeddings;
      resolveHeadDim(cfg);
      // (rotary_dim is set on the object too, but it is not a dataclass field: not in model_config)
      resolvePrefill(cfg, log);
    },
  },
  params(cfg) {
    const { h, i, nq, nkv, d } = denseDims(cfg);
    requireDivisible(h, nq, "hidden_size", "num_attention_heads");
    const mlpBias = !!cfg.mlp_bias;
    const out: ArchParam[] = [same("model.embed_tokens.weight", ["vocab_size", h], { quant: "embedding" })];
    for (let l = 0; l < intField(cfg, "num_hidden_layers"); l++) {
      const p = `model.layers.${l}`;
      const a = `${p}.self_attn`;
      out.push(
        from(`${a}.qkv_proj.weight`, [(nq + 2 * nkv) * d, h], qkvSources(a, "weight"), { quant: "linear" }),
        ...linear(`${a}.o_proj`, h, nq * d, false),
        ...linear(`${p}.mlp.up_proj`, i, h, mlpBias),
        ...linear(`${p}.mlp.down_proj`, h, i, mlpBias),
        ...layerNorm(`${p}.input_layernorm`, h),
        ...layerNorm(`${p}.post_attention_layernorm`, h),
      );
    }
    out.push(...layerNorm("model.norm", h));
    if (!cfg.tie_word_embeddings) out.push(...linear("lm_head", "vocab_size", h, false));
    return out;
  },
  isUnused: declaredUnused([/^model\.layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$/]),
};
