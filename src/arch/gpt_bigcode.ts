/**
 * `gpt_bigcode`: GPTBigCodeForCausalLM checkpoints (StarCoder 1, StarCoderBase, SantaCoder-style
 * multi-query attention). Every parameter is 1:1 (`gpt_bigcode_loader.py`: the standard loader
 * without q/k/v or gate/up fusion); `c_attn` holds `n_head` query heads and one key/value head.
 * `lm_head.weight` is read as it is: a checkpoint saved without it (tied) is refused, as by MLC.
 *
 * @module
 */
import { ConfigError, intField, REQUIRED, resolvePrefill } from "./config.ts";
import { layerNorm, linear, requireDivisible, same } from "./_dense.ts";
import type { Architecture, ArchParam } from "./types.ts";
import { num } from "../pyjson.ts";

/** The gpt_bigcode architecture. */
export const gptBigcode: Architecture = {
  name: "gpt_bigcode",
  hfModelTypes: ["gpt_bigcode"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "GPTBigCodeConfig",
    fields: [
      ["n_embd", REQUIRED],
      ["n_inner", REQUIRED],
      ["n_head", REQUIRED],
      ["n_layer", REQUIRED],
      ["n_positions", REQUIRED],
      ["layer_norm_epsilon", REQUIRED],
      ["vocab_size", REQUIRED],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["tensor_parallel_shards", 1],
      ["max_batch_size", 1],
    ],
    postInit(cfg, _kwargs, log) {
      if (num(cfg.context_window_size) === 0) {
        const n = intField(cfg, "n_positions");
        if (!(n > 0)) {
          throw new ConfigError(
            "Unable to determine the maximum sequence length, because none of `context_window_size`, " +
              "`max_position_embeddings` or `max_sequence_length` is provided in `config.json`.",
          );
        }
        cfg.context_window_size = cfg.n_positions;
        log("info", `context_window_size not found in config.json. Falling back to n_positions (${n})`);
      }
      resolvePrefill(cfg, log);
    },
  },
  params(cfg) {
    const h = intField(cfg, "n_embd");
    const inner = intField(cfg, "n_inner");
    const nq = intField(cfg, "n_head");
    requireDivisible(h, nq, "n_embd", "n_head");
    if (intField(cfg, "tensor_parallel_shards") !== 1) {
      throw new ConfigError("GPT bigcode only support tensor parallel shards = 1");
    }
    const d = h / nq;
    const out: ArchParam[] = [
      same("transformer.wte.weight", ["vocab_size", h], { quant: "embedding" }),
      same("transformer.wpe.weight", [intField(cfg, "n_positions"), h], { quant: "embedding" }),
    ];
    for (let l = 0; l < intField(cfg, "n_layer"); l++) {
      const p = `transformer.h.${l}`;
      out.push(
        ...linear(`${p}.attn.c_attn`, (nq + 2) * d, h, true), // one key/value head (multi-query)
        ...linear(`${p}.attn.c_proj`, h, nq * d, true),
        ...linear(`${p}.mlp.c_fc`, inner, h, true),
        ...linear(`${p}.mlp.c_proj`, h, inner, true),
        ...layerNorm(`${p}.ln_1`, h),
        ...layerNorm(`${p}.ln_2`, h),
      );
    }
    out.push(...layerNorm("transformer.ln_f", h), ...linear("lm_head", "vocab_size", h, false));
    return out;
  },
};
