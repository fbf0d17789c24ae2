// deepseek, deepseek_v2 and deepseek_v3: model_config on the published configs, dense first layers
// then MoE layers with shared experts, multi-head latent attention's w_uk / w_uv derived from
// kv_b_proj (hand-derived element maps), the float32 e_score_correction_bias of V3, plans with the
// dimensions of deepseek-moe-16b, DeepSeek-V2-Lite and DeepSeek-V3, and refusals before any read.
// MLC sources cited are at mlc-ai/mlc-llm 79d603f0 (python/mlc_llm/model/{deepseek,deepseek_v2}/).
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
  words16,
} from "./_arch_helpers.ts";
import { convertOnDisk, MOE_TINY, tinyMoe } from "./_moe_tiny.ts";

const IDS = [0, 1, 2, 3];
const M = "model.layers.1.mlp";
const ex = (e: number, w: string) => `${M}.experts.${e}.${w}.weight`;
/** Bytes of one q4 row of `k` elements: ceil(k / 32) groups of 4 uint32 words and one f16 scale. */
const q4row = (k: number) => Math.ceil(k / 32) * (4 * 4 + 2);

Deno.test("deepseek: model_config of deepseek-ai/deepseek-moe-16b-base", async () => {
  // deepseek_model.py L25-L93 (fields in order, head_dim derived, prefill cap 8192)
  assertEquals(
    modelConfigText("deepseek", await realConfig("deepseek-moe-16b-base")),
    '{"vocab_size": 102400, "hidden_size": 2048, "intermediate_size": 10944, "moe_intermediate_size": 1408, ' +
      '"num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 16, "n_shared_experts": 2, ' +
      '"n_routed_experts": 64, "moe_layer_freq": 1, "first_k_dense_replace": 1, "hidden_act": "silu", ' +
      '"norm_topk_prob": false, "attention_bias": false, "rms_norm_eps": 1e-06, "use_cache": true, ' +
      '"bos_token_id": 100000, "eos_token_id": 100001, "tie_word_embeddings": false, "rope_theta": 10000, ' +
      '"context_window_size": 4096, "prefill_chunk_size": 4096, "tensor_parallel_shards": 1, "head_dim": 128, ' +
      '"max_batch_size": 128, "num_experts_per_tok": 6}',
  );
});

Deno.test("deepseek: layer 0 dense (first_k_dense_replace), layer 1 router + stacked experts + shared experts", () => {
  const A = "model.layers.1.self_attn";
  // deepseek_model.py L168-L192 (gate, moe_gate_up_proj, moe_down_proj, shared_experts) and
  // L247-L258 (the MoE test); deepseek_loader.py L44-L137
  const lines = summary(parse("deepseek", tinyMoe("deepseek")).params);
  assertEquals(lines.slice(1, 5), [
    "model.layers.0.self_attn.wqkv_pack.weight [128,64] linear <- model.layers.0.self_attn.q_proj.weight, " +
    "model.layers.0.self_attn.k_proj.weight, model.layers.0.self_attn.v_proj.weight",
    "model.layers.0.self_attn.o_proj.weight [64,64] linear <- =",
    "model.layers.0.mlp.gate_up_proj.weight [192,64] linear <- model.layers.0.mlp.gate_proj.weight, " +
    "model.layers.0.mlp.up_proj.weight",
    "model.layers.0.mlp.down_proj.weight [64,96] linear <- =",
  ]);
  assertEquals(lines.slice(8, 14), [
    `${A}.o_proj.weight [64,64] linear <- =`,
    `${M}.gate.weight [4,64] linear <- =`,
    `${M}.moe_gate_up_proj.weight [4,64,64] experts stack4 <- ${
      IDS.flatMap((e) => [ex(e, "gate_proj"), ex(e, "up_proj")]).join(", ")
    }`,
    `${M}.moe_down_proj.weight [4,64,32] experts stack4 <- ${IDS.map((e) => ex(e, "down_proj")).join(", ")}`,
    `${M}.shared_experts.gate_up_proj.weight [128,64] linear <- ${M}.shared_experts.gate_proj.weight, ` +
    `${M}.shared_experts.up_proj.weight`,
    `${M}.shared_experts.down_proj.weight [64,64] linear <- =`,
  ]);
  assertEquals(lines.at(-1), "lm_head.weight [96,64] linear <- =");
});

