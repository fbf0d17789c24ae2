// cohere and chatglm: model_config on real configs (with cohere's position_embedding_base
// quirk), the MLC parameter lists, renames (cohere out_proj <- o_proj, chatglm embedding <-
// word_embeddings), plans with the dimensions of published models and refusals before any
// read. MLC sources cited are at mlc-ai/mlc-llm 79d603f0 (python/mlc_llm/model/{cohere,chatglm3}/).
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
const tinyCohere = tinyOne("cohere");
const tinyGlm = tinyOne("chatglm");

Deno.test("cohere: model_config of CohereForAI/aya-23-8B", async () => {
  assertEquals(
    modelConfigText("cohere", await realConfig("aya-23-8B")),
    '{"model_type": "cohere", "hidden_size": 4096, "vocab_size": 256000, "num_hidden_layers": 32, ' +
      '"num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336, "layer_norm_eps": 1e-05, ' +
      '"position_embedding_base": 10000, "context_window_size": 8192, "prefill_chunk_size": 8192, ' +
      '"head_dim": 128, "tensor_parallel_shards": 1, "max_batch_size": 128}',
  );
});

Deno.test("cohere config quirk: everything is derived only when position_embedding_base is 0", () => {
  // cohere_model.py L44-L87: the whole derivation sits under `if self.position_embedding_base == 0`
  const set = fromDict(ARCHITECTURES.cohere.configClass, { ...tinyCohere, position_embedding_base: 5000 });
  assertEquals(
    [set.context_window_size, set.prefill_chunk_size, set.head_dim, set.num_key_value_heads],
    [0, 0, 0, 2],
  );
  assertThrows(() => ARCHITECTURES.cohere.params(set), /head_dim is 0: CohereConfig derives it only when/);
  // no window key at all is no error there: window 0, prefill chunk 0
  const { max_position_embeddings: _, ...noWindow } = tinyCohere;
  const logs: string[] = [];
  const c = parse("cohere", noWindow, logs).cfg;
  assertEquals([c.context_window_size, c.prefill_chunk_size, c.head_dim], [0, 0, 16]);
  assertEquals(logs, ["prefill_chunk_size defaults to 0"]);
  // num_key_value_heads null means Nq (L78)
  assertEquals(parse("cohere", { ...tinyCohere, num_key_value_heads: null }).cfg.num_key_value_heads, 4);
  assertThrows(
    () => parse("cohere", { ...tinyCohere, num_key_value_heads: 3 }),
    /num_attention_heads must be a multiple of num_key_value_heads/,
  );
});

Deno.test("cohere: qkv fused, out_proj <- o_proj, gate/up/down separate, one norm per layer, no head", () => {
  // cohere_loader.py L19-L29: name_transform out_proj. -> o_proj., include_gate_up=False;
  // cohere_model.py L100-L102 (gate_proj, up_proj, down_proj), L149-L151, L222 ("vocab_size")
  assertEquals(summary(parse("cohere", tinyCohere).params), [
    "model.embed_tokens.weight [vocab_size,64] embedding <- =",
    `${A}.qkv_proj.weight [128,64] linear <- ${A}.q_proj.weight, ${A}.k_proj.weight, ${A}.v_proj.weight`,
    `${A}.out_proj.weight [64,64] linear <- ${A}.o_proj.weight`,
    `${M}.gate_proj.weight [96,64] linear <- =`,
    `${M}.up_proj.weight [96,64] linear <- =`,
    `${M}.down_proj.weight [64,96] linear <- =`,
    "model.layers.0.input_layernorm.weight [64] <- =",
    "model.norm.weight [64] <- =",
  ]);
});

