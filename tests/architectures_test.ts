// The architectures beyond llama: config parsing (fields, defaults, window rules), the exact
// MLC parameter list of a tiny config (names, shapes, dtypes, HF sources, quantizable kinds,
// transforms), declared-unused names, and value transforms checked against hand-derived bytes.
import { assertEquals, assertThrows } from "./_assert.ts";
import { fromDict } from "../src/arch/config.ts";
import { deinterleaveQkv, transpose2d } from "../src/arch/_transforms.ts";
import type { HostTensor } from "../src/arch/types.ts";
import { ARCHITECTURES, detectArchitecture } from "../src/arch/registry.ts";
import { convertTiny, parse, summary } from "./_arch_helpers.ts";
import { planConversion } from "../src/plan.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { hfTensors, splitFiles, syntheticCheckpoint } from "../src/testing/hf_layouts.ts";

const LLAMA_LIKE = {
  hidden_size: 8,
  intermediate_size: 16,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  num_hidden_layers: 1,
  rms_norm_eps: 1e-6,
  vocab_size: 10,
  max_position_embeddings: 64,
};

Deno.test("registry: the new model types are detected, unknown ones name the supported list", () => {
  for (const k of ["mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "phi", "gpt_neox", "gpt2"]) {
    assertEquals(detectArchitecture("auto", { model_type: k }).name, k);
  }
  assertEquals(detectArchitecture("auto", { model_type: "phi-msft" }).name, "phi-msft");
  assertEquals(detectArchitecture("auto", { model_type: "mixformer-sequential" }).name, "phi-msft");
  assertEquals(detectArchitecture("phi-msft", {}).name, "phi-msft");
  assertThrows(
    () => detectArchitecture("auto", { model_type: "falcon" }),
    /Unknown model type "falcon".*mistral, qwen2, qwen3, gemma, gemma2, phi3, phi, phi-msft, gpt_neox, gpt2/,
  );
  for (const k of ["gemma", "gemma2"]) assertEquals(ARCHITECTURES[k].quantKinds, ["no-quant", "group-quant"]);
});

Deno.test("mistral: llama weights with an untied head; sliding-window config rules", () => {
  const { cfg, params, logs, arch } = parse("mistral", {
    ...LLAMA_LIKE,
    sliding_window: 4096,
    rope_theta: 1e6,
  });
  assertEquals(Object.keys(cfg), arch.configClass.fields.map(([n]) => n));
  assertEquals(cfg.sliding_window_size, 4096);
  assertEquals(cfg.context_window_size, -1); // sliding window set: no max_position_embeddings fallback
  assertEquals(cfg.prefill_chunk_size, 4096);
  assertEquals(cfg.head_dim, 4);
  assertEquals(cfg.attention_sink_size, 4);
  assertEquals(logs, ["prefill_chunk_size defaults to 4096"]);
  assertEquals(summary(params), [
    "model.embed_tokens.weight [vocab_size,8] embedding <- =",
    "model.layers.0.self_attn.qkv_proj.weight [16,8] linear <- model.layers.0.self_attn.q_proj.weight, " +
    "model.layers.0.self_attn.k_proj.weight, model.layers.0.self_attn.v_proj.weight",
    "model.layers.0.self_attn.o_proj.weight [8,8] linear <- =",
    "model.layers.0.mlp.gate_up_proj.weight [32,8] linear <- model.layers.0.mlp.gate_proj.weight, " +
    "model.layers.0.mlp.up_proj.weight",
    "model.layers.0.mlp.down_proj.weight [8,16] linear <- =",
    "model.layers.0.input_layernorm.weight [8] <- =",
    "model.layers.0.post_attention_layernorm.weight [8] <- =",
    "model.norm.weight [8] <- =",
    "lm_head.weight [vocab_size,8] linear <- =",
  ]);
  assertEquals(arch.isUnused!("model.layers.0.self_attn.rotary_emb.inv_freq", cfg), true);
  assertEquals(arch.isUnused!("model.layers.1.self_attn.rotary_emb.inv_freq", cfg), false); // only i < L
  // null sliding window: disabled, standard fallback
  const b = parse("mistral", { ...LLAMA_LIKE, sliding_window: null });
  assertEquals([b.cfg.sliding_window_size, b.cfg.context_window_size, b.cfg.prefill_chunk_size], [
    -1,
    64,
    64,
  ]);
  assertEquals(b.logs, [
    "context_window_size not found in config.json. Falling back to max_position_embeddings (64)",
    "prefill_chunk_size defaults to 64",
  ]);
});

Deno.test("qwen2: c_attn with fused bias, exact vocab, tied head absent", () => {
  const src = { ...LLAMA_LIKE, hidden_act: "silu", rope_theta: 1e6, tie_word_embeddings: true };
  const { cfg, params, arch } = parse("qwen2", src);
  assertEquals(Object.keys(cfg), arch.configClass.fields.map(([n]) => n));
  assertEquals([cfg.head_dim, cfg.context_window_size, cfg.prefill_chunk_size, cfg.rope_theta], [
    4,
    64,
    64,
    1e6,
  ]);
  const a = "model.layers.0.self_attn";
  assertEquals(summary(params), [
    "model.embed_tokens.weight [10,8] embedding <- =",
    `${a}.c_attn.weight [16,8] linear <- ${a}.q_proj.weight, ${a}.k_proj.weight, ${a}.v_proj.weight`,
    `${a}.c_attn.bias [16] <- ${a}.q_proj.bias, ${a}.k_proj.bias, ${a}.v_proj.bias`,
    `${a}.o_proj.weight [8,8] linear <- =`,
    "model.layers.0.mlp.gate_up_proj.weight [32,8] linear <- model.layers.0.mlp.gate_proj.weight, " +
    "model.layers.0.mlp.up_proj.weight",
    "model.layers.0.mlp.down_proj.weight [8,16] linear <- =",
    "model.layers.0.input_layernorm.weight [8] <- =",
    "model.layers.0.post_attention_layernorm.weight [8] <- =",
    "model.norm.weight [8] <- =",
  ]);
  const untied = parse("qwen2", { ...src, tie_word_embeddings: false }).params;
  assertEquals(summary(untied).at(-1), "lm_head.weight [10,8] linear <- =");
  assertThrows(() => parse("qwen2", { ...src, hidden_size: 9 }), /head_dim \* num_attention_heads/);
  assertThrows(() => parse("qwen2", { ...src, hidden_act: "tanh" }), /hidden_act "tanh" is not supported/);
});

Deno.test("qwen3: explicit head_dim, q/k norms, biases only with attention_bias, prefill cap 2048", () => {
  const src = {
    ...LLAMA_LIKE,
    head_dim: 3,
    attention_bias: true,
    hidden_act: "silu",
    rope_theta: 1e6,
    max_position_embeddings: 40960,
  };
  const { cfg, params } = parse("qwen3", src);
  assertEquals([cfg.context_window_size, cfg.prefill_chunk_size, cfg.weight_block_size], [40960, 2048, null]);
  const a = "model.layers.0.self_attn";
  assertEquals(summary(params).slice(1, 7), [
    `${a}.c_attn.weight [12,8] linear <- ${a}.q_proj.weight, ${a}.k_proj.weight, ${a}.v_proj.weight`,
    `${a}.c_attn.bias [12] <- ${a}.q_proj.bias, ${a}.k_proj.bias, ${a}.v_proj.bias`,
    `${a}.o_proj.weight [8,6] linear <- =`,
    `${a}.o_proj.bias [8] <- =`,
    `${a}.q_norm.weight [3] <- =`,
    `${a}.k_norm.weight [3] <- =`,
  ]);
  assertEquals(params.length, 13); // embed, 10 per layer, norm, lm_head (untied by default)
  const noBias = parse("qwen3", { ...src, attention_bias: false }).params.map((p) => p.name);
  assertEquals(noBias.filter((n) => n.endsWith(".bias")), []);
  assertThrows(
    () => parse("qwen3", { ...src, quantization_config: { quant_method: "awq" } }),
    /Invalid DeepSeek model quantization config: unrecognized quantization config/,
  );
  const fp8 = {
    ...src,
    quantization_config: {
      activation_scheme: "dynamic",
      fmt: "e4m3",
      quant_method: "fp8",
      weight_block_size: [128, 128],
    },
  };
  const f = fromDict(ARCHITECTURES.qwen3.configClass, fp8);
  assertEquals(f.weight_block_size, [128, 128]);
  assertThrows(() => ARCHITECTURES.qwen3.params(f), /FP8 block-quantized/);
});

Deno.test("gemma / gemma2: always tied, +1 on every norm, gemma2 window = sliding_window", () => {
  const src = {
    ...LLAMA_LIKE,
    head_dim: 4,
    attention_bias: false,
    hidden_act: "gelu",
    max_position_embeddings: 8192,
  };
  const g = parse("gemma", src);
  assertEquals(g.cfg.hidden_activation, "gelu");
  assertEquals(summary(g.params), [
    "model.embed_tokens.weight [vocab_size,8] embedding <- =",
    "model.layers.0.self_attn.qkv_proj.weight [16,8] linear <- model.layers.0.self_attn.q_proj.weight, " +
    "model.layers.0.self_attn.k_proj.weight, model.layers.0.self_attn.v_proj.weight",
    "model.layers.0.self_attn.o_proj.weight [8,8] linear <- =",
    "model.layers.0.mlp.gate_up_proj.weight [32,8] linear <- model.layers.0.mlp.gate_proj.weight, " +
    "model.layers.0.mlp.up_proj.weight",
    "model.layers.0.mlp.down_proj.weight [8,16] linear <- =",
    "model.layers.0.input_layernorm.weight [8] +1 <- =",
    "model.layers.0.post_attention_layernorm.weight [8] +1 <- =",
    "model.norm.weight [8] +1 <- =",
  ]);
  assertThrows(() => parse("gemma", { ...src, hidden_act: "silu" }), /Only GeLU/);
  assertThrows(() => parse("gemma", { ...src, attention_bias: true }), /Only "False" attention_bias/);
  const logs: string[] = [];
  const g2 = parse("gemma2", { ...src, sliding_window: 4096, query_pre_attn_scalar: 256 }, logs);
  assertEquals(Object.keys(g2.cfg).slice(-5), [
    "max_batch_size",
    "attn_logit_softcapping",
    "final_logit_softcapping",
    "query_pre_attn_scalar",
    "sliding_window",
  ]);
  assertEquals([g2.cfg.context_window_size, g2.cfg.prefill_chunk_size], [4096, 8192]); // prefill not re-clamped
  assertEquals(summary(g2.params).slice(5, 9), [
    "model.layers.0.input_layernorm.weight [8] +1 <- =",
    "model.layers.0.post_attention_layernorm.weight [8] +1 <- =",
    "model.layers.0.pre_feedforward_layernorm.weight [8] +1 <- =",
    "model.layers.0.post_feedforward_layernorm.weight [8] +1 <- =",
  ]);
});

Deno.test("phi3: fused HF tensors renamed 1:1; longrope config; tied head optional", () => {
  const src = {
    ...LLAMA_LIKE,
    model_type: "phi3",
    num_key_value_heads: 2,
    max_position_embeddings: 131072,
    original_max_position_embeddings: 4096,
    rope_scaling: { type: "su", long_factor: [1], short_factor: [1] },
  };
  const { cfg, params, logs } = parse("phi3", src);
  assertEquals(cfg.rope_scaling, {
    type: "longrope",
    long_factor: [1],
    short_factor: [1],
    rope_type: "longrope",
    max_position_embeddings: 131072,
    original_max_position_embeddings: 4096,
  });
  assertEquals([cfg.context_window_size, cfg.prefill_chunk_size], [131072, 8192]);
  assertEquals(logs, ["prefill_chunk_size defaults to 8192"]); // no context-window log
  assertEquals(summary(params), [
    "transformer.embd.weight [10,8] embedding <- model.embed_tokens.weight",
    "transformer.h.0.ln.weight [8] <- model.layers.0.input_layernorm.weight",
    "transformer.h.0.mixer.qkv_proj.weight [24,8] linear <- model.layers.0.self_attn.qkv_proj.weight",
    "transformer.h.0.mixer.out_proj.weight [8,8] linear <- model.layers.0.self_attn.o_proj.weight",
    "transformer.h.0.mlp.gate_up_proj.weight [32,8] linear <- model.layers.0.mlp.gate_up_proj.weight",
    "transformer.h.0.mlp.down_proj.weight [8,16] linear <- model.layers.0.mlp.down_proj.weight",
    "transformer.h.0.post_attention_layernorm.weight [8] <- model.layers.0.post_attention_layernorm.weight",
    "transformer.norm.weight [8] <- model.norm.weight",
    "lm_head.weight [vocab_size,8] linear <- =",
  ]);
  assertEquals(parse("phi3", { ...src, tie_word_embeddings: true }).params.length, 8);
  assertEquals(parse("phi3", { ...src, rope_scaling: { rope_type: "longrope" } }).cfg.rope_scaling, null);
});

const PHI_ROWS = (emb: string, l: (x: string) => string, head: (x: string) => string) => [
  `transformer.embd.weight [10,8] embedding <- ${emb}`,
  `transformer.h.0.ln.weight [8] <- ${l("ln.weight")}`,
  `transformer.h.0.ln.bias [8] <- ${l("ln.bias")}`,
  `transformer.h.0.mixer.Wqkv.weight [24,8] linear <- ${l("mixer.Wqkv.weight")}`,
  `transformer.h.0.mixer.Wqkv.bias [24] <- ${l("mixer.Wqkv.bias")}`,
  `transformer.h.0.mixer.out_proj.weight [8,8] linear <- ${l("mixer.out_proj.weight")}`,
  `transformer.h.0.mixer.out_proj.bias [8] <- ${l("mixer.out_proj.bias")}`,
  `transformer.h.0.mlp.fc1.weight [32,8] linear <- ${l("mlp.fc1.weight")}`,
  `transformer.h.0.mlp.fc1.bias [32] <- ${l("mlp.fc1.bias")}`,
  `transformer.h.0.mlp.fc2.weight [8,32] linear <- ${l("mlp.fc2.weight")}`,
  `transformer.h.0.mlp.fc2.bias [8] <- ${l("mlp.fc2.bias")}`,
  `lm_head.ln.weight [8] <- ${head("ln.weight")}`,
  `lm_head.ln.bias [8] <- ${head("ln.bias")}`,
  `lm_head.linear.weight [vocab_size,8] linear <- ${head("linear.weight")}`,
  `lm_head.linear.bias [vocab_size] <- ${head("linear.bias")}`,
];

Deno.test("phi (transformers format): q/k/v concatenated, dense/final_layernorm renamed", () => {
  const { cfg, params } = parse("phi", {
    model_type: "phi",
    hidden_size: 8,
    intermediate_size: null,
    num_attention_heads: 2,
    num_hidden_layers: 1,
    vocab_size: 10,
    max_position_embeddings: 2048,
  });
  assertEquals([cfg.num_key_value_heads, cfg.intermediate_size, cfg.head_dim, cfg.prefill_chunk_size], [
    2,
    32,
    4,
    2048,
  ]);
  const hf = "model.layers.0";
  const qkv = (k: string) =>
    ["q_proj", "k_proj", "v_proj"].map((n) => `${hf}.self_attn.${n}.${k}`).join(", ");
  const l = (x: string) => {
    const [mod, kind] = [x.slice(0, x.lastIndexOf(".")), x.slice(x.lastIndexOf(".") + 1)];
    if (mod === "ln") return `${hf}.input_layernorm.${kind}`;
    if (mod === "mixer.Wqkv") return qkv(kind);
    if (mod === "mixer.out_proj") return `${hf}.self_attn.dense.${kind}`;
    return `${hf}.${x}`;
  };
  const head = (x: string) =>
    x.startsWith("ln.") ? `model.final_layernorm.${x.slice(3)}` : `lm_head.${x.slice("linear.".length)}`;
  assertEquals(summary(params), PHI_ROWS("model.embed_tokens.weight", l, head));
});

Deno.test("phi-msft: 1:1 names (phi-msft) and the mixformer-sequential layer shift", () => {
  const src = {
    model_type: "phi-msft",
    n_embd: 8,
    n_inner: null,
    n_head: 2,
    n_head_kv: null,
    n_layer: 1,
    vocab_size: 10,
  };
  const logs: string[] = [];
  const a = parse("phi-msft", src, logs);
  assertEquals(Object.keys(a.cfg).includes("max_batch_size"), false);
  assertEquals([a.cfg.context_window_size, a.cfg.prefill_chunk_size, a.cfg.n_inner, a.cfg.n_head_kv], [
    2048,
    2048,
    32,
    2,
  ]);
  assertEquals(logs, ["context_window_size not found in config.json. Falling back to n_positions (2048)"]);
  assertEquals(summary(a.params), PHI_ROWS("transformer.embd.wte.weight", () => "=", () => "="));
  const b = parse("phi-msft", { ...src, model_type: "mixformer-sequential" });
  assertEquals(
    summary(b.params),
    PHI_ROWS("layers.0.wte.weight", (x) => `layers.1.${x}`, (x) => `layers.2.${x}`),
  );
  assertEquals(b.arch.isUnused!("layers.1.mixer.rotary_emb.inv_freq", b.cfg), true);
  assertEquals(b.arch.isUnused!("layers.2.mixer.rotary_emb.inv_freq", b.cfg), false);
  assertEquals(a.arch.isUnused!("layers.1.mixer.rotary_emb.inv_freq", a.cfg), false);
  assertThrows(
    () => parse("phi-msft", { ...src, model_type: "phi" }),
    /model_type "phi-msft" or "mixformer-sequential"/,
  );
});

Deno.test("gpt_neox: de-interleaved QKV, float32 MLP biases, embed_out head", () => {
  const { cfg, params, arch } = parse("gpt_neox", {
    use_parallel_residual: false,
    hidden_size: 4,
    intermediate_size: 8,
    num_attention_heads: 2,
    num_hidden_layers: 1,
    layer_norm_eps: 1e-5,
    vocab_size: 10,
    rotary_pct: 1.0,
    rotary_emb_base: 10000,
    max_position_embeddings: 2048,
  });
  assertEquals([cfg.head_dim, cfg.position_embedding_base, cfg.ffn_out_dtype], [2, 10000, "float32"]);
  const p = "gpt_neox.layers.0";
  assertEquals(summary(params), [
    "gpt_neox.embed_in.weight [vocab_size,4] embedding <- =",
    `${p}.input_layernorm.weight [4] <- =`,
    `${p}.input_layernorm.bias [4] <- =`,
    `${p}.post_attention_layernorm.weight [4] <- =`,
    `${p}.post_attention_layernorm.bias [4] <- =`,
    `${p}.attention.query_key_value.weight [12,4] linear whole <- =`,
    `${p}.attention.query_key_value.bias [12] whole <- =`,
    `${p}.attention.dense.weight [4,4] linear <- =`,
    `${p}.attention.dense.bias [4] <- =`,
    `${p}.mlp.dense_h_to_4h.weight [8,4] linear <- =`,
    `${p}.mlp.dense_h_to_4h.bias [8] float32 <- =`,
    `${p}.mlp.dense_4h_to_h.weight [4,8] linear <- =`,
    `${p}.mlp.dense_4h_to_h.bias [4] float32 <- =`,
    "gpt_neox.final_layer_norm.weight [4] <- =",
    "gpt_neox.final_layer_norm.bias [4] <- =",
    "embed_out.weight [vocab_size,4] linear <- =",
  ]);
  for (const s of ["attention.rotary_emb.inv_freq", "attention.masked_bias", "attention.bias"]) {
    assertEquals(arch.isUnused!(`${p}.${s}`, cfg), true);
  }
  assertEquals(arch.isUnused!(`${p}.attention.dense.bias`, cfg), false);
});

Deno.test("gpt2: no transformer. prefix in HF, Conv1D transposes, lm_head from wte listed first", () => {
  const { cfg, params, arch, logs } = parse("gpt2", {
    n_embd: 4,
    n_head: 2,
    n_layer: 1,
    n_positions: 6,
    n_inner: null,
    layer_norm_epsilon: 1e-5,
    vocab_size: 10,
  });
  assertEquals([cfg.n_inner, cfg.context_window_size, cfg.head_dim, cfg.prefill_chunk_size], [16, 6, 2, 6]);
  assertEquals(logs, [
    "context_window_size not found in config.json. Falling back to n_positions (6)",
    "prefill_chunk_size defaults to 6",
  ]);
  const h = "transformer.h.0";
  assertEquals(summary(params), [
    "lm_head.weight [vocab_size,4] linear <- wte.weight",
    "transformer.wte.weight [vocab_size,4] embedding <- wte.weight",
    "transformer.wpe.weight [6,4] embedding <- wpe.weight",
    `${h}.ln_1.weight [4] <- h.0.ln_1.weight`,
    `${h}.ln_1.bias [4] <- h.0.ln_1.bias`,
    `${h}.attn.c_attn.weight [12,4] linear whole <- h.0.attn.c_attn.weight`,
    `${h}.attn.c_attn.bias [12] <- h.0.attn.c_attn.bias`,
    `${h}.attn.c_proj.weight [4,4] linear whole <- h.0.attn.c_proj.weight`,
    `${h}.attn.c_proj.bias [4] <- h.0.attn.c_proj.bias`,
    `${h}.ln_2.weight [4] <- h.0.ln_2.weight`,
    `${h}.ln_2.bias [4] <- h.0.ln_2.bias`,
    `${h}.mlp.c_fc.weight [16,4] linear whole <- h.0.mlp.c_fc.weight`,
    `${h}.mlp.c_fc.bias [16] <- h.0.mlp.c_fc.bias`,
    `${h}.mlp.c_proj.weight [4,16] linear whole <- h.0.mlp.c_proj.weight`,
    `${h}.mlp.c_proj.bias [4] <- h.0.mlp.c_proj.bias`,
    "transformer.ln_f.weight [4] <- ln_f.weight",
    "transformer.ln_f.bias [4] <- ln_f.bias",
  ]);
  assertEquals(arch.isUnused!("h.0.attn.bias", cfg), true);
  assertEquals(arch.isUnused!("h.0.attn.masked_bias", cfg), false); // only warns
  assertThrows(
    () => parse("gpt2", { n_embd: 4, n_head: 2, n_layer: 1, layer_norm_epsilon: 1e-5, vocab_size: 10 }),
    /none of `context_window_size`, `n_positions` or `max_sequence_length`/,
  );
});

const f16 = (vals: number[]): HostTensor => {
  const data = new Uint8Array(vals.length * 2);
  const dv = new DataView(data.buffer);
  vals.forEach((v, i) => dv.setUint16(i * 2, v, true));
  return { dtype: "float16", shape: [vals.length], data };
};
const u16s = (t: HostTensor | Uint8Array): number[] => {
  const d = t instanceof Uint8Array ? t : t.data;
  return Array.from(new Uint16Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.length)));
};

