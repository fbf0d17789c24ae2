// The vision-language model types llava, phi3_v and ministral3: config parsing as MLC's config
// classes do it (gen_config's model_config on published configs), the MLC parameter lists
// (vision tower, projector, language model), which parameters are quantized, hand-derived
// totals on sparse checkpoints with the real dimensions, tiny conversions, refusals before any
// tensor is read. MLC sources cited are at mlc-ai/mlc-llm 79d603f0: python/mlc_llm/model/
// {llava,phi3v,ministral3,vision}/.
import { assertEquals } from "./_assert.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import { fromDict } from "../src/arch/config.ts";
import { planConversion } from "../src/plan.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { hfTensors } from "../src/testing/hf_layouts.ts";
import { tensorData } from "../src/testing/checkpoint_gen.ts";
import {
  assertRealPlan,
  cat,
  convertSeeded,
  convertTiny,
  modelConfigText,
  noReadCheckpoint,
  outLine,
  parse,
  planReal,
  realConfig,
  summary,
} from "./_arch_helpers.ts";
import { MM_TINY } from "./_mm_tiny.ts";

/** Bytes of a q4f16_1 weight `[n, k]`: q_weight n*k/8 uint32 + q_scale n*k/32 float16. */
const q4 = (n: number, k: number): number => n * k * 4 / 8 + n * k * 2 / 32;

/** Elements of a CLIP tower (clip_vision.py L48-L231) with hidden h, mlp i, l layers, p patch, s image. */
function clipElements(h: number, i: number, l: number, p: number, s: number): number {
  const layer = 4 * (h * h + h) + (i * h + i) + (h * i + h) + 4 * h;
  return l * layer + h + h * 3 * p * p + ((s / p) ** 2 + 1) * h + 4 * h;
}

// ---------------------------------------------------------------------------------------------
// llava

Deno.test("llava: model_config of llava-hf/llava-1.5-7b-hf (text config from MLC's llama2_7b preset)", async () => {
  const logs: string[] = [];
  const text = modelConfigText("llava", await realConfig("llava-1.5-7b-hf"), logs);
  // llava_model.py L71-L76: text_config names its model (_name_or_path), so get_hf_config
  // (L88-L112) replaces it: offline, MODEL_PRESETS["llama2_7b"] (vocab 32000, context 2048)
  // updates the dict (preset values win, new keys appended); L81 LlamaConfig.from_dict; L83-L86
  // the top level copies context/prefill from the text config (LlamaConfig has no sliding window).
  // L55-L63: the vision dict goes through CLIPVisionConfig.from_dict, model_type to its kwargs.
  assertEquals(
    text,
    '{"image_token_index": 32000, "text_config": {"hidden_size": 4096, "intermediate_size": 11008, ' +
      '"num_attention_heads": 32, "num_hidden_layers": 32, "rms_norm_eps": 1e-05, "vocab_size": 32000, ' +
      '"tie_word_embeddings": false, "position_embedding_base": 10000, "rope_scaling": null, ' +
      '"context_window_size": 2048, "prefill_chunk_size": 2048, "num_key_value_heads": 32, "head_dim": 128, ' +
      '"tensor_parallel_shards": 1, "pipeline_parallel_stages": 1, "max_batch_size": 1, "disaggregation": false, ' +
      '"kwargs": {"_name_or_path": "meta-llama/Llama-2-7b-hf", "architectures": ["LlamaForCausalLM"], ' +
      '"max_position_embeddings": 2048, "model_type": "llama", "torch_dtype": "float16", "bos_token_id": 1, ' +
      '"eos_token_id": 2, "hidden_act": "silu", "initializer_range": 0.02, "pad_token_id": 0, ' +
      '"pretraining_tp": 1, "transformers_version": "4.31.0.dev0", "use_cache": true}}, ' +
      '"vision_config": {"hidden_size": 1024, "image_size": 336, "intermediate_size": 4096, ' +
      '"num_attention_heads": 16, "num_hidden_layers": 24, "patch_size": 14, "projection_dim": 768, ' +
      '"vocab_size": 32000, "num_channels": 3, "layer_norm_eps": 1e-06, "kwargs": {"model_type": "clip_vision_model"}}, ' +
      '"vocab_size": 32064, "context_window_size": 2048, "sliding_window_size": -1, "prefill_chunk_size": 2048, ' +
      '"tensor_parallel_shards": 1, "max_batch_size": 128, "text_architecture": "LlamaForCausalLM"}',
  );
  // a text model MLC has no preset for is refused (L107-L110: "Unsupported text model")
  const hf = await realConfig("llava-1.5-7b-hf");
  let err = "";
  try {
    parse("llava", { ...hf, text_config: { ...(hf.text_config as object), _name_or_path: "x/y" } });
  } catch (e) {
    err = (e as Error).message;
  }
  assertEquals(err.startsWith('Unsupported text model "x/y"'), true);
  // lmsys/vicuna-7b-v1.5 maps to the same preset; mistralai/Mistral-7B-v0.1 to mistral_7b, whose
  // architectures pick MistralConfig (L74-L76, L81) and the sliding window (4096)
  const m = parse("llava", {
    ...hf,
    text_config: { _name_or_path: "mistralai/Mistral-7B-v0.1" },
  }).cfg;
  assertEquals([m.text_architecture, m.sliding_window_size, m.context_window_size, m.prefill_chunk_size], [
    "MistralForCausalLM",
    4096,
    -1,
    128,
  ]);
});

