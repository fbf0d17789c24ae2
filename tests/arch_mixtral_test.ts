// mixtral: model_config of Mixtral-8x7B, the MLC parameter list, experts stacked as MLC stacks
// them (bytes and group quantization along the last axis of each expert row), the router kept
// in the model dtype, the KN layouts refused before any read, and the pipeline's chunked
// reads of stacked experts giving the reference bytes. MLC sources cited are at
// mlc-ai/mlc-llm 79d603f0 (python/mlc_llm/model/mixtral/, quantization/group_quantization.py).
import { assertEquals, assertOk } from "./_assert.ts";
import { fromDict } from "../src/arch/config.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import { planConversion } from "../src/plan.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { hfTensors } from "../src/testing/hf_layouts.ts";
import {
  assertRealPlan,
  cat,
  convertSeeded,
  convertTiny,
  f16bits,
  modelConfigText,
  noReadCheckpoint,
  parse,
  realConfig,
  summary,
  words16,
} from "./_arch_helpers.ts";
import { convertOnDisk, MOE_TINY, tinyMoe } from "./_moe_tiny.ts";

const L = "model.layers.0";
const B = `${L}.block_sparse_moe`;

Deno.test("mixtral: model_config of mistralai/Mixtral-8x7B-v0.1 (LlamaConfig rules plus the expert counts)", async () => {
  const logs: string[] = [];
  // mixtral_model.py L24-L29: MixtralConfig(LlamaConfig) adds num_local_experts, num_experts_per_tok
  assertEquals(
    modelConfigText("mixtral", await realConfig("Mixtral-8x7B-v0.1"), logs),
    '{"hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32, ' +
      '"rms_norm_eps": 1e-05, "vocab_size": 32000, "tie_word_embeddings": false, ' +
      '"position_embedding_base": 1000000.0, "rope_scaling": null, "context_window_size": 32768, ' +
      '"prefill_chunk_size": 8192, "num_key_value_heads": 8, "head_dim": 128, "tensor_parallel_shards": 1, ' +
      '"pipeline_parallel_stages": 1, "max_batch_size": 128, "disaggregation": false, "num_local_experts": 8, ' +
      '"num_experts_per_tok": 2}',
  );
  assertEquals(
    logs[0],
    "context_window_size not found in config.json. Falling back to max_position_embeddings (32768)",
  );
});

Deno.test("mixtral: qkv fused, router 1:1, e1_e3 = per expert w1|w3 stacked, e2 = w2 stacked", () => {
  const ex = (e: number, w: string) => `${B}.experts.${e}.${w}.weight`;
  // mixtral_model.py L120-L128 (layer order self_attn, moe, norms), L45-L61 (gate, e1_e3, e2);
  // mixtral_loader.py L44-L60 (qkv), L62-L104 (experts), L106-L115 (gate)
  assertEquals(summary(parse("mixtral", tinyMoe("mixtral")).params), [
    "model.embed_tokens.weight [vocab_size,64] embedding <- =",
    `${L}.self_attn.qkv_proj.weight [128,64] linear <- ${L}.self_attn.q_proj.weight, ${L}.self_attn.k_proj.weight, ` +
    `${L}.self_attn.v_proj.weight`,
    `${L}.self_attn.o_proj.weight [64,64] linear <- =`,
    `${L}.moe.gate.weight [4,64] linear <- ${B}.gate.weight`,
    `${L}.moe.e1_e3.weight [4,192,64] experts stack4 <- ${
      [0, 1, 2, 3].flatMap((e) => [ex(e, "w1"), ex(e, "w3")]).join(", ")
    }`,
    `${L}.moe.e2.weight [4,64,96] experts stack4 <- ${[0, 1, 2, 3].map((e) => ex(e, "w2")).join(", ")}`,
    `${L}.input_layernorm.weight [64] <- =`,
    `${L}.post_attention_layernorm.weight [64] <- =`,
    "model.norm.weight [64] <- =",
    "lm_head.weight [vocab_size,64] linear <- =",
  ]);
  const { arch, cfg } = parse("mixtral", tinyMoe("mixtral"));
  // mixtral_loader.py L117-L118
  assertEquals(arch.isUnused!(`${L}.self_attn.rotary_emb.inv_freq`, cfg), true);
  assertEquals(
    parse("mixtral", tinyMoe("mixtral", { tie_word_embeddings: true })).params.at(-1)!.name,
    "model.norm.weight",
  );
});

