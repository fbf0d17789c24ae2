// qwen2_moe and qwen3_moe: model_config on the published configs, the MLC parameter lists (shared
// expert, routers, stacked experts), plans with the dimensions of Qwen1.5-MoE-A2.7B and
// Qwen3-30B-A3B, stacking bytes and refusals before any read. MLC sources cited are at
// mlc-ai/mlc-llm 79d603f0 (python/mlc_llm/model/{qwen2_moe,qwen3_moe}/).
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
} from "./_arch_helpers.ts";
import { convertOnDisk, MOE_TINY, tinyMoe } from "./_moe_tiny.ts";

const L = "model.layers.0";
const M = `${L}.mlp`;
const A = `${L}.self_attn`;
const ex = (e: number, w: string) => `${M}.experts.${e}.${w}.weight`;
const IDS = [0, 1, 2, 3];
/** Bytes of one q4 row of `k` elements: ceil(k / 32) groups of 4 uint32 words and one f16 scale. */
const q4row = (k: number) => Math.ceil(k / 32) * (4 * 4 + 2);

Deno.test("qwen2_moe: model_config of Qwen/Qwen1.5-MoE-A2.7B (QWen2Config rules plus the MoE fields)", async () => {
  // qwen2_moe_model.py L23-L32: Qwen2MoeConfig(QWen2Config)
  assertEquals(
    modelConfigText("qwen2_moe", await realConfig("Qwen1.5-MoE-A2.7B")),
    '{"hidden_act": "silu", "hidden_size": 2048, "intermediate_size": 5632, "num_attention_heads": 16, ' +
      '"num_hidden_layers": 24, "num_key_value_heads": 16, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, ' +
      '"vocab_size": 151936, "tie_word_embeddings": false, "context_window_size": 32768, ' +
      '"prefill_chunk_size": 8192, "tensor_parallel_shards": 1, "head_dim": 128, "dtype": "float32", ' +
      '"max_batch_size": 128, "moe_intermediate_size": 1408, "shared_expert_intermediate_size": 5632, ' +
      '"num_experts_per_tok": 4, "num_experts": 60, "decoder_sparse_step": 1, "norm_topk_prob": false}',
  );
});

Deno.test("qwen2_moe: c_attn (+bias), shared expert, both routers 1:1, experts gate|up stacked, head always", () => {
  // qwen2_moe_model.py L54-L85 and L139-L150 (module order); qwen2_moe_loader.py L44-L118
  assertEquals(summary(parse("qwen2_moe", tinyMoe("qwen2_moe")).params), [
    "model.embed_tokens.weight [96,64] embedding <- =",
    `${A}.c_attn.weight [128,64] linear <- ${A}.q_proj.weight, ${A}.k_proj.weight, ${A}.v_proj.weight`,
    `${A}.c_attn.bias [128] <- ${A}.q_proj.bias, ${A}.k_proj.bias, ${A}.v_proj.bias`,
    `${A}.o_proj.weight [64,64] linear <- =`,
    `${M}.shared_expert.gate_up_proj.weight [192,64] linear <- ${M}.shared_expert.gate_proj.weight, ` +
    `${M}.shared_expert.up_proj.weight`,
    `${M}.shared_expert.down_proj.weight [64,96] linear <- =`,
    `${M}.shared_expert_gate.weight [1,64] linear <- =`,
    `${M}.gate.weight [4,64] linear <- =`,
    `${M}.moe_gate_up_proj.weight [4,64,64] experts stack4 <- ${
      IDS.flatMap((e) => [ex(e, "gate_proj"), ex(e, "up_proj")]).join(", ")
    }`,
    `${M}.moe_down_proj.weight [4,64,32] experts stack4 <- ${IDS.map((e) => ex(e, "down_proj")).join(", ")}`,
    `${L}.input_layernorm.weight [64] <- =`,
    `${L}.post_attention_layernorm.weight [64] <- =`,
    "model.norm.weight [64] <- =",
    "lm_head.weight [96,64] linear <- =",
  ]);
});