Deno.test("deepseek-moe-16b plan (q4f16_1) and conversion bytes", async () => {
  const attn = 6144 * q4row(2048) + 2048 * q4row(2048) + 2 * 2048 * 2;
  const dense = 21888 * q4row(2048) + 2048 * q4row(10944);
  const moe = 64 * 2048 * 2 + 64 * 2816 * q4row(2048) + 64 * 2048 * q4row(1408) + 5632 * q4row(2048) +
    2048 * q4row(2816);
  assertRealPlan("deepseek", await realConfig("deepseek-moe-16b-base"), "q4f16_1", [
    "model.layers.0.mlp.gate_up_proj.q_weight [21888,256] uint32",
    "model.layers.1.mlp.gate.weight [64,2048] float16",
    "model.layers.1.mlp.moe_gate_up_proj.q_weight [64,2816,256] uint32",
    "model.layers.27.mlp.shared_experts.gate_up_proj.q_scale [5632,64] float16",
    "model.layers.27.mlp.shared_experts.down_proj.q_weight [2048,352] uint32",
  ], [28 * 6 + 4 + 27 * 9 + 5, 28 * attn + dense + 27 * moe + 2 * 102400 * q4row(2048) + 2048 * 2]);
  const { bytes, data } = await convertSeeded("deepseek", tinyMoe("deepseek"));
  assertEquals(
    bytes.get(`${M}.moe_gate_up_proj.weight`),
    cat(data, IDS.flatMap((e) => [ex(e, "gate_proj"), ex(e, "up_proj")])),
  );
  assertEquals(bytes.get(`${M}.moe_down_proj.weight`), cat(data, IDS.map((e) => ex(e, "down_proj"))));
  assertEquals(
    bytes.get(`${M}.shared_experts.gate_up_proj.weight`),
    cat(data, [`${M}.shared_experts.gate_proj.weight`, `${M}.shared_experts.up_proj.weight`]),
  );
});

Deno.test("deepseek: attention_bias maps wqkv_pack.bias 1:1 from a tensor HF does not have (MLC's latent bug): refused unread", () => {
  // deepseek_loader.py L44-L61 concatenates weights only; wqkv_pack.bias falls to the 1:1 loop
  const tiny = tinyMoe("deepseek", { attention_bias: true });
  const arch = ARCHITECTURES.deepseek;
  const qkvBias = ["q", "k", "v"].map((x) => ({
    name: `model.layers.0.self_attn.${x}_proj.bias`,
    shape: [64],
  }));
  const plan = planConversion({
    arch,
    config: fromDict(arch.configClass, tiny),
    scheme: getQuantization("q4f16_1"),
    checkpoint: noReadCheckpoint([...hfTensors("deepseek", tiny), ...qkvBias]),
  });
  assertEquals(plan.problems[0].includes("model.layers.0.self_attn.wqkv_pack.bias"), true, plan.problems[0]);
});

Deno.test("deepseek_v2: model_config of deepseek-ai/DeepSeek-V2-Lite (prefill cap 2048, rope_scaling kept)", async () => {
  // deepseek_v2_model.py L27-L124
  assertEquals(
    modelConfigText("deepseek_v2", await realConfig("DeepSeek-V2-Lite")),
    '{"vocab_size": 102400, "hidden_size": 2048, "intermediate_size": 10944, "moe_intermediate_size": 1408, ' +
      '"num_hidden_layers": 27, "num_attention_heads": 16, "num_key_value_heads": 16, "n_shared_experts": 2, ' +
      '"n_routed_experts": 64, "num_experts_per_tok": 6, "norm_topk_prob": false, "first_k_dense_replace": 1, ' +
      '"moe_layer_freq": 1, "routed_scaling_factor": 1.0, "scoring_func": "softmax", "topk_method": "greedy", ' +
      '"n_group": 1, "topk_group": 1, "attention_bias": false, "kv_lora_rank": 512, "qk_rope_head_dim": 64, ' +
      '"v_head_dim": 128, "qk_nope_head_dim": 128, "rms_norm_eps": 1e-06, "rope_theta": 10000, ' +
      '"q_lora_rank": null, "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 0.707, ' +
      '"mscale_all_dim": 0.707, "original_max_position_embeddings": 4096, "type": "yarn"}, ' +
      '"context_window_size": 163840, "prefill_chunk_size": 2048, "tensor_parallel_shards": 1, ' +
      '"dtype": "float32", "max_batch_size": 128, "weight_block_size": null}',
  );
});

