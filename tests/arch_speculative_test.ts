// The speculative-decoding model types: eagle (a one-layer Llama draft with an `fc` fusing the
// token embedding and the base model's hidden state) and medusa (residual heads). Config parsing
// (gen_config's model_config), the MLC parameter lists, fusion bytes, plans with the dimensions of
// published draft models, and refusals before any tensor is read. MLC sources cited are at
// mlc-ai/mlc-llm 79d603f0: python/mlc_llm/model/{eagle,medusa}/ and model/model.py.
import { assertEquals } from "./_assert.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import { fromDict } from "../src/arch/config.ts";
import { planConversion } from "../src/plan.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { hfTensors } from "../src/testing/hf_layouts.ts";
import { isSupported, MLC_QUANT_KINDS } from "../src/support.ts";
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
import { MM_TINY } from "./_mm_tiny.ts";

Deno.test("eagle: model_config of yuhuili/EAGLE-llama2-chat-7B (LlamaConfig plus bias)", async () => {
  assertEquals(
    modelConfigText("eagle", await realConfig("EAGLE-llama2-chat-7B")),
    '{"hidden_size": 4096, "intermediate_size": 11008, "num_attention_heads": 32, "num_hidden_layers": 1, ' +
      '"rms_norm_eps": 1e-05, "vocab_size": 32000, "tie_word_embeddings": false, "position_embedding_base": 10000, ' +
      '"rope_scaling": null, "context_window_size": 4096, "prefill_chunk_size": 4096, "num_key_value_heads": 32, ' +
      '"head_dim": 128, "tensor_parallel_shards": 1, "pipeline_parallel_stages": 1, "max_batch_size": 128, ' +
      '"disaggregation": false, "bias": true}',
  );
});

Deno.test("eagle: no `model.` prefix, layer 0 without input_layernorm, fc with bias, inv_freq unused", () => {
  const { arch, cfg, params } = parse("eagle", MM_TINY.eagle);
  const a = (l: number) => `layers.${l}.self_attn`;
  const m = (l: number) => `layers.${l}.mlp`;
  const layer = (l: number) => [
    `${a(l)}.qkv_proj.weight [128,64] linear <- ${a(l)}.q_proj.weight, ${a(l)}.k_proj.weight, ${
      a(l)
    }.v_proj.weight`,
    `${a(l)}.o_proj.weight [64,64] linear <- =`,
    `${m(l)}.gate_up_proj.weight [192,64] linear <- ${m(l)}.gate_proj.weight, ${m(l)}.up_proj.weight`,
    `${m(l)}.down_proj.weight [64,96] linear <- =`,
  ];
  // eagle_model.py L28-L36 (input_layernorm only when index != 0), L80-L88 (symbolic vocab, fc 2H -> H);
  // eagle_loader.py L19-L23 (standard loader, layer_prefix="layers")
  assertEquals(summary(params), [
    "embed_tokens.weight [vocab_size,64] embedding <- =",
    ...layer(0),
    "layers.0.post_attention_layernorm.weight [64] <- =",
    ...layer(1),
    "layers.1.input_layernorm.weight [64] <- =",
    "layers.1.post_attention_layernorm.weight [64] <- =",
    "fc.weight [64,128] linear <- =",
    "fc.bias [64] <- =",
  ]);
  assertEquals(arch.isUnused!("layers.1.self_attn.rotary_emb.inv_freq", cfg), true);
  assertEquals(arch.isUnused!("layers.2.self_attn.rotary_emb.inv_freq", cfg), false); // only i < L are added
  assertEquals(parse("eagle", { ...MM_TINY.eagle, bias: false }).params.at(-1)!.name, "fc.weight");
});

Deno.test("eagle: fusion bytes and EAGLE-llama2-chat-7B's plan (fc and embedding quantized)", async () => {
  const { bytes, data } = await convertSeeded("eagle", MM_TINY.eagle);
  const a = "layers.1.self_attn";
  assertEquals(
    bytes.get(`${a}.qkv_proj.weight`),
    cat(data, ["q", "k", "v"].map((x) => `${a}.${x}_proj.weight`)),
  );
  assertEquals(bytes.get("fc.weight"), data.get("fc.weight"));
  assertRealPlan("eagle", await realConfig("EAGLE-llama2-chat-7B"), "q4f16_1", [
    "embed_tokens.q_weight [32000,512] uint32",
    "layers.0.self_attn.qkv_proj.q_weight [12288,512] uint32",
    "layers.0.mlp.down_proj.q_scale [4096,344] float16",
    "fc.q_weight [4096,1024] uint32", // in = 2 * 4096
    "fc.bias [4096] float16",
  ], [14, 206454784]);
});

Deno.test("medusa: model_config of FasterDecoding/medusa-vicuna-7b-v1.3 (+ the base model's sizes)", async () => {
  assertEquals(
    modelConfigText("medusa", await realConfig("medusa-vicuna-7b-v1.3")),
    '{"medusa_num_heads": 5, "medusa_num_layers": 1, "hidden_size": 4096, "vocab_size": 32000, ' +
      '"max_batch_size": 128, "tensor_parallel_shards": 1, "prefill_chunk_size": -1, "context_window_size": -1}',
  );
  // medusa_model.py L14-L29: hidden_size and vocab_size have no default
  let err = "";
  try {
    parse("medusa", { medusa_num_heads: 5, medusa_num_layers: 1 });
  } catch (e) {
    err = (e as Error).message;
  }
  assertEquals(err, "MedusaConfig is missing required field(s) in config.json: hidden_size, vocab_size");
});

Deno.test("medusa: every head 1:1 (residual blocks with bias, vocab projection); no-quant only", async () => {
  // medusa_model.py L50-L58: ModuleList of [ResBlock]*layers + [Linear(hidden, vocab, bias=False)];
  // medusa_loader.py L10-L14: standard loader with both fusions off
  assertEquals(summary(parse("medusa", MM_TINY.medusa).params), [
    "medusa_head.0.0.linear.weight [64,64] linear <- =",
    "medusa_head.0.0.linear.bias [64] <- =",
    "medusa_head.0.1.weight [96,64] linear <- =",
    "medusa_head.1.0.linear.weight [64,64] linear <- =",
    "medusa_head.1.0.linear.bias [64] <- =",
    "medusa_head.1.1.weight [96,64] linear <- =",
  ]);
  const { bytes, data } = await convertSeeded("medusa", MM_TINY.medusa);
  for (const [k, v] of data) assertEquals(bytes.get(k), v, k);
  // model.py L616-L629: supports_group_quant=False, supports_ft_quant=False
  assertEquals(MLC_QUANT_KINDS.medusa, "N");
  assertEquals([isSupported("medusa", "q0f16"), isSupported("medusa", "q4f16_1")], [true, false]);
  const arch = ARCHITECTURES.medusa;
  const plan = planConversion({
    arch,
    config: fromDict(arch.configClass, MM_TINY.medusa),
    scheme: getQuantization("q4f16_1"),
    checkpoint: noReadCheckpoint(hfTensors("medusa", MM_TINY.medusa)),
  });
  assertEquals(plan.problems, ["Model type medusa does not support group quantization (q4f16_1)"]);
});

Deno.test("medusa-vicuna-7b-v1.3 plan: five heads, vocab projections exact", async () => {
  assertRealPlan("medusa", await realConfig("medusa-vicuna-7b-v1.3"), "q0f16", [
    "medusa_head.0.0.linear.weight [4096,4096] float16",
    "medusa_head.0.0.linear.bias [4096] float16",
    "medusa_head.4.1.weight [32000,4096] float16",
  ], [15, 1478533120]);
});
