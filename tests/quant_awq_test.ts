// AWQ import (q4f16_autoawq): MLC's AWQ loader is a pure copy, so the expected bytes are
// derived by hand from its source (mlc-ai/mlc-llm at 79d603f0):
// - python/mlc_llm/quantization/awq_quantization.py L191-205 (AWQQuantizeLinear.__init__):
//   qweight (K, N/8) uint32, qzeros (K/128, N/8) uint32, scales (K/128, N) model dtype, in that
//   order, then the bias;
// - python/mlc_llm/model/llama/llama_loader.py L25-102 (awq): qkv_proj.* = concatenate
//   [q, k, v] with axis=1 (L67, "AWQ GEMM would transpose the weight"), gate_up_proj.* =
//   [gate, up] with axis=1 (L88), everything else 1:1 with `.astype(mlc_param.dtype)` (L102);
// - awq_quantization.py L133-156 (_dequantize: convert_uint_to_float(..., ft_reorder=True));
// - python/mlc_llm/model/model.py L142 llama and L697 olmo register `"awq"` sources with
//   supports_awq (L146, L701); L170 mistral's has no awq quantize entry; mixtral (L263-264) and
//   nemotron (L715-730) set supports_awq without an awq source. (llava L550 is not a model type here;
//   eagle L591 registers eagle_loader.awq: tests/prequantized_convert_test.ts converts it.)
import { assertEquals, assertThrows } from "./_assert.ts";
import {
  AWQ_ORDER,
  awqParams,
  awqRefusal,
  concatAxis1,
  packAwqWord,
  unpackAwqWord,
} from "../src/quant/awq.ts";
import { parse } from "./_arch_helpers.ts";
import type { HostTensor } from "../src/arch/types.ts";

// Llama with K a multiple of 128: head_dim 32, 4 query heads, 2 KV heads, one layer.
const LLAMA_AWQ = {
  model_type: "llama",
  hidden_size: 128,
  intermediate_size: 256,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 1,
  rms_norm_eps: 1e-5,
  vocab_size: 32,
  max_position_embeddings: 64,
};

Deno.test("awq: llama parameters as MLC's AWQQuantizeLinear declares them, sources as llama_loader.awq maps them", () => {
  const { params } = parse("llama", LLAMA_AWQ);
  const lines = awqParams(params).map((p) =>
    `${p.name} [${p.shape.join(",")}] ${p.dtype} axis${p.axis} <- ${p.sources.join(", ")}`
  );
  const a = "model.layers.0.self_attn";
  const m = "model.layers.0.mlp";
  assertEquals(lines, [
    "model.embed_tokens.weight [vocab_size,128] float16 axis0 <- model.embed_tokens.weight",
    // qkv: N = (4 + 2 * 2) * 32 = 256, K = 128
    `${a}.qkv_proj.qweight [128,32] uint32 axis1 <- ${a}.q_proj.qweight, ${a}.k_proj.qweight, ${a}.v_proj.qweight`,
    `${a}.qkv_proj.qzeros [1,32] uint32 axis1 <- ${a}.q_proj.qzeros, ${a}.k_proj.qzeros, ${a}.v_proj.qzeros`,
    `${a}.qkv_proj.scales [1,256] float16 axis1 <- ${a}.q_proj.scales, ${a}.k_proj.scales, ${a}.v_proj.scales`,
    `${a}.o_proj.qweight [128,16] uint32 axis1 <- ${a}.o_proj.qweight`,
    `${a}.o_proj.qzeros [1,16] uint32 axis1 <- ${a}.o_proj.qzeros`,
    `${a}.o_proj.scales [1,128] float16 axis1 <- ${a}.o_proj.scales`,
    `${m}.gate_up_proj.qweight [128,64] uint32 axis1 <- ${m}.gate_proj.qweight, ${m}.up_proj.qweight`,
    `${m}.gate_up_proj.qzeros [1,64] uint32 axis1 <- ${m}.gate_proj.qzeros, ${m}.up_proj.qzeros`,
    `${m}.gate_up_proj.scales [1,512] float16 axis1 <- ${m}.gate_proj.scales, ${m}.up_proj.scales`,
    // down: N = 128, K = 256 (two groups)
    `${m}.down_proj.qweight [256,16] uint32 axis1 <- ${m}.down_proj.qweight`,
    `${m}.down_proj.qzeros [2,16] uint32 axis1 <- ${m}.down_proj.qzeros`,
    `${m}.down_proj.scales [2,128] float16 axis1 <- ${m}.down_proj.scales`,
    "model.layers.0.input_layernorm.weight [128] float16 axis0 <- model.layers.0.input_layernorm.weight",
    "model.layers.0.post_attention_layernorm.weight [128] float16 axis0 <- model.layers.0.post_attention_layernorm.weight",
    "model.norm.weight [128] float16 axis0 <- model.norm.weight",
    // is_final_fc: lm_head stays a float16 weight
    "lm_head.weight [vocab_size,128] float16 axis0 <- lm_head.weight",
  ]);
});