Deno.test("llava: vision tower (1:1), projector, language model under language_model. with llama's fusions", () => {
  // llava_model.py L134-L143 module order; clip_vision.py L48-L231 (k, v, q, out projections with
  // biases; Conv2D patch embedding without bias; (image/patch)^2 + 1 positions); llava_loader.py
  // L23-L28: the standard loader with layer_prefix "language_model.model.layers" (q|k|v and
  // gate|up concatenated on axis 0), everything else 1:1
  const lines = summary(parse("llava", MM_TINY.llava).params);
  const v = "vision_tower.vision_model";
  const L = `${v}.encoder.layers.0`;
  const lm = "language_model.model.layers.0";
  assertEquals(lines.slice(0, 7), [
    `${v}.embeddings.class_embedding [32] <- =`,
    `${v}.embeddings.patch_embedding.weight [32,3,4,4] <- =`,
    `${v}.embeddings.position_embedding.weight [5,32] <- =`,
    `${v}.pre_layrnorm.weight [32] <- =`,
    `${v}.pre_layrnorm.bias [32] <- =`,
    `${L}.self_attn.k_proj.weight [32,32] <- =`,
    `${L}.self_attn.k_proj.bias [32] <- =`,
  ]);
  // nothing in the tower is quantizable (CLIPVisionModel.no_quantization, clip_vision.py L223-L224)
  assertEquals(lines.slice(0, 23).every((l) => !l.includes(" linear ") && !l.includes(" embedding ")), true);
  assertEquals(lines.slice(21, 30), [
    `${v}.post_layernorm.weight [32] <- =`,
    `${v}.post_layernorm.bias [32] <- =`,
    "multi_modal_projector.linear_1.weight [64,32] linear <- =",
    "multi_modal_projector.linear_1.bias [64] <- =",
    "multi_modal_projector.linear_2.weight [64,64] linear <- =",
    "multi_modal_projector.linear_2.bias [64] <- =",
    "language_model.model.embed_tokens.weight [vocab_size,64] embedding <- =",
    `${lm}.self_attn.qkv_proj.weight [128,64] linear <- ${lm}.self_attn.q_proj.weight, ` +
    `${lm}.self_attn.k_proj.weight, ${lm}.self_attn.v_proj.weight`,
    `${lm}.self_attn.o_proj.weight [64,64] linear <- =`,
  ]);
  assertEquals(lines.at(-1), "language_model.lm_head.weight [vocab_size,64] linear <- =");
  assertEquals(lines.length, 23 + 4 + 1 + 2 * 6 + 2);
  // llava_loader.py L26: rotary inv_freq declared unused
  const { arch, cfg } = parse("llava", MM_TINY.llava);
  assertEquals(arch.isUnused!(`${lm}.self_attn.rotary_emb.inv_freq`, cfg), true);
  assertEquals(arch.isUnused!("language_model.model.layers.2.self_attn.rotary_emb.inv_freq", cfg), false);
});

