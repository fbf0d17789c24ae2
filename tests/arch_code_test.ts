// The code models: starcoder2 and gpt_bigcode. Config parsing as MLC's config classes do it
// (gen_config's model_config on real configs), the exact MLC parameter list (names, shapes, HF
// sources, quantizable kinds), plans with the dimensions of published models, the tensor
// bytes of the fusions, and refusals before any tensor is read. MLC sources cited are at
// mlc-ai/mlc-llm 79d603f0: python/mlc_llm/model/<type>/<type>_{model,loader}.py.
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
  outLine,
  parse,
  planReal,
  realConfig,
  summary,
  tinyOne,
} from "./_arch_helpers.ts";

Deno.test("starcoder2: model_config of bigcode/starcoder2-7b", async () => {
  const logs: string[] = [];
  assertEquals(
    modelConfigText("starcoder2", await realConfig("starcoder2-7b"), logs),
    '{"vocab_size": 49152, "hidden_size": 4608, "num_hidden_layers": 32, "num_attention_heads": 36, ' +
      '"num_key_value_heads": 4, "hidden_act": "gelu_pytorch_tanh", "norm_epsilon": 1e-05, ' +
      '"intermediate_size": 18432, "rope_theta": 1000000, "use_bias": true, "use_cache": true, ' +
      '"bos_token_id": 0, "eos_token_id": 0, "context_window_size": 16384, "prefill_chunk_size": 8192, ' +
      '"tensor_parallel_shards": 1, "max_batch_size": 128, "head_dim": 128}',
  );
  assertEquals(logs.slice(0, 2), [
    "context_window_size not found in config.json. Falling back to max_position_embeddings (16384)",
    "prefill_chunk_size defaults to 8192",
  ]);
});

Deno.test("starcoder2: wqkv_pack (+bias), LayerNorms with bias, lm_head from the embedding listed first", () => {
  const { params } = parse("starcoder2", tinyOne("starcoder2"));
  const a = "model.layers.0.self_attn";
  const m = "model.layers.0.mlp";
  const ln = (p: string) => [`${p}.weight [64] <- =`, `${p}.bias [64] <- =`];
  // starcoder2_loader.py L44-L53: lm_head.weight <- model.embed_tokens.weight, added first;
  // L58-L85: wqkv_pack weight and (when the model has it) bias = cat0(q, k, v)
  assertEquals(summary(params), [
    "lm_head.weight [96,64] linear <- model.embed_tokens.weight",
    "model.embed_tokens.weight [96,64] embedding <- =",
    `${a}.wqkv_pack.weight [128,64] linear <- ${a}.q_proj.weight, ${a}.k_proj.weight, ${a}.v_proj.weight`,
    `${a}.wqkv_pack.bias [128] <- ${a}.q_proj.bias, ${a}.k_proj.bias, ${a}.v_proj.bias`,
    `${a}.o_proj.weight [64,64] linear <- =`,
    `${a}.o_proj.bias [64] <- =`,
    `${m}.c_fc.weight [96,64] linear <- =`,
    `${m}.c_fc.bias [96] <- =`,
    `${m}.c_proj.weight [64,96] linear <- =`,
    `${m}.c_proj.bias [64] <- =`,
    ...ln("model.layers.0.input_layernorm"),
    ...ln("model.layers.0.post_attention_layernorm"),
    ...ln("model.norm"),
  ]);
  // use_bias false: no bias anywhere but the LayerNorms (starcoder2_model.py L104-L111, L137-L143)
  const nb = parse("starcoder2", { ...tinyOne("starcoder2"), use_bias: false }).params;
  assertEquals(nb.filter((p) => p.name.endsWith(".bias")).map((p) => p.name), [
    "model.layers.0.input_layernorm.bias",
    "model.layers.0.post_attention_layernorm.bias",
    "model.norm.bias",
  ]);
});

