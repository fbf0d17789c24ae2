// nemotron and gptj: model_config on real configs, the MLC parameter lists, fusion bytes,
// plans with the dimensions of published models and refusals before any read. gptj follows
// the loader MLC intends (its pre-refactor mapping), since HEAD's fails with a KeyError. MLC
// sources cited are at mlc-ai/mlc-llm 79d603f0 (python/mlc_llm/model/{nemotron,gpt_j}/).
import { assertEquals, assertThrows } from "./_assert.ts";
import {
  assertRealPlan,
  cat,
  convertSeeded,
  modelConfigText,
  outLine,
  parse,
  planReal,
  realConfig,
  summary,
  tinyOne,
} from "./_arch_helpers.ts";

const A = "model.layers.0.self_attn";
const M = "model.layers.0.mlp";
const tinyNemo = tinyOne("nemotron");
const tinyJ = tinyOne("gptj");

Deno.test("nemotron: model_config of nvidia/Minitron-4B-Base (window = max_position_embeddings, no log)", async () => {
  const logs: string[] = [];
  assertEquals(
    modelConfigText("nemotron", await realConfig("Minitron-4B-Base"), logs),
    '{"vocab_size": 256000, "max_position_embeddings": 4096, "hidden_size": 3072, "intermediate_size": 9216, ' +
      '"num_hidden_layers": 32, "num_attention_heads": 24, "num_key_value_heads": 8, "rope_theta": 10000, ' +
      '"partial_rotary_factor": 0.5, "rope_scaling": null, "norm_eps": 1e-05, "head_dim": 128, ' +
      '"tie_word_embeddings": false, "mlp_bias": false, "context_window_size": 4096, "prefill_chunk_size": 4096, ' +
      '"tensor_parallel_shards": 1, "pipeline_parallel_stages": 1, "max_batch_size": 128, "disaggregation": false}',
  );
  // nemotron_model.py L50-L51: no fallback log; rotary_dim (L55) is not a dataclass field
  assertEquals(logs[0], "prefill_chunk_size defaults to 4096");
});