Deno.test("llava: tiny conversion: tower bytes 1:1, q|k|v and gate|up concatenated", async () => {
  const { bytes, data } = await convertSeeded("llava", MM_TINY.llava);
  const lm = "language_model.model.layers.1";
  assertEquals(
    bytes.get(`${lm}.self_attn.qkv_proj.weight`),
    cat(data, ["q", "k", "v"].map((x) => `${lm}.self_attn.${x}_proj.weight`)),
  );
  assertEquals(
    bytes.get(`${lm}.mlp.gate_up_proj.weight`),
    cat(data, [`${lm}.mlp.gate_proj.weight`, `${lm}.mlp.up_proj.weight`]),
  );
  for (
    const n of [
      "vision_tower.vision_model.embeddings.patch_embedding.weight",
      "vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.bias",
      "multi_modal_projector.linear_2.weight",
      "language_model.lm_head.weight",
    ]
  ) assertEquals(bytes.get(n), data.get(n), n);
});

Deno.test("llava-1.5-7b plan: tower float16, projector and every language-model linear quantized; totals", async () => {
  const hf = await realConfig("llava-1.5-7b-hf");
  const [h, i, vocab] = [4096, 11008, 32064];
  const tower = clipElements(1024, 4096, 24, 14, 336) * 2;
  const projector = q4(h, 1024) + q4(h, h) + 2 * h * 2;
  const layer = q4(3 * h, h) + q4(h, h) + q4(2 * i, h) + q4(h, i) + 2 * h * 2;
  assertRealPlan("llava", hf, "q4f16_1", [
    "vision_tower.vision_model.embeddings.patch_embedding.weight [1024,3,14,14] float16",
    "vision_tower.vision_model.embeddings.position_embedding.weight [577,1024] float16",
    "vision_tower.vision_model.encoder.layers.23.mlp.fc1.weight [4096,1024] float16",
    "multi_modal_projector.linear_1.q_weight [4096,128] uint32",
    "multi_modal_projector.linear_1.bias [4096] float16",
    "language_model.model.embed_tokens.q_weight [32064,512] uint32",
    "language_model.model.layers.31.self_attn.qkv_proj.q_weight [12288,512] uint32",
    "language_model.model.layers.0.mlp.down_proj.q_scale [4096,344] float16",
    "language_model.lm_head.q_weight [32064,512] uint32",
  ], [391 + 6 + 2 + 32 * 10 + 1 + 2, tower + projector + 2 * q4(vocab, h) + 32 * layer + h * 2]);
  // quantization/utils.py L55-L58: "language_model.lm_head" is not a final-FC name, so q4f16_2
  // quantizes it too; the embedding stays float16 there
  const q2 = planReal("llava", hf, "q4f16_2").outputs.map(outLine);
  assertEquals(q2.includes("language_model.lm_head.q_weight [32064,512] uint32"), true);
  assertEquals(q2.includes("language_model.model.embed_tokens.weight [32064,4096] float16"), true);
  // AWQ (kind A) is MLC's too, but not a group-quant scheme: the registry offers N and G only
  assertEquals(ARCHITECTURES.llava.quantKinds, ["no-quant", "group-quant"]);
});

Deno.test("llava: a text architecture MLC does not know is refused before any tensor is read", () => {
  const arch = ARCHITECTURES.llava;
  const cfg = fromDict(arch.configClass, {
    ...MM_TINY.llava,
    text_architecture: "LlamaForCausalLM",
  });
  const plan = planConversion({
    arch,
    config: cfg,
    scheme: getQuantization("q4f16_1"),
    checkpoint: noReadCheckpoint(hfTensors("llava", MM_TINY.llava)),
  });
  assertEquals(plan.problems, []);
  let err = "";
  try {
    fromDict(arch.configClass, { ...MM_TINY.llava, text_architecture: "GemmaForCausalLM" });
  } catch (e) {
    err = (e as Error).message;
  }
  assertEquals(err.startsWith('llava text architecture "GemmaForCausalLM" is not supported'), true);
});

