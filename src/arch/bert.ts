/**
 * `bert` / `bert-bge`: BertModel encoder checkpoints used as embedding models (BGE, Snowflake
 * Arctic Embed, all-MiniLM ...). MLC `BertConfig` and `bert_loader.py`: q/k/v fused into
 * `attention.self.qkv` (weight and bias, concatenated on axis 0), everything else 1:1 with the
 * same names. The three embedding tables are declared float32 and cast to the model dtype like
 * every parameter; group quantization quantizes all three (they are `nn.Embedding`s). `bert-bge`
 * also declares `pooler.dense.*` and `embeddings.position_ids` unused (`huggingface_bge`); plain
 * `bert` reports a pooler as unused, as MLC warns.
 *
 * @module
 */
import { intField, type ModelConfig, REQUIRED, resolveContextWindow, resolveHeadDim } from "./config.ts";
import { from, layerNorm, linear, requireActivation, same } from "./_dense.ts";
import type { Architecture, ArchParam } from "./types.ts";
import { num } from "../pyjson.ts";

/** The parameters of `BertModel` in module order, with `bert_loader.huggingface`'s sources. */
function bertParams(cfg: ModelConfig): ArchParam[] {
  requireActivation(cfg, "hidden_act"); // bert_model.py L147: ACT2FN[config.hidden_act]
  const h = intField(cfg, "hidden_size");
  const i = intField(cfg, "intermediate_size");
  const out: ArchParam[] = [
    same("embeddings.word_embeddings.weight", [intField(cfg, "vocab_size"), h], { quant: "embedding" }),
    same("embeddings.position_embeddings.weight", [intField(cfg, "context_window_size"), h], {
      quant: "embedding",
    }),
    same("embeddings.token_type_embeddings.weight", [intField(cfg, "type_vocab_size"), h], {
      quant: "embedding",
    }),
    ...layerNorm("embeddings.LayerNorm", h),
  ];
  for (let l = 0; l < intField(cfg, "num_hidden_layers"); l++) {
    const p = `encoder.layer.${l}`;
    const s = `${p}.attention.self`;
    const qkv = 3 * intField(cfg, "num_attention_heads") * intField(cfg, "head_dim");
    out.push(
      from(`${s}.qkv.weight`, [qkv, h], ["query", "key", "value"].map((n) => `${s}.${n}.weight`), {
        quant: "linear",
      }),
      from(`${s}.qkv.bias`, [qkv], ["query", "key", "value"].map((n) => `${s}.${n}.bias`)),
      ...linear(`${p}.attention.output.dense`, h, h, true),
      ...layerNorm(`${p}.attention.output.LayerNorm`, h),
      ...linear(`${p}.intermediate.dense`, i, h, true),
      ...linear(`${p}.output.dense`, h, i, true),
      ...layerNorm(`${p}.output.LayerNorm`, h),
    );
  }
  return out;
}

/** The bert architecture (`bert_loader.huggingface`, names without a prefix). */
export const bert: Architecture = {
  name: "bert",
  hfModelTypes: ["bert"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "BertConfig",
    fields: [
      ["vocab_size", REQUIRED],
      ["hidden_size", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["hidden_act", REQUIRED],
      ["layer_norm_eps", REQUIRED],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["tensor_parallel_shards", 1],
      ["type_vocab_size", 2],
      ["pad_token_id", 0],
      ["position_offset", 0],
      ["head_dim", 0],
      ["max_batch_size", 1],
    ],
    /** bert_model.py L42-L81: the prefill chunk defaults to the whole context window (no 8192 cap). */
    postInit(cfg, kwargs, log) {
      if (cfg.intermediate_size === null || num(cfg.intermediate_size) === -1) {
        cfg.intermediate_size = 4 * intField(cfg, "hidden_size");
      }
      resolveContextWindow(cfg, kwargs, log);
      resolveHeadDim(cfg);
      const ctx = intField(cfg, "context_window_size");
      const p = intField(cfg, "prefill_chunk_size");
      if (p === 0) {
        log("info", `prefill_chunk_size defaults to context_window_size (${ctx})`);
        cfg.prefill_chunk_size = cfg.context_window_size;
      } else if (p > ctx) {
        log("info", `Overriding prefill_chunk_size from ${p} to ${ctx} (context_window_size)`);
        cfg.prefill_chunk_size = cfg.context_window_size;
      }
    },
  },
  params: bertParams,
};

const BGE_UNUSED = new Set(["pooler.dense.weight", "pooler.dense.bias", "embeddings.position_ids"]);

/** The bert-bge architecture (`bert_loader.huggingface_bge`: the pooler and position_ids unused). */
export const bertBge: Architecture = {
  ...bert,
  name: "bert-bge",
  hfModelTypes: [],
  isUnused: (name) => BGE_UNUSED.has(name),
};