Deno.test("nemotron: qkv fused, no gate (up/down, biases under mlp_bias), LayerNorm1P weight+bias", () => {
  // nemotron_loader.py: standard loader, include_gate_up=False, add_unused=["rotary_emb.inv_freq"];
  // nemotron_model.py L81-L84 (up_proj/down_proj, bias=mlp_bias), L160-L161 and L202 (LayerNorm1P)
  const { arch, cfg, params } = parse("nemotron", tinyNemo);
  assertEquals(summary(params), [
    "model.embed_tokens.weight [vocab_size,64] embedding <- =",
    `${A}.qkv_proj.weight [128,64] linear <- ${A}.q_proj.weight, ${A}.k_proj.weight, ${A}.v_proj.weight`,
    `${A}.o_proj.weight [64,64] linear <- =`,
    `${M}.up_proj.weight [96,64] linear <- =`,
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
  const biased = summary(
    parse("nemotron", { ...tinyNemo, mlp_bias: true, tie_word_embeddings: true }).params,
  );
  assertEquals(biased.filter((l) => l.startsWith(`${M}.`)), [
    `${M}.up_proj.weight [96,64] linear <- =`,
    `${M}.up_proj.bias [96] <- =`,
    `${M}.down_proj.weight [64,96] linear <- =`,
    `${M}.down_proj.bias [64] <- =`,
  ]);
  assertEquals(biased.at(-1), "model.norm.bias [64] <- =");
});

Deno.test("Minitron-4B plan and conversion bytes (norm values copied: the +1 is the model's, at run time)", async () => {
  assertRealPlan("nemotron", await realConfig("Minitron-4B-Base"), "q4f16_1", [
    "model.embed_tokens.q_weight [256000,384] uint32",
    "model.layers.0.self_attn.qkv_proj.q_weight [5120,384] uint32", // (24 + 2*8) * 128
    "model.layers.31.mlp.up_proj.q_weight [9216,384] uint32",
    "model.layers.31.mlp.down_proj.q_scale [3072,288] float16",
    "model.norm.bias [3072] float16",
    "lm_head.q_weight [256000,384] uint32",
  ], [390, 2357735424]);
  const { bytes, data } = await convertSeeded("nemotron", tinyNemo);
  assertEquals(
    bytes.get("model.layers.0.input_layernorm.weight"),
    data.get("model.layers.0.input_layernorm.weight"),
  );
  assertEquals(
    bytes.get(`${A}.qkv_proj.weight`),
    cat(data, ["q", "k", "v"].map((x) => `${A}.${x}_proj.weight`)),
  );
  const { max_position_embeddings: _, ...noMax } = tinyNemo;
  assertThrows(
    () => parse("nemotron", noMax),
    /NemotronConfig is missing required field\(s\).*max_position_embeddings/,
  );
  assertThrows(
    () => parse("nemotron", { ...tinyNemo, head_dim: 32 }),
    /head_dim \* num_attention_heads must equal/,
  );
});

Deno.test("gptj: model_config of EleutherAI/gpt-j-6b (window from n_positions)", async () => {
  const logs: string[] = [];
  assertEquals(
    modelConfigText("gptj", await realConfig("gpt-j-6b"), logs),
    '{"vocab_size": 50400, "n_embd": 4096, "n_layer": 28, "n_head": 16, "layer_norm_epsilon": 1e-05, ' +
      '"rotary_dim": 64, "activation_function": "gelu_new", "n_inner": null, "rope_scaling": {"rope_type": "gptj"}, ' +
      '"context_window_size": 2048, "prefill_chunk_size": 2048, "tensor_parallel_shards": 1, ' +
      '"max_batch_size": 128, "head_dim": 256}',
  );
  assertEquals(logs[0], "context_window_size not found in config.json. Falling back to n_positions (2048)");
});

Deno.test("gptj: the intended mapping (attn.c_attn = q|k|v under transformer.h.{i}.attn), not HEAD's self_attn", () => {
  const h = "transformer.h.0";
  // gpt_j_loader.py at 345d2e2c^ (the mapping HEAD's standard loader meant to keep): per layer
  // transformer.h.{i}.attn.c_attn.weight <- attn.{q,k,v}_proj.weight, the rest 1:1.
  // HEAD (gpt_j_loader.py L10-L16, standard_loader.py L90-L92) looks up `.self_attn.c_attn.weight`: KeyError.
  // gpt_j_model.py L91-L96 (c_attn 3*n_embd, out_proj), L131-L132 (fc_in/fc_out with bias),
  // L203 (lm_head Linear with bias, dtype float32 then .to(model dtype))
  const params = summary(parse("gptj", tinyJ).params);
  assertEquals(params, [
    "transformer.wte.weight [96,64] embedding <- =",
    `${h}.ln_1.weight [64] <- =`,
    `${h}.ln_1.bias [64] <- =`,
    `${h}.attn.c_attn.weight [192,64] linear <- ${h}.attn.q_proj.weight, ${h}.attn.k_proj.weight, ${h}.attn.v_proj.weight`,
    `${h}.attn.out_proj.weight [64,64] linear <- =`,
    `${h}.mlp.fc_in.weight [256,64] linear <- =`,
    `${h}.mlp.fc_in.bias [256] <- =`,
    `${h}.mlp.fc_out.weight [64,256] linear <- =`,
    `${h}.mlp.fc_out.bias [64] <- =`,
    "transformer.ln_f.weight [64] <- =",
    "transformer.ln_f.bias [64] <- =",
    "lm_head.weight [96,64] linear <- =",
    "lm_head.bias [96] <- =",
  ]);
  assertEquals(params.some((l) => l.includes("self_attn")), false);
});

Deno.test("gptj conversion: c_attn is q|k|v although HF stores k_proj, v_proj, q_proj first", async () => {
  const h = "transformer.h.0";
  const { bytes, data } = await convertSeeded("gptj", tinyJ);
  assertEquals(
    bytes.get(`${h}.attn.c_attn.weight`),
    cat(data, ["q", "k", "v"].map((x) => `${h}.attn.${x}_proj.weight`)),
  );
  assertEquals(bytes.get("lm_head.bias"), data.get("lm_head.bias"));
});

Deno.test("gpt-j-6b plan: lm_head (a final FC) keeps its bias; bad MLP sizes and activations are refused", async () => {
  const hf = await realConfig("gpt-j-6b");
  assertRealPlan("gptj", hf, "q4f16_1", [
    "transformer.wte.q_weight [50400,512] uint32",
    "transformer.h.0.attn.c_attn.q_weight [12288,512] uint32",
    "transformer.h.27.mlp.fc_in.q_weight [16384,512] uint32",
    "transformer.h.27.mlp.fc_in.bias [16384] float16",
    "lm_head.q_weight [50400,512] uint32",
    "lm_head.bias [50400] float16",
  ], [343, 3404859840]);
  const q2 = planReal("gptj", hf, "q4f16_2").outputs.map(outLine);
  assertEquals(q2.includes("lm_head.weight [50400,4096] float16"), true);
  // gpt_j_model.py L129: 4 * n_embd only for None; the dataclass default -1 builds no valid MLP
  const { n_inner: _, ...noInner } = tinyJ;
  assertThrows(() => parse("gptj", noInner), /n_inner -1 is not a valid MLP size/);
  assertThrows(
    () => parse("gptj", { ...tinyJ, activation_function: "gelu_fast" }),
    /activation_function "gelu_fast" is not supported/,
  );
});