// ---------------------------------------------------------------------------------------------
// ministral3

Deno.test("ministral3: model_config of mistralai/Ministral-3-3B-Instruct-2512 (text_config merged into the top level)", async () => {
  const logs: string[] = [];
  const hf = await realConfig("Ministral-3-3B-Instruct-2512");
  // ministral3_model.py L52-L67: text_config merged over the top level, the top level's dtype wins
  // ("bfloat16"); L117-L119 rope_theta popped from rope_parameters (the rest keeps its order);
  // L124-L128 sliding_window null -> -1; L129-L140 context from max_position_embeddings;
  // L156-L167 prefill min(262144, 8192); head_dim 128 kept (not 3072 / 32); asdict emits
  // modules_to_not_convert (a tuple) as [] after the fields
  assertEquals(
    modelConfigText("ministral3", hf, logs),
    '{"hidden_size": 3072, "intermediate_size": 9216, "num_attention_heads": 32, "num_hidden_layers": 26, ' +
      '"rms_norm_eps": 1e-05, "vocab_size": 131072, "attention_sink_size": 0, "context_window_size": 262144, ' +
      '"dtype": "bfloat16", "head_dim": 128, "hidden_act": "silu", "max_batch_size": 128, "num_key_value_heads": 8, ' +
      '"position_embedding_base": 1000000.0, "prefill_chunk_size": 8192, "rope_parameters": {"beta_fast": 32.0, ' +
      '"beta_slow": 1.0, "factor": 16.0, "llama_4_scaling_beta": 0.1, "mscale": 1.0, "mscale_all_dim": 1.0, ' +
      '"original_max_position_embeddings": 16384, "rope_type": "yarn", "type": "yarn"}, "sliding_window_size": -1, ' +
      '"tensor_parallel_shards": 1, "tie_word_embeddings": true, "weight_block_size": null, "modules_to_not_convert": []}',
  );
  assertEquals(logs.slice(0, 2), [
    "context_window_size not found in config.json. Falling back to max_position_embeddings (262144)",
    "prefill_chunk_size defaults to 8192",
  ]);
  // config.json's own object is left alone (Python pops from its parsed copy)
  assertEquals(
    ((hf.text_config as Record<string, unknown>).rope_parameters as Record<string, unknown>).rope_theta !==
      undefined,
    true,
  );
  // model.py: the registry key equals config.json's model_type
  const { detectArchitecture } = await import("../src/arch/registry.ts");
  assertEquals(detectArchitecture("auto", hf).name, "ministral3");
});

