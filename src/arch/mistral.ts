/**
 * `mistral`: MistralForCausalLM checkpoints (Mistral 7B v0.1-v0.3, Mistral-Nemo, ...). Same
 * weights as Llama with an untied head; the config has sliding-window rules.
 *
 * @module
 */
import {
  ConfigError,
  type ConfigLog,
  intField,
  type ModelConfig,
  REQUIRED,
  resolveContextWindow,
  resolveRopeBase,
} from "./config.ts";
import { declaredUnused, llamaDecoderParams } from "./_standard.ts";
import type { Architecture } from "./types.ts";
import { num } from "../pyjson.ts";

/**
 * The part of `MistralConfig.__post_init__` after the RoPE base, which Ministral3Config repeats:
 * sliding window (from `sliding_window`, -1 when absent), context window (-1 with a sliding
 * window), kv heads and head_dim, attention sinks, prefill chunk (the smallest of the windows
 * and 8192).
 */
export function mistralWindows(cfg: ModelConfig, kwargs: Record<string, unknown>, log: ConfigLog): void {
  if (num(cfg.sliding_window_size) === 0) {
    cfg.sliding_window_size = Object.hasOwn(kwargs, "sliding_window") ? kwargs.sliding_window : -1;
    delete kwargs.sliding_window;
  }
  if (cfg.sliding_window_size === null || cfg.sliding_window_size === undefined) {
    cfg.sliding_window_size = -1;
  }
  if (num(cfg.context_window_size) === 0) {
    if (num(cfg.sliding_window_size) === -1) resolveContextWindow(cfg, kwargs, log);
    else cfg.context_window_size = -1;
  }
  if (num(cfg.num_key_value_heads) === 0) cfg.num_key_value_heads = cfg.num_attention_heads;
  const nq = intField(cfg, "num_attention_heads");
  if (num(cfg.head_dim) === 0) cfg.head_dim = Math.floor(intField(cfg, "hidden_size") / nq);
  if (nq % intField(cfg, "num_key_value_heads") !== 0) {
    throw new ConfigError("num_attention_heads must be a multiple of num_key_value_heads");
  }
  if (!(intField(cfg, "attention_sink_size") >= 0)) {
    throw new ConfigError("attention_sink_size must be >= 0");
  }
  if (num(cfg.prefill_chunk_size) === 0) {
    const candidates: number[] = [];
    const sw = intField(cfg, "sliding_window_size");
    const ctx = intField(cfg, "context_window_size");
    if (sw !== -1) candidates.push(sw);
    if (ctx !== -1) candidates.push(ctx);
    const v = Math.min(...candidates, 8192);
    log("info", `prefill_chunk_size defaults to ${v}`);
    cfg.prefill_chunk_size = v;
  }
}

/** The mistral architecture. */
export const mistral: Architecture = {
  name: "mistral",
  hfModelTypes: ["mistral"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "MistralConfig",
    fields: [
      ["hidden_size", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["rms_norm_eps", REQUIRED],
      ["vocab_size", REQUIRED],
      ["position_embedding_base", 0],
      ["num_key_value_heads", 0],
      ["head_dim", 0],
      ["context_window_size", 0],
      ["sliding_window_size", 0],
      ["prefill_chunk_size", 0],
      ["attention_sink_size", 4],
      ["tensor_parallel_shards", 1],
      ["max_batch_size", 1],
    ],
    postInit(cfg, kwargs, log) {
      resolveRopeBase(cfg, kwargs);
      mistralWindows(cfg, kwargs, log);
    },
  },
  params: (cfg) => llamaDecoderParams(cfg, { head: true }),
  isUnused: declaredUnused([/^model\.layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$/]),
};
