// The embedding model types: bert, bert-bge and qwen3-embedding. Config parsing as MLC's config
// classes do it (gen_config's model_config on published configs), the MLC parameter lists, the
// q/k/v fusion bytes, the dtype rule of BERT's float32-declared embeddings, plans with the
// dimensions of published models, and refusals before any tensor is read. MLC sources cited
// are at mlc-ai/mlc-llm 79d603f0: python/mlc_llm/model/{bert,qwen3}/ and model/model.py.
import { assertEquals } from "./_assert.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import { fromDict } from "../src/arch/config.ts";
import { planConversion } from "../src/plan.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { hfTensors } from "../src/testing/hf_layouts.ts";
import { isSupported } from "../src/support.ts";
import {
  assertRealPlan,
  cat,
  convertSeeded,
  convertTiny,
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
import { MM_TINY } from "./_mm_tiny.ts";

const one = (key: string, extra: Record<string, unknown> = {}) => ({
  ...MM_TINY[key],
  num_hidden_layers: 1,
  ...extra,
});
const S = "encoder.layer.0.attention.self";

Deno.test("bert-bge: model_config of BAAI/bge-small-en-v1.5 (prefill = the whole context window)", async () => {
  const logs: string[] = [];
  assertEquals(
    modelConfigText("bert-bge", await realConfig("bge-small-en-v1.5"), logs),
    '{"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 12, ' +
      '"intermediate_size": 1536, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "context_window_size": 512, ' +
      '"prefill_chunk_size": 512, "tensor_parallel_shards": 1, "type_vocab_size": 2, "pad_token_id": 0, ' +
      '"position_offset": 0, "head_dim": 32, "max_batch_size": 128}',
  );
  // bert_model.py L65-L72: no 8192 cap, its own log line
  assertEquals(logs.slice(0, 2), [
    "context_window_size not found in config.json. Falling back to max_position_embeddings (512)",
    "prefill_chunk_size defaults to context_window_size (512)",
  ]);
  const over: string[] = [];
  parse("bert", { ...MM_TINY.bert, prefill_chunk_size: 100 }, over);
  assertEquals(over[1], "Overriding prefill_chunk_size from 100 to 32 (context_window_size)"); // L73-L81
  // L43-L44: intermediate_size None or -1 -> 4 * hidden_size
  assertEquals(parse("bert", one("bert", { intermediate_size: -1 })).cfg.intermediate_size, 256);
});

Deno.test("bert: qkv = cat0(query, key, value) for weight and bias, embeddings quantizable, the rest 1:1", () => {
  // bert_loader.py L56-L86: qkv.weight / qkv.bias from query, key, value; L88-L97 the rest 1:1;
  // bert_model.py L189-L198: three nn.Embedding (word, position = context_window_size rows, token type)
  const ln = (p: string) => [`${p}.weight [64] <- =`, `${p}.bias [64] <- =`];
  assertEquals(summary(parse("bert", one("bert")).params), [
    "embeddings.word_embeddings.weight [96,64] embedding <- =",
    "embeddings.position_embeddings.weight [32,64] embedding <- =",
    "embeddings.token_type_embeddings.weight [2,64] embedding <- =",
    ...ln("embeddings.LayerNorm"),
    `${S}.qkv.weight [192,64] linear <- ${S}.query.weight, ${S}.key.weight, ${S}.value.weight`,
    `${S}.qkv.bias [192] <- ${S}.query.bias, ${S}.key.bias, ${S}.value.bias`,
    "encoder.layer.0.attention.output.dense.weight [64,64] linear <- =",
    "encoder.layer.0.attention.output.dense.bias [64] <- =",
    ...ln("encoder.layer.0.attention.output.LayerNorm"),
    "encoder.layer.0.intermediate.dense.weight [96,64] linear <- =",
    "encoder.layer.0.intermediate.dense.bias [96] <- =",
    "encoder.layer.0.output.dense.weight [64,96] linear <- =",
    "encoder.layer.0.output.dense.bias [64] <- =",
    ...ln("encoder.layer.0.output.LayerNorm"),
  ]);
  // bert_model.py L135-L147: ACT2FN lookup when the model is built
  let err = "";
  try {
    parse("bert", one("bert", { hidden_act: "tanh" }));
  } catch (e) {
    err = (e as Error).message;
  }
  assertEquals(err.startsWith('hidden_act "tanh" is not supported'), true);
});

Deno.test("bert: fused q/k/v bytes; float32-declared embeddings written in the model dtype", async () => {
  const { bytes, data } = await convertSeeded("bert-bge", one("bert-bge"));
  for (const k of ["weight", "bias"]) {
    assertEquals(
      bytes.get(`${S}.qkv.${k}`),
      cat(data, ["query", "key", "value"].map((x) => `${S}.${x}.${k}`)),
    );
  }
  assertEquals(
    bytes.get("embeddings.token_type_embeddings.weight"),
    data.get("embeddings.token_type_embeddings.weight"),
  );
  // bert_model.py L191-L197 declares the tables float32; the loader's .to(model_dtype) (bert_loader.py
  // L42-L44) makes them the model dtype: a bfloat16 source [1.5, -2, 0.5, ...] becomes float16 bits
  const tt = [0x3fc0, 0xc000, 0x3f00, ...new Array(125).fill(0)];
  const r = await convertTiny(
    "bert-bge",
    one("bert-bge"),
    "q0f16",
    new Map([
      ["embeddings.token_type_embeddings.weight", le16(tt)],
    ]),
    "bfloat16",
  );
  assertEquals(words16(r.bytes.get("embeddings.token_type_embeddings.weight")!).slice(0, 4), [
    0x3e00,
    0xc000,
    0x3800,
    0,
  ]);
  assertEquals(r.records.find((x) => x.name === "embeddings.token_type_embeddings.weight")!.dtype, "float16");
});

Deno.test("bge-small-en-v1.5 plan: all three embedding tables group-quantized; q4f16_2 keeps them float16", async () => {
  const hf = await realConfig("bge-small-en-v1.5");
  // group_quantization.py quantizes every nn.Embedding (quantize_embedding), so position and
  // token-type tables too; its pooler is declared unused (bert_loader.py L107-L117)
  assertRealPlan("bert-bge", hf, "q4f16_1", [
    "embeddings.word_embeddings.q_weight [30522,48] uint32",
    "embeddings.position_embeddings.q_weight [512,48] uint32",
    "embeddings.token_type_embeddings.q_scale [2,12] float16",
    "encoder.layer.0.attention.self.qkv.q_weight [1152,48] uint32",
    "encoder.layer.0.attention.self.qkv.bias [1152] float16",
    "encoder.layer.11.output.dense.q_weight [384,192] uint32",
    "encoder.layer.11.output.LayerNorm.bias [384] float16",
  ], [200, 18769056]);
  const q2 = planReal("bert-bge", hf, "q4f16_2").outputs.map(outLine);
  assertEquals(q2.includes("embeddings.word_embeddings.weight [30522,384] float16"), true);
  assertEquals(q2.includes("embeddings.token_type_embeddings.weight [2,384] float16"), true);
  assertEquals(q2.includes("encoder.layer.0.intermediate.dense.q_weight [1536,48] uint32"), true);
  const bge = ARCHITECTURES["bert-bge"];
  const cfg = fromDict(bge.configClass, hf);
  assertEquals(
    ["pooler.dense.weight", "pooler.dense.bias", "embeddings.position_ids"].map((n) => bge.isUnused!(n, cfg)),
    [true, true, true],
  );
});

Deno.test("snowflake-arctic-embed-m under plain `bert`: the pooler is only warned about, q0f32 keeps float32", async () => {
  const plan = planReal("bert", await realConfig("snowflake-arctic-embed-m"), "q0f32");
  assertEquals(plan.problems, []);
  // bert_loader.py L99-L102: only with an hf_prefix are the pooler weights declared unused
  assertEquals(plan.warnings, ["Unused extern parameters: pooler.dense.bias, pooler.dense.weight"]);
  const lines = plan.outputs.map(outLine);
  for (
    const l of [
      "embeddings.position_embeddings.weight [512,768] float32",
      "encoder.layer.0.attention.self.qkv.weight [2304,768] float32",
      "encoder.layer.11.intermediate.dense.weight [3072,768] float32",
    ]
  ) assertEquals(lines.includes(l), true, l);
  assertEquals([plan.paramSize, plan.paramBytes], [149, 435566592]);
});

Deno.test("qwen3-embedding: model_config of Qwen/Qwen3-Embedding-0.6B (Qwen3Config, prefill cap 2048)", async () => {
  assertEquals(
    modelConfigText("qwen3-embedding", await realConfig("Qwen3-Embedding-0.6B")),
    '{"hidden_act": "silu", "hidden_size": 1024, "intermediate_size": 3072, "attention_bias": false, ' +
      '"num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06, ' +
      '"rope_theta": 1000000, "vocab_size": 151669, "tie_word_embeddings": true, "context_window_size": 32768, ' +
      '"prefill_chunk_size": 2048, "tensor_parallel_shards": 1, "head_dim": 128, "dtype": "float32", ' +
      '"max_batch_size": 128, "weight_block_size": null}',
  );
  // model.py L389-L407: the qwen3 config class; registered as an embedding model
  assertEquals(ARCHITECTURES["qwen3-embedding"].configClass, ARCHITECTURES.qwen3.configClass);
});

Deno.test("qwen3-embedding: qwen3's MLC names from HF names without `model.`; c_attn bytes", async () => {
  // qwen3_loader.py L70-L73 (to_hf drops a leading "model."), L150-L152 (huggingface_embedding)
  const p = "model.layers.0";
  const lines = summary(parse("qwen3-embedding", one("qwen3-embedding")).params);
  assertEquals(lines.slice(0, 2), [
    "model.embed_tokens.weight [96,64] embedding <- embed_tokens.weight",
    `${p}.self_attn.c_attn.weight [128,64] linear <- layers.0.self_attn.q_proj.weight, ` +
    "layers.0.self_attn.k_proj.weight, layers.0.self_attn.v_proj.weight",
  ]);
  assertEquals(lines.at(-1), "model.norm.weight [64] <- norm.weight");
  // untied: lm_head.weight keeps its name (to_hf only strips "model.")
  const untied = summary(
    parse("qwen3-embedding", one("qwen3-embedding", { tie_word_embeddings: false })).params,
  );
  assertEquals(untied.at(-1), "lm_head.weight [96,64] linear <- =");
  const { bytes, data } = await convertSeeded("qwen3-embedding", one("qwen3-embedding"));
  assertEquals(
    bytes.get(`${p}.self_attn.c_attn.weight`),
    cat(data, ["q", "k", "v"].map((x) => `layers.0.self_attn.${x}_proj.weight`)),
  );
  assertEquals(bytes.get("model.norm.weight"), data.get("norm.weight"));
});

Deno.test("Qwen3-Embedding-0.6B plan, and a `model.`-prefixed (plain Qwen3) checkpoint refused before reading", async () => {
  const hf = await realConfig("Qwen3-Embedding-0.6B");
  assertRealPlan("qwen3-embedding", hf, "q4f16_1", [
    "model.embed_tokens.q_weight [151669,128] uint32",
    "model.layers.0.self_attn.c_attn.q_weight [4096,128] uint32", // (16 + 2*8) * 128
    "model.layers.27.self_attn.k_norm.weight [128] float16",
    "model.norm.weight [1024] float16",
  ], [339, 335218496]);
  const arch = ARCHITECTURES["qwen3-embedding"];
  const tiny = one("qwen3-embedding");
  const plan = planConversion({
    arch,
    config: fromDict(arch.configClass, tiny),
    scheme: getQuantization("q4f16_1"),
    checkpoint: noReadCheckpoint(hfTensors("qwen3", tiny)),
  });
  assertEquals(plan.problems.length, 1);
  assertEquals(
    plan.problems[0].startsWith(
      "The following extern parameters do not exist in the weight files (model.safetensors): embed_tokens.weight, ",
    ),
    true,
  );
  // model.py L397-L400: N G F B; we convert N and G
  assertEquals([isSupported("qwen3-embedding", "q0f16"), isSupported("qwen3-embedding", "q4f16_1")], [
    true,
    true,
  ]);
});