Deno.test("cohere: aya-23-8B plan (embedding is the head: kept by q4f16_2) and conversion bytes", async () => {
  const hf = await realConfig("aya-23-8B");
  assertRealPlan("cohere", hf, "q4f16_1", [
    "model.embed_tokens.q_weight [256000,512] uint32",
    "model.layers.0.self_attn.qkv_proj.q_weight [6144,512] uint32",
    "model.layers.0.self_attn.out_proj.q_scale [4096,128] float16",
    "model.layers.31.mlp.up_proj.q_weight [14336,512] uint32",
  ], [355, 4515962880]);
  const q2 = planReal("cohere", hf, "q4f16_2").outputs.map(outLine);
  assertEquals(q2.includes("model.embed_tokens.weight [256000,4096] float16"), true);
  const { bytes, data } = await convertSeeded("cohere", tinyCohere);
  assertEquals(bytes.get(`${A}.out_proj.weight`), data.get(`${A}.o_proj.weight`));
  assertEquals(
    bytes.get(`${A}.qkv_proj.weight`),
    cat(data, ["q", "k", "v"].map((x) => `${A}.${x}_proj.weight`)),
  );
  assertEquals(bytes.get(`${M}.up_proj.weight`), data.get(`${M}.up_proj.weight`));
});

Deno.test("cohere: use_qk_norm weights (Command-R+) are only reported unused; a missing o_proj is refused", () => {
  const arch = ARCHITECTURES.cohere;
  const config = fromDict(arch.configClass, tinyCohere);
  const plan = (extra: { name: string; shape: number[] }[], drop = "") =>
    planConversion({
      arch,
      config,
      scheme: getQuantization("q4f16_1"),
      checkpoint: noReadCheckpoint([
        ...hfTensors("cohere", tinyCohere).filter((t) => t.name !== drop),
        ...extra,
      ]),
    });
  const qk = plan([{ name: `${A}.q_norm.weight`, shape: [4, 16] }]);
  assertEquals([qk.problems, qk.warnings], [[], [`Unused extern parameters: ${A}.q_norm.weight`]]);
  assertEquals(plan([], `${A}.o_proj.weight`).problems, [
    `The following extern parameters do not exist in the weight files (model.safetensors): ${A}.o_proj.weight`,
  ]);
});

Deno.test("chatglm: model_config of THUDM/chatglm3-6b (vocab from padded_vocab_size, window from seq_length)", async () => {
  const logs: string[] = [];
  assertEquals(
    modelConfigText("chatglm", await realConfig("chatglm3-6b"), logs),
    '{"hidden_size": 4096, "num_layers": 28, "kv_channels": 128, "num_attention_heads": 32, ' +
      '"ffn_hidden_size": 13696, "layernorm_epsilon": 1e-05, "post_layer_norm": true, "rmsnorm": true, ' +
      '"add_bias_linear": false, "add_qkv_bias": true, "apply_query_key_layer_scaling": true, ' +
      '"multi_query_attention": true, "multi_query_group_num": 2, "vocab_size": 65024, ' +
      '"context_window_size": 8192, "prefill_chunk_size": 8192, "tensor_parallel_shards": 1, "head_dim": 128, ' +
      '"max_batch_size": 128}',
  );
  // chatglm3_model.py L49-L58
  assertEquals(logs[0], "context_window_size not found in config.json. Falling back to seq_length (8192)");
});

