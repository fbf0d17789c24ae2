// llama4: model_config of Llama-4-Scout-17B-16E (nested text_config with its kwargs, the class
// constant context window), the MLC parameter list (separate q/k/v/o, raw expert tensors 1:1,
// router and shared expert), the plan and totals with Scout's dimensions, bytes of a tiny
// conversion, chunked worker reads = reference, and the refusals (dense layers as in Maverick,
// other RoPE scalings) before any read. MLC sources cited are at mlc-ai/mlc-llm 79d603f0
// (python/mlc_llm/model/llama4/llama4_model.py, llama4_loader.py).
import { assertEquals, assertOk, assertThrows } from "./_assert.ts";
import { fromDict } from "../src/arch/config.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import { planConversion } from "../src/plan.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { detectConvTemplate } from "../src/genconfig/auto_template.ts";
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
} from "./_arch_helpers.ts";
import { convertOnDisk, MOE_TINY, tinyMoe } from "./_moe_tiny.ts";

const H = "language_model.";
const L = "model.layers.0";
const F = `${L}.feed_forward`;
const range = (from: number, to: number, step: number) =>
  Array.from({ length: Math.ceil((to - from) / step) }, (_, k) => from + k * step);
/** Bytes of one q4 row of `k` elements: ceil(k / 32) groups of 4 uint32 words and one f16 scale. */
const q4row = (k: number) => Math.ceil(k / 32) * (4 * 4 + 2);

Deno.test("llama4: model_config of Llama-4-Scout-17B-16E (text_config with kwargs, context window 131072)", async () => {
  const logs: string[] = [];
  const text = modelConfigText("llama4", await realConfig("Llama-4-Scout-17B-16E"), logs);
  // llama4_model.py L26-L55: Llama4TextConfig fields in order, then its kwargs (config.json's other
  // text_config keys, in file order); rope_theta is a field, so position_embedding_base is 10000
  // (L58-L62); no_rope_layers and moe_layers are kept as given (L80, L83-L93)
  const head =
    '{"text_config": {"hidden_size": 5120, "intermediate_size": 8192, "num_attention_heads": 40, ' +
    '"num_hidden_layers": 48, "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "use_qk_norm": true, ' +
    '"interleave_moe_layer_step": 1, "num_experts_per_tok": 1, "num_local_experts": 16, "hidden_act": "silu", ' +
    '"tie_word_embeddings": false, "position_embedding_base": 10000, "rope_scaling": {"factor": 8.0, ' +
    '"high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 8192, ' +
    '"rope_type": "llama3"}, "num_key_value_heads": 8, "head_dim": 128, "attn_scale": 0.1, "floor_scale": 8192, ' +
    '"vocab_size": 202048, "attention_bias": false, "attn_temperature_tuning": 4, "no_rope_layers": [1, 1, 1, 0, ';
  assertEquals(text.slice(0, head.length), head);
  // L96-L108: Llama4Config's own fields; L124-L133 the class constant max_position_embeddings = 4096 * 32
  // (config.json's 262144 stays a kwarg), L142-L148 prefill min(ctx, 8192)
  const tail =
    '"moe_layers": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, ' +
    "24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47], " +
    '"kwargs": {"attention_chunk_size": 8192, "attention_dropout": 0.0, "bos_token_id": 200000, ' +
    '"eos_token_id": [200001, 200007, 200008], "for_llm_compressor": false, "initializer_range": 0.02, ' +
    '"intermediate_size_mlp": 16384, "max_position_embeddings": 262144, "model_type": "llama4_text", ' +
    '"output_router_logits": false, "pad_token_id": 200018, "router_aux_loss_coef": 0.001, ' +
    '"router_jitter_noise": 0.0, "torch_dtype": "bfloat16", "use_cache": true}}, "tensor_parallel_shards": 1, ' +
    '"context_window_size": 131072, "pipeline_parallel_stages": 1, "prefill_chunk_size": 8192, ' +
    '"max_batch_size": 128, "disaggregation": false, "vocab_size": 202048}';
  assertEquals(text.slice(-tail.length), tail);
  assertEquals(logs.slice(0, 2), [
    "context_window_size not found in config.json. Falling back to max_position_embeddings (131072)",
    "prefill_chunk_size defaults to 8192",
  ]);
});

