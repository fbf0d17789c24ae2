/**
 * Deterministic tensors for generated checkpoints: the demo's tiny Llama (src/cli/_demo_model.ts)
 * and the tests' checkpoints (src/testing/checkpoint_gen.ts, not published).
 *
 * @module
 */
import { fnv1a, Rng } from "./rng.ts";

/** A tensor to generate. */
export interface GenTensor {
  /** HF name. */
  name: string;
  /** Shape. */
  shape: number[];
}

/** Safetensors dtype of generated data. */
export type GenDType = "F16" | "BF16" | "F32";

/** Bytes per element of each generated dtype. */
export const GEN_ITEM_BYTES: Readonly<Record<GenDType, number>> = { F16: 2, BF16: 2, F32: 4 };

/**
 * Deterministic values for a tensor: Gaussian * 0.02 (norm weights `*norm*` / `*ln*`:
 * around 1), seeded by name and `seed`, encoded in `dtype`.
 *
 * @example
 * ```ts
 * import { tensorData } from "./gen_tensors.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(tensorData({ name: "w", shape: [4] }, "F16", 1).length, 8);
 * ```
 */
export function tensorData(t: GenTensor, dtype: GenDType, seed: number): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const rng = new Rng(fnv1a(t.name) ^ seed);
  const out = new Uint8Array(n * GEN_ITEM_BYTES[dtype]);
  const dv = new DataView(out.buffer);
  const isNorm = /norm|(^|\.)ln/.test(t.name) && t.shape.length === 1;
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const f16 = new Float16Array(1);
  const u16 = new Uint16Array(f16.buffer);
  for (let i = 0; i < n; i++) {
    const v = isNorm ? 1 + rng.gauss() * 0.1 : rng.gauss() * 0.02;
    if (dtype === "F32") dv.setFloat32(i * 4, v, true);
    else if (dtype === "F16") {
      f16[0] = v;
      dv.setUint16(i * 2, u16[0], true);
    } else {
      f32[0] = v;
      const b = u32[0];
      dv.setUint16(i * 2, ((b + ((b >>> 16) & 1) + 0x7fff) >>> 16) & 0xffff, true);
    }
  }
  return out;
}

/**
 * HF tensor names and shapes of a `LlamaForCausalLM` checkpoint for a config.json object.
 *
 * @example
 * ```ts
 * import { llamaHfTensors } from "./gen_tensors.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(llamaHfTensors({ hidden_size: 8, intermediate_size: 16, num_attention_heads: 2,
 *   num_hidden_layers: 1, vocab_size: 10 }).length, 12);
 * ```
 */
export function llamaHfTensors(cfg: Record<string, unknown>): GenTensor[] {
  const h = cfg.hidden_size as number;
  const inter = cfg.intermediate_size as number;
  const nq = cfg.num_attention_heads as number;
  const nkv = (cfg.num_key_value_heads as number | undefined) ?? nq;
  const d = (cfg.head_dim as number | undefined) ?? h / nq;
  const v = cfg.vocab_size as number;
  const out: GenTensor[] = [{ name: "model.embed_tokens.weight", shape: [v, h] }];
  for (let i = 0; i < (cfg.num_hidden_layers as number); i++) {
    const p = `model.layers.${i}`;
    out.push(
      { name: `${p}.self_attn.q_proj.weight`, shape: [nq * d, h] },
      { name: `${p}.self_attn.k_proj.weight`, shape: [nkv * d, h] },
      { name: `${p}.self_attn.v_proj.weight`, shape: [nkv * d, h] },
      { name: `${p}.self_attn.o_proj.weight`, shape: [h, nq * d] },
      { name: `${p}.mlp.gate_proj.weight`, shape: [inter, h] },
      { name: `${p}.mlp.up_proj.weight`, shape: [inter, h] },
      { name: `${p}.mlp.down_proj.weight`, shape: [h, inter] },
      { name: `${p}.input_layernorm.weight`, shape: [h] },
      { name: `${p}.post_attention_layernorm.weight`, shape: [h] },
    );
  }
  out.push({ name: "model.norm.weight", shape: [h] });
  if (!cfg.tie_word_embeddings) out.push({ name: "lm_head.weight", shape: [v, h] });
  return out;
}
