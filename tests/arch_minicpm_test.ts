// minicpm, dense (MiniCPM-2B) and mixture of experts (MiniCPM-MoE-8x2B): model_config on the
// published configs, the two MLP forms, the head only when untied, plans with real dimensions,
// stacking bytes, and the KN layouts (fine for the dense model, refused for the MoE one). MLC
// sources cited are at mlc-ai/mlc-llm 79d603f0 (python/mlc_llm/model/minicpm/).
import { assertEquals } from "./_assert.ts";
import { fromDict } from "../src/arch/config.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import { planConversion } from "../src/plan.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { hfTensors } from "../src/testing/hf_layouts.ts";
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
import { convertOnDisk, MOE_TINY, tinyMoe } from "./_moe_tiny.ts";

const L = "model.layers.0";
const M = `${L}.mlp`;
const IDS = [0, 1, 2, 3];
const ex = (e: number, w: string) => `${M}.experts.${e}.${w}.weight`;
/** Bytes of one q4 row of `k` elements: ceil(k / 32) groups of 4 uint32 words and one f16 scale. */
const q4row = (k: number) => Math.ceil(k / 32) * (4 * 4 + 2);
const DENSE = { num_experts: 0, num_experts_per_tok: 0 };

Deno.test("minicpm: model_config of openbmb/MiniCPM-2B-128k and MiniCPM-MoE-8x2B", async () => {
  // minicpm_model.py L26-L90
  assertEquals(
    modelConfigText("minicpm", await realConfig("MiniCPM-2B-128k")),
    '{"vocab_size": 122760, "hidden_size": 2304, "num_hidden_layers": 40, "num_attention_heads": 36, ' +
      '"num_key_value_heads": 36, "hidden_act": "silu", "rms_norm_eps": 1e-05, "intermediate_size": 5760, ' +
      '"scale_emb": 12, "scale_depth": 1.4, "dim_model_base": 256, "use_cache": true, "bos_token_id": 1, ' +
      '"eos_token_id": 2, "tie_word_embeddings": false, "rope_theta": 1000000.0, ' +
      '"context_window_size": 65536, "prefill_chunk_size": 8192, "tensor_parallel_shards": 1, "head_dim": 64, ' +
      '"max_batch_size": 128, "num_experts_per_tok": 0, "num_experts": 0}',
  );
  const moe = modelConfigText("minicpm", await realConfig("MiniCPM-MoE-8x2B"));
  assertEquals(
    moe.endsWith(
      '"tie_word_embeddings": true, "rope_theta": 10000, "context_window_size": 4096, ' +
        '"prefill_chunk_size": 4096, "tensor_parallel_shards": 1, "head_dim": 64, "max_batch_size": 128, ' +
        '"num_experts_per_tok": 2, "num_experts": 8}',
    ),
    true,
    moe,
  );
});

Deno.test("minicpm: wqkv_pack, then gate|up + down (dense) or router + e1_e3 (w1|w3) + e2 (MoE); head only untied", () => {
  const A = `${L}.self_attn`;
  const moe = summary(parse("minicpm", tinyMoe("minicpm")).params);
  assertEquals(moe, [
    "model.embed_tokens.weight [96,64] embedding <- =",
    `${A}.wqkv_pack.weight [128,64] linear <- ${A}.q_proj.weight, ${A}.k_proj.weight, ${A}.v_proj.weight`,
    `${A}.o_proj.weight [64,64] linear <- =`,
    `${M}.gate.weight [4,64] linear <- =`,
    `${M}.e1_e3.weight [4,192,64] experts stack4 <- ${
      IDS.flatMap((e) => [ex(e, "w1"), ex(e, "w3")]).join(", ")
    }`,
    `${M}.e2.weight [4,64,96] experts stack4 <- ${IDS.map((e) => ex(e, "w2")).join(", ")}`,
    `${L}.input_layernorm.weight [64] <- =`,
    `${L}.post_attention_layernorm.weight [64] <- =`,
    "model.norm.weight [64] <- =",
  ]);
  const dense = summary(
    parse("minicpm", tinyMoe("minicpm", { ...DENSE, tie_word_embeddings: false })).params,
  );
  assertEquals(dense.slice(3, 5), [
    `${M}.gate_up_proj.weight [192,64] linear <- ${M}.gate_proj.weight, ${M}.up_proj.weight`,
    `${M}.down_proj.weight [64,96] linear <- =`,
  ]);
  assertEquals(dense.at(-1), "lm_head.weight [96,64] linear <- =");
});

Deno.test("MiniCPM-MoE-8x2B and MiniCPM-2B plans (q4f16_1)", async () => {
  const attn = 6912 * q4row(2304) + 2304 * q4row(2304) + 2 * 2304 * 2;
  const moe = 8 * 2304 * 2 + 8 * 11520 * q4row(2304) + 8 * 2304 * q4row(5760);
  assertRealPlan("minicpm", await realConfig("MiniCPM-MoE-8x2B"), "q4f16_1", [
    "model.layers.0.mlp.gate.weight [8,2304] float16",
    "model.layers.0.mlp.e1_e3.q_weight [8,11520,288] uint32",
    "model.layers.39.mlp.e2.q_scale [8,2304,180] float16",
    "model.embed_tokens.q_weight [122753,288] uint32",
  ], [40 * 11 + 3, 40 * (attn + moe) + 122753 * q4row(2304) + 2304 * 2]);
  const dense = 11520 * q4row(2304) + 2304 * q4row(5760);
  assertRealPlan("minicpm", await realConfig("MiniCPM-2B-128k"), "q4f16_1", [
    "model.layers.0.mlp.gate_up_proj.q_weight [11520,288] uint32",
    "lm_head.q_weight [122760,288] uint32",
  ], [40 * 10 + 5, 40 * (attn + dense) + 2 * 122760 * q4row(2304) + 2304 * 2]);
});

Deno.test("minicpm conversion: e1_e3 = w1_0|w3_0|w1_1|..., e2 = w2 stacked", async () => {
  const { bytes, data } = await convertSeeded("minicpm", tinyMoe("minicpm"));
  assertEquals(bytes.get(`${M}.e1_e3.weight`), cat(data, IDS.flatMap((e) => [ex(e, "w1"), ex(e, "w3")])));
  assertEquals(bytes.get(`${M}.e2.weight`), cat(data, IDS.map((e) => ex(e, "w2"))));
});

Deno.test("minicpm q4f16_0: the dense model converts, the MoE model is refused before any read", () => {
  const arch = ARCHITECTURES.minicpm;
  const plan = (cfg: Record<string, unknown>) =>
    planConversion({
      arch,
      config: fromDict(arch.configClass, cfg),
      scheme: getQuantization("q4f16_0"),
      checkpoint: noReadCheckpoint(hfTensors("minicpm", cfg)),
    });
  assertEquals(plan(tinyMoe("minicpm", DENSE)).problems, []);
  assertEquals(plan(tinyMoe("minicpm")).problems, [
    "q4f16_0 uses the KN layout, which MLC's group quantization of stacked MoE experts does not support " +
    `("GroupQuantizeMixtralExperts does not support KN layout now"): ${M}.e1_e3.weight, ${M}.e2.weight`,
  ]);
});

Deno.test("minicpm MoE from files: cpu workers' chunked reads give the reference bytes", async () => {
  const [ref, cpu] = await convertOnDisk("minicpm", MOE_TINY.minicpm, "q4f16_1");
  for (const [f, b] of ref) assertEquals(cpu.get(f), b, f);
});