Deno.test("starcoder2-7b plan: the embedding written twice (lm_head first), 4-bit shapes, totals", async () => {
  const hf = await realConfig("starcoder2-7b");
  const plan = planReal("starcoder2", hf, "q4f16_1");
  assertEquals([plan.problems, plan.warnings], [[], []]);
  const lines = plan.outputs.map(outLine);
  for (
    const l of [
      "lm_head.q_weight [49152,576] uint32",
      "lm_head.q_scale [49152,144] float16",
      "model.embed_tokens.q_weight [49152,576] uint32",
      "model.layers.0.self_attn.wqkv_pack.q_weight [5632,576] uint32", // (36 + 2*4) * 128 rows
      "model.layers.0.self_attn.wqkv_pack.bias [5632] float16",
      "model.layers.31.mlp.c_proj.q_weight [4608,2304] uint32",
      "model.layers.31.mlp.c_proj.q_scale [4608,576] float16",
      "model.norm.bias [4608] float16",
    ]
  ) assertEquals(lines.includes(l), true, l);
  // lm_head comes right before the embedding: both from model.embed_tokens.weight
  const names = plan.outputs.map((o) => o.name);
  assertEquals(names.indexOf("model.embed_tokens.q_weight") - names.indexOf("lm_head.q_weight"), 2);
  // hand-computed from the MLC shapes: 2 x 130 embedding/head outputs + 32 x 16 + 2 norm tensors
  assertEquals([plan.paramSize, plan.paramBytes], [518, 4165126144]);
  const f16 = planReal("starcoder2", hf, "q0f16");
  assertEquals([f16.paramSize, f16.paramBytes], [388, 14800832512]); // 7400416256 elements x 2 bytes
  // the shared source is counted once: 7400416256 - 49152 * 4608
  assertEquals(plan.totalParamNum, 7173923840);
});

Deno.test("starcoder2 conversion: wqkv_pack = q|k|v rows, bias likewise, lm_head = embedding bytes", async () => {
  const hf = tinyOne("starcoder2");
  const { bytes, data, records } = await convertSeeded("starcoder2", hf);
  const a = "model.layers.0.self_attn";
  assertEquals(
    bytes.get(`${a}.wqkv_pack.weight`),
    cat(data, ["q", "k", "v"].map((x) => `${a}.${x}_proj.weight`)),
  );
  assertEquals(
    bytes.get(`${a}.wqkv_pack.bias`),
    cat(data, ["q", "k", "v"].map((x) => `${a}.${x}_proj.bias`)),
  );
  assertEquals(bytes.get("lm_head.weight"), data.get("model.embed_tokens.weight"));
  assertEquals(bytes.get("model.embed_tokens.weight"), data.get("model.embed_tokens.weight"));
  const names = records.map((r) => r.name);
  assertEquals(names.indexOf("model.embed_tokens.weight") - names.indexOf("lm_head.weight"), 1);
  // an untied checkpoint's own lm_head.weight is not read: MLC only reports it unused
  const arch = ARCHITECTURES.starcoder2;
  const untied = planConversion({
    arch,
    config: fromDict(arch.configClass, hf),
    scheme: getQuantization("q0f16"),
    checkpoint: noReadCheckpoint(hfTensors("starcoder2", { ...hf, tie_word_embeddings: false })),
  });
  assertEquals(untied.problems, []);
  assertEquals(untied.warnings, ["Unused extern parameters: lm_head.weight"]);
});

Deno.test("starcoder2: unsupported configs fail before any tensor is read", async () => {
  const hf = await realConfig("starcoder2-7b");
  assertThrows(
    () => parse("starcoder2", { ...hf, hidden_size: 4600 }),
    /head_dim \* num_attention_heads must equal/,
  );
  const { use_bias: _, ...noBias } = hf;
  assertThrows(
    () => parse("starcoder2", noBias),
    /Starcoder2Config is missing required field\(s\).*: use_bias/,
  );
  const { max_position_embeddings: _m, ...noWindow } = hf;
  assertThrows(() => parse("starcoder2", noWindow), /Unable to determine the maximum sequence length/);
  // a checkpoint with separate fused weights (another layout) is refused by the plan, unread
  const arch = ARCHITECTURES.starcoder2;
  const tiny = tinyOne("starcoder2");
  const plan = planConversion({
    arch,
    config: fromDict(arch.configClass, tiny),
    scheme: getQuantization("q4f16_1"),
    checkpoint: noReadCheckpoint(
      hfTensors("starcoder2", tiny).filter((t) => !t.name.includes("k_proj.bias")),
    ),
  });
  assertEquals(plan.problems, [
    "The following extern parameters do not exist in the weight files (model.safetensors): " +
    "model.layers.0.self_attn.k_proj.bias",
  ]);
});

Deno.test("gpt_bigcode: model_config of bigcode/gpt_bigcode-santacoder (window from n_positions)", async () => {
  const logs: string[] = [];
  assertEquals(
    modelConfigText("gpt_bigcode", await realConfig("gpt_bigcode-santacoder"), logs),
    '{"n_embd": 2048, "n_inner": 8192, "n_head": 16, "n_layer": 24, "n_positions": 2048, ' +
      '"layer_norm_epsilon": 1e-05, "vocab_size": 49280, "context_window_size": 2048, ' +
      '"prefill_chunk_size": 2048, "tensor_parallel_shards": 1, "max_batch_size": 128}',
  );
  // gpt_bigcode_model.py L41-L52
  assertEquals(logs[0], "context_window_size not found in config.json. Falling back to n_positions (2048)");
});

