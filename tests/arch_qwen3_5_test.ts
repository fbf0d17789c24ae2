// qwen3_5 and qwen3_5_text: model_config of Qwen3.5-0.8B (text_config and rope_parameters
// flattened, prefill cap 2048), the hybrid parameter list (GatedDeltaNet layers, gated full
// attention every full_attention_interval layers), the plan and totals with Qwen3.5-0.8B's
// dimensions, the zero-centred norms' `+ 1.0` in float32 (hand-derived bits), A_log / dt_bias in
// float32, bytes of the fusions, cpu workers = reference, and refusals before any read. MLC sources
// cited are at mlc-ai/mlc-llm 79d603f0 (python/mlc_llm/model/qwen35/qwen35_model.py, qwen35_loader.py).
import { assertEquals, assertOk, assertThrows } from "./_assert.ts";
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
import { convertOnDisk } from "./_moe_tiny.ts";

const HF = "model.language_model";
const L0 = "model.layers.0";
const L1 = "model.layers.1";
/** Bytes of one q4 row of `k` elements: ceil(k / 32) groups of 4 uint32 words and one f16 scale. */
const q4row = (k: number) => Math.ceil(k / 32) * (4 * 4 + 2);

Deno.test("qwen3_5: model_config of Qwen/Qwen3.5-0.8B (text_config and rope_parameters flattened, prefill 2048)", async () => {
  const logs: string[] = [];
  // qwen35_model.py L28-L58 fields in order; L62-L77 text_config keys that are fields overwrite them
  // (dtype, tie_word_embeddings, ...), rope_parameters gives rope_theta (an int here) and
  // partial_rotary_factor; L88-L98 context window from max_position_embeddings; L105-L106 prefill
  assertEquals(
    modelConfigText("qwen3_5", await realConfig("Qwen3.5-0.8B"), logs),
    '{"hidden_size": 1024, "intermediate_size": 3584, "num_attention_heads": 8, "num_hidden_layers": 24, ' +
      '"num_key_value_heads": 2, "rms_norm_eps": 1e-06, "vocab_size": 248320, "rope_theta": 10000000, ' +
      '"head_dim": 256, "hidden_act": "silu", "attention_bias": false, "tie_word_embeddings": true, ' +
      '"linear_key_head_dim": 128, "linear_value_head_dim": 128, "linear_num_key_heads": 16, ' +
      '"linear_num_value_heads": 16, "linear_conv_kernel_dim": 4, "full_attention_interval": 4, ' +
      '"partial_rotary_factor": 0.25, "context_window_size": 262144, "prefill_chunk_size": 2048, ' +
      '"tensor_parallel_shards": 1, "dtype": "bfloat16", "max_batch_size": 128}',
  );
  // the prefill default is silent (L105-L108)
  assertEquals(logs, [
    "context_window_size not found in config.json. Falling back to max_position_embeddings (262144)",
    "Overriding max_batch_size from 1 to 128",
  ]);
  // defaults of an empty config: rope_theta 10000000, head_dim 256, ...; no window is an error (L99-L104)
  assertThrows(() => parse("qwen3_5", {}), /Unable to determine the maximum sequence length/);
});

Deno.test("qwen3_5: GatedDeltaNet layer, gated full-attention layer, +1 norms, float32 A_log / dt_bias", () => {
  const lin = `${L0}.linear_attn`;
  const att = `${L1}.self_attn`;
  const mlp = (l: string) => [
    `${l}.mlp.gate_up_proj.weight [192,64] linear <- ${HF}${l.slice(5)}.mlp.gate_proj.weight, ` +
    `${HF}${l.slice(5)}.mlp.up_proj.weight`,
    `${l}.mlp.down_proj.weight [64,96] linear <- ${HF}${l.slice(5)}.mlp.down_proj.weight`,
    `${l}.input_layernorm.weight [64] whole <- ${HF}${l.slice(5)}.input_layernorm.weight`,
    `${l}.post_attention_layernorm.weight [64] whole <- ${HF}${l.slice(5)}.post_attention_layernorm.weight`,
  ];
  const one = (name: string, shape: string, marks = "") =>
    `${name} [${shape}]${marks} <- ${HF}${name.slice(5).replace("conv1d_weight", "conv1d.weight")}`;
  // qwen35_model.py L120-L128 (layer i is full attention iff (i + 1) % interval == 0), L605-L622
  // (attention, mlp, two norms), L390-L417 (GatedDeltaNet parameter order), L171-L183 (c_attn rows
  // (2 Nq + 2 Nkv) D: q carries the output gate); loader L55-L175
  assertEquals(summary(parse("qwen3_5", MM_TINY.qwen3_5).params), [
    one("model.embed_tokens.weight", "96,64", " embedding"),
    one(`${lin}.in_proj_qkv.weight`, "128,64", " linear"),
    one(`${lin}.in_proj_z.weight`, "64,64", " linear"),
    one(`${lin}.in_proj_a.weight`, "4,64", " linear"),
    one(`${lin}.in_proj_b.weight`, "4,64", " linear"),
    one(`${lin}.out_proj.weight`, "64,64", " linear"),
    one(`${lin}.conv1d_weight`, "128,1,4"),
    one(`${lin}.A_log`, "4", " float32"),
    one(`${lin}.dt_bias`, "4", " float32"),
    one(`${lin}.norm.weight`, "16"),
    ...mlp(L0),
    `${att}.c_attn.weight [192,64] linear <- ${HF}.layers.1.self_attn.q_proj.weight, ` +
    `${HF}.layers.1.self_attn.k_proj.weight, ${HF}.layers.1.self_attn.v_proj.weight`,
    one(`${att}.o_proj.weight`, "64,64", " linear"),
    one(`${att}.q_norm.weight`, "16", " whole"),
    one(`${att}.k_norm.weight`, "16", " whole"),
    ...mlp(L1),
    one("model.norm.weight", "64", " whole"),
    "lm_head.weight [96,64] linear <- =",
  ]);
  // qwen3_5_text: the same classes and loader (model.py L420-L431); a flat config parses alike
  assertEquals(
    summary(parse("qwen3_5_text", MM_TINY.qwen3_5_text).params),
    summary(parse("qwen3_5", MM_TINY.qwen3_5).params),
  );
});

