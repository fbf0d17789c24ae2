/**
 * Helpers shared by architecture files: MLC's `make_standard_hf_loader` mapping rules.
 *
 * @module
 */
import { ConfigError, intField, type ModelConfig } from "./config.ts";
import type { ArchParam, Dim, ParamTransform } from "./types.ts";

/** A parameter described by its MLC name and shape; sources default to the same name. */
export interface ParamSpec {
  /** MLC name. */
  name: string;
  /** Shape. */
  shape: Dim[];
  /** Quantizable module kind of the owner. */
  quant?: "linear" | "embedding" | "experts";
  /** Pinned float32. */
  dtype?: "float32";
  /** Explicit HF sources (a loader's own mapping; default: the standard loader's rules). */
  sources?: string[];
  /** Value transform of explicit sources. */
  transform?: ParamTransform;
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
  /** Name of the fused q/k/v module (default `qkv_proj`; qwen2/qwen3 use `c_attn`). */
  qkvTargetName?: string;
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
 * import { deepStrictEqual } from "node:assert/strict";
 * const [p] = standardMapping([{ name: "model.layers.0.self_attn.qkv_proj.weight", shape: [6, 2] }],
 *   { numLayers: 1 });
 * deepStrictEqual(p.sources, ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.weight"]);
 * ```
 */
export function standardMapping(specs: ParamSpec[], opts: StandardLoaderOptions): ArchParam[] {
  const prefix = opts.layerPrefix ?? "model.layers";
  const fused = new Map<string, string[]>();
  for (let i = 0; i < opts.numLayers; i++) {
    const attn = `${prefix}.${i}.self_attn`;
    const mlp = `${prefix}.${i}.mlp`;
    if (opts.includeQkv ?? true) {
      const qkv = `${attn}.${opts.qkvTargetName ?? "qkv_proj"}`;
      fused.set(`${qkv}.weight`, ["q_proj", "k_proj", "v_proj"].map((n) => `${attn}.${n}.weight`));
      if (opts.addQkvBias) {
        fused.set(`${qkv}.bias`, ["q_proj", "k_proj", "v_proj"].map((n) => `${attn}.${n}.bias`));
      }
    }
    if (opts.includeGateUp ?? true) {
      fused.set(`${mlp}.gate_up_proj.weight`, [`${mlp}.gate_proj.weight`, `${mlp}.up_proj.weight`]);
    }
  }
  return specs.map((s) => ({ ...s, sources: s.sources ?? fused.get(s.name) ?? [s.name] }));
}

/**
 * `isUnused` from MLC's `add_unused` loops: each pattern's group 1 is a layer index, which
 * must be below `numLayers(cfg)` (default `num_hidden_layers`), as only those names are added.
 *
 * @example
 * ```ts
 * import { declaredUnused } from "./_standard.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const f = declaredUnused([/^model\.layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$/]);
 * deepStrictEqual(f("model.layers.1.self_attn.rotary_emb.inv_freq", { num_hidden_layers: 2 }), true);
 * ```
 */
export function declaredUnused(
  patterns: readonly RegExp[],
  numLayers: (cfg: ModelConfig) => number = (cfg) => intField(cfg, "num_hidden_layers"),
): (name: string, cfg: ModelConfig) => boolean {
  return (name, cfg) => {
    for (const re of patterns) {
      const m = re.exec(name);
      if (m && Number(m[1]) < numLayers(cfg)) return true;
    }
    return false;
  };
}

/** Options of {@link llamaDecoderParams}. */
export interface LlamaDecoderOptions {
  /** Per-layer norms after the MLP (default: input and post-attention layernorms). */
  layerNorms?: readonly string[];
  /** Whether an untied `lm_head` exists. */
  head: boolean;
}

/**
 * The parameters of a Llama-style decoder (`model.embed_tokens`, fused `qkv_proj` and
 * `gate_up_proj` per layer, `model.norm`, optional `lm_head`) with the standard loader's
 * sources. Shared by llama, mistral and the gemma family.
 *
 * @example
 * ```ts
 * import { llamaDecoderParams } from "./_standard.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const ps = llamaDecoderParams({ hidden_size: 8, intermediate_size: 16, num_attention_heads: 2,
 *   num_key_value_heads: 1, head_dim: 4, num_hidden_layers: 1 }, { head: true });
 * deepStrictEqual(ps.map((p) => p.name).at(-1), "lm_head.weight");
 * ```
 */
export function llamaDecoderParams(cfg: ModelConfig, opts: LlamaDecoderOptions): ArchParam[] {
  const h = intField(cfg, "hidden_size");
  const i = intField(cfg, "intermediate_size");
  const nq = intField(cfg, "num_attention_heads");
  const nkv = intField(cfg, "num_key_value_heads");
  const d = intField(cfg, "head_dim");
  const layers = intField(cfg, "num_hidden_layers");
  if (h % nq !== 0) throw new ConfigError("hidden_size must be a multiple of num_attention_heads");
  const norms = opts.layerNorms ?? ["input_layernorm", "post_attention_layernorm"];
  const specs: ParamSpec[] = [{
    name: "model.embed_tokens.weight",
    shape: ["vocab_size", h],
    quant: "embedding",
  }];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    specs.push(
      { name: `${p}.self_attn.qkv_proj.weight`, shape: [(nq + 2 * nkv) * d, h], quant: "linear" },
      { name: `${p}.self_attn.o_proj.weight`, shape: [h, nq * d], quant: "linear" },
      { name: `${p}.mlp.gate_up_proj.weight`, shape: [2 * i, h], quant: "linear" },
      { name: `${p}.mlp.down_proj.weight`, shape: [h, i], quant: "linear" },
      ...norms.map((n) => ({ name: `${p}.${n}.weight`, shape: [h] })),
    );
  }
  specs.push({ name: "model.norm.weight", shape: [h] });
  if (opts.head) specs.push({ name: "lm_head.weight", shape: ["vocab_size", h], quant: "linear" });
  return standardMapping(specs, { numLayers: layers });
}
