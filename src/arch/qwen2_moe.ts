/**
 * `qwen2_moe`: Qwen2MoeForCausalLM checkpoints (Qwen1.5-MoE-A2.7B, Qwen2-57B-A14B). Qwen2
 * attention (fused `c_attn` with its bias); per layer a shared expert (`gate_up_proj`, its
 * `shared_expert_gate` router) beside the routed experts stacked into `moe_gate_up_proj` and
 * `moe_down_proj`; both routers stay in the model dtype (`is_moe_gate`). The head is never tied
 * (`python/mlc_llm/model/qwen2_moe/qwen2_moe_loader.py`, `qwen2_moe_model.py`).
 *
 * @module
 */
import { ConfigError, intField, type ModelConfig } from "./config.ts";
import { expertCount, stackedExperts } from "./_moe.ts";
import { type ParamSpec, standardMapping } from "./_standard.ts";
import type { Architecture } from "./types.ts";
import { qwen2, QWEN_ACTIVATIONS } from "./qwen2.ts";

/** The fields the Qwen MoE config classes add to their dense parent. */
export const QWEN_MOE_FIELDS = [
  ["moe_intermediate_size", 0],
  ["num_experts_per_tok", 0],
  ["num_experts", 0],
  ["decoder_sparse_step", 0],
  ["norm_topk_prob", false],
] as const;

/**
 * The checks of MLC's Qwen MoE decoder layer (`assert config.num_experts > 0 and
 * decoder_sparse_step == 1`) and MLP (`ACT2FN[hidden_act]`); returns the expert count.
 *
 * @example
 * ```ts ignore
 * qwenMoeExperts({ num_experts: 60, decoder_sparse_step: 1, hidden_act: "silu" }); // 60
 * ```
 */
export function qwenMoeExperts(cfg: ModelConfig): number {
  const e = expertCount(cfg, "num_experts");
  if (intField(cfg, "decoder_sparse_step") !== 1) {
    throw new ConfigError(
      `decoder_sparse_step must be 1 (MLC: "Currently only support use moe for every layer."), got ${
        JSON.stringify(cfg.decoder_sparse_step)
      }`,
    );
  }
  if (!QWEN_ACTIVATIONS.includes(cfg.hidden_act as string)) {
    throw new ConfigError(`hidden_act ${JSON.stringify(cfg.hidden_act)} is not supported`);
  }
  return e;
}

/** The qwen2_moe architecture. */
export const qwen2Moe: Architecture = {
  name: "qwen2_moe",
  hfModelTypes: ["qwen2_moe"],
  quantKinds: ["no-quant", "group-quant"],
  refusesKnLayout: "always",
  configClass: {
    className: "Qwen2MoeConfig",
    // Qwen2MoeConfig(QWen2Config): the parent's fields and __post_init__ first
    fields: [
      ...qwen2.configClass.fields,
      ["moe_intermediate_size", 0],
      ["shared_expert_intermediate_size", 0],
      ...QWEN_MOE_FIELDS.slice(1),
    ],
    postInit: (cfg, kwargs, log) => qwen2.configClass.postInit(cfg, kwargs, log),
  },
  params(cfg) {
    const h = intField(cfg, "hidden_size");
    const nq = intField(cfg, "num_attention_heads");
    const nkv = intField(cfg, "num_key_value_heads");
    const d = intField(cfg, "head_dim");
    const v = intField(cfg, "vocab_size");
    const layers = intField(cfg, "num_hidden_layers");
    const e = qwenMoeExperts(cfg);
    const si = intField(cfg, "shared_expert_intermediate_size");
    const specs: ParamSpec[] = [{ name: "model.embed_tokens.weight", shape: [v, h], quant: "embedding" }];
    for (let l = 0; l < layers; l++) {
      const p = `model.layers.${l}`;
      const m = `${p}.mlp`;
      specs.push(
        { name: `${p}.self_attn.c_attn.weight`, shape: [(nq + 2 * nkv) * d, h], quant: "linear" },
        { name: `${p}.self_attn.c_attn.bias`, shape: [(nq + 2 * nkv) * d] },
        { name: `${p}.self_attn.o_proj.weight`, shape: [h, nq * d], quant: "linear" },
        // qwen2_moe_model.py L68-L85: shared_expert, shared_expert_gate, gate, experts
        // qwen2_moe_loader.py L62-L77: shared_expert.gate_up_proj <- gate_proj | up_proj
        {
          name: `${m}.shared_expert.gate_up_proj.weight`,
          shape: [2 * si, h],
          quant: "linear",
          sources: [`${m}.shared_expert.gate_proj.weight`, `${m}.shared_expert.up_proj.weight`],
        },
        { name: `${m}.shared_expert.down_proj.weight`, shape: [h, si], quant: "linear" },
        { name: `${m}.shared_expert_gate.weight`, shape: [1, h], quant: "linear" },
        { name: `${m}.gate.weight`, shape: [e, h], quant: "linear" },
        ...stackedExperts({
          gateUp: `${m}.moe_gate_up_proj`,
          down: `${m}.moe_down_proj`,
          hf: m,
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
      addQkvBias: true,
      includeGateUp: false,
    });
  },
};
