// Tiny config.json objects of the multimodal, embedding and speculative-decoding model types
// (bert ... qwen3_5_text), one per registry key, with the dimensions of tests/_dense_tiny.ts
// (hidden 64, 2 layers, grouped-query attention where the type has it). Shared by support_test.ts
// (every scheme on every backend) and the per-family tests.
import { LLAMA } from "./_dense_tiny.ts";

const BERT = {
  model_type: "bert",
  vocab_size: 96,
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 96,
  hidden_act: "gelu",
  layer_norm_eps: 1e-12,
  max_position_embeddings: 32,
  type_vocab_size: 2,
};

/** A tiny Qwen3.5 text config: layer 0 linear attention (GatedDeltaNet), layer 1 full attention. */
const QWEN35_TEXT = {
  model_type: "qwen3_5_text",
  ...LLAMA,
  head_dim: 16,
  rms_norm_eps: 1e-6,
  hidden_act: "silu",
  attention_bias: false,
  full_attention_interval: 2,
  linear_key_head_dim: 16,
  linear_value_head_dim: 16,
  linear_num_key_heads: 2,
  linear_num_value_heads: 4,
  linear_conv_kernel_dim: 4,
  tie_word_embeddings: false,
  dtype: "bfloat16",
  rope_parameters: { rope_type: "default", rope_theta: 10000000, partial_rotary_factor: 0.25 },
};

/** A tiny CLIP vision tower (image 8, patch 4: 4 patches + the class token). */
const CLIP = {
  hidden_size: 32,
  image_size: 8,
  intermediate_size: 48,
  num_attention_heads: 2,
  num_hidden_layers: 1,
  patch_size: 4,
  projection_dim: 32,
  vocab_size: 1,
  model_type: "clip_vision_model",
};

/** A tiny config.json per multimodal / embedding / speculative registry key. */
export const MM_TINY: Record<string, Record<string, unknown>> = {
  "qwen3-embedding": {
    model_type: "qwen3",
    ...LLAMA,
    hidden_act: "silu",
    rope_theta: 10000,
    head_dim: 16,
    attention_bias: false,
    tie_word_embeddings: true,
  },
  eagle: { model_type: "llama", ...LLAMA, bias: true },
  medusa: { medusa_num_heads: 2, medusa_num_layers: 1, hidden_size: 64, vocab_size: 96 },
  bert: BERT,
  "bert-bge": BERT,
  qwen3_5: { model_type: "qwen3_5", text_config: QWEN35_TEXT, tie_word_embeddings: false },
  qwen3_5_text: QWEN35_TEXT,
  llava: {
    model_type: "llava",
    image_token_index: 95,
    vocab_size: 96,
    text_config: { model_type: "llama", ...LLAMA },
    vision_config: CLIP,
  },
  // text-only (no vision_config): HF names without language_model.; untied head; FP8 absent
  ministral3: {
    model_type: "ministral3",
    ...LLAMA,
    head_dim: 32,
    rope_parameters: { rope_theta: 1000000.0, rope_type: "yarn", factor: 16.0, mscale_all_dim: 1.0 },
    sliding_window: null,
    tie_word_embeddings: false,
  },
  phi3_v: {
    model_type: "phi3_v",
    ...LLAMA,
    num_key_value_heads: 4,
    img_processor: { image_dim_out: 32, model_name: "openai/clip-vit-large-patch14-336" },
  },
};
