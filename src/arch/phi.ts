/**
 * `phi`: transformers-format PhiForCausalLM checkpoints (phi-1, phi-1.5, phi-2 with
 * `model_type: "phi"`). MLC builds the same module tree as `phi-msft` (`transformer.h.{i}`,
 * `lm_head.ln`/`lm_head.linear`) and concatenates q/k/v (weights and biases).
 *
 * @module
 */
import {
  intField,
  resolveContextWindow,
  resolveHeadDim,
  resolveKvHeads,
  resolvePrefill,
  resolveRopeBase,
} from "./config.ts";
import { declaredUnused } from "./_standard.ts";
import type { Architecture, ArchParam } from "./types.ts";
import { num } from "../pyjson.ts";

/** Dimensions of MLC's PhiForCausalLM tree (PhiConfig names). */
export interface PhiDims {
  /** n_embd. */
  h: number;
  /** n_inner. */
  inner: number;
  /** n_head. */
  nq: number;
  /** n_head_kv. */
  nkv: number;
  /** head_dim. */
  d: number;
  /** n_layer. */
  layers: number;
  /** vocab_size (the embedding's exact row count). */
  vocab: number;
}

/**
 * MLC parameters of PhiForCausalLM in module order, each mapped by `source(mlcName)` (a
 * list of HF names; more than one means a concatenation on axis 0).
 *
 * @example
 * ```ts
 * import { phiParams } from "./phi.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(phiParams({ h: 4, inner: 16, nq: 2, nkv: 2, d: 2, layers: 1, vocab: 8 }, (n) => [n])[0].name, "transformer.embd.weight");
 * ```
 */
export function phiParams(dims: PhiDims, source: (mlcName: string) => string[]): ArchParam[] {
  const { h, inner, nq, nkv, d, layers, vocab } = dims;
  const p = (name: string, shape: ArchParam["shape"], quant?: "linear" | "embedding"): ArchParam => ({
    name,
    shape,
    sources: source(name),
    ...(quant ? { quant } : {}),
  });
  const out: ArchParam[] = [p("transformer.embd.weight", [vocab, h], "embedding")];
  const qkv = (nq + 2 * nkv) * d;
  for (let l = 0; l < layers; l++) {
    const b = `transformer.h.${l}`;
    out.push(
      p(`${b}.ln.weight`, [h]),
      p(`${b}.ln.bias`, [h]),
      p(`${b}.mixer.Wqkv.weight`, [qkv, h], "linear"),
      p(`${b}.mixer.Wqkv.bias`, [qkv]),
      p(`${b}.mixer.out_proj.weight`, [h, nq * d], "linear"),
      p(`${b}.mixer.out_proj.bias`, [h]),
      p(`${b}.mlp.fc1.weight`, [inner, h], "linear"),
      p(`${b}.mlp.fc1.bias`, [inner]),
      p(`${b}.mlp.fc2.weight`, [h, inner], "linear"),
      p(`${b}.mlp.fc2.bias`, [h]),
    );
  }
  out.push(
    p("lm_head.ln.weight", [h]),
    p("lm_head.ln.bias", [h]),
    p("lm_head.linear.weight", ["vocab_size", h], "linear"),
    p("lm_head.linear.bias", ["vocab_size"]),
  );
  return out;
}

/** HF name of each MLC parameter for transformers-format phi (`phi_loader.phi1_huggingface`). */
function phi1Source(name: string): string[] {
  const fixed: Record<string, string> = {
    "transformer.embd.weight": "model.embed_tokens.weight",
    "lm_head.ln.weight": "model.final_layernorm.weight",
    "lm_head.ln.bias": "model.final_layernorm.bias",
    "lm_head.linear.weight": "lm_head.weight",
    "lm_head.linear.bias": "lm_head.bias",
  };
  if (fixed[name]) return [fixed[name]];
  const m = /^transformer\.h\.(\d+)\.(.+)\.(weight|bias)$/.exec(name)!;
  const [, i, mod, kind] = m;
  const hf = `model.layers.${i}`;
  switch (mod) {
    case "ln":
      return [`${hf}.input_layernorm.${kind}`];
    case "mixer.Wqkv":
      return ["q_proj", "k_proj", "v_proj"].map((n) => `${hf}.self_attn.${n}.${kind}`);
    case "mixer.out_proj":
      return [`${hf}.self_attn.dense.${kind}`];
    default: // mlp.fc1, mlp.fc2
      return [`${hf}.${mod}.${kind}`];
  }
}

/** The phi architecture (Phi1Config). */
export const phi: Architecture = {
  name: "phi",
  hfModelTypes: ["phi"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "Phi1Config",
    fields: [
      ["vocab_size", 51200],
      ["hidden_size", 2048],
      ["intermediate_size", 8192],
      ["num_hidden_layers", 24],
      ["num_attention_heads", 32],
      ["layer_norm_eps", 1e-5],
      ["position_embedding_base", 0],
      ["partial_rotary_factor", 0.5],
      ["num_key_value_heads", 0],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["head_dim", 0],
      ["tensor_parallel_shards", 1],
      ["max_batch_size", 1],
    ],
    postInit(cfg, kwargs, log) {
      resolveRopeBase(cfg, kwargs);
      resolveContextWindow(cfg, kwargs, log);
      resolvePrefill(cfg, log);
      const h = intField(cfg, "hidden_size");
      if (num(cfg.intermediate_size) === 0 || cfg.intermediate_size === null) cfg.intermediate_size = 4 * h;
      resolveHeadDim(cfg);
      resolveKvHeads(cfg);
    },
  },
  params(cfg) {
    const dims: PhiDims = {
      h: intField(cfg, "hidden_size"),
      inner: intField(cfg, "intermediate_size"),
      nq: intField(cfg, "num_attention_heads"),
      nkv: intField(cfg, "num_key_value_heads"),
      d: intField(cfg, "head_dim"),
      layers: intField(cfg, "num_hidden_layers"),
      vocab: intField(cfg, "vocab_size"),
    };
    return phiParams(dims, phi1Source);
  },
  // MLC declares this name, which never occurs in transformers checkpoints (harmless).
  isUnused: declaredUnused([/^model\.layers\.(\d+)\.mixer\.rotary_emb\.inv_freq$/]),
};