Deno.test("deepseek_v2: MLA parameters; w_uk and w_uv from kv_b_proj, listed before it (param_map order)", () => {
  const A = "model.layers.0.self_attn";
  // deepseek_v2_model.py L229-L261; deepseek_v2_loader.py L157-L224 (w_uk, w_uv added before the
  // 1:1 loop adds kv_b_proj.weight, so they come first where they share the source)
  assertEquals(summary(parse("deepseek_v2", tinyMoe("deepseek_v2")).params).slice(1, 8), [
    `${A}.q_proj.weight [128,64] linear <- =`,
    `${A}.kv_a_proj_with_mqa.weight [48,64] linear <- =`,
    `${A}.kv_a_layernorm.weight [32] <- =`,
    `${A}.w_uk [4,32,16] whole <- ${A}.kv_b_proj.weight`,
    `${A}.w_uv [4,16,32] whole <- ${A}.kv_b_proj.weight`,
    `${A}.kv_b_proj.weight [128,32] linear <- =`,
    `${A}.o_proj.weight [64,64] linear <- =`,
  ]);
  const v3 = summary(parse("deepseek_v3", tinyMoe("deepseek_v3")).params);
  assertEquals(v3.slice(1, 4), [
    `${A}.q_a_proj.weight [48,64] linear <- =`,
    `${A}.q_a_layernorm.weight [48] <- =`,
    `${A}.q_b_proj.weight [128,48] linear <- =`,
  ]);
  // deepseek_v2_model.py L399-L405, L517-L521: e_score_correction_bias (E) float32 after the gate
  assertEquals(v3.filter((l) => l.startsWith(`${M}.gate`) || l.startsWith(`${M}.e_score`)), [
    `${M}.gate.weight [4,64] linear <- =`,
    `${M}.e_score_correction_bias [4] float32 <- ${M}.gate.e_score_correction_bias`,
  ]);
});

Deno.test("deepseek_v2 conversion: w_uk[h][r][n] = kv_b[h*(nope+v)+n][r], w_uv[h][j][r] = kv_b[h*(nope+v)+nope+j][r]", async () => {
  const A = "model.layers.0.self_attn";
  const { bytes, data, records } = await convertSeeded("deepseek_v2", tinyMoe("deepseek_v2"));
  const kvb = words16(data.get(`${A}.kv_b_proj.weight`)!); // (4 * 32, 32): heads 4, nope 16, v 16, rank 32
  const uk: number[] = [], uv: number[] = [];
  for (let h = 0; h < 4; h++) {
    for (let r = 0; r < 32; r++) for (let n = 0; n < 16; n++) uk.push(kvb[(h * 32 + n) * 32 + r]);
  }
  for (let h = 0; h < 4; h++) {
    for (let j = 0; j < 16; j++) for (let r = 0; r < 32; r++) uv.push(kvb[(h * 32 + 16 + j) * 32 + r]);
  }
  assertEquals(words16(bytes.get(`${A}.w_uk`)!), uk);
  assertEquals(words16(bytes.get(`${A}.w_uv`)!), uv);
  assertEquals(bytes.get(`${A}.kv_b_proj.weight`), data.get(`${A}.kv_b_proj.weight`));
  // the three parameters built from kv_b_proj are written together: w_uk, w_uv, kv_b_proj
  const names = records.map((r) => r.name);
  const i = names.indexOf(`${A}.w_uk`);
  assertEquals(names.slice(i, i + 3), [`${A}.w_uk`, `${A}.w_uv`, `${A}.kv_b_proj.weight`]);
});

Deno.test("DeepSeek-V2-Lite plan (q4f16_1): w_uk / w_uv never quantized, the router kept float16", async () => {
  const attn = 3072 * q4row(2048) + 576 * q4row(2048) + 512 * 2 + 16 * 512 * 128 * 2 * 2 + 4096 * q4row(512) +
    2048 * q4row(2048) + 2 * 2048 * 2;
  const dense = 21888 * q4row(2048) + 2048 * q4row(10944);
  const moe = 64 * 2048 * 2 + 64 * 2816 * q4row(2048) + 64 * 2048 * q4row(1408) + 5632 * q4row(2048) +
    2048 * q4row(2816);
  assertRealPlan("deepseek_v2", await realConfig("DeepSeek-V2-Lite"), "q4f16_1", [
    "model.layers.0.self_attn.w_uk [16,512,128] float16",
    "model.layers.0.self_attn.w_uv [16,128,512] float16",
    "model.layers.0.self_attn.kv_b_proj.q_weight [4096,64] uint32",
    "model.layers.0.self_attn.q_proj.q_weight [3072,256] uint32",
    "model.layers.26.mlp.gate.weight [64,2048] float16",
    "model.layers.26.mlp.moe_gate_up_proj.q_weight [64,2816,256] uint32",
  ], [27 * 13 + 4 + 26 * 9 + 5, 27 * attn + dense + 26 * moe + 2 * 102400 * q4row(2048) + 2048 * 2]);
});

