/**
 * The three `MODEL_PRESETS` entries that `LlavaConfig.get_hf_config` falls back to when
 * transformers cannot fetch the text model's config (not installed, offline, gated:
 * `llava_model.py` L94-L110), copied from `python/mlc_llm/model/model_preset.py` (keys
 * `llama2_7b`, `llama2_13b`, `mistral_7b`) with Python's number types (`parsePyJson`).
 *
 * @module
 */
import { parsePyJson } from "../pyjson.ts";

// deno-fmt-ignore
const PRESETS_TEXT =
  "{\"llama2_7b\": {\"architectures\": [\"LlamaForCausalLM\"], \"bos_token_id\": 1, \"eos_token_id\": 2, \"hidden_act\": \"silu\", \"hidden_size\": 4096, \"initializer_range\": 0.02, \"intermediate_size\": 11008, \"max_position_embeddings\": 2048, \"model_type\": \"llama\", \"num_attention_heads\": 32, \"num_hidden_layers\": 32, \"num_key_value_heads\": 32, \"pad_token_id\": 0, \"pretraining_tp\": 1, \"rms_norm_eps\": 1e-05, \"rope_scaling\": null, \"tie_word_embeddings\": false, \"torch_dtype\": \"float16\", \"transformers_version\": \"4.31.0.dev0\", \"use_cache\": true, \"vocab_size\": 32000, \"context_window_size\": 2048, \"prefill_chunk_size\": 2048}, \"llama2_13b\": {\"_name_or_path\": \"meta-llama/Llama-2-13b-hf\", \"architectures\": [\"LlamaForCausalLM\"], \"bos_token_id\": 1, \"eos_token_id\": 2, \"hidden_act\": \"silu\", \"hidden_size\": 5120, \"initializer_range\": 0.02, \"intermediate_size\": 13824, \"max_position_embeddings\": 2048, \"model_type\": \"llama\", \"num_attention_heads\": 40, \"num_hidden_layers\": 40, \"num_key_value_heads\": 40, \"pad_token_id\": 0, \"pretraining_tp\": 2, \"rms_norm_eps\": 1e-05, \"rope_scaling\": null, \"tie_word_embeddings\": false, \"torch_dtype\": \"float16\", \"transformers_version\": \"4.31.0.dev0\", \"use_cache\": true, \"vocab_size\": 32000, \"context_window_size\": 2048, \"prefill_chunk_size\": 2048}, \"mistral_7b\": {\"architectures\": [\"MistralForCausalLM\"], \"bos_token_id\": 1, \"eos_token_id\": 2, \"hidden_act\": \"silu\", \"hidden_size\": 4096, \"initializer_range\": 0.02, \"intermediate_size\": 14336, \"max_position_embeddings\": 32768, \"model_type\": \"mistral\", \"num_attention_heads\": 32, \"num_hidden_layers\": 32, \"num_key_value_heads\": 8, \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.34.0.dev0\", \"use_cache\": true, \"vocab_size\": 32000, \"sliding_window_size\": 4096, \"prefill_chunk_size\": 128, \"attention_sink_size\": 4}}";

/** `preset_mapping` of `get_hf_config`: text model `_name_or_path` to preset. */
const PRESET_MAPPING: Readonly<Record<string, string>> = {
  "meta-llama/Llama-2-7b-hf": "llama2_7b",
  "meta-llama/Llama-2-13b-hf": "llama2_13b",
  "lmsys/vicuna-7b-v1.5": "llama2_7b",
  "mistralai/Mistral-7B-v0.1": "mistral_7b",
};

/**
 * The preset config dict for a text model's `_name_or_path`, or undefined (MLC: "Unsupported text
 * model").
 *
 * @example
 * ```ts
 * import { textPreset } from "./_llava_presets.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(textPreset("lmsys/vicuna-7b-v1.5")!.hidden_size, 4096);
 * ```
 */
export function textPreset(nameOrPath: string): Record<string, unknown> | undefined {
  const key = PRESET_MAPPING[nameOrPath];
  return key ? (parsePyJson(PRESETS_TEXT) as Record<string, Record<string, unknown>>)[key] : undefined;
}
