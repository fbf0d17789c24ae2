// baichuan, orion and qwen (Qwen-1): model_config on real configs, the MLC parameter lists,
// fusion bytes (qwen's gate_up_proj is w1 then w2), plans with the dimensions of published
// models and refusals before any read. MLC sources cited are at mlc-ai/mlc-llm 79d603f0
// (python/mlc_llm/model/{baichuan,orion,qwen}/).
import { assertEquals, assertThrows } from "./_assert.ts";
import { fromDict } from "../src/arch/config.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import { planConversion } from "../src/plan.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { hfTensors } from "../src/testing/hf_layouts.ts";
import {
  assertRealPlan,
  cat,
  convertSeeded,
  modelConfigText,
  noReadCheckpoint,
  parse,
  realConfig,
  summary,
  tinyOne,
} from "./_arch_helpers.ts";

const A = "model.layers.0.self_attn";
const M = "model.layers.0.mlp";

Deno.test("baichuan: model_config of baichuan-inc/Baichuan2-7B-Chat", async () => {
  assertEquals(
    modelConfigText("baichuan", await realConfig("Baichuan2-7B-Chat")),
    '{"vocab_size": 125696, "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, ' +
      '"initializer_range": 0.02, "intermediate_size": 11008, "rms_norm_eps": 1e-06, "use_cache": true, ' +
      '"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": false, ' +
      '"context_window_size": 4096, "prefill_chunk_size": 4096, "tensor_parallel_shards": 1, ' +
      '"max_batch_size": 128, "head_dim": 128}',
  );
});

Deno.test("baichuan: W_pack copied 1:1, gate_up = gate|up, lm_head always separate", async () => {
  // baichuan_loader.py: make_standard_hf_loader(include_qkv=False); baichuan_model.py L94-L95, L200
  assertEquals(summary(parse("baichuan", tinyOne("baichuan")).params), [
    "model.embed_tokens.weight [96,64] embedding <- =",
    `${A}.W_pack.weight [192,64] linear <- =`,
    `${A}.o_proj.weight [64,64] linear <- =`,
    `${M}.gate_up_proj.weight [192,64] linear <- ${M}.gate_proj.weight, ${M}.up_proj.weight`,
    `${M}.down_proj.weight [64,96] linear <- =`,
    "model.layers.0.input_layernorm.weight [64] <- =",
    "model.layers.0.post_attention_layernorm.weight [64] <- =",
    "model.norm.weight [64] <- =",
    "lm_head.weight [96,64] linear <- =",
  ]);
  // tie_word_embeddings is a required field but changes nothing (the head is always there)
  assertEquals(parse("baichuan", tinyOne("baichuan", { tie_word_embeddings: true })).params.length, 9);
  const { tie_word_embeddings: _, ...noTie } = tinyOne("baichuan");
  assertThrows(
    () => parse("baichuan", noTie),
    /BaichuanConfig is missing required field\(s\).*tie_word_embeddings/,
  );
  const { bytes, data } = await convertSeeded("baichuan", tinyOne("baichuan"));
  assertEquals(bytes.get(`${A}.W_pack.weight`), data.get(`${A}.W_pack.weight`));
  assertEquals(
    bytes.get(`${M}.gate_up_proj.weight`),
    cat(data, [`${M}.gate_proj.weight`, `${M}.up_proj.weight`]),
  );
});

Deno.test("Baichuan2-7B-Chat plan", async () => {
  assertRealPlan("baichuan", await realConfig("Baichuan2-7B-Chat"), "q4f16_1", [
    "model.embed_tokens.q_weight [125696,512] uint32",
    "model.layers.0.self_attn.W_pack.q_weight [12288,512] uint32",
    "model.layers.31.mlp.gate_up_proj.q_scale [22016,128] float16",
    "lm_head.q_scale [125696,128] float16",
  ], [325, 4222492672]);
});

Deno.test("orion: model_config of OrionStarAI/Orion-14B-Chat (kv heads and head_dim derived)", async () => {
  assertEquals(
    modelConfigText("orion", await realConfig("Orion-14B-Chat")),
    '{"hidden_size": 5120, "intermediate_size": 15360, "num_attention_heads": 40, "num_hidden_layers": 40, ' +
      '"rms_norm_eps": 1e-05, "vocab_size": 84608, "position_embedding_base": 10000.0, ' +
      '"context_window_size": 4096, "prefill_chunk_size": 4096, "num_key_value_heads": 40, "head_dim": 128, ' +
      '"tensor_parallel_shards": 1, "max_batch_size": 128}',
  );
});

Deno.test("orion: llama-like fusions, LayerNorms with bias, symbolic vocab, inv_freq unused", async () => {
  // orion_loader.py: standard loader, add_unused=["rotary_emb.inv_freq"];
  // orion_model.py L149-L150, L195 (nn.LayerNorm: weight and bias), L191 and L209 ("vocab_size")
  const { arch, cfg, params } = parse("orion", tinyOne("orion"));
  assertEquals(summary(params), [
    "model.embed_tokens.weight [vocab_size,64] embedding <- =",
    `${A}.qkv_proj.weight [128,64] linear <- ${A}.q_proj.weight, ${A}.k_proj.weight, ${A}.v_proj.weight`,
    `${A}.o_proj.weight [64,64] linear <- =`,
    `${M}.gate_up_proj.weight [192,64] linear <- ${M}.gate_proj.weight, ${M}.up_proj.weight`,
    `${M}.down_proj.weight [64,96] linear <- =`,
    "model.layers.0.input_layernorm.weight [64] <- =",
    "model.layers.0.input_layernorm.bias [64] <- =",
    "model.layers.0.post_attention_layernorm.weight [64] <- =",
    "model.layers.0.post_attention_layernorm.bias [64] <- =",
    "model.norm.weight [64] <- =",
    "model.norm.bias [64] <- =",
    "lm_head.weight [vocab_size,64] linear <- =",
  ]);
  assertEquals(arch.isUnused!(`${A}.rotary_emb.inv_freq`, cfg), true);
  const { bytes, data } = await convertSeeded("orion", tinyOne("orion"));
  assertEquals(bytes.get("model.norm.bias"), data.get("model.norm.bias"));
  assertEquals(
    bytes.get(`${A}.qkv_proj.weight`),
    cat(data, ["q", "k", "v"].map((x) => `${A}.${x}_proj.weight`)),
  );
});

