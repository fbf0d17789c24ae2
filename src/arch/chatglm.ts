/**
 * `chatglm`: ChatGLMForConditionalGeneration checkpoints of the `chatglm` type (ChatGLM3-6B,
 * GLM-4-9B-chat, remote code). Everything is 1:1 (`chatglm3_loader.py`: HF already stores a
 * fused `[q; k; v]` `query_key_value` and `[gate; up]` `dense_h_to_4h`) except the embedding,
 * read from `transformer.embedding.word_embeddings.weight`. Key/value heads are
 * `multi_query_group_num` under `multi_query_attention`; `head_dim` is `hidden_size //
 * num_attention_heads` (HF's `kv_channels` is not read). The head `transformer.output_layer` is
 * not a final-FC name, so q4f16_2 quantizes it too. `rotary_pos_emb.inv_freq` is reported unused.
 *
 * @module
 */
import { intField, REQUIRED, standardPostInit } from "./config.ts";
import { from, linear, same } from "./_dense.ts";
import type { Architecture, ArchParam } from "./types.ts";
import { num } from "../pyjson.ts";

/** The chatglm architecture. */
export const chatglm: Architecture = {
  name: "chatglm",
  hfModelTypes: ["chatglm"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "GLMConfig",
    fields: [
      ["hidden_size", REQUIRED],
      ["num_layers", REQUIRED],
      ["kv_channels", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["ffn_hidden_size", REQUIRED],
      ["layernorm_epsilon", REQUIRED],
      ["post_layer_norm", REQUIRED],
      ["rmsnorm", REQUIRED],
      ["add_bias_linear", REQUIRED],
      ["add_qkv_bias", REQUIRED],
      ["apply_query_key_layer_scaling", REQUIRED],
      ["multi_query_attention", REQUIRED],
      ["multi_query_group_num", REQUIRED],
      ["vocab_size", 0],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["tensor_parallel_shards", 1],
      ["head_dim", 0],
      ["max_batch_size", 1],
    ],
    postInit(cfg, kwargs, log) {
      if (num(cfg.vocab_size) === 0 && Object.hasOwn(kwargs, "padded_vocab_size")) {
        cfg.vocab_size = kwargs.padded_vocab_size;
        delete kwargs.padded_vocab_size;
      }
      standardPostInit(cfg, kwargs, log, { keys: ["max_position_embeddings", "seq_length"] });
    },
  },
  params(cfg) {
    const h = intField(cfg, "hidden_size");
    const f = intField(cfg, "ffn_hidden_size");
    const nq = intField(cfg, "num_attention_heads");
    const nkv = cfg.multi_query_attention ? intField(cfg, "multi_query_group_num") : nq;
    const d = intField(cfg, "head_dim");
    const v = intField(cfg, "vocab_size");
    const biasLinear = !!cfg.add_bias_linear;
    const out: ArchParam[] = [
      from("transformer.embedding.weight", [v, h], ["transformer.embedding.word_embeddings.weight"], {
        quant: "embedding",
      }),
    ];
    for (let l = 0; l < intField(cfg, "num_layers"); l++) {
      const p = `transformer.encoder.layers.${l}`;
      out.push(
        ...linear(
          `${p}.self_attention.query_key_value`,
          (nq + 2 * nkv) * d,
          h,
          biasLinear || !!cfg.add_qkv_bias,
        ),
        ...linear(`${p}.self_attention.dense`, h, nq * d, biasLinear),
        ...linear(`${p}.mlp.dense_h_to_4h`, 2 * f, h, biasLinear),
        ...linear(`${p}.mlp.dense_4h_to_h`, h, f, biasLinear),
        same(`${p}.input_layernorm.weight`, [h]),
        same(`${p}.post_attention_layernorm.weight`, [h]),
      );
    }
    if (cfg.post_layer_norm) {
      out.push(same("transformer.encoder.final_layernorm.weight", [h]));
      if (!cfg.rmsnorm) out.push(same("transformer.encoder.final_layernorm.bias", [h]));
    }
    out.push(...linear("transformer.output_layer", v, h, false));
    return out;
  },
};
