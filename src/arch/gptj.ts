/**
 * `gptj`: GPTJForCausalLM checkpoints (GPT-J-6B and fine-tunes).
 *
 * **MLC HEAD is broken for this type**: since the loader refactor 345d2e2c (2026-03-06)
 * `gpt_j_loader.py` uses the standard loader, which looks up
 * `transformer.h.{i}.self_attn.c_attn.weight`, while the model's attention module is `attn`,
 * so every conversion fails with a `KeyError`. This file implements what the loader evidently
 * intends, i.e. its pre-refactor mapping (`gpt_j_loader.py` at 345d2e2c^):
 * `transformer.h.{i}.attn.c_attn.weight` = q, k, v projections concatenated on axis 0,
 * everything else 1:1 (`wte`, `ln_1`, `attn.out_proj`, `mlp.fc_in`/`fc_out` with biases,
 * `ln_f`, `lm_head` weight and bias; `lm_head` is declared float32 and then cast to the model
 * dtype like every other parameter).
 *
 * @module
 */
import { ConfigError, intField, REQUIRED, standardPostInit } from "./config.ts";
import { from, layerNorm, linear, qkvSources, requireActivation, same } from "./_dense.ts";
import type { Architecture, ArchParam } from "./types.ts";

/** The gptj architecture. */
export const gptj: Architecture = {
  name: "gptj",
  hfModelTypes: ["gptj"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "GPTJConfig",
    fields: [
      ["vocab_size", REQUIRED],
      ["n_embd", REQUIRED],
      ["n_layer", REQUIRED],
      ["n_head", REQUIRED],
      ["layer_norm_epsilon", REQUIRED],
      ["rotary_dim", REQUIRED],
      ["activation_function", REQUIRED],
      ["n_inner", -1],
      ["rope_scaling", null],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["tensor_parallel_shards", 1],
      ["max_batch_size", 1],
      ["head_dim", 0],
    ],
    postInit: (cfg, kwargs, log) =>
      standardPostInit(cfg, kwargs, log, {
        keys: ["max_position_embeddings", "n_positions"],
        hidden: "n_embd",
        heads: "n_head",
      }),
  },
  params(cfg) {
    const h = intField(cfg, "n_embd");
    requireActivation(cfg, "activation_function");
    // GPTJMLP: 4 * n_embd when n_inner is None; the dataclass default -1 would build no MLP
    const inner = cfg.n_inner === null ? 4 * h : intField(cfg, "n_inner");
    if (!(inner > 0)) throw new ConfigError(`n_inner ${JSON.stringify(cfg.n_inner)} is not a valid MLP size`);
    const v = intField(cfg, "vocab_size");
    const out: ArchParam[] = [same("transformer.wte.weight", [v, h], { quant: "embedding" })];
    for (let l = 0; l < intField(cfg, "n_layer"); l++) {
      const p = `transformer.h.${l}`;
      out.push(
        ...layerNorm(`${p}.ln_1`, h),
        from(`${p}.attn.c_attn.weight`, [3 * h, h], qkvSources(`${p}.attn`, "weight"), { quant: "linear" }),
        ...linear(`${p}.attn.out_proj`, h, h, false),
        ...linear(`${p}.mlp.fc_in`, inner, h, true),
        ...linear(`${p}.mlp.fc_out`, h, inner, true),
      );
    }
    out.push(...layerNorm("transformer.ln_f", h), ...linear("lm_head", v, h, true));
    return out;
  },
};
