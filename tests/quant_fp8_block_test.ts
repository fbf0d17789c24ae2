// FP8 block-scale import (fp8_e4m3fn_bf16_block_scale[_static_activation]) on qwen3. Expected
// names, shapes and dtypes derived by hand from MLC's source (mlc-ai/mlc-llm at 79d603f0):
// - python/mlc_llm/quantization/block_scale_quantization.py L198-209: weight (N, K)
//   float8_e4m3fn, weight_scale_inv ((N + b0 - 1) // b0, (K + b1 - 1) // b1) float32, bias;
//   L356-357: the static-activation subclass adds activation_scale ((K + b1 - 1) // b1,) float32
//   after its parent's parameters;
// - python/mlc_llm/quantization/quantization.py L188-200: model dtype bfloat16;
// - python/mlc_llm/model/qwen3/qwen3_loader.py L75-98: `<weight>_scale_inv` from the HF
//   `<name>_scale_inv` tensors, concatenated like the weight (axis 0, L109 and L134); L47-52:
//   "The input Qwen3 model is not fp8 block quantized" without weight_block_size.
// Float32 parameters are stored bf16-encoded (spec/quant.md 6.5), by the cache writer as for q0f32.
import { assertEquals, assertThrows } from "./_assert.ts";
import { blockScaleParams, weightBlockSize } from "../src/quant/fp8_block.ts";
import { decodeQuantSource, f32Bits, f32BitsToBf16Storage } from "../src/dtype.ts";
import { parse } from "./_arch_helpers.ts";

const QWEN3 = {
  model_type: "qwen3",
  hidden_size: 64,
  intermediate_size: 160,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 16,
  num_hidden_layers: 1,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  vocab_size: 32,
  max_position_embeddings: 64,
  tie_word_embeddings: true,
  hidden_act: "silu",
  attention_bias: false,
};
const FP8 = { quant_method: "fp8", fmt: "e4m3", activation_scheme: "dynamic", weight_block_size: [128, 128] };

Deno.test("fp8 block-scale: qwen3 parameters with their scale_inv blocks (ceil division) and bfloat16 elsewhere", () => {
  assertEquals(weightBlockSize({ ...QWEN3, quantization_config: FP8 }), [128, 128]);
  const { params } = parse("qwen3", QWEN3);
  const a = "model.layers.0.self_attn";
  const m = "model.layers.0.mlp";
  const lines = blockScaleParams(params, [128, 128], false).map((p) =>
    `${p.name} [${p.shape.join(",")}] ${p.dtype} <- ${p.sources.join(", ")}`
  );
  assertEquals(lines, [
    "model.embed_tokens.weight [32,64] bfloat16 <- model.embed_tokens.weight",
    // c_attn: N = (4 + 2 * 2) * 16 = 128, K = 64 -> one block
    `${a}.c_attn.weight [128,64] float8_e4m3fn <- ${a}.q_proj.weight, ${a}.k_proj.weight, ${a}.v_proj.weight`,
    `${a}.c_attn.weight_scale_inv [1,1] float32 <- ${a}.q_proj.weight_scale_inv, ${a}.k_proj.weight_scale_inv, ${a}.v_proj.weight_scale_inv`,
    `${a}.o_proj.weight [64,64] float8_e4m3fn <- ${a}.o_proj.weight`,
    `${a}.o_proj.weight_scale_inv [1,1] float32 <- ${a}.o_proj.weight_scale_inv`,
    `${a}.q_norm.weight [16] bfloat16 <- ${a}.q_norm.weight`,
    `${a}.k_norm.weight [16] bfloat16 <- ${a}.k_norm.weight`,
    // gate_up: N = 320 -> ceil(320 / 128) = 3
    `${m}.gate_up_proj.weight [320,64] float8_e4m3fn <- ${m}.gate_proj.weight, ${m}.up_proj.weight`,
    `${m}.gate_up_proj.weight_scale_inv [3,1] float32 <- ${m}.gate_proj.weight_scale_inv, ${m}.up_proj.weight_scale_inv`,
    // down: K = 160 -> ceil(160 / 128) = 2
    `${m}.down_proj.weight [64,160] float8_e4m3fn <- ${m}.down_proj.weight`,
    `${m}.down_proj.weight_scale_inv [1,2] float32 <- ${m}.down_proj.weight_scale_inv`,
    "model.layers.0.input_layernorm.weight [64] bfloat16 <- model.layers.0.input_layernorm.weight",
    "model.layers.0.post_attention_layernorm.weight [64] bfloat16 <- model.layers.0.post_attention_layernorm.weight",
    "model.norm.weight [64] bfloat16 <- model.norm.weight",
  ]);
});

Deno.test("fp8 block-scale static activation: activation_scale follows the weight, its scale and its bias", () => {
  const { params } = parse("qwen3", { ...QWEN3, attention_bias: true });
  const a = "model.layers.0.self_attn";
  const names = blockScaleParams(params, [128, 128], true).map((p) => `${p.name} [${p.shape.join(",")}]`);
  assertEquals(names.slice(1, 8), [
    `${a}.c_attn.weight [128,64]`,
    `${a}.c_attn.weight_scale_inv [1,1]`,
    `${a}.c_attn.bias [128]`,
    `${a}.c_attn.activation_scale [1]`,
    `${a}.o_proj.weight [64,64]`,
    `${a}.o_proj.weight_scale_inv [1,1]`,
    `${a}.o_proj.bias [64]`,
  ]);
  assertEquals(names.includes("model.layers.0.mlp.down_proj.activation_scale [2]"), true);
});

Deno.test("fp8 block-scale: a config without weight_block_size is refused as MLC does, bad sizes are named", () => {
  assertThrows(() => weightBlockSize(QWEN3), /The input model is not fp8 block quantized/);
  assertThrows(
    () => weightBlockSize({ quantization_config: { ...FP8, weight_block_size: [128, 0] } }),
    /weight_block_size must be two positive integers, got \[128,0\]/,
  );
});

Deno.test("fp8 block-scale: values are copied; FP8 bytes stay, float32 scale_inv is stored bf16-encoded", () => {
  // FP8 weights pass through astype(float8_e4m3fn) unchanged: 0x38 = 1; 0xd4 = sign 1, exponent
  // 0b1010 = 10, mantissa 0b100 = 4: -(8 + 4) * 2^(10 - 10) = -12; 0x7e = (8 + 6) * 2^(15 - 10) = 448
  assertEquals([...decodeQuantSource(new Uint8Array([0x38, 0xd4, 0x7e]), "float8_e4m3fn", 3)], [1, -12, 448]);
  // scale_inv 1 + 2^-8 + 2^-20: float32 bits 0x3f808008; bf16 storage rounds the low half
  // 0x8008 > 0x8000 up -> 0x3f81 (tvmjs _convert_f32_to_bf16, round to nearest even)
  const s = 1 + 2 ** -8 + 2 ** -20;
  assertEquals(f32Bits(s), 0x3f808008);
  assertEquals(f32BitsToBf16Storage(f32Bits(s)), 0x3f81);
  // 1.5 * 2^-9 is exact in bf16: exponent field 127 - 9 = 0x76, mantissa 0b1000000:
  // (0x76 << 7) | 0x40 = 0x3b40
  assertEquals(f32BitsToBf16Storage(f32Bits(1.5 * 2 ** -9)), 0x3b40);
});
