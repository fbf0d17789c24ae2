/**
 * `gpt2`: GPT2LMHeadModel checkpoints (GPT-2, distilgpt2). HF names lack the `transformer.`
 * prefix, Conv1D weights are transposed, and the head is a copy of `wte` written before it.
 *
 * @module
 */
import { intField, REQUIRED, resolveContextWindow, resolveHeadDim, resolvePrefill } from "./config.ts";
import { declaredUnused } from "./_standard.ts";
import { TRANSPOSE } from "./_transforms.ts";
import type { Architecture, ArchParam } from "./types.ts";
import { num } from "../pyjson.ts";

/** The gpt2 architecture. */
export const gpt2: Architecture = {
  name: "gpt2",
  hfModelTypes: ["gpt2"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "GPT2Config",
    fields: [
      ["vocab_size", REQUIRED],
      ["n_embd", REQUIRED],
      ["n_layer", REQUIRED],
      ["n_head", REQUIRED],
      ["layer_norm_epsilon", REQUIRED],
      ["n_inner", -1],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["scale_attn_by_inverse_layer_idx", false],
      ["tensor_parallel_shards", 1],
      ["head_dim", 0],
      ["max_batch_size", 1],
    ],
    postInit(cfg, kwargs, log) {
      if (cfg.n_inner === null || num(cfg.n_inner) === -1) cfg.n_inner = 4 * intField(cfg, "n_embd");
      resolveContextWindow(cfg, kwargs, log, ["n_positions", "max_sequence_length"]);
      resolveHeadDim(cfg, "n_embd", "n_head");
      resolvePrefill(cfg, log);
    },
  },
  /**
   * Listed in `param_map` insertion order where it matters: `lm_head.weight` comes first
   * (MLC's loader adds it first), so it is emitted right before `transformer.wte.weight`,
   * both built from `wte.weight`. Otherwise module order.
   */
  params(cfg) {
    const h = intField(cfg, "n_embd");
    const inner = intField(cfg, "n_inner");
    const nq = intField(cfg, "n_head");
    const d = intField(cfg, "head_dim");
    const layers = intField(cfg, "n_layer");
    const ctx = intField(cfg, "context_window_size");
    // HF names drop the first component of the MLC name (mlc_name.split(".", 1)[1]).
    const p = (name: string, shape: ArchParam["shape"], extra: Partial<ArchParam> = {}): ArchParam => ({
      name,
      shape,
      sources: [name.slice(name.indexOf(".") + 1)],
      ...extra,
    });
    const out: ArchParam[] = [
      { name: "lm_head.weight", shape: ["vocab_size", h], sources: ["wte.weight"], quant: "linear" },
      p("transformer.wte.weight", ["vocab_size", h], { quant: "embedding" }),
      p("transformer.wpe.weight", [ctx, h], { quant: "embedding" }),
    ];
    for (let l = 0; l < layers; l++) {
      const b = `transformer.h.${l}`;
      out.push(
        p(`${b}.ln_1.weight`, [h]),
        p(`${b}.ln_1.bias`, [h]),
        p(`${b}.attn.c_attn.weight`, [3 * nq * d, h], { quant: "linear", transform: TRANSPOSE }),
        p(`${b}.attn.c_attn.bias`, [3 * nq * d]),
        p(`${b}.attn.c_proj.weight`, [h, nq * d], { quant: "linear", transform: TRANSPOSE }),
        p(`${b}.attn.c_proj.bias`, [h]),
        p(`${b}.ln_2.weight`, [h]),
        p(`${b}.ln_2.bias`, [h]),
        p(`${b}.mlp.c_fc.weight`, [inner, h], { quant: "linear", transform: TRANSPOSE }),
        p(`${b}.mlp.c_fc.bias`, [inner]),
        p(`${b}.mlp.c_proj.weight`, [h, inner], { quant: "linear", transform: TRANSPOSE }),
        p(`${b}.mlp.c_proj.bias`, [h]),
      );
    }
    out.push(p("transformer.ln_f.weight", [h]), p("transformer.ln_f.bias", [h]));
    return out;
  },
  isUnused: declaredUnused([/^h\.(\d+)\.attn\.bias$/], (cfg) => intField(cfg, "n_layer")),
};
