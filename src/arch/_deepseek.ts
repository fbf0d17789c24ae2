/**
 * The MLP of the DeepSeek families (`deepseek`, `deepseek_v2`, `deepseek_v3`): a dense SwiGLU
 * MLP on the first `first_k_dense_replace` layers (and off the `moe_layer_freq` grid), else a
 * router, the routed experts stacked as MLC's `MixtralExperts` and `n_shared_experts` shared
 * experts fused into one MLP (`python/mlc_llm/model/deepseek/deepseek_loader.py` L63-L137,
 * `deepseek_v2/deepseek_v2_loader.py` L87-L155).
 *
 * @module
 */
import { ConfigError, intField, type ModelConfig } from "./config.ts";
import { expertCount, stackedExperts } from "./_moe.ts";
import type { ParamSpec } from "./_standard.ts";

/**
 * Whether layer `l` is a MoE layer: `l >= first_k_dense_replace and l % moe_layer_freq == 0`.
 *
 * @example
 * ```ts
 * import { isDeepseekMoeLayer } from "./_deepseek.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(isDeepseekMoeLayer({ first_k_dense_replace: 1, moe_layer_freq: 1 }, 0), false);
 * ```
 */
export function isDeepseekMoeLayer(cfg: ModelConfig, l: number): boolean {
  return l >= intField(cfg, "first_k_dense_replace") && l % intField(cfg, "moe_layer_freq") === 0;
}

/**
 * The MLP parameters of layer `l` in module order. With `scoreBias` (DeepSeek-V3's
 * `topk_method == "noaux_tc"`), the router's `e_score_correction_bias` follows it, pinned to
 * float32 (`DeepseekV2MoE.to`, deepseek_v2_model.py L517-L521).
 *
 * @example
 * ```ts ignore
 * deepseekMlp(cfg, "model.layers.1", 1, false).map((p) => p.name);
 * ```
 */
export function deepseekMlp(cfg: ModelConfig, p: string, l: number, scoreBias: boolean): ParamSpec[] {
  const h = intField(cfg, "hidden_size");
  const m = `${p}.mlp`;
  const gateUp = (name: string, inter: number, hf: string): ParamSpec[] => [
    {
      name: `${name}.gate_up_proj.weight`,
      shape: [2 * inter, h],
      quant: "linear",
      sources: [`${hf}.gate_proj.weight`, `${hf}.up_proj.weight`],
    },
    {
      name: `${name}.down_proj.weight`,
      shape: [h, inter],
      quant: "linear",
      sources: [`${hf}.down_proj.weight`],
    },
  ];
  if (!isDeepseekMoeLayer(cfg, l)) return gateUp(m, intField(cfg, "intermediate_size"), m);
  const e = expertCount(cfg, "n_routed_experts");
  const mi = intField(cfg, "moe_intermediate_size");
  if (cfg.n_shared_experts === null || cfg.n_shared_experts === undefined) {
    throw new ConfigError(
      "n_shared_experts must be set: MLC's DeepSeek loaders map shared experts on every MoE layer",
    );
  }
  return [
    { name: `${m}.gate.weight`, shape: [e, h], quant: "linear" },
    ...(scoreBias
      ? [{
        name: `${m}.e_score_correction_bias`,
        shape: [e],
        dtype: "float32" as const,
        sources: [`${m}.gate.e_score_correction_bias`],
      }]
      : []),
    ...stackedExperts({
      gateUp: `${m}.moe_gate_up_proj`,
      down: `${m}.moe_down_proj`,
      hf: m,
      experts: e,
      hidden: h,
      inter: mi,
    }),
    ...gateUp(`${m}.shared_experts`, mi * intField(cfg, "n_shared_experts"), `${m}.shared_experts`),
  ];
}
