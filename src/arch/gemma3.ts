/**
 * `gemma3` / `gemma3_text`: Gemma 3 language models (Gemma3ForConditionalGeneration's text
 * tower, or Gemma3ForCausalLM text-only checkpoints). MLC `Gemma3Config` with a nested
 * `Gemma3TextConfig` (`python/mlc_llm/model/gemma3/gemma3_model.py`).
 *
 * @module
 */
import {
  type ConfigClass,
  ConfigError,
  intField,
  type ModelConfig,
  nestedFromDict,
  REQUIRED,
  resolveContextWindow,
} from "./config.ts";
import type { Architecture, ArchParam, Dim } from "./types.ts";
import { num } from "../pyjson.ts";

/** `Gemma3TextConfig` (the nested `text_config`; its `kwargs` are emitted too). */
const TEXT_CONFIG: ConfigClass = {
  className: "Gemma3TextConfig",
  fields: [
    ["hidden_size", REQUIRED],
    ["intermediate_size", REQUIRED],
    ["num_hidden_layers", REQUIRED],
    ["attention_bias", false],
    ["num_attention_heads", 8],
    ["num_key_value_heads", 4],
    ["head_dim", 256],
    ["rms_norm_eps", 1e-6],
    ["hidden_activation", "gelu_pytorch_tanh"],
    ["position_embedding_base", 1_000_000],
    ["rope_scaling", 0],
    ["context_window_size", 131_072],
    ["prefill_chunk_size", 0],
    ["query_pre_attn_scalar", 256],
    ["sliding_window_size", null],
  ],
  postInit(cfg, kwargs, log) {
    if (cfg.hidden_activation === null) cfg.hidden_activation = kwargs.hidden_act ?? null;
    if (cfg.sliding_window_size === null) cfg.sliding_window_size = kwargs.sliding_window ?? null;
    if (cfg.hidden_activation !== "gelu" && cfg.hidden_activation !== "gelu_pytorch_tanh") {
      throw new ConfigError("Only GeLU is supported as the activation for gemma.");
    }
    if (cfg.attention_bias) throw new ConfigError('Only "False" attention_bias is supported for gemma');
    if (num(cfg.position_embedding_base) === 1_000_000 && Object.hasOwn(kwargs, "rope_theta")) {
      cfg.position_embedding_base = kwargs.rope_theta;
      delete kwargs.rope_theta;
    }
    resolveContextWindow(cfg, kwargs, log);
    if (intField(cfg, "num_attention_heads") % intField(cfg, "num_key_value_heads") !== 0) {
      throw new ConfigError("num_attention_heads must be a multiple of num_key_value_heads");
    }
    const ctx = intField(cfg, "context_window_size");
    const prefill = intField(cfg, "prefill_chunk_size");
    if (prefill === 0) {
      cfg.prefill_chunk_size = Math.min(ctx, 8192);
      log("info", `prefill_chunk_size defaults to ${cfg.prefill_chunk_size}`);
    } else if (prefill > ctx) {
      log("info", `Overriding prefill_chunk_size from ${prefill} to ${Math.min(ctx, 8192)}`);
      cfg.prefill_chunk_size = Math.min(ctx, 8192);
    }
    // MLC: the context window becomes the sliding window (at least 8192).
    const sw = num(cfg.sliding_window_size);
    if (sw === undefined) {
      throw new ConfigError("Gemma3 text config needs `sliding_window` (MLC crashes without it)");
    }
    cfg.context_window_size = sw >= 8192 ? cfg.sliding_window_size : 8192;
  },
};