Deno.test("Orion-14B-Chat plan; a GQA mismatch is refused before reading", async () => {
  assertRealPlan("orion", await realConfig("Orion-14B-Chat"), "q4f16_1", [
    "model.embed_tokens.q_weight [84608,640] uint32",
    "model.layers.39.self_attn.qkv_proj.q_weight [15360,640] uint32",
    "model.layers.39.post_attention_layernorm.bias [5120] float16",
    "lm_head.q_weight [84608,640] uint32",
  ], [486, 8156712960]);
  assertThrows(
    () => parse("orion", tinyOne("orion", { num_key_value_heads: 3 })),
    /multiple of num_key_value_heads/,
  );
  const tiny = tinyOne("orion");
  const arch = ARCHITECTURES.orion;
  const p = planConversion({
    arch,
    config: fromDict(arch.configClass, { ...tiny, num_key_value_heads: 4 }),
    scheme: getQuantization("q4f16_1"),
    checkpoint: noReadCheckpoint(hfTensors("orion", tiny)),
  });
  assertEquals(p.problems.length, 1);
  assertEquals(
    p.problems[0].startsWith(`Parameter ${A}.qkv_proj.weight has shape [128, 64], but expected [192, 64]`),
    true,
  );
});

Deno.test("qwen: model_config of Qwen/Qwen-1_8B-Chat", async () => {
  assertEquals(
    modelConfigText("qwen", await realConfig("Qwen-1_8B-Chat")),
    '{"vocab_size": 151936, "hidden_size": 2048, "num_hidden_layers": 24, "num_attention_heads": 16, ' +
      '"layer_norm_epsilon": 1e-06, "scale_attn_weights": true, "kv_channels": 128, "rotary_emb_base": 10000, ' +
      '"intermediate_size": 11008, "context_window_size": 8192, "prefill_chunk_size": 8192, ' +
      '"tensor_parallel_shards": 1, "max_batch_size": 128, "head_dim": 128}',
  );
});

Deno.test("qwen: c_attn 1:1 with bias, gate_up_proj = w1|w2 (full intermediate_size rows), c_proj half", async () => {
  const h = "transformer.h.0";
  // qwen_loader.py: layer_prefix="transformer.h", include_qkv=False, gate_up_names=("w1", "w2");
  // qwen_model.py L92-L94 (c_attn bias=True), L124-L129 (gate_up out = intermediate_size, c_proj in = half)
  assertEquals(summary(parse("qwen", tinyOne("qwen")).params), [
    "transformer.wte.weight [96,64] embedding <- =",
    `${h}.attn.c_attn.weight [192,64] linear <- =`,
    `${h}.attn.c_attn.bias [192] <- =`,
    `${h}.attn.c_proj.weight [64,64] linear <- =`,
    `${h}.mlp.gate_up_proj.weight [192,64] linear <- ${h}.mlp.w1.weight, ${h}.mlp.w2.weight`,
    `${h}.mlp.c_proj.weight [64,96] linear <- =`,
    `${h}.ln_1.weight [64] <- =`,
    `${h}.ln_2.weight [64] <- =`,
    "transformer.ln_f.weight [64] <- =",
    "lm_head.weight [96,64] linear <- =",
  ]);
  const { bytes, data } = await convertSeeded("qwen", tinyOne("qwen"));
  assertEquals(
    bytes.get(`${h}.mlp.gate_up_proj.weight`),
    cat(data, [`${h}.mlp.w1.weight`, `${h}.mlp.w2.weight`]),
  );
  assertEquals(bytes.get(`${h}.attn.c_attn.bias`), data.get(`${h}.attn.c_attn.bias`));
});

Deno.test("Qwen-1_8B-Chat plan; a missing field is refused", async () => {
  const hf = await realConfig("Qwen-1_8B-Chat");
  assertRealPlan("qwen", hf, "q4f16_1", [
    "transformer.wte.q_weight [151936,256] uint32",
    "transformer.h.0.attn.c_attn.q_weight [6144,256] uint32",
    "transformer.h.0.attn.c_attn.bias [6144] float16",
    "transformer.h.23.mlp.gate_up_proj.q_weight [11008,256] uint32",
    "transformer.h.23.mlp.c_proj.q_weight [2048,688] uint32", // 5504 inputs = 172 groups of 32
    "lm_head.q_weight [151936,256] uint32",
  ], [269, 1033572352]);
  const { kv_channels: _, ...noKv } = hf;
  assertThrows(
    () => parse("qwen", noKv),
    /QWenConfig is missing required field\(s\) in config.json: kv_channels/,
  );
});