Deno.test("awq: shapes that AWQ cannot hold and model types without an MLC AWQ loader are refused", () => {
  const { params } = parse("llama", { ...LLAMA_AWQ, hidden_size: 64, num_attention_heads: 2 });
  assertThrows(
    () => awqParams(params),
    /qkv_proj\.weight: AWQ needs N divisible by 8 and K by 128, got \(N, K\) = \(192, 64\)/,
  );
  assertEquals(awqRefusal("llama"), undefined);
  assertEquals(awqRefusal("olmo"), undefined);
  assertEquals(
    awqRefusal("qwen2"),
    "MLC has no AWQ loader for qwen2; q4f16_autoawq imports AutoAWQ checkpoints for llama, olmo, eagle only",
  );
  assertEquals(awqRefusal("mistral")!.includes("mistral_loader.awq crashes"), true);
  assertEquals(awqRefusal("mixtral")!.includes("no awq source loader"), true);
});

const i32 = (rows: number, cols: number, f: (r: number, c: number) => number): HostTensor => {
  const w = new Int32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) w[r * cols + c] = f(r, c);
  return { dtype: "uint32", shape: [rows, cols], data: new Uint8Array(w.buffer) };
};

Deno.test("awq: fused qweight is np.concatenate([q, k, v], axis=1) with int32 bits kept as uint32", () => {
  // K = 128 rows; q has 16 words per row, k and v 8 each. Distinct values per tensor, with
  // negative int32 words (high nibble 0x8..0xf) whose bits must survive astype(uint32).
  const q = i32(128, 16, (r, c) => (0x80000000 | (r << 8) | c) | 0);
  const k = i32(128, 8, (r, c) => 0x10000 * (r + 1) + c);
  const v = i32(128, 8, (r, c) => -(r * 8 + c + 1));
  const out = concatAxis1([q, k, v]);
  assertEquals(out.shape, [128, 32]);
  const u = new Uint32Array(out.data.buffer);
  // row 0: q words 0x80000000..0x8000000f, then k 0x10000..0x10007, then v as uint32
  assertEquals(u[0], 0x80000000);
  assertEquals(u[15], 0x8000000f);
  assertEquals(u[16], 0x10000);
  assertEquals(u[23], 0x10007);
  assertEquals(u[24], 0xffffffff); // -1
  assertEquals(u[31], 0xfffffff8); // -8
  // row 5 starts at word 160: q[5][0] = 0x80000500; its k part is 0x60000.., v = -(41)
  assertEquals(u[160], 0x80000500);
  assertEquals(u[176], 0x60000);
  assertEquals(u[184], -41 >>> 0);
  // last word: v[127][7] = -(127 * 8 + 8)
  assertEquals(u[128 * 32 - 1], -1024 >>> 0);
  assertThrows(() => concatAxis1([q, i32(64, 8, () => 0)]), /needs 2-D tensors with 128 rows of one dtype/);
});

Deno.test("awq: scales concatenate along N in float16, and AutoAWQ's nibble order is what MLC's ft_reorder reads", () => {
  const f16 = (vals: number[]): HostTensor => ({
    dtype: "float16",
    shape: [1, vals.length],
    data: new Uint8Array(new Float16Array(vals).buffer),
  });
  const s = concatAxis1([f16([0.5, 0.25]), f16([2]), f16([-1, 0.125])]);
  assertEquals([...new Uint16Array(s.data.buffer)], [0x3800, 0x3400, 0x4000, 0xbc00, 0x3000]);
  // AutoAWQ (awq/modules/linear/gemm.py): order_map [0, 2, 4, 6, 1, 3, 5, 7], position i holds
  // column order_map[i]; MLC reads logical element e at shift ((e % 2) * 4 + e // 2) * 4.
  assertEquals(AWQ_ORDER, [0, 2, 4, 6, 1, 3, 5, 7]);
  assertEquals(packAwqWord([0, 1, 2, 3, 4, 5, 6, 7]), 0x75316420);
  assertEquals(unpackAwqWord(0x75316420), [0, 1, 2, 3, 4, 5, 6, 7]);
  assertEquals(unpackAwqWord(0x76543210), [0, 4, 1, 5, 2, 6, 3, 7]);
  for (const vals of [[15, 0, 7, 8, 1, 14, 2, 13], [9, 9, 9, 9, 0, 0, 0, 0]]) {
    assertEquals(unpackAwqWord(packAwqWord(vals)), vals);
  }
});
