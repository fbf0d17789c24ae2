/**
 * `deepseek_v2` / `deepseek_v3`: DeepseekV2ForCausalLM / DeepseekV3ForCausalLM checkpoints
 * (DeepSeek-V2, V2-Lite, V2.5; V3, R1 in bf16), one MLC config and model class for both keys.
 * Multi-head latent attention: `q_proj` (or the low-rank `q_a_proj`, `q_a_layernorm`,
 * `q_b_proj`), `kv_a_proj_with_mqa`, `kv_a_layernorm`, `kv_b_proj` and its two absorbed
 * copies `w_uk` / `w_uv` (raw parameters, never quantized); MLP as deepseek, with the router's
 * `e_score_correction_bias` kept float32 under `topk_method == "noaux_tc"` (V3)
 * (`python/mlc_llm/model/deepseek_v2/deepseek_v2_loader.py`, `deepseek_v2_model.py`). FP8
 * block-quantized checkpoints (V3 as released) need MLC's block-scale quantizations, which are
 * not offered here: convert a bf16 copy.
 *
 * @module
 */
import { type ConfigClass, ConfigError, intField, type ModelConfig, REQUIRED } from "./config.ts";
import { deepseekMlp } from "./_deepseek.ts";
import { type ParamSpec, standardMapping } from "./_standard.ts";
import type { Architecture, HostTensor, ParamTransform } from "./types.ts";
import { itemSize } from "../dtype.ts";
import { qwen3 } from "./qwen3.ts";

/**
 * `kv_b_proj (Nkv * (nope + v), rank)` reshaped to `(Nkv, nope + v, rank)` and split on axis 1
 * at `nope`: `w_uk` is the first part transposed `(0, 2, 1)`, `w_uv` the second part as it is
 * (deepseek_v2_loader.py L157-L224). Elements move only, so any dtype works (the FP8 import
 * splits `kv_b_proj.weight_scale_inv` the same way, with the dims divided by the blocks).
 *
 * @example
 * ```ts ignore
 * splitKvB({ dtype: "float32", shape: [4, 2], data }, 1, 2, 2, "uv").shape; // [1, 2, 2]
 * ```
 */
export function splitKvB(
  t: HostTensor,
  heads: number,
  nope: number,
  v: number,
  part: "uk" | "uv",
): HostTensor {
  const s = itemSize(t.dtype);
  const rank = t.shape[1];
  const out = new Uint8Array(heads * (part === "uk" ? nope : v) * rank * s);
  for (let h = 0; h < heads; h++) {
    const base = h * (nope + v) * rank * s;
    if (part === "uv") {
      out.set(t.data.subarray(base + nope * rank * s, base + (nope + v) * rank * s), h * v * rank * s);
      continue;
    }
    for (let n = 0; n < nope; n++) {
      for (let r = 0; r < rank; r++) {
        const from = base + (n * rank + r) * s;
        out.set(t.data.subarray(from, from + s), ((h * rank + r) * nope + n) * s);
      }
    }
  }
  const shape = part === "uk" ? [heads, rank, nope] : [heads, v, rank];
  return { dtype: t.dtype, shape, data: out };
}

/** The `whole` transform building `w_uk` or `w_uv` from `kv_b_proj.weight`. */
function kvBTransform(cfg: ModelConfig, part: "uk" | "uv"): ParamTransform {
  const heads = intField(cfg, "num_key_value_heads");
  const nope = intField(cfg, "qk_nope_head_dim");
  const v = intField(cfg, "v_head_dim");
  return {
    kind: "whole",
    apply: ([t]) => splitKvB(t, heads, nope, v, part),
    outShape: ([[, rank]]) => part === "uk" ? [heads, rank, nope] : [heads, v, rank],
  };
}

