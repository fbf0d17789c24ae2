// Reproduces the real MLC caches of tests/fixtures/real-mlc (copied from ../shared) for the Phi-3, Gemma, Qwen2 and
// phi-msft sets from header-only plans over synthetic checkpoints with the real dimensions, and
// checks the RedPajama-INCITE-3B (gpt_neox) q4f16_1 parameter set MLC's model library expects.
//
// Reconstruction of the source checkpoints (the originals are not available here): tensor
// names and shapes from the HF modeling code (src/testing/hf_layouts.ts), in state_dict
// order; files cut the way `save_pretrained` cuts them (a new file when the next tensor would
// pass 5 GB = 5e9 bytes, 2 bytes per element: all four sources are bf16/f16); weight_map
// sorted by name (HF writes the index with sort_keys). This gives Phi-3-mini-128k a cut before
// layer 21's qkv_proj, gemma-2b-it before layer 17's down_proj, phi-2 before layer 30's Wqkv,
// and Qwen2.5-0.5B a single model.safetensors: each reproduces its fixture exactly.
import { assertEquals } from "./_assert.ts";
import { fromDict } from "../src/arch/config.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import { planConversion } from "../src/plan.ts";
import { parsePyJson } from "../src/pyjson.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { hfTensors, saveSplitCuts, splitFiles, syntheticCheckpoint } from "../src/testing/hf_layouts.ts";
import { assertCacheMatches, FIXTURES, planAsCache, readFixtureCache } from "./_fixtures.ts";

async function planFixture(set: string, key: string) {
  const text = await Deno.readTextFile(`${FIXTURES}${set}/hf-config.json`);
  const arch = ARCHITECTURES[key];
  const config = fromDict(arch.configClass, parsePyJson(text) as Record<string, unknown>);
  const tensors = hfTensors(key, JSON.parse(text));
  const files = splitFiles(tensors, saveSplitCuts(tensors, 2));
  const plan = planConversion({
    arch,
    config,
    scheme: getQuantization("q4f16_1"),
    checkpoint: syntheticCheckpoint(files),
  });
  return { plan, files };
}

const CASES: [set: string, key: string, cache: string, cut: string | undefined, totalParams: number][] = [
  [
    "phi3-mini-128k-instruct-q4f16_1",
    "phi3",
    "ndarray-cache.json",
    "model.layers.21.self_attn.qkv_proj.weight",
    3821079552,
  ],
  ["gemma-2b-it-q4f16_1", "gemma", "ndarray-cache.json", "model.layers.17.mlp.down_proj.weight", 2506172416],
  ["qwen2-0.5b-medchat-q4f16_1", "qwen2", "tensor-cache.json", undefined, 494032768],
  [
    "phi-msft-phi2-template-q4f16_1",
    "phi-msft",
    "ndarray-cache.json",
    "transformer.h.30.mixer.Wqkv.weight",
    2779683840,
  ],
];

for (const [set, key, cache, cut, totalParams] of CASES) {
  Deno.test(`${set}: plan reproduces every record, shard and metadata`, async () => {
    const { plan, files } = await planFixture(set, key);
    assertEquals(files.length, cut ? 2 : 1);
    if (cut) assertEquals(files[1].tensors[0].name, cut);
    assertEquals(plan.problems, []);
    assertEquals(plan.warnings, []);
    assertEquals(plan.totalParamNum, totalParams);
    assertCacheMatches(planAsCache(plan), await readFixtureCache(set, cache));
  });
}

Deno.test("gemma-2b-it: the norms carry the +1 transform and the embedding is the only vocab tensor", async () => {
  const { plan } = await planFixture("gemma-2b-it-q4f16_1", "gemma");
  const plus = plan.params.filter((p) => p.param.transform?.kind === "concat" && p.param.transform.addOne);
  assertEquals(plus.length, 18 * 2 + 1);
  assertEquals(plan.outputs.filter((o) => o.shape[0] === 256000).map((o) => o.name), [
    "model.embed_tokens.q_weight",
    "model.embed_tokens.q_scale",
  ]);
});