Deno.test("Qwen1.5-MoE-A2.7B plan (q4f16_1): both routers (60 and 1 outputs) stay float16", async () => {
  // utils.py L57-L59 is_moe_gate: mlp.gate (60) and mlp.shared_expert_gate (1) end with "gate"
  const layer = 6144 * q4row(2048) + 6144 * 2 + 2048 * q4row(2048) + 11264 * q4row(2048) +
    2048 * q4row(5632) + 2048 * 2 + 60 * 2048 * 2 + 60 * 2816 * q4row(2048) + 60 * 2048 * q4row(1408) +
    2 * 2048 * 2;
  assertRealPlan("qwen2_moe", await realConfig("Qwen1.5-MoE-A2.7B"), "q4f16_1", [
    "model.layers.0.mlp.gate.weight [60,2048] float16",
    "model.layers.0.mlp.shared_expert_gate.weight [1,2048] float16",
    "model.layers.0.mlp.moe_gate_up_proj.q_weight [60,2816,256] uint32",
    "model.layers.0.mlp.moe_down_proj.q_scale [60,2048,44] float16",
    "model.layers.23.mlp.shared_expert.down_proj.q_weight [2048,704] uint32",
    "model.layers.23.self_attn.c_attn.bias [6144] float16",
    "lm_head.q_weight [151936,256] uint32",
  ], [24 * 17 + 5, 24 * layer + 2 * 151936 * q4row(2048) + 2048 * 2]);
});

Deno.test("qwen2_moe conversion: shared gate|up, experts gate_0|up_0|gate_1|... and down stacked", async () => {
  const { bytes, data } = await convertSeeded("qwen2_moe", tinyMoe("qwen2_moe"));
  assertEquals(
    bytes.get(`${M}.shared_expert.gate_up_proj.weight`),
    cat(data, [`${M}.shared_expert.gate_proj.weight`, `${M}.shared_expert.up_proj.weight`]),
  );
  assertEquals(
    bytes.get(`${M}.moe_gate_up_proj.weight`),
    cat(data, IDS.flatMap((e) => [ex(e, "gate_proj"), ex(e, "up_proj")])),
  );
  assertEquals(bytes.get(`${M}.moe_down_proj.weight`), cat(data, IDS.map((e) => ex(e, "down_proj"))));
  assertEquals(bytes.get(`${M}.shared_expert_gate.weight`), data.get(`${M}.shared_expert_gate.weight`));
});

Deno.test("qwen2_moe: decoder_sparse_step other than 1 and KN layouts are refused before any read", () => {
  // qwen2_moe_model.py L143-L145: assert num_experts > 0 and decoder_sparse_step == 1
  assertThrows(
    () => parse("qwen2_moe", tinyMoe("qwen2_moe", { decoder_sparse_step: 2 })),
    /decoder_sparse_step must be 1 \(MLC: "Currently only support use moe for every layer\."\), got 2/,
  );
  const tiny = tinyMoe("qwen2_moe");
  const arch = ARCHITECTURES.qwen2_moe;
  const plan = planConversion({
    arch,
    config: fromDict(arch.configClass, tiny),
    scheme: getQuantization("q4f16_0"),
    checkpoint: noReadCheckpoint(hfTensors("qwen2_moe", tiny)),
  });
  // (in loading order: experts.0.down_proj sorts before experts.0.gate_proj)
  assertEquals(plan.problems, [
    "q4f16_0 uses the KN layout, which MLC's group quantization of stacked MoE experts does not support " +
    `("GroupQuantizeMixtralExperts does not support KN layout now"): ${M}.moe_down_proj.weight, ` +
    `${M}.moe_gate_up_proj.weight`,
  ]);
});

Deno.test("qwen3_moe: model_config of Qwen/Qwen3-30B-A3B (Qwen3Config rules: prefill cap 2048)", async () => {
  const logs: string[] = [];
  assertEquals(
    modelConfigText("qwen3_moe", await realConfig("Qwen3-30B-A3B"), logs),
    '{"hidden_act": "silu", "hidden_size": 2048, "intermediate_size": 6144, "attention_bias": false, ' +
      '"num_attention_heads": 32, "num_hidden_layers": 48, "num_key_value_heads": 4, "rms_norm_eps": 1e-06, ' +
      '"rope_theta": 1000000.0, "vocab_size": 151936, "tie_word_embeddings": false, ' +
      '"context_window_size": 40960, "prefill_chunk_size": 2048, "tensor_parallel_shards": 1, ' +
      '"head_dim": 128, "dtype": "float32", "max_batch_size": 128, "weight_block_size": null, ' +
      '"moe_intermediate_size": 768, "num_experts_per_tok": 8, "num_experts": 128, ' +
      '"decoder_sparse_step": 1, "norm_topk_prob": true}',
  );
  assertEquals(logs[1], "prefill_chunk_size defaults to 2048");
});