Deno.test("Qwen3.5-0.8B plan (q4f16_1): 18 linear + 6 full-attention layers, tied; totals", async () => {
  // linear layer: in_proj_qkv 6144, in_proj_z 2048, in_proj_a 16, in_proj_b 16 rows of q4row(1024);
  // out_proj 1024 rows of q4row(2048); conv1d (6144,1,4) f16; A_log, dt_bias 16 float32 (4 bytes
  // each in ParamBytes); gated norm 128 f16
  const linear = (6144 + 2048 + 16 + 16) * q4row(1024) + 1024 * q4row(2048) + 6144 * 4 * 2 + 2 * 16 * 4 +
    128 * 2;
  // full layer: c_attn (2*8 + 2*2) * 256 = 5120 rows of q4row(1024), o_proj 1024 rows of q4row(2048),
  // q/k norms 256 f16
  const full = 5120 * q4row(1024) + 1024 * q4row(2048) + 2 * 256 * 2;
  // every layer: gate|up 7168 rows of q4row(1024), down 1024 rows of q4row(3584), two norms
  const mlp = 7168 * q4row(1024) + 1024 * q4row(3584) + 2 * 1024 * 2;
  assertRealPlan("qwen3_5", await realConfig("Qwen3.5-0.8B"), "q4f16_1", [
    "model.embed_tokens.q_weight [248320,128] uint32",
    "model.layers.0.linear_attn.in_proj_qkv.q_weight [6144,128] uint32",
    "model.layers.0.linear_attn.in_proj_a.q_scale [16,32] float16",
    "model.layers.0.linear_attn.conv1d_weight [6144,1,4] float16",
    "model.layers.0.linear_attn.A_log [16] float32",
    "model.layers.22.linear_attn.dt_bias [16] float32",
    "model.layers.0.linear_attn.norm.weight [128] float16",
    "model.layers.3.self_attn.c_attn.q_weight [5120,128] uint32",
    "model.layers.23.self_attn.o_proj.q_scale [1024,64] float16",
    "model.layers.23.self_attn.k_norm.weight [256] float16",
    "model.layers.23.mlp.down_proj.q_weight [1024,448] uint32",
  ], [18 * 20 + 6 * 12 + 3, 18 * (linear + mlp) + 6 * (full + mlp) + 248320 * q4row(1024) + 1024 * 2]);
  // q4f16_2: the embedding stays float16 (tied: no lm_head)
  const lines = planReal("qwen3_5", await realConfig("Qwen3.5-0.8B"), "q4f16_2").outputs.map(outLine);
  assertOk(lines.includes("model.embed_tokens.weight [248320,1024] float16"));
  assertOk(!lines.some((l) => l.startsWith("lm_head")));
});

