/**
 * `qwen3`: Qwen3ForCausalLM checkpoints. Like qwen2 plus per-head q/k RMS norms, with
 * biases only when `attention_bias`, an explicit `head_dim` and a 2048 prefill cap.
 *
 * @module
 */
import { ConfigError, intField, REQUIRED, resolveContextWindow, resolvePrefill } from "./config.ts";
import type { Architecture } from "./types.ts";
import { qwenParams } from "./qwen2.ts";

function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "string") return `'${v}'`;
  return JSON.stringify(v);
}

/** The qwen3 architecture. */
export const qwen3: Architecture = {
  name: "qwen3",
  hfModelTypes: ["qwen3"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "Qwen3Config",
    fields: [
      ["hidden_act", REQUIRED],
      ["hidden_size", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["attention_bias", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["num_key_value_heads", REQUIRED],
      ["rms_norm_eps", REQUIRED],
      ["rope_theta", REQUIRED],
      ["vocab_size", REQUIRED],
      ["tie_word_embeddings", false],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["tensor_parallel_shards", 1],
      ["head_dim", 0],
      ["dtype", "float32"],
      ["max_batch_size", 1],
      ["weight_block_size", null],
    ],
    postInit(cfg, kwargs, log) {
      if (Object.hasOwn(kwargs, "quantization_config")) {
        const qc = kwargs.quantization_config as Record<string, unknown> | null;
        if (
          qc !== null && typeof qc === "object" && !Array.isArray(qc) &&
          qc.activation_scheme === "dynamic" && qc.fmt === "e4m3" && qc.quant_method === "fp8" &&
          Object.hasOwn(qc, "weight_block_size")
        ) {
          const wbs = qc.weight_block_size;
          cfg.weight_block_size = wbs;
          if (!Array.isArray(wbs) || wbs.length !== 2) {
            throw new ConfigError(
              "Invalid DeepSeek model quantization config: weight_block_size must be a tuple of two integers, " +
                `got ${pyRepr(wbs)}`,
            );
          }
        } else {
          throw new ConfigError(
            `Invalid DeepSeek model quantization config: unrecognized quantization config: ${pyRepr(qc)}`,
          );
        }
      }
      resolveContextWindow(cfg, kwargs, log);
      resolvePrefill(cfg, log, 2048);
    },
  },
  params(cfg) {
    if (cfg.weight_block_size !== null && cfg.weight_block_size !== undefined) {
      throw new ConfigError(
        "This checkpoint is FP8 block-quantized (quantization_config fp8/e4m3); only MLC's block-scale " +
          "quantizations can convert it (--quantization fp8_e4m3fn_bf16_block_scale)",
      );
    }
    if (intField(cfg, "head_dim") === 0) {
      throw new ConfigError("qwen3 needs an explicit head_dim in config.json (MLC does not derive it)");
    }
    const bias = cfg.attention_bias === true;
    return qwenParams(cfg, { qkvBias: bias, oBias: bias, qkNorm: true });
  },
};