/** `Gemma3Config`. */
const GEMMA3_CONFIG: ConfigClass = {
  className: "Gemma3Config",
  fields: [
    ["text_config", null],
    ["vocab_size", 262_208],
    ["tensor_parallel_shards", 1],
    ["max_batch_size", 1],
    ["context_window_size", -1],
    ["sliding_window_size", -1],
    ["prefill_chunk_size", -1],
    ["is_text_model", false],
  ],
  postInit(cfg, kwargs, log) {
    let textDict: Record<string, unknown>;
    if (cfg.text_config === null || cfg.text_config === undefined) {
      cfg.is_text_model = true;
      textDict = { ...nestedFromDict(TEXT_CONFIG, { ...kwargs }, log) };
    } else if (typeof cfg.text_config === "object" && !Array.isArray(cfg.text_config)) {
      textDict = { ...(cfg.text_config as Record<string, unknown>) };
    } else {
      throw new ConfigError("text_config must be an object");
    }
    const inner = textDict.kwargs as Record<string, unknown> | undefined;
    delete textDict.kwargs;
    if (inner) { for (const [k, v] of Object.entries(inner)) textDict[k] = v; }
    const text = nestedFromDict(TEXT_CONFIG, textDict, log);
    cfg.text_config = text;
    for (const k of ["context_window_size", "prefill_chunk_size", "sliding_window_size"]) {
      if (intField(cfg, k) <= 0) cfg[k] = text[k];
    }
  },
};

const PREFIX = "language_model.";

function gemma3Params(cfg: ModelConfig): ArchParam[] {
  const text = cfg.text_config as ModelConfig;
  const h = intField(text, "hidden_size");
  const i = intField(text, "intermediate_size");
  const nq = intField(text, "num_attention_heads");
  const nkv = intField(text, "num_key_value_heads");
  const d = intField(text, "head_dim");
  const layers = intField(text, "num_hidden_layers");
  if (h % nq !== 0) throw new ConfigError("hidden_size must be a multiple of num_attention_heads");
  const hf = cfg.is_text_model ? "" : PREFIX;
  const plusOne = { kind: "concat", addOne: true } as const;
  const p = (
    name: string,
    shape: Dim[],
    extra: Partial<ArchParam> = {},
  ): ArchParam => ({ name: PREFIX + name, shape, sources: [hf + name], ...extra });
  const out: ArchParam[] = [p("model.embed_tokens.weight", ["vocab_size", h], { quant: "embedding" })];
  for (let l = 0; l < layers; l++) {
    const a = `model.layers.${l}.self_attn`;
    const m = `model.layers.${l}.mlp`;
    out.push(
      p(`${a}.q_proj.weight`, [nq * d, h], { quant: "linear" }),
      p(`${a}.k_proj.weight`, [nkv * d, h], { quant: "linear" }),
      p(`${a}.v_proj.weight`, [nkv * d, h], { quant: "linear" }),
      p(`${a}.o_proj.weight`, [h, nq * d], { quant: "linear" }),
      p(`${a}.q_norm.weight`, [d], { transform: plusOne }),
      p(`${a}.k_norm.weight`, [d], { transform: plusOne }),
      p(`${m}.gate_up_proj.weight`, [2 * i, h], {
        quant: "linear",
        sources: [`${hf}${m}.gate_proj.weight`, `${hf}${m}.up_proj.weight`],
      }),
      p(`${m}.down_proj.weight`, [h, i], { quant: "linear" }),
    );
    for (const n of ["input", "post_attention", "pre_feedforward", "post_feedforward"]) {
      out.push(p(`model.layers.${l}.${n}_layernorm.weight`, [h], { transform: plusOne }));
    }
  }
  out.push(p("model.norm.weight", [h], { transform: plusOne }));
  return out;
}

/** The gemma3 architecture (Gemma3ForConditionalGeneration: `language_model.*` HF names). */
export const gemma3: Architecture = {
  name: "gemma3",
  hfModelTypes: ["gemma3"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: GEMMA3_CONFIG,
  params: gemma3Params,
};

/** The gemma3_text architecture (text-only Gemma 3 checkpoints, HF names without a prefix). */
export const gemma3Text: Architecture = {
  ...gemma3,
  name: "gemma3_text",
  hfModelTypes: ["gemma3_text"],
};