Deno.test("Mixtral-8x7B plan (q4f16_1): experts (E, out, in) quantized per row, the router kept in float16", async () => {
  // group_quantization.py L140-L147 and L559-L585: q_weight (E, out, 4 * ceil(in / 32)), q_scale
  // (E, out, ceil(in / 32)); utils.py L57-L59: gate with out_features 8 <= 256 stays a Linear
  const layer = 6144 * (512 * 4 + 128 * 2) + 4096 * (512 * 4 + 128 * 2) + 8 * 4096 * 2 +
    8 * 28672 * (512 * 4 + 128 * 2) + 8 * 4096 * (1792 * 4 + 448 * 2) + 2 * 4096 * 2;
  const embedding = 32000 * (512 * 4 + 128 * 2);
  assertRealPlan("mixtral", await realConfig("Mixtral-8x7B-v0.1"), "q4f16_1", [
    "model.layers.0.moe.e1_e3.q_weight [8,28672,512] uint32",
    "model.layers.0.moe.e1_e3.q_scale [8,28672,128] float16",
    "model.layers.31.moe.e2.q_weight [8,4096,1792] uint32",
    "model.layers.31.moe.e2.q_scale [8,4096,448] float16",
    "model.layers.7.moe.gate.weight [8,4096] float16",
    "model.layers.0.self_attn.qkv_proj.q_weight [6144,512] uint32",
    "lm_head.q_weight [32000,512] uint32",
  ], [32 * 11 + 2 + 1 + 2, 32 * layer + 2 * embedding + 4096 * 2]);
});

Deno.test("mixtral conversion: stacked bytes in MLC's order, router copied", async () => {
  const tiny = tinyMoe("mixtral");
  const { bytes, data } = await convertSeeded("mixtral", tiny);
  const ids = [0, 1, 2, 3];
  // combine_expert_gate_up: np.stack([cat(w1_0, w3_0), cat(w1_1, w3_1), ...]) is these bytes in a row
  assertEquals(
    bytes.get(`${L}.moe.e1_e3.weight`),
    cat(data, ids.flatMap((e) => [`${B}.experts.${e}.w1.weight`, `${B}.experts.${e}.w3.weight`])),
  );
  assertEquals(bytes.get(`${L}.moe.e2.weight`), cat(data, ids.map((e) => `${B}.experts.${e}.w2.weight`)));
  assertEquals(bytes.get(`${L}.moe.gate.weight`), data.get(`${B}.gate.weight`));
});

Deno.test("mixtral q3f16_1: groups of 40 along each expert row (k = intermediate size), hand-derived", async () => {
  // e2 is (E, H, I) = (4, 64, 96): expert 1, row 1 holds 3 then 95 ones. ceil(96 / 40) = 3
  // groups: [0, 40) max 3 -> scale 1, codes round(w / 1 + 3): 6 then 4s; [40, 80) and [80, 96)
  // max 1 -> scale f16(1/3) = 0x3555, w / scale = 3.0007 -> f16 3.0, code 6. 10 codes a word,
  // 4 words a group, slots past 96 are 0 bits. Had the rows been the whole expert (k = 64 * 96),
  // this row's groups would start 16 elements into a group (96 * 65 mod 40 = 0, 96 mod 40 = 16).
  const w2 = `${B}.experts.1.w2.weight`;
  const row = new Float16Array(64 * 96);
  row.fill(1, 96, 192);
  row[96] = 3;
  const data = new Map([[w2, new Uint8Array(row.buffer)]]);
  const { bytes } = await convertTiny("mixtral", tinyMoe("mixtral"), "q3f16_1", data, "float16");
  const scales = words16(bytes.get(`${L}.moe.e2.q_scale`)!);
  const at = (64 + 1) * 3; // expert 1, row 1
  assertEquals(scales.slice(at, at + 3), [0x3c00, 0x3555, 0x3555]);
  const q = bytes.get(`${L}.moe.e2.q_weight`)!;
  const words = Array.from(new Uint32Array(q.buffer, q.byteOffset + (64 + 1) * 12 * 4, 12));
  const pack = (codes: number[]) => codes.reduce((a, c, r) => a + c * 2 ** (3 * r), 0);
  const all = (c: number, n = 10) => Array(n).fill(c);
  assertEquals(words, [
    pack([6, ...all(4, 9)]),
    pack(all(4)),
    pack(all(4)),
    pack(all(4)),
    ...Array(4).fill(pack(all(6))),
    pack(all(6)),
    pack(all(6, 6)),
    0,
    0,
  ]);
  assertEquals(f16bits([1 / 3]), [0x3555]);
});