Deno.test("ministral3: q|k|v and gate|up fused, head_dim from config, head only when untied; language_model. with a vision_config", () => {
  // ministral3_loader.py L218-L250 (fusions and 1:1 linears), L255-L264 (the rest 1:1 through hf());
  // ministral3_model.py L235-L240: qkv rows (32 + 2 * 8) * head_dim here (4 + 2 * 2) * 32
  const lines = summary(parse("ministral3", MM_TINY.ministral3).params);
  const p = "model.layers.0";
  assertEquals(lines.slice(0, 7), [
    "model.embed_tokens.weight [96,64] embedding <- =",
    `${p}.self_attn.qkv_proj.weight [256,64] linear <- ${p}.self_attn.q_proj.weight, ${p}.self_attn.k_proj.weight, ` +
    `${p}.self_attn.v_proj.weight`,
    `${p}.self_attn.o_proj.weight [64,128] linear <- =`,
    `${p}.mlp.gate_up_proj.weight [192,64] linear <- ${p}.mlp.gate_proj.weight, ${p}.mlp.up_proj.weight`,
    `${p}.mlp.down_proj.weight [64,96] linear <- =`,
    `${p}.input_layernorm.weight [64] <- =`,
    `${p}.post_attention_layernorm.weight [64] <- =`,
  ]);
  assertEquals(lines.slice(-2), ["model.norm.weight [64] <- =", "lm_head.weight [96,64] linear <- ="]);
  // L89-L94: "vision_config" in kwargs -> every source under language_model.; tied: no lm_head
  const vis = parse("ministral3", {
    model_type: "ministral3",
    vision_config: { hidden_size: 16 },
    text_config: { ...MM_TINY.ministral3, tie_word_embeddings: true },
  });
  const vl = summary(vis.params);
  assertEquals(
    vl[0],
    "model.embed_tokens.weight [96,64] embedding <- language_model.model.embed_tokens.weight",
  );
  assertEquals(vl.at(-1), "model.norm.weight [64] <- language_model.model.norm.weight");
  assertEquals(vl.length, 1 + 2 * 6 + 1);
  // L253: inv_freq is declared unused under its unprefixed name only
  assertEquals(vis.arch.isUnused!(`${p}.self_attn.rotary_emb.inv_freq`, vis.cfg), true);
  assertEquals(vis.arch.isUnused!(`language_model.${p}.self_attn.rotary_emb.inv_freq`, vis.cfg), false);
});

Deno.test("ministral3: tiny conversion bytes (fusions on axis 0, the rest 1:1)", async () => {
  const { bytes, data } = await convertSeeded("ministral3", MM_TINY.ministral3);
  const p = "model.layers.1";
  assertEquals(
    bytes.get(`${p}.self_attn.qkv_proj.weight`),
    cat(data, ["q", "k", "v"].map((x) => `${p}.self_attn.${x}_proj.weight`)),
  );
  assertEquals(
    bytes.get(`${p}.mlp.gate_up_proj.weight`),
    cat(data, ["gate", "up"].map((x) => `${p}.mlp.${x}_proj.weight`)),
  );
  for (const n of ["model.embed_tokens.weight", `${p}.mlp.down_proj.weight`, "lm_head.weight"]) {
    assertEquals(bytes.get(n), data.get(n), n);
  }
});

Deno.test("Ministral-3-3B plan: text model only, vision tower and projector warned as unused; totals", async () => {
  const hf = await realConfig("Ministral-3-3B-Instruct-2512");
  const [h, i, d] = [3072, 9216, 128];
  const layer = q4((32 + 16) * d, h) + q4(h, 32 * d) + q4(2 * i, h) + q4(h, i) + 2 * h * 2;
  const plan = planReal("ministral3", hf, "q4f16_1");
  assertEquals(plan.problems, []);
  // MLC's loader maps no vision_tower.* / multi_modal_projector.* name: "Unused extern parameters"
  assertEquals(plan.warnings.length, 1);
  // (the warning names the first 20 and "and N more"; the plan keeps the full list)
  assertEquals(plan.warnings[0].endsWith(`, and ${4 + 2 + 24 * 9 - 20} more`), true, plan.warnings[0]);
  const unused = [...plan.unused!];
  assertEquals(unused.length, 4 + 2 + 24 * 9);
  assertEquals(unused.every((n) => /^(vision_tower|multi_modal_projector)\./.test(n)), true);
  const lines = plan.outputs.map(outLine);
  for (
    const l of [
      "model.embed_tokens.q_weight [131072,384] uint32",
      "model.layers.25.self_attn.qkv_proj.q_weight [6144,384] uint32",
      "model.layers.0.self_attn.o_proj.q_scale [3072,128] float16",
      "model.layers.7.mlp.gate_up_proj.q_weight [18432,384] uint32",
      "model.norm.weight [3072] float16",
    ]
  ) assertEquals(lines.includes(l), true, l);
  assertEquals(lines.some((l) => l.startsWith("lm_head")), false);
  assertEquals([plan.paramSize, plan.paramBytes], [2 + 26 * 10 + 1, q4(131072, h) + 26 * layer + h * 2]);
  // q4f16_2 keeps the (tied) embedding in float16
  const q2 = planReal("ministral3", hf, "q4f16_2").outputs.map(outLine);
  assertEquals(q2.includes("model.embed_tokens.weight [131072,3072] float16"), true);
});

