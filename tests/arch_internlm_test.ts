// internlm and internlm2: model_config on real configs, the MLC parameter lists, the
// InternLM2 wqkv regroup (hand-derived rows), plans with the dimensions of published models,
// and refusals before any read. MLC sources cited are at mlc-ai/mlc-llm 79d603f0
// (python/mlc_llm/model/{internlm,internlm2}/).
import { assertEquals, assertThrows } from "./_assert.ts";
import { regroupWqkv } from "../src/arch/_transforms.ts";
import { fromDict } from "../src/arch/config.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import { planConversion } from "../src/plan.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { hfTensors } from "../src/testing/hf_layouts.ts";
import {
  assertRealPlan,
  cat,
  convertSeeded,
  convertTiny,
  f16bits,
  le16,
  modelConfigText,
  noReadCheckpoint,
  outLine,
  parse,
  planReal,
  realConfig,
  summary,
  tinyOne,
  words16,
} from "./_arch_helpers.ts";
import { DENSE_TINY } from "./_dense_tiny.ts";

const A = "model.layers.0.self_attn";
const M = "model.layers.0.mlp";

Deno.test("internlm: model_config of internlm/internlm-chat-7b", async () => {
  assertEquals(
    modelConfigText("internlm", await realConfig("internlm-chat-7b")),
    '{"vocab_size": 103168, "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, ' +
      '"rms_norm_eps": 1e-06, "intermediate_size": 11008, "bias": true, "use_cache": true, "pad_token_id": 2, ' +
      '"bos_token_id": 1, "eos_token_id": 2, "context_window_size": 2048, "prefill_chunk_size": 2048, ' +
      '"tensor_parallel_shards": 1, "max_batch_size": 128, "head_dim": 128}',
  );
});

Deno.test("internlm: wqkv_pack with its fused bias, o_proj bias under `bias`, inv_freq declared unused", () => {
  // internlm_loader.py L10-L16: qkv_target_name="wqkv_pack", add_qkv_bias, qkv_bias_optional,
  // add_unused=["rotary_emb.inv_freq"]; internlm_model.py L95-L98 (bias=config.bias)
  const { arch, cfg, params } = parse("internlm", tinyOne("internlm"));
  assertEquals(summary(params), [
    "model.embed_tokens.weight [96,64] embedding <- =",
    `${A}.wqkv_pack.weight [192,64] linear <- ${A}.q_proj.weight, ${A}.k_proj.weight, ${A}.v_proj.weight`,
    `${A}.wqkv_pack.bias [192] <- ${A}.q_proj.bias, ${A}.k_proj.bias, ${A}.v_proj.bias`,
    `${A}.o_proj.weight [64,64] linear <- =`,
    `${A}.o_proj.bias [64] <- =`,
    `${M}.gate_up_proj.weight [192,64] linear <- ${M}.gate_proj.weight, ${M}.up_proj.weight`,
    `${M}.down_proj.weight [64,96] linear <- =`,
    "model.layers.0.input_layernorm.weight [64] <- =",
    "model.layers.0.post_attention_layernorm.weight [64] <- =",
    "model.norm.weight [64] <- =",
    "lm_head.weight [96,64] linear <- =",
  ]);
  assertEquals(arch.isUnused!(`${A}.rotary_emb.inv_freq`, cfg), true);
  assertEquals(parse("internlm", tinyOne("internlm", { bias: false })).params.length, 9); // no wqkv_pack.bias, o_proj.bias
});

Deno.test("internlm-chat-7b plan (its saved inv_freq buffers declared unused) and fusion bytes", async () => {
  assertRealPlan("internlm", await realConfig("internlm-chat-7b"), "q4f16_1", [
    "model.layers.0.self_attn.wqkv_pack.q_weight [12288,512] uint32",
    "model.layers.0.self_attn.wqkv_pack.bias [12288] float16",
    "model.layers.0.self_attn.o_proj.bias [4096] float16",
    "lm_head.q_weight [103168,512] uint32",
  ], [389, 4119732224]);
  const { bytes, data } = await convertSeeded("internlm", tinyOne("internlm"));
  assertEquals(
    bytes.get(`${A}.wqkv_pack.bias`),
    cat(data, ["q", "k", "v"].map((x) => `${A}.${x}_proj.bias`)),
  );
  assertEquals(
    bytes.get(`${M}.gate_up_proj.weight`),
    cat(data, [`${M}.gate_proj.weight`, `${M}.up_proj.weight`]),
  );
});

Deno.test("internlm2: model_config of internlm/internlm2_5-7b-chat (prefill cap 2048)", async () => {
  const logs: string[] = [];
  assertEquals(
    modelConfigText("internlm2", await realConfig("internlm2_5-7b-chat"), logs),
    '{"vocab_size": 92544, "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, ' +
      '"num_key_value_heads": 8, "rms_norm_eps": 1e-05, "intermediate_size": 14336, "bias": false, ' +
      '"use_cache": true, "rope_theta": 1000000, "pad_token_id": 2, "bos_token_id": 1, "eos_token_id": 2, ' +
      '"context_window_size": 32768, "prefill_chunk_size": 2048, "tensor_parallel_shards": 1, ' +
      '"max_batch_size": 128, "head_dim": 128}',
  );
  // internlm2_model.py L68-L74: min(context_window_size, 2048)
  assertEquals(logs[1], "prefill_chunk_size defaults to 2048");
});