/** Attention parameters of one layer (param_map order: w_uk, w_uv before kv_b_proj, which they share). */
function mlaParams(cfg: ModelConfig, a: string): ParamSpec[] {
  const h = intField(cfg, "hidden_size");
  const nq = intField(cfg, "num_attention_heads");
  const rank = intField(cfg, "kv_lora_rank");
  const rope = intField(cfg, "qk_rope_head_dim");
  const nope = intField(cfg, "qk_nope_head_dim");
  const v = intField(cfg, "v_head_dim");
  const bias = cfg.attention_bias === true;
  const lin = (name: string, out: number, inp: number, withBias: boolean): ParamSpec[] => [
    { name: `${a}.${name}.weight`, shape: [out, inp], quant: "linear" },
    ...(withBias ? [{ name: `${a}.${name}.bias`, shape: [out] }] : []),
  ];
  const qr = cfg.q_lora_rank;
  const q = qr === null || qr === undefined ? lin("q_proj", nq * (nope + rope), h, false) : [
    ...lin("q_a_proj", intField(cfg, "q_lora_rank"), h, bias),
    { name: `${a}.q_a_layernorm.weight`, shape: [intField(cfg, "q_lora_rank")] },
    ...lin("q_b_proj", nq * (nope + rope), intField(cfg, "q_lora_rank"), false),
  ];
  const kvB = `${a}.kv_b_proj.weight`;
  return [
    ...q,
    ...lin("kv_a_proj_with_mqa", rank + rope, h, bias),
    { name: `${a}.kv_a_layernorm.weight`, shape: [rank] },
    { name: `${a}.w_uk`, shape: [nq, rank, nope], sources: [kvB], transform: kvBTransform(cfg, "uk") },
    { name: `${a}.w_uv`, shape: [nq, v, rank], sources: [kvB], transform: kvBTransform(cfg, "uv") },
    ...lin("kv_b_proj", nq * (nope + v), rank, false),
    ...lin("o_proj", h, nq * v, bias),
  ];
}

/** `DeepseekV2Config` (both keys). */
const CONFIG: ConfigClass = {
  className: "DeepseekV2Config",
  fields: [
    ...[
      "vocab_size",
      "hidden_size",
      "intermediate_size",
      "moe_intermediate_size",
      "num_hidden_layers",
      "num_attention_heads",
      "num_key_value_heads",
      "n_shared_experts",
      "n_routed_experts",
      "num_experts_per_tok",
      "norm_topk_prob",
      "first_k_dense_replace",
      "moe_layer_freq",
      "routed_scaling_factor",
      "scoring_func",
      "topk_method",
      "n_group",
      "topk_group",
      "attention_bias",
      "kv_lora_rank",
      "qk_rope_head_dim",
      "v_head_dim",
      "qk_nope_head_dim",
      "rms_norm_eps",
      "rope_theta",
    ].map((f) => [f, REQUIRED] as const),
    ["q_lora_rank", null],
    ["rope_scaling", null],
    ["context_window_size", 0],
    ["prefill_chunk_size", 0],
    ["tensor_parallel_shards", 1],
    ["dtype", "float32"],
    ["max_batch_size", 1],
    ["weight_block_size", null],
  ],
  postInit(cfg, kwargs, log) {
    // deepseek_v2_model.py L66-L124: the FP8 quantization_config rule, the window, then the
    // head check and the 2048 prefill cap: qwen3's (copied from here) plus the assert
    qwen3.configClass.postInit(cfg, kwargs, log);
    if (intField(cfg, "num_attention_heads") % intField(cfg, "num_key_value_heads") !== 0) {
      throw new ConfigError("num_attention_heads must be a multiple of num_key_value_heads");
    }
  },
};

function params(cfg: ModelConfig) {
  if (cfg.weight_block_size !== null && cfg.weight_block_size !== undefined) {
    // deepseek_v2_loader.py L54-L61
    throw new ConfigError(
      "The input DeepSeek model is fp8 block quantized (quantization_config fp8/e4m3); only MLC's " +
        "block-scale quantizations can convert it (--quantization fp8_e4m3fn_bf16_block_scale, for deepseek_v3)",
    );
  }
  const h = intField(cfg, "hidden_size");
  const v = intField(cfg, "vocab_size");
  const layers = intField(cfg, "num_hidden_layers");
  const scoreBias = cfg.topk_method === "noaux_tc";
  const specs: ParamSpec[] = [{ name: "model.embed_tokens.weight", shape: [v, h], quant: "embedding" }];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    specs.push(
      ...mlaParams(cfg, `${p}.self_attn`),
      ...deepseekMlp(cfg, p, l, scoreBias),
      { name: `${p}.input_layernorm.weight`, shape: [h] },
      { name: `${p}.post_attention_layernorm.weight`, shape: [h] },
    );
  }
  specs.push(
    { name: "model.norm.weight", shape: [h] },
    { name: "lm_head.weight", shape: [v, h], quant: "linear" },
  );
  return standardMapping(specs, { numLayers: layers, includeQkv: false, includeGateUp: false });
}

/** The deepseek_v2 architecture. */
export const deepseekV2: Architecture = {
  name: "deepseek_v2",
  hfModelTypes: ["deepseek_v2"],
  quantKinds: ["no-quant", "group-quant"],
  refusesKnLayout: "always",
  configClass: CONFIG,
  params,
};

/** The deepseek_v3 architecture (the same classes; MLC also allows block-scale quantization). */
export const deepseekV3: Architecture = { ...deepseekV2, name: "deepseek_v3", hfModelTypes: ["deepseek_v3"] };
