/**
 * `qwen3_moe`: Qwen3MoeForCausalLM checkpoints (Qwen3-30B-A3B, Qwen3-235B-A22B). Qwen3
 * attention (fused `c_attn`, per-head q/k norms, biases only under `attention_bias`); per layer
 * the router `mlp.gate` (kept in the model dtype) and the experts stacked into
 * `moe_gate_up_proj` / `moe_down_proj`; no shared expert; the head is never tied
 * (`python/mlc_llm/model/qwen3_moe/qwen3_moe_loader.py`, `qwen3_moe_model.py`). FP8
 * block-quantized checkpoints need MLC's block-scale quantizations, which are not offered here.
 *
 * @module
 */
import { ConfigError, intField } from "./config.ts";
import { stackedExperts } from "./_moe.ts";
import { type ParamSpec, standardMapping } from "./_standard.ts";
import type { Architecture } from "./types.ts";
import { QWEN_MOE_FIELDS, qwenMoeExperts } from "./qwen2_moe.ts";
import { qwen3 } from "./qwen3.ts";

/** The qwen3_moe architecture. */
export const qwen3Moe: Architecture = {
  name: "qwen3_moe",
  hfModelTypes: ["qwen3_moe"],
  quantKinds: ["no-quant", "group-quant"],
  refusesKnLayout: "always",
  configClass: {
    className: "Qwen3MoeConfig",
    // Qwen3MoeConfig(Qwen3Config): the parent's fields and __post_init__ (2048 prefill cap) first
    fields: [...qwen3.configClass.fields, ...QWEN_MOE_FIELDS],
    postInit: (cfg, kwargs, log) => qwen3.configClass.postInit(cfg, kwargs, log),
  },
  params(cfg) {
    if (cfg.weight_block_size !== null && cfg.weight_block_size !== undefined) {
      // qwen3_moe_loader.py L54-L61
      throw new ConfigError(
        "The input Qwen3 model is fp8 block quantized (quantization_config fp8/e4m3); only MLC's " +
          "block-scale quantizations can convert it (--quantization fp8_e4m3fn_bf16_block_scale)",
      );
    }
    const h = intField(cfg, "hidden_size");
    const nq = intField(cfg, "num_attention_heads");
    const nkv = intField(cfg, "num_key_value_heads");
    const d = intField(cfg, "head_dim");
    const v = intField(cfg, "vocab_size");
    const layers = intField(cfg, "num_hidden_layers");
    if (d === 0) {
      throw new ConfigError("qwen3_moe needs an explicit head_dim in config.json (MLC does not derive it)");
    }
    const e = qwenMoeExperts(cfg);
    const bias = cfg.attention_bias === true;
    const specs: ParamSpec[] = [{ name: "model.embed_tokens.weight", shape: [v, h], quant: "embedding" }];
    for (let l = 0; l < layers; l++) {
      const p = `model.layers.${l}`;
      const a = `${p}.self_attn`;
      specs.push({ name: `${a}.c_attn.weight`, shape: [(nq + 2 * nkv) * d, h], quant: "linear" });
      if (bias) specs.push({ name: `${a}.c_attn.bias`, shape: [(nq + 2 * nkv) * d] });
      specs.push({ name: `${a}.o_proj.weight`, shape: [h, nq * d], quant: "linear" });
      if (bias) specs.push({ name: `${a}.o_proj.bias`, shape: [h] });
      specs.push(
        { name: `${a}.q_norm.weight`, shape: [d] },
        { name: `${a}.k_norm.weight`, shape: [d] },
        // qwen3_moe_model.py L66-L80: gate, moe_gate_up_proj, moe_down_proj
        { name: `${p}.mlp.gate.weight`, shape: [e, h], quant: "linear" },
        ...stackedExperts({
          gateUp: `${p}.mlp.moe_gate_up_proj`,
          down: `${p}.mlp.moe_down_proj`,
          hf: `${p}.mlp`,
          experts: e,
          hidden: h,
          inter: intField(cfg, "moe_intermediate_size"),
        }),
        { name: `${p}.input_layernorm.weight`, shape: [h] },
        { name: `${p}.post_attention_layernorm.weight`, shape: [h] },
      );
    }
    specs.push(
      { name: "model.norm.weight", shape: [h] },
      { name: "lm_head.weight", shape: [v, h], quant: "linear" },
    );
    return standardMapping(specs, {
      numLayers: layers,
      qkvTargetName: "c_attn",
      addQkvBias: bias,
      includeGateUp: false,
    });
  },
};
