// stablelm, olmo and olmo2: model_config on real configs, the MLC parameter lists, plans with
// the dimensions of published models, fusion bytes and refusals before any read. MLC sources
// cited are at mlc-ai/mlc-llm 79d603f0 (python/mlc_llm/model/{stable_lm,olmo,olmo2}/).
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
  expectLines,
  modelConfigText,
  noReadCheckpoint,
  outLine,
  parse,
  planReal,
  realConfig,
  summary,
  tinyOne,
} from "./_arch_helpers.ts";

const A = "model.layers.0.self_attn";
const M = "model.layers.0.mlp";
const QKV = `${A}.q_proj.weight, ${A}.k_proj.weight, ${A}.v_proj.weight`;
const GATE_UP = `${M}.gate_proj.weight, ${M}.up_proj.weight`;

Deno.test("stablelm: model_config of stabilityai/stablelm-2-zephyr-1_6b", async () => {
  assertEquals(
    modelConfigText("stablelm", await realConfig("stablelm-2-zephyr-1_6b")),
    '{"vocab_size": 100352, "hidden_size": 2048, "num_hidden_layers": 24, "num_attention_heads": 32, ' +
      '"num_key_value_heads": 32, "layer_norm_eps": 1e-05, "partial_rotary_factor": 0.25, "rope_theta": 10000, ' +
      '"intermediate_size": 5632, "use_qkv_bias": true, "head_dim": 64, "context_window_size": 4096, ' +
      '"prefill_chunk_size": 4096, "tensor_parallel_shards": 1, "max_batch_size": 128}',
  );
});

Deno.test("stablelm: fused qkv_proj with its bias only under use_qkv_bias, LayerNorm biases, exact vocab", () => {
  // stablelm_loader.py: make_standard_hf_loader(add_qkv_bias=True, qkv_bias_optional=True);
  // stablelm_model.py L98-L103 (qkv bias = use_qkv_bias), L146-L147 and L197 (LayerNorms)
  assertEquals(summary(parse("stablelm", tinyOne("stablelm")).params), [
    "model.embed_tokens.weight [96,64] embedding <- =",
    `${A}.qkv_proj.weight [128,64] linear <- ${QKV}`,
    `${A}.qkv_proj.bias [128] <- ${A}.q_proj.bias, ${A}.k_proj.bias, ${A}.v_proj.bias`,
    `${A}.o_proj.weight [64,64] linear <- =`,
    `${M}.gate_up_proj.weight [192,64] linear <- ${GATE_UP}`,
    `${M}.down_proj.weight [64,96] linear <- =`,
    "model.layers.0.input_layernorm.weight [64] <- =",
    "model.layers.0.input_layernorm.bias [64] <- =",
    "model.layers.0.post_attention_layernorm.weight [64] <- =",
    "model.layers.0.post_attention_layernorm.bias [64] <- =",
    "model.norm.weight [64] <- =",
    "model.norm.bias [64] <- =",
    "lm_head.weight [96,64] linear <- =",
  ]);
  const noBias = parse("stablelm", tinyOne("stablelm", { use_qkv_bias: false })).params;
  assertEquals(noBias.some((p) => p.name.endsWith("qkv_proj.bias")), false);
});

Deno.test("stablelm-2-1_6b plan and conversion bytes: qkv (+bias) and gate|up concatenated in order", async () => {
  assertRealPlan("stablelm", await realConfig("stablelm-2-zephyr-1_6b"), "q4f16_1", [
    "model.embed_tokens.q_weight [100352,256] uint32",
    "model.layers.0.self_attn.qkv_proj.q_weight [6144,256] uint32",
    "model.layers.0.self_attn.qkv_proj.bias [6144] float16",
    "model.layers.23.mlp.gate_up_proj.q_scale [11264,64] float16",
    "model.norm.bias [2048] float16",
    "lm_head.q_scale [100352,64] float16",
  ], [318, 925540352]);
  const { bytes, data } = await convertSeeded("stablelm", tinyOne("stablelm"));
  assertEquals(bytes.get(`${A}.qkv_proj.weight`), cat(data, QKV.split(", ")));
  assertEquals(bytes.get(`${A}.qkv_proj.bias`), cat(data, ["q", "k", "v"].map((x) => `${A}.${x}_proj.bias`)));
  assertEquals(bytes.get(`${M}.gate_up_proj.weight`), cat(data, GATE_UP.split(", ")));
});