Deno.test("internlm2: wqkv regrouped (whole), gate_up = w1|w3, output head; bias copied as is", () => {
  const p = "model.layers.0";
  // internlm2_loader.py L55-L81: gate_up_proj <- [w1, w3]; wqkv <- wqkv with _convert_wqkv_layout
  assertEquals(summary(parse("internlm2", tinyOne("internlm2")).params), [
    "model.tok_embeddings.weight [96,64] embedding <- =",
    `${p}.attention.wqkv.weight [128,64] linear whole <- =`,
    `${p}.attention.wo.weight [64,64] linear <- =`,
    `${p}.feed_forward.gate_up_proj.weight [192,64] linear <- ${p}.feed_forward.w1.weight, ${p}.feed_forward.w3.weight`,
    `${p}.feed_forward.w2.weight [64,96] linear <- =`,
    `${p}.attention_norm.weight [64] <- =`,
    `${p}.ffn_norm.weight [64] <- =`,
    "model.norm.weight [64] <- =",
    "output.weight [96,64] linear <- =",
  ]);
  // bias: true (no released checkpoint): the loader's default 1:1 mapping, no regroup (L83-L92)
  const b = summary(parse("internlm2", tinyOne("internlm2", { bias: true })).params);
  assertEquals(b.slice(2, 5), [
    `${p}.attention.wqkv.bias [128] <- =`,
    `${p}.attention.wo.weight [64,64] linear <- =`,
    `${p}.attention.wo.bias [64] <- =`,
  ]);
});

Deno.test("internlm2 wqkv regroup: rows [q..q k v] per kv head -> [all q; all k; all v] (hand-derived)", async () => {
  // internlm2_loader.py L44-L53: reshape(-1, 2 + g, head_dim, in), split [g, g + 1] on axis 1.
  // 2 kv heads, g = 2, head_dim 2: HF rows  j0: q0 q0' q1 q1' k0 k0' v0 v0'  j1: q2 q2' q3 q3' k1 k1' v1 v1'
  const rows = Array.from({ length: 16 }, (_, r) => r);
  const t = regroupWqkv({ dtype: "float16", shape: [16, 1], data: le16(rows) }, 2, 2, 2);
  assertEquals(words16(t), [0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15]);
  assertThrows(
    () => regroupWqkv({ dtype: "float16", shape: [12, 1], data: le16(rows.slice(0, 12)) }, 2, 2, 2),
    /expected 16 rows/,
  );
  // through a conversion: hidden 4, 4 heads, 2 kv heads (head_dim 1), row r = [4r+1 .. 4r+4]
  const hf = {
    ...DENSE_TINY.internlm2,
    hidden_size: 4,
    intermediate_size: 4,
    num_hidden_layers: 1,
    vocab_size: 2,
  };
  const w = Array.from({ length: 32 }, (_, k) => k + 1);
  const data = new Map([["model.layers.0.attention.wqkv.weight", le16(f16bits(w))]]);
  const r = await convertTiny("internlm2", hf, "q0f16", data, "float16");
  // HF rows: q0 q1 k0 v0 | q2 q3 k1 v1 -> MLC rows q0 q1 q2 q3 k0 k1 v0 v1 = HF rows 0 1 4 5 2 6 3 7
  const order = [0, 1, 4, 5, 2, 6, 3, 7];
  assertEquals(
    words16(r.bytes.get("model.layers.0.attention.wqkv.weight")!),
    f16bits(order.flatMap((row) => w.slice(row * 4, row * 4 + 4))),
  );
  // bf16 model dtype: the regrouped rows cast (small integers are exact)
  const b = await convertTiny("internlm2", hf, "q0bf16", data, "float16");
  assertEquals(words16(b.bytes.get("model.layers.0.attention.wqkv.weight")!).slice(0, 4), [
    0x3f80,
    0x4000,
    0x4040,
    0x4080,
  ]);
});

Deno.test("internlm2_5-7b-chat plan: `output` is not a final FC, so q4f16_2 quantizes it", async () => {
  const hf = await realConfig("internlm2_5-7b-chat");
  assertRealPlan("internlm2", hf, "q4f16_1", [
    "model.tok_embeddings.q_weight [92544,512] uint32",
    "model.layers.0.attention.wqkv.q_weight [6144,512] uint32", // (32 + 2*8) * 128
    "model.layers.31.feed_forward.gate_up_proj.q_scale [28672,128] float16",
    "output.q_weight [92544,512] uint32",
  ], [325, 4352843776]);
  const q2 = planReal("internlm2", hf, "q4f16_2").outputs.map(outLine);
  assertEquals(q2.includes("output.q_weight [92544,512] uint32"), true); // quantization/utils.py is_final_fc
  assertEquals(q2.includes("model.tok_embeddings.weight [92544,4096] float16"), true);
});

Deno.test("internlm2: a wqkv that does not hold (Nq + 2 Nkv) * D rows is refused before reading", () => {
  const tiny = tinyOne("internlm2");
  const arch = ARCHITECTURES.internlm2;
  const tensors = hfTensors("internlm2", tiny).map((t) =>
    t.name.endsWith("wqkv.weight") ? { ...t, shape: [192, 64] } : t
  );
  const plan = planConversion({
    arch,
    config: fromDict(arch.configClass, tiny),
    scheme: getQuantization("q4f16_1"),
    checkpoint: noReadCheckpoint(tensors),
  });
  assertEquals(plan.problems, [
    "Parameter model.layers.0.attention.wqkv.weight has shape [192, 64], but expected [128, 64] " +
    "(built from model.layers.0.attention.wqkv.weight [192, 64])",
  ]);
  const { rope_theta: _, ...noTheta } = tiny;
  assertThrows(
    () => parse("internlm2", noTheta),
    /InternLM2Config is missing required field\(s\).*rope_theta/,
  );
});