Deno.test("chatglm: 1:1 but the embedding; qkv bias under add_qkv_bias; final norm under post_layer_norm", () => {
  const p = "transformer.encoder.layers.0";
  // chatglm3_loader.py L42-L51 (embedding <- word_embeddings), L53-L62 (the rest 1:1);
  // chatglm3_model.py L100-L110 (kv heads = multi_query_group_num), L247-L255, L269
  assertEquals(summary(parse("chatglm", tinyGlm).params), [
    "transformer.embedding.weight [96,64] embedding <- transformer.embedding.word_embeddings.weight",
    `${p}.self_attention.query_key_value.weight [128,64] linear <- =`,
    `${p}.self_attention.query_key_value.bias [128] <- =`,
    `${p}.self_attention.dense.weight [64,64] linear <- =`,
    `${p}.mlp.dense_h_to_4h.weight [192,64] linear <- =`,
    `${p}.mlp.dense_4h_to_h.weight [64,96] linear <- =`,
    `${p}.input_layernorm.weight [64] <- =`,
    `${p}.post_attention_layernorm.weight [64] <- =`,
    "transformer.encoder.final_layernorm.weight [64] <- =",
    "transformer.output_layer.weight [96,64] linear <- =",
  ]);
  const ln = summary(parse("chatglm", { ...tinyGlm, rmsnorm: false, add_bias_linear: true }).params);
  assertEquals(ln.filter((l) => l.includes(".bias")), [
    `${p}.self_attention.query_key_value.bias [128] <- =`,
    `${p}.self_attention.dense.bias [64] <- =`,
    `${p}.mlp.dense_h_to_4h.bias [192] <- =`,
    `${p}.mlp.dense_4h_to_h.bias [64] <- =`,
    "transformer.encoder.final_layernorm.bias [64] <- =",
  ]);
  const mha = parse("chatglm", { ...tinyGlm, multi_query_attention: false }).params;
  assertEquals(mha[1].shape, [192, 64]);
  assertEquals(
    parse("chatglm", { ...tinyGlm, post_layer_norm: false }).params.at(-2)!.name,
    `${p}.post_attention_layernorm.weight`,
  );
});

Deno.test("chatglm3-6b plan: output_layer quantized even by q4f16_2; the saved inv_freq only warns", async () => {
  const hf = await realConfig("chatglm3-6b");
  const inv = [{ name: "transformer.rotary_pos_emb.inv_freq", shape: [32] }];
  const plan = planReal("chatglm", hf, "q4f16_1", inv);
  assertEquals(plan.problems, []);
  assertEquals(plan.warnings, ["Unused extern parameters: transformer.rotary_pos_emb.inv_freq"]);
  expectLines(plan.outputs.map(outLine), [
    "transformer.embedding.q_weight [65024,512] uint32",
    "transformer.encoder.layers.0.self_attention.query_key_value.q_weight [4608,512] uint32", // (32 + 2*2) * 128
    "transformer.encoder.layers.0.self_attention.query_key_value.bias [4608] float16",
    "transformer.encoder.layers.27.mlp.dense_h_to_4h.q_weight [27392,512] uint32",
    "transformer.encoder.layers.27.mlp.dense_4h_to_h.q_scale [4096,428] float16",
    "transformer.encoder.final_layernorm.weight [4096] float16",
  ]);
  assertEquals([plan.paramSize, plan.paramBytes], [313, 3512537088]);
  const q2 = planReal("chatglm", hf, "q4f16_2").outputs.map(outLine);
  assertEquals(q2.includes("transformer.output_layer.q_weight [65024,512] uint32"), true);
  assertEquals(q2.includes("transformer.embedding.weight [65024,4096] float16"), true);
  const { bytes, data } = await convertSeeded("chatglm", tinyGlm);
  assertEquals(
    bytes.get("transformer.embedding.weight"),
    data.get("transformer.embedding.word_embeddings.weight"),
  );
});

Deno.test("chatglm: no vocabulary size, or a multi-query checkpoint with a multi-head config, is refused unread", () => {
  const arch = ARCHITECTURES.chatglm;
  const run = (cfg: Record<string, unknown>) =>
    planConversion({
      arch,
      config: fromDict(arch.configClass, cfg),
      scheme: getQuantization("q0f16"),
      checkpoint: noReadCheckpoint(hfTensors("chatglm", tinyGlm)),
    }).problems;
  const { padded_vocab_size: _, ...noVocab } = tinyGlm;
  assertEquals(run(noVocab), [
    "Parameter transformer.embedding.weight has shape [96, 64], but expected [0, 64] " +
    "(built from transformer.embedding.word_embeddings.weight [96, 64])",
    "Parameter transformer.output_layer.weight has shape [96, 64], but expected [0, 64] " +
    "(built from transformer.output_layer.weight [96, 64])",
  ]);
  assertEquals(run({ ...tinyGlm, multi_query_attention: false }).length, 2); // weight and bias rows
  const { seq_length: _s, ...noWindow } = tinyGlm;
  assertThrows(() => parse("chatglm", noWindow), /Unable to determine the maximum sequence length/);
});
