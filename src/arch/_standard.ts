/**
 * Helpers shared by architecture files: MLC's `make_standard_hf_loader` mapping rules.
 *
 * @module
 */
import type { ArchParam, Dim } from "./_types.ts";

/** A parameter described by its MLC name and shape; sources default to the same name. */
export interface ParamSpec {
  /** MLC name. */
  name: string;
  /** Shape. */
  shape: Dim[];
  /** Quantizable module kind of the owner. */
  quant?: "linear" | "embedding";
  /** Pinned float32. */
  dtype?: "float32";
}

/** Options of the standard HF loader (subset of MLC's). */
export interface StandardLoaderOptions {
  /** Layer prefix, default `model.layers`. */
  layerPrefix?: string;
  /** Number of layers. */
  numLayers: number;
  /** Fuse q/k/v into `qkv_proj` (default true). */
  includeQkv?: boolean;
  /** Also fuse the q/k/v biases. */
  addQkvBias?: boolean;
  /** Fuse gate/up into `gate_up_proj` (default true). */
  includeGateUp?: boolean;
}

/**
 * Attaches HF sources to module-order parameters the way `make_standard_hf_loader` does:
 * fused `qkv_proj` from q/k/v (axis 0), fused `gate_up_proj` from gate/up, others 1:1.
 *
 * @example
 * ```ts
 * import { standardMapping } from "./_standard.ts";
 * const [p] = standardMapping([{ name: "model.layers.0.self_attn.qkv_proj.weight", shape: [6, 2] }],
 *   { numLayers: 1 });
 * p.sources; // ["model.layers.0.self_attn.q_proj.weight", "...k_proj.weight", "...v_proj.weight"]
 * ```
 */
export function standardMapping(specs: ParamSpec[], opts: StandardLoaderOptions): ArchParam[] {
  const prefix = opts.layerPrefix ?? "model.layers";
  const fused = new Map<string, string[]>();
  for (let i = 0; i < opts.numLayers; i++) {
    const attn = `${prefix}.${i}.self_attn`;
    const mlp = `${prefix}.${i}.mlp`;
    if (opts.includeQkv ?? true) {
      fused.set(`${attn}.qkv_proj.weight`, ["q_proj", "k_proj", "v_proj"].map((n) => `${attn}.${n}.weight`));
      if (opts.addQkvBias) {
        fused.set(`${attn}.qkv_proj.bias`, ["q_proj", "k_proj", "v_proj"].map((n) => `${attn}.${n}.bias`));
      }
    }
    if (opts.includeGateUp ?? true) {
      fused.set(`${mlp}.gate_up_proj.weight`, [`${mlp}.gate_proj.weight`, `${mlp}.up_proj.weight`]);
    }
  }
  return specs.map((s) => ({ ...s, sources: fused.get(s.name) ?? [s.name] }));
}
