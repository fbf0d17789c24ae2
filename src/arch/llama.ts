/**
 * `llama`: LlamaForCausalLM checkpoints (Llama 1/2/3/3.x, TinyLlama, SmolLM, Vicuna, ...).
 *
 * @module
 */
import {
  ConfigError,
  intField,
  REQUIRED,
  resolveContextWindow,
  resolvePrefill,
  resolveRopeBase,
} from "./config.ts";
import { llamaDecoderParams } from "./_standard.ts";
import type { Architecture } from "./types.ts";
import { num } from "../pyjson.ts";

/** The llama architecture. */
export const llama: Architecture = {
  name: "llama",
  hfModelTypes: ["llama"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "LlamaConfig",
    fields: [
      ["hidden_size", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["rms_norm_eps", REQUIRED],
      ["vocab_size", REQUIRED],
      ["tie_word_embeddings", false],
      ["position_embedding_base", 0],
      ["rope_scaling", null],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["num_key_value_heads", 0],
      ["head_dim", 0],
      ["tensor_parallel_shards", 1],
      ["pipeline_parallel_stages", 1],
      ["max_batch_size", 1],
      ["disaggregation", false],
    ],
    postInit(cfg, kwargs, log) {
      resolveRopeBase(cfg, kwargs);
      const rs = cfg.rope_scaling as Record<string, unknown> | null;
      if (rs !== null && typeof rs === "object") {
        if (!("rope_type" in rs)) cfg.rope_scaling = null;
        else if (rs.rope_type !== "llama3") {
          throw new ConfigError(`Unsupported RoPE scaling type ${String(rs.rope_type)} for Llama`);
        }
      }
      resolveContextWindow(cfg, kwargs, log);
      if (num(cfg.num_key_value_heads) === 0) cfg.num_key_value_heads = cfg.num_attention_heads;
      const nq = intField(cfg, "num_attention_heads");
      if (num(cfg.head_dim) === 0) cfg.head_dim = Math.floor(intField(cfg, "hidden_size") / nq);
      if (nq % intField(cfg, "num_key_value_heads") !== 0) {
        throw new ConfigError("num_attention_heads must be a multiple of num_key_value_heads");
      }
      resolvePrefill(cfg, log);
      const pps = intField(cfg, "pipeline_parallel_stages");
      if (pps <= 0 || pps > intField(cfg, "num_hidden_layers")) {
        throw new ConfigError(`Invalid "pipeline_parallel_stages" value (${pps}). `);
      }
    },
  },
  params: (cfg) => llamaDecoderParams(cfg, { head: !cfg.tie_word_embeddings }),
  isUnused(name) {
    return /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/.test(name);
  },
};