Deno.test("deepseek_v3: model_config of DeepSeek-V3 keeps its FP8 weight_block_size; converting it is refused unread", async () => {
  const hf = await realConfig("DeepSeek-V3");
  const text = modelConfigText("deepseek_v3", hf);
  assertEquals(text.includes('"topk_method": "noaux_tc", "n_group": 8, "topk_group": 4,'), true, text);
  assertEquals(text.endsWith('"max_batch_size": 128, "weight_block_size": [128, 128]}'), true, text);
  // deepseek_v2_loader.py L54-L61: an fp8 block-quantized model needs BlockScaleQuantize
  assertThrows(() => parse("deepseek_v3", hf), /The input DeepSeek model is fp8 block quantized/);
  assertThrows(
    () => parse("deepseek_v3", { ...hf, quantization_config: { quant_method: "awq" } }),
    /Invalid DeepSeek model quantization config: unrecognized quantization config/,
  );
});

Deno.test("DeepSeek-V3 (bf16 copy) plan: 256 experts stacked, gate (256 outputs) kept, e_score_correction_bias float32", async () => {
  const { quantization_config: _, ...hf } = await realConfig("DeepSeek-V3");
  const plan = planReal("deepseek_v3", hf, "q4f16_1");
  assertEquals([plan.problems, plan.warnings], [[], []]);
  const lines = plan.outputs.map(outLine);
  for (
    const l of [
      "model.layers.3.mlp.moe_gate_up_proj.q_weight [256,4096,896] uint32",
      "model.layers.3.mlp.moe_down_proj.q_scale [256,7168,64] float16",
      "model.layers.3.mlp.gate.weight [256,7168] float16",
      "model.layers.3.mlp.e_score_correction_bias [256] float32",
      "model.layers.60.self_attn.w_uk [128,512,128] float16",
      "model.layers.0.mlp.gate_up_proj.q_weight [36864,896] uint32",
    ]
  ) assertEquals(lines.includes(l), true, l);
  const attn = 1536 * q4row(7168) + 1536 * 2 + 24576 * q4row(1536) + 576 * q4row(7168) + 512 * 2 +
    128 * 512 * 128 * 2 * 2 + 32768 * q4row(512) + 7168 * q4row(16384) + 2 * 7168 * 2;
  const dense = 36864 * q4row(7168) + 7168 * q4row(18432);
  const moe = 256 * 7168 * 2 + 256 * 4 + 256 * 4096 * q4row(7168) + 256 * 7168 * q4row(2048) +
    4096 * q4row(7168) + 7168 * q4row(2048);
  assertEquals(
    [plan.paramSize, plan.paramBytes],
    [61 * 16 + 3 * 4 + 58 * 10 + 5, 61 * attn + 3 * dense + 58 * moe + 2 * 129280 * q4row(7168) + 7168 * 2],
  );
});

Deno.test("deepseek_v3 conversion: e_score_correction_bias stored as float32, bf16-encoded (round to nearest even)", async () => {
  const name = `${M}.gate.e_score_correction_bias`;
  // f16 1, -2.5, 0x3555 (0.333251953125 = f32 0x3EAAA000), 65504 (f32 0x477FE000)
  const data = new Map([[name, le16(f16bits([1, -2.5, 0.333251953125, 65504]))]]);
  const { bytes, records } = await convertTiny(
    "deepseek_v3",
    tinyMoe("deepseek_v3"),
    "q4f16_1",
    data,
    "float16",
  );
  const rec = records.find((r) => r.name === `${M}.e_score_correction_bias`)!;
  assertEquals([rec.dtype, rec.shape, rec.nbytes], ["float32", [4], 8]);
  // the high 16 bits after the bias ((bits >> 16) & 1) + 0x7FFF: 0x3F80, 0xC020, 0x3EAB, 0x4780
  assertEquals(words16(bytes.get(`${M}.e_score_correction_bias`)!), [0x3f80, 0xc020, 0x3eab, 0x4780]);
});

Deno.test("deepseek_v2 / v3 from files: cpu workers' chunked reads give the reference bytes", async () => {
  for (const key of ["deepseek_v2", "deepseek_v3"]) {
    const [ref, cpu] = await convertOnDisk(key, MOE_TINY[key], "q4f16_1");
    for (const [f, b] of ref) assertEquals(cpu.get(f), b, `${key} ${f}`);
  }
});
