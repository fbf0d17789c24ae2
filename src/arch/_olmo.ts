/**
 * What `olmo` and `olmo2` share: `OLMoConfig`/`OLMo2Config.__post_init__` (every field has a
 * default; `num_key_value_heads` and `head_dim` derived; rope base from `rope_theta`; standard
 * window rules; `pipeline_parallel_stages` in `[1, L]`) and the llama-like attention and MLP.
 *
 * @module
 */
import {
  ConfigError,
  type ConfigLog,
  intField,
  type ModelConfig,
  resolveContextWindow,
  resolvePrefill,
  resolveRopeBase,
} from "./config.ts";
import { denseDims, from, linear, qkvSources, requireActivation, requireDivisible } from "./_dense.ts";
import type { ArchParam } from "./types.ts";
import { num } from "../pyjson.ts";

/**
 * `OLMoConfig.__post_init__` up to the pipeline check (shared with OLMo2).
 *
 * @example
 * ```ts ignore
 * olmoPostInit(cfg, kwargs, log);
 * ```
 */
export function olmoPostInit(cfg: ModelConfig, kwargs: Record<string, unknown>, log: ConfigLog): void {
  if (num(cfg.num_key_value_heads) === 0) cfg.num_key_value_heads = cfg.num_attention_heads;
  const nq = intField(cfg, "num_attention_heads");
  if (num(cfg.head_dim) === 0) cfg.head_dim = Math.floor(intField(cfg, "hidden_size") / nq);
  if (nq % intField(cfg, "num_key_value_heads") !== 0) {
    throw new ConfigError("num_attention_heads must be a multiple of num_key_value_heads");
  }
  resolveRopeBase(cfg, kwargs);
  resolveContextWindow(cfg, kwargs, log);
  resolvePrefill(cfg, log);
  const pps = intField(cfg, "pipeline_parallel_stages");
  if (pps <= 0 || pps > intField(cfg, "num_hidden_layers")) {
    throw new ConfigError(`Invalid "pipeline_parallel_stages" value(${pps}). `);
  }
}

/**
 * One OLMo layer's attention and MLP: `qkv_proj` (q/k/v concatenated), `o_proj`, then
 * `extra` (OLMo2's q/k norms), `gate_up_proj` (gate/up concatenated), `down_proj`.
 *
 * @example
 * ```ts ignore
 * olmoLayer(cfg, "model.layers.0", []);
 * ```
 */
export function olmoLayer(cfg: ModelConfig, p: string, extra: ArchParam[]): ArchParam[] {
  const { h, i, nq, nkv, d } = denseDims(cfg);
  const a = `${p}.self_attn`;
  return [
    from(`${a}.qkv_proj.weight`, [(nq + 2 * nkv) * d, h], qkvSources(a, "weight"), { quant: "linear" }),
    ...linear(`${a}.o_proj`, h, nq * d, false),
    ...extra,
    from(
      `${p}.mlp.gate_up_proj.weight`,
      [2 * i, h],
      [`${p}.mlp.gate_proj.weight`, `${p}.mlp.up_proj.weight`],
      {
        quant: "linear",
      },
    ),
    ...linear(`${p}.mlp.down_proj`, h, i, false),
  ];
}

/**
 * The model-construction checks of OLMo/OLMo2: `hidden_size % num_attention_heads == 0`
 * (`OLMoModel`) and `ACT2FN[hidden_act]` (`OLMoFFN`).
 *
 * @example
 * ```ts ignore
 * olmoModelChecks(cfg);
 * ```
 */
export function olmoModelChecks(cfg: ModelConfig): void {
  requireDivisible(
    intField(cfg, "hidden_size"),
    intField(cfg, "num_attention_heads"),
    "hidden_size",
    "num_attention_heads",
  );
  requireActivation(cfg, "hidden_act");
}