Deno.test("ministral3: an FP8 checkpoint is refused before any tensor is read; other quantization configs at parse", async () => {
  const hf = await realConfig("Ministral-3-3B-Instruct-2512");
  const fp8 = { ...hf, quantization_config: { quant_method: "fp8", activation_scheme: "static" } };
  const arch = ARCHITECTURES.ministral3;
  const cfg = fromDict(arch.configClass, fp8);
  // L93-L94: no weight_block_size given -> (128, 128); the loader refuses non-block-scale (L96-L103)
  assertEquals(cfg.weight_block_size, [128, 128]);
  let err = "";
  try {
    planConversion({
      arch,
      config: cfg,
      scheme: getQuantization("q4f16_1"),
      checkpoint: noReadCheckpoint(hfTensors("ministral3", JSON.parse(JSON.stringify(hf)))),
    });
  } catch (e) {
    err = (e as Error).message;
  }
  assertEquals(err.startsWith("The input Ministral 3 model is fp8 block quantized"), true);
  err = "";
  try {
    fromDict(arch.configClass, {
      ...hf,
      quantization_config: { quant_method: "fp8", activation_scheme: "dynamic" },
    });
  } catch (e) {
    err = (e as Error).message;
  }
  assertEquals(
    err,
    "Invalid Ministral 3 model quantization config: only FP8 static quantization is supported, " +
      "got activation_scheme=dynamic, quant_method=fp8",
  );
});

// ---------------------------------------------------------------------------------------------
// phi3_v

Deno.test("phi3_v: model_config of microsoft/Phi-3.5-vision-instruct (built-in CLIP config, phi3's longrope rules)", async () => {
  const logs: string[] = [];
  const text = modelConfigText("phi3_v", await realConfig("Phi-3.5-vision-instruct"), logs);
  const short = text.replace(/"long_factor": \[[^\]]*\]/, '"long_factor": L').replace(
    /"short_factor": \[[^\]]*\]/,
    '"short_factor": S',
  );
  // phi3v_model.py L63-L73: config.json has no vision_config, so CLIPVISION_DEFAULT_CONFIG (L25-L35,
  // vocab_size None, layer_norm_eps 1e-05) with empty kwargs; L75-L97 rope_theta, "su" -> longrope
  // with rope_type / max_position_embeddings / original_max_position_embeddings added; L99-L108
  // context = max_position_embeddings, prefill min(ctx, 8192); L120 head_dim 3072 / 32
  assertEquals(
    short,
    '{"model_type": "phi3_v", "hidden_size": 3072, "vocab_size": 32064, "num_hidden_layers": 32, ' +
      '"num_attention_heads": 32, "intermediate_size": 8192, "rms_norm_eps": 1e-05, "num_key_value_heads": 32, ' +
      '"max_position_embeddings": 131072, "vision_config": {"hidden_size": 1024, "image_size": 336, ' +
      '"intermediate_size": 4096, "num_attention_heads": 16, "num_hidden_layers": 24, "patch_size": 14, ' +
      '"projection_dim": 768, "vocab_size": null, "num_channels": 3, "layer_norm_eps": 1e-05, "kwargs": {}}, ' +
      '"img_processor": {"image_dim_out": 1024, "model_name": "openai/clip-vit-large-patch14-336", ' +
      '"name": "clip_vision_model", "num_img_tokens": 144}, "position_embedding_base": 10000.0, ' +
      '"rope_scaling": {"long_factor": L, "short_factor": S, "type": "longrope", "rope_type": "longrope", ' +
      '"max_position_embeddings": 131072, "original_max_position_embeddings": 4096}, ' +
      '"original_max_position_embeddings": 4096, "context_window_size": 131072, "prefill_chunk_size": 8192, ' +
      '"head_dim": 96, "tensor_parallel_shards": 1, "max_batch_size": 128}',
  );
  assertEquals(logs[0], "prefill_chunk_size defaults to 8192");
  // a vision_config dict in config.json is not a CLIPVisionConfig: ignored (L65-L68)
  const own = parse("phi3_v", { ...MM_TINY.phi3_v, vision_config: { hidden_size: 32 } }).cfg;
  assertEquals((own.vision_config as Record<string, unknown>).hidden_size, 1024);
});