Deno.test("stablelm: qk_layernorm weights (StableLM 2 12B) are reported unused, as by MLC", () => {
  const tiny = tinyOne("stablelm", { qk_layernorm: true });
  const arch = ARCHITECTURES.stablelm;
  const extra = [{ name: `${A}.q_layernorm.norms.0.weight`, shape: [16] }];
  const plan = planConversion({
    arch,
    config: fromDict(arch.configClass, tiny),
    scheme: getQuantization("q0f16"),
    checkpoint: noReadCheckpoint([...hfTensors("stablelm", tiny), ...extra]),
  });
  assertEquals(plan.problems, []);
  assertEquals(plan.warnings, [`Unused extern parameters: ${A}.q_layernorm.norms.0.weight`]);
  const { partial_rotary_factor: _, ...missing } = tiny;
  assertThrows(
    () => parse("stablelm", missing),
    /StableLmConfig is missing required field\(s\).*partial_rotary_factor/,
  );
});

Deno.test("olmo: model_config of allenai/OLMo-1B-hf (rope base from rope_theta, every field defaulted)", async () => {
  const logs: string[] = [];
  assertEquals(
    modelConfigText("olmo", await realConfig("OLMo-1B-hf"), logs),
    '{"vocab_size": 50304, "hidden_size": 2048, "num_attention_heads": 16, "num_key_value_heads": 16, ' +
      '"head_dim": 128, "position_embedding_base": 10000.0, "rope_scaling": null, "intermediate_size": 8192, ' +
      '"hidden_act": "silu", "num_hidden_layers": 16, "tie_word_embeddings": true, "context_window_size": 2048, ' +
      '"prefill_chunk_size": 2048, "tensor_parallel_shards": 1, "pipeline_parallel_stages": 1, ' +
      '"max_batch_size": 128, "clip_qkv": null}',
  );
});

Deno.test("olmo: no norm parameters (non-parametric LayerNorm), lm_head only when untied", () => {
  // olmo_model.py L203-L213, L258-L263: LayerNorm(elementwise_affine=False); L289-L291: lm_head
  assertEquals(summary(parse("olmo", tinyOne("olmo", { tie_word_embeddings: true })).params), [
    "model.embed_tokens.weight [96,64] embedding <- =",
    `${A}.qkv_proj.weight [128,64] linear <- ${QKV}`,
    `${A}.o_proj.weight [64,64] linear <- =`,
    `${M}.gate_up_proj.weight [192,64] linear <- ${GATE_UP}`,
    `${M}.down_proj.weight [64,96] linear <- =`,
  ]);
  const { arch, cfg, params } = parse("olmo", tinyOne("olmo"));
  assertEquals(summary(params).at(-1), "lm_head.weight [96,64] linear <- =");
  // olmo_loader.py: add_unused=["rotary_emb.inv_freq"]
  assertEquals(arch.isUnused!(`${A}.rotary_emb.inv_freq`, cfg), true);
});

Deno.test("OLMo-1B-hf plan: tied, 16 layers x 8 outputs + the embedding", async () => {
  const plan = planReal("olmo", await realConfig("OLMo-1B-hf"), "q4f16_1");
  assertEquals([plan.problems, plan.warnings], [[], []]);
  expectLines(plan.outputs.map(outLine), [
    "model.embed_tokens.q_weight [50304,256] uint32",
    "model.layers.15.self_attn.qkv_proj.q_weight [6144,256] uint32",
    "model.layers.15.mlp.down_proj.q_weight [2048,1024] uint32",
  ]);
  assertEquals(plan.outputs.some((o) => o.name.startsWith("lm_head")), false);
  assertEquals([plan.paramSize, plan.paramBytes], [130, 661929984]);
  const f16 = planReal("olmo", await realConfig("OLMo-1B-hf"), "q0f16");
  assertEquals([f16.paramSize, f16.paramBytes], [65, 2353528832]);
});

