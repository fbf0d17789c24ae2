/**
 * `internlm2`: InternLM2ForCausalLM checkpoints (InternLM2 / InternLM2.5 chat, remote code). HF
 * stores q/k/v fused per key/value head in `attention.wqkv`; MLC regroups the rows to
 * `[q; k; v]` (`internlm2_loader._convert_wqkv_layout`, a whole-tensor row permutation here).
 * `feed_forward.gate_up_proj` is `w1` then `w3`; the head is `output` (not a final-FC name, so
 * it is quantized under q4f16_2 too). As in MLC, a `wqkv` bias (`bias: true`; no released
 * checkpoint has one) is copied without the regroup.
 *
 * @module
 */
import { intField, REQUIRED, standardPostInit } from "./config.ts";
import { denseDims, from, linear, same } from "./_dense.ts";
import { regroupWqkvTransform } from "./_transforms.ts";
import type { Architecture, ArchParam } from "./types.ts";

/** The internlm2 architecture. */
export const internlm2: Architecture = {
  name: "internlm2",
  hfModelTypes: ["internlm2"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "InternLM2Config",
    fields: [
      ["vocab_size", REQUIRED],
      ["hidden_size", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["num_key_value_heads", REQUIRED],
      ["rms_norm_eps", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["bias", REQUIRED],
      ["use_cache", REQUIRED],
      ["rope_theta", REQUIRED],
      ["pad_token_id", REQUIRED],
      ["bos_token_id", REQUIRED],
      ["eos_token_id", REQUIRED],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["tensor_parallel_shards", 1],
      ["max_batch_size", 1],
      ["head_dim", 0],
    ],
    postInit: (cfg, kwargs, log) => standardPostInit(cfg, kwargs, log, { cap: 2048 }),
  },
  params(cfg) {
    const { h, i, nq, nkv, d, v } = denseDims(cfg);
    const bias = !!cfg.bias;
    // the loader's own head_dim: hidden_size // num_attention_heads (equal to d, asserted)
    const wqkv = regroupWqkvTransform(nkv, Math.floor(nq / nkv), Math.floor(h / nq));
    const out: ArchParam[] = [same("model.tok_embeddings.weight", [v, h], { quant: "embedding" })];
    for (let l = 0; l < intField(cfg, "num_hidden_layers"); l++) {
      const p = `model.layers.${l}`;
      const qkv = (nq + 2 * nkv) * d;
      out.push(same(`${p}.attention.wqkv.weight`, [qkv, h], { quant: "linear", transform: wqkv }));
      if (bias) out.push(same(`${p}.attention.wqkv.bias`, [qkv]));
      out.push(
        ...linear(`${p}.attention.wo`, h, nq * d, bias),
        from(
          `${p}.feed_forward.gate_up_proj.weight`,
          [2 * i, h],
          [`${p}.feed_forward.w1.weight`, `${p}.feed_forward.w3.weight`],
          { quant: "linear" },
        ),
        ...linear(`${p}.feed_forward.w2`, h, i, false),
        same(`${p}.attention_norm.weight`, [h]),
        same(`${p}.ffn_norm.weight`, [h]),
      );
    }
    out.push(same("model.norm.weight", [h]), ...linear("output", v, h, false));
    return out;
  },
};