Deno.test("mixtral: KN layouts (q4f16_0, q3f16_0, q4bf16_0) are refused before any read, as by MLC", () => {
  // group_quantization.py L584-L585: GroupQuantizeMixtralExperts raises NotImplementedError for KN
  const tiny = tinyMoe("mixtral");
  const arch = ARCHITECTURES.mixtral;
  for (const quant of ["q4f16_0", "q3f16_0", "q4bf16_0"]) {
    const plan = planConversion({
      arch,
      config: fromDict(arch.configClass, tiny),
      scheme: getQuantization(quant),
      checkpoint: noReadCheckpoint(hfTensors("mixtral", tiny)),
    });
    assertEquals(plan.problems, [
      `${quant} uses the KN layout, which MLC's group quantization of stacked MoE experts does not support ` +
      `("GroupQuantizeMixtralExperts does not support KN layout now"): ${L}.moe.e1_e3.weight, ${L}.moe.e2.weight`,
    ]);
  }
});

Deno.test("mixtral: a missing or misshapen expert is named before any read", () => {
  const tiny = tinyMoe("mixtral");
  const arch = ARCHITECTURES.mixtral;
  const plan = (tensors: ReturnType<typeof hfTensors>) =>
    planConversion({
      arch,
      config: fromDict(arch.configClass, tiny),
      scheme: getQuantization("q4f16_1"),
      checkpoint: noReadCheckpoint(tensors),
    });
  const missing = plan(hfTensors("mixtral", tiny).filter((t) => t.name !== `${B}.experts.2.w3.weight`));
  assertOk(missing.problems[0].includes(`do not exist in the weight files`), missing.problems[0]);
  assertOk(missing.problems[0].includes(`${B}.experts.2.w3.weight`), missing.problems[0]);
  const bad = plan(
    hfTensors("mixtral", tiny).map((t) =>
      t.name === `${B}.experts.2.w3.weight` ? { ...t, shape: [96, 32] } : t
    ),
  );
  assertEquals(bad.problems, [
    `Parameter ${L}.moe.e1_e3.weight: cannot stack the 4 experts: expert 2 (${B}.experts.2.w1.weight [96, 64], ` +
    `${B}.experts.2.w3.weight [96, 32]) does not concatenate along axis 0 to the shape of expert 0 ([192, 64])`,
  ]);
  const { num_local_experts: _, ...none } = tiny;
  let msg = "";
  try {
    parse("mixtral", none);
  } catch (e) {
    msg = (e as Error).message;
  }
  assertEquals(msg, "num_local_experts must be a positive number of experts, got 0");
});

Deno.test("mixtral from files: the cpu workers' chunked direct reads of stacked experts give the reference bytes", async () => {
  for (const quant of ["q4f16_1", "q3f16_1", "q0f16"]) {
    const [ref, cpu] = await convertOnDisk("mixtral", MOE_TINY.mixtral, quant);
    assertEquals([...cpu.keys()].sort(), [...ref.keys()].sort());
    for (const [f, b] of ref) assertEquals(cpu.get(f), b, `${quant} ${f}`);
  }
});