Deno.test("phi3_v: phi3 decoder under model., lm_head, then the image embedding from model.vision_embed_tokens.*", () => {
  // phi3v_loader.py L55-L80 (decoder renames), L82-L111 (tower and separators under "model."),
  // L113-L117 (img_projection.{0,2} -> linear_{1,2}), L119-L128 (model.norm, lm_head 1:1);
  // phi3v_image.py L15-L22 (projection 4 * 1024 -> hidden), L58-L64 (glb_GN, sub_GN: 4 * image_dim_out)
  const { arch, cfg, params } = parse("phi3_v", MM_TINY.phi3_v);
  const lines = summary(params);
  const e = "vision_embed_tokens";
  assertEquals(lines.slice(0, 3), [
    "model.embd.weight [96,64] embedding <- model.embed_tokens.weight",
    "model.h.0.ln.weight [64] <- model.layers.0.input_layernorm.weight",
    "model.h.0.mixer.qkv_proj.weight [192,64] linear <- model.layers.0.self_attn.qkv_proj.weight",
  ]);
  assertEquals(lines.slice(13, 16), [
    "model.norm.weight [64] <- =",
    "lm_head.weight [vocab_size,64] linear <- =",
    `${e}.img_processor.vision_model.embeddings.class_embedding [1024] <- model.${e}.img_processor.vision_model.embeddings.class_embedding`,
  ]);
  assertEquals(lines.slice(-6), [
    `${e}.glb_GN [1,1,128] <- model.${e}.glb_GN`,
    `${e}.sub_GN [1,1,1,128] <- model.${e}.sub_GN`,
    `${e}.img_projection.linear_1.weight [64,4096] linear <- model.${e}.img_projection.0.weight`,
    `${e}.img_projection.linear_1.bias [64] <- model.${e}.img_projection.0.bias`,
    `${e}.img_projection.linear_2.weight [64,64] linear <- model.${e}.img_projection.2.weight`,
    `${e}.img_projection.linear_2.bias [64] <- model.${e}.img_projection.2.bias`,
  ]);
  // the tower: 24 layers of CLIP-ViT-L/14-336, never quantizable (clip_vision.py L223-L224)
  const tower = lines.filter((l) => l.startsWith(`${e}.img_processor.`));
  assertEquals(tower.length, 7 + 24 * 16);
  assertEquals(tower.some((l) => / (linear|embedding) </.test(l)), false);
  // L130: model.embed_tokens.weight is also declared unused (it is the source of model.embd)
  assertEquals(arch.isUnused!("model.embed_tokens.weight", cfg), true);
});

Deno.test("phi3_v: tiny conversion: renamed bytes, separators and projection 1:1", async () => {
  const e = "model.vision_embed_tokens";
  const names = [
    "model.embed_tokens.weight",
    "model.layers.1.self_attn.qkv_proj.weight",
    `${e}.glb_GN`,
    `${e}.sub_GN`,
    `${e}.img_projection.0.weight`,
    `${e}.img_projection.2.bias`,
    `${e}.img_processor.vision_model.encoder.layers.23.mlp.fc2.bias`,
  ];
  const tensors = hfTensors("phi3_v", MM_TINY.phi3_v);
  // seeded finite float16 values for the named tensors, zeros elsewhere (the 303M-element tower)
  const data = new Map(
    names.map((n, k) => [n, tensorData(tensors.find((x) => x.name === n)!, "F16", 11 + k)]),
  );
  const { bytes } = await convertTiny("phi3_v", MM_TINY.phi3_v, "q0f16", data, "float16");
  const mlc = [
    "model.embd.weight",
    "model.h.1.mixer.qkv_proj.weight",
    "vision_embed_tokens.glb_GN",
    "vision_embed_tokens.sub_GN",
    "vision_embed_tokens.img_projection.linear_1.weight",
    "vision_embed_tokens.img_projection.linear_2.bias",
    "vision_embed_tokens.img_processor.vision_model.encoder.layers.23.mlp.fc2.bias",
  ];
  mlc.forEach((m, k) => assertEquals(bytes.get(m), data.get(names[k]), m));
});

