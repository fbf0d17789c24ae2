/**
 * Helpers shared by the mixture-of-experts architectures: MLC's stacked expert weights
 * (`MixtralExperts`, `python/mlc_llm/nn/expert.py`) built from per-expert HF tensors the way
 * every MoE loader does (`combine_expert_gate_up`: per expert `np.concatenate([gate, up])`,
 * then `np.stack`; the down projections `np.stack`ed).
 *
 * @module
 */
import { ConfigError, intField, type ModelConfig } from "./config.ts";
import type { ParamSpec } from "./_standard.ts";

/** Options of {@link stackedExperts}. */
export interface StackedExpertsOptions {
  /** MLC module of the experts' gate|up weight (e.g. `model.layers.0.moe.e1_e3`). */
  gateUp: string;
  /** MLC module of the experts' down weight (e.g. `model.layers.0.moe.e2`). */
  down: string;
  /** HF module holding `experts.{e}` (e.g. `model.layers.0.block_sparse_moe`). */
  hf: string;
  /** Number of experts. */
  experts: number;
  /** Hidden size (the gate|up input, the down output). */
  hidden: number;
  /** Intermediate size of one expert. */
  inter: number;
  /** HF names of an expert's gate, up and down projections (default `gate_proj`, `up_proj`, `down_proj`). */
  names?: readonly [gate: string, up: string, down: string];
}

/**
 * The two stacked expert parameters of a MoE block: gate|up `(E, 2I, H)` from
 * `experts.{e}.gate, up` in the order gate_0, up_0, gate_1, up_1, ..., and down `(E, H, I)`
 * from `experts.{e}.down`, both group-quantized as MLC's `MixtralExperts`.
 *
 * @example
 * ```ts
 * import { stackedExperts } from "./_moe.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const [gu, d] = stackedExperts({ gateUp: "m.e1_e3", down: "m.e2", hf: "b", experts: 2, hidden: 8,
 *   inter: 4, names: ["w1", "w3", "w2"] });
 * deepStrictEqual(gu.shape, [2, 8, 8]);
 * deepStrictEqual(gu.sources, ["b.experts.0.w1.weight", "b.experts.0.w3.weight", "b.experts.1.w1.weight", "b.experts.1.w3.weight"]);
 * deepStrictEqual(d.shape, [2, 8, 4]);
 * ```
 */
export function stackedExperts(o: StackedExpertsOptions): ParamSpec[] {
  const [gate, up, down] = o.names ?? ["gate_proj", "up_proj", "down_proj"];
  const ex = (e: number, w: string) => `${o.hf}.experts.${e}.${w}.weight`;
  const ids = Array.from({ length: o.experts }, (_, e) => e);
  const stack = { kind: "stack", experts: o.experts } as const;
  return [
    {
      name: `${o.gateUp}.weight`,
      shape: [o.experts, 2 * o.inter, o.hidden],
      quant: "experts",
      sources: ids.flatMap((e) => [ex(e, gate), ex(e, up)]),
      transform: stack,
    },
    {
      name: `${o.down}.weight`,
      shape: [o.experts, o.hidden, o.inter],
      quant: "experts",
      sources: ids.map((e) => ex(e, down)),
      transform: stack,
    },
  ];
}

/**
 * A positive expert count from the config (MLC's loaders `np.stack` an empty list, and fail,
 * when it is 0).
 *
 * @example
 * ```ts
 * import { expertCount } from "./_moe.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(expertCount({ num_local_experts: 8 }, "num_local_experts"), 8);
 * ```
 */
export function expertCount(cfg: ModelConfig, field: string): number {
  const e = intField(cfg, field);
  if (!Number.isInteger(e) || e < 1) {
    throw new ConfigError(`${field} must be a positive number of experts, got ${JSON.stringify(cfg[field])}`);
  }
  return e;
}