Deno.test("qwen3_5 norms: (float32(x) + 1.0) cast to the model dtype (loader L158-L166), not x + 1 in bf16", async () => {
  const name = `${HF}.layers.0.input_layernorm.weight`;
  // bfloat16 sources 2^-10, 3*2^-12, -1, 0.5, -2, 2^-12, then zeros
  const src = [0x3A80, 0x3A40, 0xBF80, 0x3F00, 0xC000, 0x3980, ...new Array(58).fill(0)];
  const data = new Map([[name, le16(src)]]);
  const f16 = await convertTiny("qwen3_5", MM_TINY.qwen3_5, "q0f16", data, "bfloat16");
  // float32 sums 1+2^-10, 1+3*2^-12, 0, 1.5, -1, 1+2^-12 -> float16 (RNE, 2^-10 steps above 1);
  // adding in bfloat16 first would give 1.0 (0x3C00) for the first two
  assertEquals(words16(f16.bytes.get(`${L0}.input_layernorm.weight`)!), [
    0x3C01,
    0x3C01,
    0x0000,
    0x3E00,
    0xBC00,
    0x3C00,
    ...new Array(58).fill(0x3C00),
  ]);
  const bf16 = await convertTiny("qwen3_5", MM_TINY.qwen3_5, "q0bf16", data, "bfloat16");
  // -> bfloat16 (2^-7 steps above 1)
  assertEquals(words16(bf16.bytes.get(`${L0}.input_layernorm.weight`)!), [
    0x3F80,
    0x3F80,
    0x0000,
    0x3FC0,
    0xBF80,
    0x3F80,
    ...new Array(58).fill(0x3F80),
  ]);
  // the gated norm of the linear attention is copied (no +1): zeros stay zeros
  assertEquals(words16(f16.bytes.get(`${L0}.linear_attn.norm.weight`)!), new Array(16).fill(0));
});

Deno.test("qwen3_5 conversion: c_attn = q|k|v, gate|up, conv1d and A_log as they are (A_log float32)", async () => {
  const { bytes, data, records } = await convertSeeded("qwen3_5", MM_TINY.qwen3_5);
  const a = `${HF}.layers.1.self_attn`;
  assertEquals(
    bytes.get(`${L1}.self_attn.c_attn.weight`),
    cat(data, [`${a}.q_proj.weight`, `${a}.k_proj.weight`, `${a}.v_proj.weight`]),
  );
  const m = `${HF}.layers.0.mlp`;
  assertEquals(
    bytes.get(`${L0}.mlp.gate_up_proj.weight`),
    cat(data, [`${m}.gate_proj.weight`, `${m}.up_proj.weight`]),
  );
  assertEquals(
    bytes.get(`${L0}.linear_attn.conv1d_weight`),
    data.get(`${HF}.layers.0.linear_attn.conv1d.weight`),
  );
  const rec = records.find((r) => r.name === `${L0}.linear_attn.A_log`)!;
  assertEquals([rec.dtype, rec.shape], ["float32", [4]]);
});

Deno.test("qwen3_5 from files: cpu workers' chunked reads give the reference bytes (q4f16_1, q0bf16, q4f16_0)", async () => {
  for (const quant of ["q4f16_1", "q0bf16", "q4f16_0"]) {
    const [ref, cpu] = await convertOnDisk("qwen3_5", MM_TINY.qwen3_5, quant);
    for (const [f, b] of ref) assertEquals(cpu.get(f), b, `${quant} ${f}`);
  }
});

Deno.test("qwen3_5: vision and MTP tensors only warn; text-only names (model.layers.*) are refused before any read", async () => {
  const plan = planReal("qwen3_5", await realConfig("Qwen3.5-0.8B"), "q0bf16", [
    { name: "model.visual.patch_embed.proj.weight", shape: [768, 3, 2, 16, 16] },
    { name: "mtp.fc.weight", shape: [1024, 2048] },
  ]);
  assertEquals(plan.problems, []);
  assertEquals(plan.warnings.length, 1);
  assertOk(/model\.visual\.patch_embed\.proj\.weight/.test(plan.warnings[0]), plan.warnings[0]);
  // a Qwen3_5ForCausalLM saved on its own: MLC's loader still asks for model.language_model.* (L51)
  const arch = ARCHITECTURES.qwen3_5_text;
  const cfg = MM_TINY.qwen3_5_text;
  const textOnly = hfTensors("qwen3_5_text", cfg).map((t) => ({
    ...t,
    name: t.name.replace("model.language_model.", "model."),
  }));
  const refused = planConversion({
    arch,
    config: fromDict(arch.configClass, cfg),
    scheme: getQuantization("q4f16_1"),
    checkpoint: noReadCheckpoint(textOnly),
  });
  assertOk(refused.problems.length > 0);
  assertOk(
    /model\.language_model\.embed_tokens\.weight/.test(refused.problems.join("\n")),
    refused.problems[0],
  );
  // attention_bias: the loader fuses only the q/k/v weights; c_attn.bias is looked up 1:1 under its
  // own name (loader L155-L175), which no checkpoint has: refused as by MLC
  const biased = { ...cfg, attention_bias: true };
  const biasPlan = planConversion({
    arch,
    config: fromDict(arch.configClass, biased),
    scheme: getQuantization("q4f16_1"),
    checkpoint: noReadCheckpoint(hfTensors("qwen3_5_text", biased)),
  });
  assertOk(
    /model\.language_model\.layers\.1\.self_attn\.c_attn\.bias/.test(biasPlan.problems.join("\n")),
    biasPlan.problems[0],
  );
});
