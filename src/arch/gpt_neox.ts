/**
 * `gpt_neox`: GPTNeoXForCausalLM checkpoints (Pythia, RedPajama-INCITE, Dolly v2). The fused
 * QKV rows are de-interleaved from per-head `[q, k, v]` groups; the MLP biases stay float32
 * (`ffn_out_dtype`).
 *
 * @module
 */
import {
  ConfigError,
  intField,
  REQUIRED,
  resolveContextWindow,
  resolveHeadDim,
  resolvePrefill,
  resolveRopeBase,
} from "./config.ts";
import { declaredUnused } from "./_standard.ts";
import { deinterleaveQkvTransform } from "./_transforms.ts";
import type { Architecture, ArchParam } from "./types.ts";

/** The gpt_neox architecture. */
export const gptNeox: Architecture = {
  name: "gpt_neox",
  hfModelTypes: ["gpt_neox"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "GPTNeoXConfig",
    fields: [
      ["use_parallel_residual", REQUIRED],
      ["hidden_size", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["layer_norm_eps", REQUIRED],
      ["vocab_size", REQUIRED],
      ["rotary_pct", REQUIRED],
      ["position_embedding_base", 0],
      ["context_window_size", 0],
      ["head_dim", 0],
      ["prefill_chunk_size", 0],
      ["tensor_parallel_shards", 1],
      ["ffn_out_dtype", "float32"],
      ["max_batch_size", 1],
    ],
    postInit(cfg, kwargs, log) {
      resolveContextWindow(cfg, kwargs, log);
      resolveRopeBase(cfg, kwargs);
      resolveHeadDim(cfg);
      resolvePrefill(cfg, log);
    },
  },
  params(cfg) {
    const h = intField(cfg, "hidden_size");
    const i = intField(cfg, "intermediate_size");
    const nq = intField(cfg, "num_attention_heads");
    const d = intField(cfg, "head_dim");
    const layers = intField(cfg, "num_hidden_layers");
    if (cfg.ffn_out_dtype !== "float32") {
      throw new ConfigError(
        `ffn_out_dtype ${JSON.stringify(cfg.ffn_out_dtype)} is not supported (only "float32")`,
      );
    }
    const qkv = deinterleaveQkvTransform(nq, d);
    const one = (name: string, shape: ArchParam["shape"], extra: Partial<ArchParam> = {}): ArchParam => ({
      name,
      shape,
      sources: [name],
      ...extra,
    });
    const out: ArchParam[] = [one("gpt_neox.embed_in.weight", ["vocab_size", h], { quant: "embedding" })];
    for (let l = 0; l < layers; l++) {
      const p = `gpt_neox.layers.${l}`;
      out.push(
        one(`${p}.input_layernorm.weight`, [h]),
        one(`${p}.input_layernorm.bias`, [h]),
        one(`${p}.post_attention_layernorm.weight`, [h]),
        one(`${p}.post_attention_layernorm.bias`, [h]),
        one(`${p}.attention.query_key_value.weight`, [3 * nq * d, h], { quant: "linear", transform: qkv }),
        one(`${p}.attention.query_key_value.bias`, [3 * nq * d], { transform: qkv }),
        one(`${p}.attention.dense.weight`, [h, nq * d], { quant: "linear" }),
        one(`${p}.attention.dense.bias`, [h]),
        one(`${p}.mlp.dense_h_to_4h.weight`, [i, h], { quant: "linear" }),
        one(`${p}.mlp.dense_h_to_4h.bias`, [i], { dtype: "float32" }),
        one(`${p}.mlp.dense_4h_to_h.weight`, [h, i], { quant: "linear" }),
        one(`${p}.mlp.dense_4h_to_h.bias`, [h], { dtype: "float32" }),
      );
    }
    out.push(
      one("gpt_neox.final_layer_norm.weight", [h]),
      one("gpt_neox.final_layer_norm.bias", [h]),
      one("embed_out.weight", ["vocab_size", h], { quant: "linear" }),
    );
    return out;
  },
  isUnused: declaredUnused([
    /^gpt_neox\.layers\.(\d+)\.attention\.rotary_emb\.inv_freq$/,
    /^gpt_neox\.layers\.(\d+)\.attention\.masked_bias$/,
    /^gpt_neox\.layers\.(\d+)\.attention\.bias$/,
  ]),
};