Deno.test("qwen3_moe: q/k norms, router, stacked experts, no shared expert; biases only under attention_bias", () => {
  // qwen3_moe_model.py L53-L80 (gate, moe_gate_up_proj, moe_down_proj); qwen3_moe_loader.py L87-L146
  assertEquals(summary(parse("qwen3_moe", tinyMoe("qwen3_moe")).params).slice(1, 9), [
    `${A}.c_attn.weight [128,64] linear <- ${A}.q_proj.weight, ${A}.k_proj.weight, ${A}.v_proj.weight`,
    `${A}.o_proj.weight [64,64] linear <- =`,
    `${A}.q_norm.weight [16] <- =`,
    `${A}.k_norm.weight [16] <- =`,
    `${M}.gate.weight [4,64] linear <- =`,
    `${M}.moe_gate_up_proj.weight [4,64,64] experts stack4 <- ${
      IDS.flatMap((e) => [ex(e, "gate_proj"), ex(e, "up_proj")]).join(", ")
    }`,
    `${M}.moe_down_proj.weight [4,64,32] experts stack4 <- ${IDS.map((e) => ex(e, "down_proj")).join(", ")}`,
    `${L}.input_layernorm.weight [64] <- =`,
  ]);
  const biased = summary(parse("qwen3_moe", tinyMoe("qwen3_moe", { attention_bias: true })).params);
  assertEquals(biased.slice(2, 5), [
    `${A}.c_attn.bias [128] <- ${A}.q_proj.bias, ${A}.k_proj.bias, ${A}.v_proj.bias`,
    `${A}.o_proj.weight [64,64] linear <- =`,
    `${A}.o_proj.bias [64] <- =`,
  ]);
});

Deno.test("Qwen3-30B-A3B plan (q4f16_1) and conversion bytes", async () => {
  const layer = 5120 * q4row(2048) + 2048 * q4row(4096) + 2 * 128 * 2 + 128 * 2048 * 2 +
    128 * 1536 * q4row(2048) + 128 * 2048 * q4row(768) + 2 * 2048 * 2;
  assertRealPlan("qwen3_moe", await realConfig("Qwen3-30B-A3B"), "q4f16_1", [
    "model.layers.0.mlp.gate.weight [128,2048] float16",
    "model.layers.0.mlp.moe_gate_up_proj.q_weight [128,1536,256] uint32",
    "model.layers.47.mlp.moe_down_proj.q_weight [128,2048,96] uint32",
    "model.layers.47.mlp.moe_down_proj.q_scale [128,2048,24] float16",
    "model.layers.0.self_attn.q_norm.weight [128] float16",
    "model.layers.0.self_attn.c_attn.q_weight [5120,256] uint32",
  ], [48 * 13 + 5, 48 * layer + 2 * 151936 * q4row(2048) + 2048 * 2]);
  const { bytes, data } = await convertSeeded("qwen3_moe", tinyMoe("qwen3_moe"));
  assertEquals(
    bytes.get(`${M}.moe_gate_up_proj.weight`),
    cat(data, IDS.flatMap((e) => [ex(e, "gate_proj"), ex(e, "up_proj")])),
  );
  assertEquals(bytes.get(`${M}.moe_down_proj.weight`), cat(data, IDS.map((e) => ex(e, "down_proj"))));
});

Deno.test("qwen3_moe: an FP8 block-quantized checkpoint and a missing head_dim are refused by the config", () => {
  // qwen3_moe_loader.py L54-L61: fp8 block-quantized needs BlockScaleQuantize
  const fp8 = {
    quantization_config: {
      activation_scheme: "dynamic",
      fmt: "e4m3",
      quant_method: "fp8",
      weight_block_size: [128, 128],
    },
  };
  assertThrows(
    () => parse("qwen3_moe", tinyMoe("qwen3_moe", fp8)),
    /The input Qwen3 model is fp8 block quantized/,
  );
  const { head_dim: _, ...noHead } = tinyMoe("qwen3_moe");
  assertThrows(() => parse("qwen3_moe", noHead), /explicit head_dim/);
});

Deno.test("qwen3_moe from files: cpu workers' chunked reads give the reference bytes (q4f16_1, q4bf16_1)", async () => {
  for (const quant of ["q4f16_1", "q4bf16_1"]) {
    const [ref, cpu] = await convertOnDisk("qwen3_moe", MOE_TINY.qwen3_moe, quant);
    for (const [f, b] of ref) assertEquals(cpu.get(f), b, `${quant} ${f}`);
  }
});