Deno.test("olmo: clip_qkv <= 0, an unknown activation or bad pipeline stages are refused", async () => {
  const hf = await realConfig("OLMo-1B-hf");
  assertThrows(() => parse("olmo", { ...hf, clip_qkv: 0 }), /'clip_qkv'\(0\) should be non-negative/);
  assertThrows(() => parse("olmo", { ...hf, hidden_act: "relu2" }), /hidden_act "relu2" is not supported/);
  assertThrows(
    () => parse("olmo", { ...hf, pipeline_parallel_stages: 17 }),
    /Invalid "pipeline_parallel_stages" value\(17\)/,
  );
  assertThrows(() => parse("olmo", { ...hf, num_key_value_heads: 3 }), /multiple of num_key_value_heads/);
});

Deno.test("olmo2: model_config of allenai/OLMo-2-1124-7B", async () => {
  assertEquals(
    modelConfigText("olmo2", await realConfig("OLMo-2-1124-7B")),
    '{"vocab_size": 100352, "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 32, ' +
      '"head_dim": 128, "position_embedding_base": 500000.0, "rope_scaling": null, "intermediate_size": 11008, ' +
      '"hidden_act": "silu", "num_hidden_layers": 32, "rms_norm_eps": 1e-06, "tie_word_embeddings": false, ' +
      '"context_window_size": 4096, "prefill_chunk_size": 4096, "tensor_parallel_shards": 1, ' +
      '"pipeline_parallel_stages": 1, "max_batch_size": 128}',
  );
});

Deno.test("olmo2: q_norm (Nq*D) and k_norm (Nkv*D) after the projections, norms after the sublayers", () => {
  // olmo2_model.py L136-L141 (q_norm, k_norm over all heads), L211-L216 (layer norms)
  assertEquals(summary(parse("olmo2", tinyOne("olmo2")).params), [
    "model.embed_tokens.weight [96,64] embedding <- =",
    `${A}.qkv_proj.weight [128,64] linear <- ${QKV}`,
    `${A}.o_proj.weight [64,64] linear <- =`,
    `${A}.q_norm.weight [64] <- =`,
    `${A}.k_norm.weight [32] <- =`,
    `${M}.gate_up_proj.weight [192,64] linear <- ${GATE_UP}`,
    `${M}.down_proj.weight [64,96] linear <- =`,
    "model.layers.0.post_attention_layernorm.weight [64] <- =",
    "model.layers.0.post_feedforward_layernorm.weight [64] <- =",
    "model.norm.weight [64] <- =",
    "lm_head.weight [96,64] linear <- =",
  ]);
});

Deno.test("OLMo-2-1124-7B plan and conversion bytes", async () => {
  assertRealPlan("olmo2", await realConfig("OLMo-2-1124-7B"), "q4f16_1", [
    "model.layers.0.self_attn.q_norm.weight [4096] float16",
    "model.layers.0.self_attn.k_norm.weight [4096] float16",
    "model.layers.31.post_feedforward_layernorm.weight [4096] float16",
    "lm_head.q_weight [100352,512] uint32",
  ], [389, 4106231808]);
  const { bytes, data } = await convertSeeded("olmo2", tinyOne("olmo2"));
  assertEquals(bytes.get(`${A}.qkv_proj.weight`), cat(data, QKV.split(", ")));
  assertEquals(bytes.get(`${A}.k_norm.weight`), data.get(`${A}.k_norm.weight`));
  assertEquals(bytes.get(`${M}.gate_up_proj.weight`), cat(data, GATE_UP.split(", ")));
  assertThrows(
    () => parse("olmo2", { ...tinyOne("olmo2"), hidden_size: 66 }),
    /hidden_size \(66\) must be a multiple/,
  );
});
