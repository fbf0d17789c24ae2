// Tiny config.json objects of the dense model types of the second wave (starcoder2 ... rwkv6),
// one per registry key: 2 layers, hidden size 64, grouped-query attention where the type has it,
// biases and transforms switched on where the type has them (use_bias, use_qkv_bias, bias,
// rescale_every). Shared by support_test.ts (every scheme on every backend) and the per-family
// tests.

const LLAMA = {
  hidden_size: 64,
  intermediate_size: 96,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  rms_norm_eps: 1e-5,
  vocab_size: 96,
  max_position_embeddings: 128,
};
const { num_key_value_heads: _nkv, ...MHA } = LLAMA;
const IDS = { use_cache: true, pad_token_id: 0, bos_token_id: 1, eos_token_id: 2 };

/** A tiny config.json per dense registry key. */
export const DENSE_TINY: Record<string, Record<string, unknown>> = {
  starcoder2: {
    model_type: "starcoder2",
    ...LLAMA,
    hidden_act: "gelu_pytorch_tanh",
    norm_epsilon: 1e-5,
    rope_theta: 100000,
    use_bias: true,
    ...IDS,
  },
  gpt_bigcode: {
    model_type: "gpt_bigcode",
    n_embd: 64,
    n_inner: 96,
    n_head: 4,
    n_layer: 2,
    n_positions: 128,
    layer_norm_epsilon: 1e-5,
    vocab_size: 96,
    multi_query: true,
  },
  stablelm: {
    model_type: "stablelm",
    ...LLAMA,
    layer_norm_eps: 1e-5,
    partial_rotary_factor: 0.25,
    rope_theta: 10000,
    use_qkv_bias: true,
  },
  olmo: { model_type: "olmo", ...LLAMA, hidden_act: "silu", rope_theta: 10000, clip_qkv: null },
  olmo2: { model_type: "olmo2", ...LLAMA, hidden_act: "silu", rope_theta: 500000 },
  internlm: { model_type: "internlm", ...MHA, bias: true, ...IDS },
  internlm2: { model_type: "internlm2", ...LLAMA, bias: false, rope_theta: 1000000, ...IDS },
  cohere: { model_type: "cohere", ...LLAMA, layer_norm_eps: 1e-5, rope_theta: 10000, use_qk_norm: false },
  chatglm: {
    model_type: "chatglm",
    hidden_size: 64,
    num_layers: 2,
    kv_channels: 16,
    num_attention_heads: 4,
    ffn_hidden_size: 96,
    layernorm_epsilon: 1e-5,
    post_layer_norm: true,
    rmsnorm: true,
    add_bias_linear: false,
    add_qkv_bias: true,
    apply_query_key_layer_scaling: true,
    multi_query_attention: true,
    multi_query_group_num: 2,
    padded_vocab_size: 96,
    seq_length: 128,
  },
};
