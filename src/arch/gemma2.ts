/**
 * `gemma2`: Gemma2ForCausalLM checkpoints. Gemma plus pre/post feed-forward norms (all `+1`);
 * the context window is forced to `sliding_window`.
 *
 * @module
 */
import type { Architecture } from "./types.ts";
import { GEMMA_FIELDS, gemmaParams, gemmaPostInit } from "./gemma.ts";

/** The gemma2 architecture. */
export const gemma2: Architecture = {
  name: "gemma2",
  hfModelTypes: ["gemma2"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "Gemma2Config",
    fields: [
      ...GEMMA_FIELDS,
      ["attn_logit_softcapping", null],
      ["final_logit_softcapping", null],
      ["query_pre_attn_scalar", null],
      ["sliding_window", null],
    ],
    postInit(cfg, kwargs, log) {
      gemmaPostInit(cfg, kwargs, log);
      // as-is: the sliding window attention of every other layer is not supported by MLC
      cfg.context_window_size = cfg.sliding_window;
    },
  },
  params: (cfg) =>
    gemmaParams(cfg, [
      "input_layernorm",
      "post_attention_layernorm",
      "pre_feedforward_layernorm",
      "post_feedforward_layernorm",
    ]),
};