Deno.test("llama4: defaults of a text_config without no_rope_layers / moe_layers / head_dim / kv heads", () => {
  const { head_dim: _, num_key_value_heads: _k, ...tc } = MOE_TINY.llama4.text_config as Record<
    string,
    unknown
  >;
  const { cfg } = parse("llama4", { ...MOE_TINY.llama4, text_config: { ...tc, num_hidden_layers: 5 } });
  const text = cfg.text_config as Record<string, unknown>;
  // L75-L80: [int((i + 1) % 4 != 0)]; L83-L93: range(0, 5, 1); L135-L140: kv = q heads, head_dim = H / q
  assertEquals(
    [text.no_rope_layers, text.moe_layers, text.num_key_value_heads, text.head_dim],
    [[1, 1, 1, 0, 1], [0, 1, 2, 3, 4], 4, 16],
  );
  // pass 2 of gen_config: the nested kwargs are merged back into the text config (L113-L122)
  const again = parse("llama4", cfg).cfg.text_config as Record<string, unknown>;
  assertEquals(again.kwargs, {
    model_type: "llama4_text",
    intermediate_size_mlp: 96,
    max_position_embeddings: 128,
  });
});

Deno.test("llama4: separate q/k/v/o, raw experts 1:1 (not quantized), router from router.weight, shared gate|up", () => {
  // llama4_model.py L417-L432 (self_attn, feed_forward, norms), L388-L395 (experts, router,
  // shared_expert), L514-L549 (embed, layers, norm, lm_head); llama4_loader.py L44-L118
  assertEquals(summary(parse("llama4", tinyMoe("llama4")).params), [
    `model.embed_tokens.weight [vocab_size,64] embedding <- ${H}model.embed_tokens.weight`,
    ...["q", "k", "v", "o"].map((x) =>
      `${L}.self_attn.${x}_proj.weight [${x === "q" || x === "o" ? 64 : 32},64] linear <- ` +
      `${H}${L}.self_attn.${x}_proj.weight`
    ),
    `${F}.experts.gate_up_proj [4,64,64] <- ${H}${F}.experts.gate_up_proj`,
    `${F}.experts.down_proj [4,32,64] <- ${H}${F}.experts.down_proj`,
    `${F}.router.router.weight [4,64] linear <- ${H}${F}.router.weight`,
    `${F}.shared_expert.gate_up_proj.weight [64,64] linear <- ${H}${F}.shared_expert.gate_proj.weight, ` +
    `${H}${F}.shared_expert.up_proj.weight`,
    `${F}.shared_expert.down_proj.weight [64,32] linear <- ${H}${F}.shared_expert.down_proj.weight`,
    `${L}.input_layernorm.weight [64] <- ${H}${L}.input_layernorm.weight`,
    `${L}.post_attention_layernorm.weight [64] <- ${H}${L}.post_attention_layernorm.weight`,
    `model.norm.weight [64] <- ${H}model.norm.weight`,
    `lm_head.weight [vocab_size,64] linear <- ${H}lm_head.weight`,
  ]);
  // L547-L549: text_config.tie_word_embeddings decides the head
  const tied = { ...MOE_TINY.llama4.text_config as Record<string, unknown>, tie_word_embeddings: true };
  assertEquals(
    parse("llama4", { ...MOE_TINY.llama4, text_config: tied }).params.at(-1)!.name,
    "model.norm.weight",
  );
});

Deno.test("Llama-4-Scout-17B-16E plan (q4f16_1): experts float16 unquantized, router quantized; totals", async () => {
  const h = 5120, i = 8192, e = 16, v = 202048;
  // per layer: q (5120 rows), k, v (1024), o (5120), router (16), shared gate|up (16384) rows of
  // q4row(5120); shared down 5120 rows of q4row(8192); experts (16,5120,16384) + (16,8192,5120) in
  // f16; two norms
  const layer = (5120 + 1024 + 1024 + 5120 + 16 + 16384) * q4row(h) + h * q4row(i) +
    2 * (e * h * 2 * i + e * i * h) + 2 * h * 2;
  assertRealPlan("llama4", await realConfig("Llama-4-Scout-17B-16E"), "q4f16_1", [
    "model.embed_tokens.q_weight [202048,640] uint32",
    "model.layers.0.self_attn.q_proj.q_weight [5120,640] uint32",
    "model.layers.0.self_attn.k_proj.q_scale [1024,160] float16",
    "model.layers.0.feed_forward.experts.gate_up_proj [16,5120,16384] float16",
    "model.layers.0.feed_forward.experts.down_proj [16,8192,5120] float16",
    // utils.py is_moe_gate: "router" does not end with "gate", so it is group-quantized
    "model.layers.47.feed_forward.router.router.q_weight [16,640] uint32",
    "model.layers.47.feed_forward.shared_expert.gate_up_proj.q_weight [16384,640] uint32",
    "model.layers.47.feed_forward.shared_expert.down_proj.q_scale [5120,256] float16",
    "lm_head.q_weight [202048,640] uint32",
  ], [48 * 18 + 5, 48 * layer + 2 * v * q4row(h) + h * 2]);
  // q4f16_2: embedding and lm_head (a final FC) stay float16; the router is still quantized
  const lines = planReal("llama4", await realConfig("Llama-4-Scout-17B-16E"), "q4f16_2").outputs.map(outLine);
  for (
    const l of ["lm_head.weight [202048,5120] float16", "model.embed_tokens.weight [202048,5120] float16"]
  ) {
    assertOk(lines.includes(l), l);
  }
  assertOk(lines.includes("model.layers.3.feed_forward.router.router.q_weight [16,640] uint32"));
});