Deno.test("transforms: QKV de-interleave and 2-D transpose move whole elements (hand-derived)", () => {
  // 2 heads, head_dim 2, 1 column: HF rows [q0a q0b k0a k0b v0a v0b q1a q1b k1a k1b v1a v1b] = 0..11
  const w = { ...f16([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), shape: [12, 1] };
  // -> [q0a q0b q1a q1b | k0a k0b k1a k1b | v0a v0b v1a v1b]
  assertEquals(u16s(deinterleaveQkv(w, 2, 2)), [0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11]);
  // 2 columns: rows move whole
  const w2 = { ...f16(Array.from({ length: 12 }, (_, i) => i)), shape: [6, 2] };
  assertEquals(u16s(deinterleaveQkv(w2, 2, 1)), [0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11]);
  assertThrows(() => deinterleaveQkv(w, 3, 2), /expected 18 rows/);
  // transpose: [[1,2,3],[4,5,6]] -> [[1,4],[2,5],[3,6]], float32 keeps 4-byte elements intact
  const t = transpose2d({ ...f16([1, 2, 3, 4, 5, 6]), shape: [2, 3] });
  assertEquals([t.shape, u16s(t)], [[3, 2], [1, 4, 2, 5, 3, 6]]);
  const f = new Float32Array([1.5, -2, 3.25, 4]);
  const tf = transpose2d({ dtype: "float32", shape: [2, 2], data: new Uint8Array(f.buffer) });
  assertEquals(Array.from(new Float32Array(tf.data.buffer)), [1.5, 3.25, -2, 4]);
});

const u16le = (vals: number[]) => f16(vals).data;

Deno.test("gemma +1 from bf16 sources rounds to bf16 first: ties at 1 + 2^-8 go to even", async () => {
  const hf = {
    model_type: "gemma",
    hidden_size: 2,
    intermediate_size: 2,
    num_attention_heads: 1,
    num_key_value_heads: 1,
    head_dim: 2,
    num_hidden_layers: 1,
    rms_norm_eps: 1e-6,
    vocab_size: 2,
    attention_bias: false,
    hidden_act: "gelu",
    max_position_embeddings: 16,
  };
  const data = new Map([
    // 2^-8 and 3*2^-8: w + 1 is exactly halfway between two bf16 values
    ["model.layers.0.input_layernorm.weight", u16le([0x3b80, 0x3c40])],
    ["model.layers.0.post_attention_layernorm.weight", u16le([0xbf00, 0x3f80])], // -0.5, 1.0
    ["model.norm.weight", u16le([0x8000, 0x4040])], // -0, 3.0
  ]);
  const a = await convertTiny("gemma", hf, "q0f16", data, "bfloat16");
  // bf16(1 + 2^-8) = 1.0 (even) -> f16 0x3c00, not f16(1.00390625) = 0x3c04;
  // bf16(1 + 3*2^-8) = 1 + 2^-6 (even) -> 0x3c10, not 0x3c0c
  assertEquals(u16s(a.bytes.get("model.layers.0.input_layernorm.weight")!), [0x3c00, 0x3c10]);
  assertEquals(u16s(a.bytes.get("model.layers.0.post_attention_layernorm.weight")!), [0x3800, 0x4000]);
  assertEquals(u16s(a.bytes.get("model.norm.weight")!), [0x3c00, 0x4400]);
  const b = await convertTiny("gemma", hf, "q0bf16", data, "bfloat16");
  assertEquals(u16s(b.bytes.get("model.layers.0.input_layernorm.weight")!), [0x3f80, 0x3f82]);
  // an F16 source adds in f16: 1 + 2^-8 is exact there
  const c = await convertTiny(
    "gemma",
    hf,
    "q0f16",
    new Map([["model.norm.weight", u16le([0x1c00, 0x0000])]]),
    "float16",
  );
  assertEquals(u16s(c.bytes.get("model.norm.weight")!), [0x3c04, 0x3c00]);
  // non-norm weights are not shifted
  assertEquals(u16s(a.bytes.get("model.embed_tokens.weight")!), [0, 0, 0, 0]);
});

Deno.test("gpt_neox conversion: QKV rows de-interleaved, MLP biases float32 stored as bf16", async () => {
  const hf = {
    model_type: "gpt_neox",
    use_parallel_residual: false,
    hidden_size: 2,
    intermediate_size: 2,
    num_attention_heads: 2,
    num_hidden_layers: 1,
    layer_norm_eps: 1e-5,
    vocab_size: 3,
    rotary_pct: 1.0,
    max_position_embeddings: 16,
  };
  // head_dim 1: HF rows [q0 k0 v0 q1 k1 v1]; row r holds the f16 values r+1 and -(r+1)
  const f16bits = [0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600]; // 1..6
  const w = f16bits.flatMap((b) => [b, b | 0x8000]);
  const data = new Map([
    ["gpt_neox.layers.0.attention.query_key_value.weight", u16le(w)],
    ["gpt_neox.layers.0.attention.query_key_value.bias", u16le(f16bits)],
    ["gpt_neox.layers.0.mlp.dense_h_to_4h.bias", u16le([0x3e00, 0xc000])], // 1.5, -2
  ]);
  const r = await convertTiny("gpt_neox", hf, "q0f16", data, "float16");
  const order = [0, 3, 1, 4, 2, 5]; // q0 q1 k0 k1 v0 v1
  assertEquals(
    u16s(r.bytes.get("gpt_neox.layers.0.attention.query_key_value.weight")!),
    order.flatMap((i) => [f16bits[i], f16bits[i] | 0x8000]),
  );
  assertEquals(
    u16s(r.bytes.get("gpt_neox.layers.0.attention.query_key_value.bias")!),
    order.map((i) => f16bits[i]),
  );
  const rec = r.records.find((x) => x.name === "gpt_neox.layers.0.mlp.dense_h_to_4h.bias")!;
  assertEquals([rec.dtype, rec.nbytes], ["float32", 4]); // float32 written as 2-byte bf16
  assertEquals(u16s(r.bytes.get("gpt_neox.layers.0.mlp.dense_h_to_4h.bias")!), [0x3fc0, 0xc000]);
  // q4f16_1: biases of the MLP stay float32, embed_out (a final FC) is quantized
  const arch = ARCHITECTURES.gpt_neox;
  const q = planConversion({
    arch,
    config: fromDict(arch.configClass, { ...hf, hidden_size: 32, intermediate_size: 64 }),
    scheme: getQuantization("q4f16_2"),
    checkpoint: syntheticCheckpoint(
      splitFiles(hfTensors("gpt_neox", { ...hf, hidden_size: 32, intermediate_size: 64 }), []),
    ),
  });
  assertEquals(q.problems, []);
  const byName = new Map(q.outputs.map((o) => [o.name, o]));
  assertEquals(byName.get("embed_out.weight")?.dtype, "float16"); // q4f16_2 keeps the final FC
  assertEquals(byName.get("gpt_neox.embed_in.weight")?.dtype, "float16");
  assertEquals(byName.get("gpt_neox.layers.0.mlp.dense_4h_to_h.bias")?.dtype, "float32");
  assertEquals(byName.get("gpt_neox.layers.0.mlp.dense_4h_to_h.q_weight")?.shape, [32, 8]);
});

Deno.test("gpt2 conversion: Conv1D weights transposed, lm_head written right before wte", async () => {
  const hf = {
    model_type: "gpt2",
    n_embd: 2,
    n_head: 1,
    n_layer: 1,
    n_positions: 2,
    layer_norm_epsilon: 1e-5,
    vocab_size: 2,
  };
  // c_attn stored (H, 3H) = (2, 6): row r = [r*6+1 .. r*6+6] as small f16 integers
  const ints = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  const bits = (xs: number[]) => Array.from(new Uint16Array(new Float16Array(xs).buffer));
  const data = new Map([
    ["h.0.attn.c_attn.weight", u16le(bits(ints(12)))],
    ["h.0.mlp.c_fc.weight", u16le(bits(ints(16)))], // (2, 8)
    ["wte.weight", u16le(bits([7, 8, 9, 10]))],
  ]);
  const r = await convertTiny("gpt2", hf, "q0f16", data, "float16");
  // transposed (6, 2): row j = [w[0][j], w[1][j]] = [j+1, j+7]
  assertEquals(
    u16s(r.bytes.get("transformer.h.0.attn.c_attn.weight")!),
    bits([1, 7, 2, 8, 3, 9, 4, 10, 5, 11, 6, 12]),
  );
  assertEquals(
    u16s(r.bytes.get("transformer.h.0.mlp.c_fc.weight")!),
    bits(Array.from({ length: 8 }, (_, j) => [j + 1, j + 9]).flat()),
  );
  assertEquals(u16s(r.bytes.get("lm_head.weight")!), bits([7, 8, 9, 10]));
  assertEquals(u16s(r.bytes.get("transformer.wte.weight")!), bits([7, 8, 9, 10]));
  const names = r.records.map((x) => x.name);
  assertEquals(names.slice(names.indexOf("lm_head.weight"), names.indexOf("lm_head.weight") + 2), [
    "lm_head.weight",
    "transformer.wte.weight",
  ]);
  // a checkpoint whose Conv1D weight is already (3H, H) is a shape problem, found by the plan
  const arch = ARCHITECTURES.gpt2;
  const bad = hfTensors("gpt2", hf).map((t) =>
    t.name === "h.0.attn.c_attn.weight" ? { ...t, shape: [6, 2] } : t
  );
  const plan = planConversion({
    arch,
    config: fromDict(arch.configClass, hf),
    scheme: getQuantization("q0f16"),
    checkpoint: syntheticCheckpoint(splitFiles(bad, [])),
  });
  assertEquals(plan.problems.length, 1);
  assertEquals(
    /transformer\.h\.0\.attn\.c_attn\.weight has shape \[2, 6\], but expected \[6, 2\]/.test(
      plan.problems[0],
    ),
    true,
  );
});

Deno.test("qwen2 conversion: the fused c_attn bias is q|k|v biases concatenated (1-D concatenation)", async () => {
  const hf = {
    model_type: "qwen2",
    hidden_act: "silu",
    hidden_size: 4,
    intermediate_size: 4,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    num_hidden_layers: 1,
    rms_norm_eps: 1e-6,
    rope_theta: 1e6,
    vocab_size: 2,
    tie_word_embeddings: true,
    max_position_embeddings: 16,
  };
  const a = "model.layers.0.self_attn";
  const data = new Map([
    [`${a}.q_proj.bias`, u16le([0x3c00, 0x4000, 0x4200, 0x4400])], // 1 2 3 4
    [`${a}.k_proj.bias`, u16le([0x4500, 0x4600])], // 5 6
    [`${a}.v_proj.bias`, u16le([0x4700, 0x4800])], // 7 8
  ]);
  const r = await convertTiny("qwen2", hf, "q0f16", data, "float16");
  assertEquals(
    u16s(r.bytes.get(`${a}.c_attn.bias`)!),
    [0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600, 0x4700, 0x4800],
  );
  // bf16 model dtype: 1..8 are exact in bf16
  const b = await convertTiny("qwen2", hf, "q0bf16", data, "float16");
  assertEquals(u16s(b.bytes.get(`${a}.c_attn.bias`)!), [
    0x3f80,
    0x4000,
    0x4040,
    0x4080,
    0x40a0,
    0x40c0,
    0x40e0,
    0x4100,
  ]);
});