Deno.test("gpt_bigcode: all 1:1, multi-query c_attn, wpe an embedding, symbolic vocab", () => {
  const { params } = parse("gpt_bigcode", tinyOne("gpt_bigcode"));
  const h = "transformer.h.0";
  // gpt_bigcode_loader.py: standard loader with include_qkv=False, include_gate_up=False;
  // gpt_bigcode_model.py L96-L99: c_attn out = (n_head + 2 * 1) * head_dim; L166-L167, L189
  assertEquals(summary(params), [
    "transformer.wte.weight [vocab_size,64] embedding <- =",
    "transformer.wpe.weight [128,64] embedding <- =",
    `${h}.attn.c_attn.weight [96,64] linear <- =`,
    `${h}.attn.c_attn.bias [96] <- =`,
    `${h}.attn.c_proj.weight [64,64] linear <- =`,
    `${h}.attn.c_proj.bias [64] <- =`,
    `${h}.mlp.c_fc.weight [96,64] linear <- =`,
    `${h}.mlp.c_fc.bias [96] <- =`,
    `${h}.mlp.c_proj.weight [64,96] linear <- =`,
    `${h}.mlp.c_proj.bias [64] <- =`,
    `${h}.ln_1.weight [64] <- =`,
    `${h}.ln_1.bias [64] <- =`,
    `${h}.ln_2.weight [64] <- =`,
    `${h}.ln_2.bias [64] <- =`,
    "transformer.ln_f.weight [64] <- =",
    "transformer.ln_f.bias [64] <- =",
    "lm_head.weight [vocab_size,64] linear <- =",
  ]);
});

Deno.test("gpt_bigcode santacoder plan: wpe quantized (q4f16_1) or kept with lm_head (q4f16_2), totals", async () => {
  const hf = await realConfig("gpt_bigcode-santacoder");
  assertRealPlan("gpt_bigcode", hf, "q4f16_1", [
    "transformer.wte.q_weight [49280,256] uint32",
    "transformer.wpe.q_weight [2048,256] uint32",
    "transformer.h.0.attn.c_attn.q_weight [2304,256] uint32", // 2048 + 2 * 128 rows
    "transformer.h.0.attn.c_attn.bias [2304] float16",
    "transformer.h.23.mlp.c_proj.q_scale [2048,256] float16",
    "lm_head.q_weight [49280,256] uint32",
  ], [392, 690311168]);
  const q2 = planReal("gpt_bigcode", hf, "q4f16_2");
  const l2 = q2.outputs.map(outLine);
  for (const l of ["lm_head.weight [49280,2048] float16", "transformer.wpe.weight [2048,2048] float16"]) {
    assertEquals(l2.includes(l), true, l);
  }
  const f16 = planReal("gpt_bigcode", hf, "q0f16");
  assertEquals([f16.paramSize, f16.paramBytes], [293, 2451623936]);
});

Deno.test("gpt_bigcode: a multi-head (non-MQA) or head-less checkpoint is refused before reading", () => {
  const tiny = tinyOne("gpt_bigcode");
  const arch = ARCHITECTURES.gpt_bigcode;
  const config = fromDict(arch.configClass, tiny);
  const plan = (tensors: ReturnType<typeof hfTensors>) =>
    planConversion({
      arch,
      config,
      scheme: getQuantization("q4f16_1"),
      checkpoint: noReadCheckpoint(tensors),
    });
  const mha = hfTensors("gpt_bigcode", tiny).map((t) =>
    t.name.includes("c_attn") ? { ...t, shape: [192, ...t.shape.slice(1)] } : t
  );
  assertEquals(plan(mha).problems, [
    "Parameter transformer.h.0.attn.c_attn.bias has shape [192], but expected [96] " +
    "(built from transformer.h.0.attn.c_attn.bias [192])",
    "Parameter transformer.h.0.attn.c_attn.weight has shape [192, 64], but expected [96, 64] " +
    "(built from transformer.h.0.attn.c_attn.weight [192, 64])",
  ]);
  // a tied checkpoint saved without lm_head.weight: MLC has no fallback to wte
  const tied = plan(hfTensors("gpt_bigcode", tiny).filter((t) => t.name !== "lm_head.weight"));
  assertEquals(tied.problems, [
    "The following extern parameters do not exist in the weight files (model.safetensors): lm_head.weight",
  ]);
  assertThrows(
    () => parse("gpt_bigcode", { ...tiny, n_positions: 0 }),
    /Unable to determine the maximum sequence length/,
  );
  assertThrows(
    () => parse("gpt_bigcode", { ...tiny, n_embd: 66 }),
    /n_embd \(66\) must be a multiple of n_head \(4\)/,
  );
});