Deno.test("llama4: the vision tower and projector only warn (text weights only)", async () => {
  const plan = planReal("llama4", await realConfig("Llama-4-Scout-17B-16E"), "q0bf16", [
    { name: "vision_model.patch_embedding.linear.weight", shape: [1408, 588] },
    { name: "multi_modal_projector.linear_1.weight", shape: [5120, 4096] },
  ]);
  assertEquals(plan.problems, []);
  assertEquals(plan.warnings.length, 1);
  assertOk(
    /multi_modal_projector\.linear_1\.weight, vision_model\.patch_embedding\.linear\.weight/.test(
      plan.warnings[0],
    ),
  );
});

Deno.test("llama4 conversion: experts copied as they are (no transpose, no stacking), shared gate|up concatenated", async () => {
  const { bytes, data } = await convertSeeded("llama4", tinyMoe("llama4"));
  for (const x of ["experts.gate_up_proj", "experts.down_proj"]) {
    assertEquals(bytes.get(`${F}.${x}`), data.get(`${H}${F}.${x}`), x);
  }
  assertEquals(bytes.get(`${F}.router.router.weight`), data.get(`${H}${F}.router.weight`));
  assertEquals(
    bytes.get(`${F}.shared_expert.gate_up_proj.weight`),
    cat(data, [`${H}${F}.shared_expert.gate_proj.weight`, `${H}${F}.shared_expert.up_proj.weight`]),
  );
  assertEquals(bytes.get("lm_head.weight"), data.get(`${H}lm_head.weight`));
});

Deno.test("llama4 from files: cpu workers' chunked reads give the reference bytes (q4f16_1, q4f16_0, q0f16)", async () => {
  for (const quant of ["q4f16_1", "q4f16_0", "q0f16"]) {
    const [ref, cpu] = await convertOnDisk("llama4", MOE_TINY.llama4, quant);
    for (const [f, b] of ref) assertEquals(cpu.get(f), b, `${quant} ${f}`);
  }
});

Deno.test("llama4: dense layers (Maverick's interleaving), other RoPE scalings and no text_config are refused before any read", async () => {
  const tc = MOE_TINY.llama4.text_config as Record<string, unknown>;
  const maverick = { ...MOE_TINY.llama4, text_config: { ...tc, interleave_moe_layer_step: 2 } };
  const arch = ARCHITECTURES.llama4;
  // llama4_loader.py L44-L48 looks up the shared expert of every layer: KeyError on layer 0
  assertThrows(
    () =>
      planConversion({
        arch,
        config: fromDict(arch.configClass, maverick),
        scheme: getQuantization("q4f16_1"),
        checkpoint: noReadCheckpoint(hfTensors("llama4", maverick)),
      }),
    /layer\(s\) 0 are dense .*KeyError: 'model\.layers\.0\.feed_forward\.shared_expert\.gate_up_proj\.weight'/,
  );
  // the real (reconstructed) Maverick: every even layer is dense
  const real = fromDict(arch.configClass, await realConfig("Llama-4-Maverick-17B-128E"));
  assertEquals((real.text_config as Record<string, unknown>).moe_layers, range(1, 48, 2));
  assertThrows(
    () => arch.params(real),
    new RegExp(`layer\\(s\\) ${range(0, 48, 2).join(", ")} are dense`),
  );
  // L63-L69
  assertThrows(
    () =>
      parse("llama4", { ...MOE_TINY.llama4, text_config: { ...tc, rope_scaling: { rope_type: "yarn" } } }),
    /Unsupported RoPE scaling type yarn for Llama/,
  );
  assertThrows(
    () => parse("llama4", { model_type: "llama4" }),
    /Llama4Config is missing required field\(s\).*text_config/,
  );
});

Deno.test("conv-template auto: the Llama 4 Instruct chat format is MLC's llama-4 (which has no system prompt)", async () => {
  const { source: _s, model: _m, ...tc } = JSON.parse(
    await Deno.readTextFile(
      new URL("./fixtures/chat_templates/Llama-4-Scout-17B-16E-Instruct.json", import.meta.url),
    ),
  );
  // conversation_template/llama.py L8-L30: llama-4 has system_template "" (the system prompt is dropped),
  // so only the probe without a system message renders identically
  const r = detectConvTemplate(tc);
  assertEquals([r.name, r.matches, r.withoutSystem], ["llama-4", ["llama-4"], true]);
});