Deno.test("RedPajama-INCITE-3B (gpt_neox) q4f16_1: the parameter names, shapes and dtypes MLC's library expects", () => {
  const hf = {
    architectures: ["GPTNeoXForCausalLM"],
    bos_token_id: 0,
    eos_token_id: 0,
    hidden_act: "gelu",
    hidden_size: 2560,
    initializer_range: 0.02,
    intermediate_size: 10240,
    layer_norm_eps: 1e-5,
    max_position_embeddings: 2048,
    model_type: "gpt_neox",
    num_attention_heads: 32,
    num_hidden_layers: 32,
    rotary_emb_base: 10000,
    rotary_pct: 1.0,
    tie_word_embeddings: false,
    torch_dtype: "float16",
    use_cache: true,
    use_parallel_residual: false,
    vocab_size: 50432,
  };
  const arch = ARCHITECTURES.gpt_neox;
  const config = fromDict(arch.configClass, hf);
  assertEquals([config.head_dim, config.context_window_size, config.prefill_chunk_size], [80, 2048, 2048]);
  // the original ships one pytorch_model.bin; here one model.safetensors (F16) with the same tensors
  const checkpoint = syntheticCheckpoint(splitFiles(hfTensors("gpt_neox", hf), []), { dtype: "float16" });
  const plan = planConversion({ arch, config, scheme: getQuantization("q4f16_1"), checkpoint });
  assertEquals(plan.problems, []);
  const expected: string[] = [
    "gpt_neox.embed_in.q_weight [50432,320] uint32",
    "gpt_neox.embed_in.q_scale [50432,80] float16",
    "gpt_neox.final_layer_norm.weight [2560] float16",
    "gpt_neox.final_layer_norm.bias [2560] float16",
    "embed_out.q_weight [50432,320] uint32",
    "embed_out.q_scale [50432,80] float16",
  ];
  for (let l = 0; l < 32; l++) {
    const p = `gpt_neox.layers.${l}`;
    expected.push(
      `${p}.input_layernorm.weight [2560] float16`,
      `${p}.input_layernorm.bias [2560] float16`,
      `${p}.post_attention_layernorm.weight [2560] float16`,
      `${p}.post_attention_layernorm.bias [2560] float16`,
      `${p}.attention.query_key_value.q_weight [7680,320] uint32`,
      `${p}.attention.query_key_value.q_scale [7680,80] float16`,
      `${p}.attention.query_key_value.bias [7680] float16`,
      `${p}.attention.dense.q_weight [2560,320] uint32`,
      `${p}.attention.dense.q_scale [2560,80] float16`,
      `${p}.attention.dense.bias [2560] float16`,
      `${p}.mlp.dense_h_to_4h.q_weight [10240,320] uint32`,
      `${p}.mlp.dense_h_to_4h.q_scale [10240,80] float16`,
      `${p}.mlp.dense_h_to_4h.bias [10240] float32`,
      `${p}.mlp.dense_4h_to_h.q_weight [2560,1280] uint32`,
      `${p}.mlp.dense_4h_to_h.q_scale [2560,320] float16`,
      `${p}.mlp.dense_4h_to_h.bias [2560] float32`,
    );
  }
  const got = plan.outputs.map((o) => `${o.name} [${o.shape.join(",")}] ${o.dtype}`);
  assertEquals([...got].sort(), [...expected].sort());
  assertEquals(plan.paramSize, 518);
  // hand-computed: 2 x 72622080 (embed_in, embed_out) + 32 x 44328960 per layer + 10240 final norm
  assertEquals(plan.paramBytes, 1563781120);
  assertEquals(plan.totalParamNum, 2775864320);
  assertEquals(plan.bitsPerParam, 1563781120 * 8 / 2775864320);
  // float32 biases are stored as bf16: 2 bytes per element on disk
  const bias = plan.outputs.find((o) => o.name === "gpt_neox.layers.0.mlp.dense_h_to_4h.bias")!;
  assertEquals(bias.nbytes, 20480);
  // sorted single file: layers in lexicographic order (0, 1, 10, 11, ...), embed_out first
  assertEquals(plan.params.slice(0, 3).map((p) => p.param.name), [
    "embed_out.weight",
    "gpt_neox.embed_in.weight",
    "gpt_neox.final_layer_norm.bias",
  ]);
  assertEquals(plan.params[3 + 16 * 2].param.name.startsWith("gpt_neox.layers.10."), true);
});
