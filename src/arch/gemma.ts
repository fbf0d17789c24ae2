/**
 * `gemma`: GemmaForCausalLM checkpoints (Gemma 1/1.1, CodeGemma). Llama-like weights, always
 * tied (no head), and every RMSNorm weight gets `+1`, computed in the source dtype before
 * the cast (`f16(bf16_rne(w + 1))` from bf16 safetensors).
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
import type { ConfigClass, ModelConfig } from "./config.ts";
import { llamaDecoderParams } from "./_standard.ts";
import type { Architecture, ArchParam, ParamTransform } from "./types.ts";

const ADD_ONE: ParamTransform = { kind: "concat", addOne: true };

/** GemmaConfig fields in declaration order (Gemma2Config appends its own). */
export const GEMMA_FIELDS: ConfigClass["fields"] = [
  ["hidden_size", REQUIRED],
  ["intermediate_size", REQUIRED],
  ["attention_bias", REQUIRED],
  ["num_attention_heads", REQUIRED],
  ["num_key_value_heads", REQUIRED],
  ["head_dim", REQUIRED],
  ["num_hidden_layers", REQUIRED],
  ["rms_norm_eps", REQUIRED],
  ["vocab_size", REQUIRED],
  ["hidden_activation", null],
  ["position_embedding_base", 0],
  ["context_window_size", 0],
  ["prefill_chunk_size", 0],
  ["tensor_parallel_shards", 1],
  ["max_batch_size", 1],
];

/** `GemmaConfig.__post_init__`. */
export const gemmaPostInit: ConfigClass["postInit"] = (cfg, kwargs, log) => {
  if (cfg.hidden_activation === null || cfg.hidden_activation === undefined) {
    cfg.hidden_activation = Object.hasOwn(kwargs, "hidden_act") ? kwargs.hidden_act : null;
  }
  if (cfg.hidden_activation !== "gelu" && cfg.hidden_activation !== "gelu_pytorch_tanh") {
    throw new ConfigError("Only GeLU is supported as the activation for gemma.");
  }
  if (cfg.attention_bias) throw new ConfigError('Only "False" attention_bias is supported for gemma');
  resolveRopeBase(cfg, kwargs);
  resolveContextWindow(cfg, kwargs, log);
  if (intField(cfg, "num_attention_heads") % intField(cfg, "num_key_value_heads") !== 0) {
    throw new ConfigError("num_attention_heads must be a multiple of num_key_value_heads");
  }
  resolvePrefill(cfg, log);
};

/**
 * Gemma-family parameters: the standard loader plus `+1` on the listed norms.
 *
 * @example
 * ```ts ignore
 * gemmaParams(cfg, ["input_layernorm", "post_attention_layernorm"]);
 * ```
 */
export function gemmaParams(cfg: ModelConfig, layerNorms: readonly string[]): ArchParam[] {
  return llamaDecoderParams(cfg, { layerNorms, head: false }).map((p) =>
    /(layernorm|^model\.norm)\.weight$/.test(p.name) ? { ...p, transform: ADD_ONE } : p
  );
}

/** The gemma architecture. */
export const gemma: Architecture = {
  name: "gemma",
  hfModelTypes: ["gemma"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: { className: "GemmaConfig", fields: GEMMA_FIELDS, postInit: gemmaPostInit },
  params: (cfg) => gemmaParams(cfg, ["input_layernorm", "post_attention_layernorm"]),
};