Deno.test("Phi-3.5-vision plan: tower and separators float16, projection and decoder quantized; totals", async () => {
  const hf = await realConfig("Phi-3.5-vision-instruct");
  const [h, i, v] = [3072, 8192, 32064];
  const layer = q4(3 * h, h) + q4(h, h) + q4(2 * i, h) + q4(h, i) + 2 * h * 2;
  const image = clipElements(1024, 4096, 24, 14, 336) * 2 + 2 * 4096 * 2 + q4(h, 4096) + q4(h, h) + 2 * h * 2;
  assertRealPlan("phi3_v", hf, "q4f16_1", [
    "model.embd.q_weight [32064,384] uint32",
    "model.h.31.mixer.qkv_proj.q_weight [9216,384] uint32",
    "model.h.0.mlp.down_proj.q_scale [3072,256] float16",
    "lm_head.q_weight [32064,384] uint32",
    "vision_embed_tokens.img_processor.vision_model.embeddings.patch_embedding.weight [1024,3,14,14] float16",
    "vision_embed_tokens.img_processor.vision_model.encoder.layers.0.self_attn.q_proj.weight [1024,1024] float16",
    "vision_embed_tokens.glb_GN [1,1,4096] float16",
    "vision_embed_tokens.sub_GN [1,1,1,4096] float16",
    "vision_embed_tokens.img_projection.linear_1.q_weight [3072,512] uint32",
    "vision_embed_tokens.img_projection.linear_1.bias [3072] float16",
  ], [2 + 32 * 10 + 1 + 2 + 391 + 2 + 6, 2 * q4(v, h) + 32 * layer + h * 2 + image]);
  // q4f16_2: lm_head is a final FC (kept float16), the image projection is still quantized
  const q2 = planReal("phi3_v", hf, "q4f16_2").outputs.map(outLine);
  assertEquals(q2.includes("lm_head.weight [32064,3072] float16"), true);
  assertEquals(q2.includes("vision_embed_tokens.img_projection.linear_2.q_weight [3072,384] uint32"), true);
});

Deno.test("hostile vision configs are refused with the field named, before any tensor is read", async () => {
  const { checkConfigBounds } = await import("../src/config_bounds.ts");
  const refusal = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };
  // vision_config is bounds-checked like text_config (a huge tower would be planned otherwise)
  const huge = {
    ...MM_TINY.llava,
    vision_config: { ...(MM_TINY.llava.vision_config as object), num_hidden_layers: 1e9 },
  };
  assertEquals(
    refusal(() => checkConfigBounds(huge, "config.json")).startsWith(
      "config.json: vision_config.num_hidden_layers ",
    ),
    true,
  );
  // patch_size 0 would divide by zero (MLC: ZeroDivisionError)
  const zero = {
    ...MM_TINY.llava,
    vision_config: { ...(MM_TINY.llava.vision_config as object), patch_size: 0 },
  };
  assertEquals(
    refusal(() => parse("llava", zero)),
    "vision_config: image_size 8 and patch_size 0 must satisfy 1 <= patch_size <= image_size <= 65536",
  );
  // phi3_v without img_processor: MLC's config.img_processor["image_dim_out"] fails (TypeError)
  const { img_processor: _i, ...noImg } = MM_TINY.phi3_v;
  assertEquals(
    refusal(() => parse("phi3_v", noImg)),
    "phi3_v needs img_processor.image_dim_out in config.json, got img_processor null",
  );
});
