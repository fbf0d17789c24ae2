/**
 * `ministral3`: Ministral 3 checkpoints (Mistral3ForConditionalGeneration, e.g.
 * mistralai/Ministral-3-3B-Instruct-2512). MLC converts the text model only
 * (`ministral3_model.py`, `ministral3_loader.py`): `Ministral3Config.from_dict` (L52-L67) merges
 * `text_config` into the top level (the top level's `tie_word_embeddings` and `dtype` win); the
 * HF names carry `language_model.` when config.json has a `vision_config` (L89-L94); q|k|v and
 * gate|up are concatenated on axis 0 (L218-L243), the rest is 1:1 (L255-L264), rotary
 * `inv_freq` is declared unused without the prefix (L253). The vision tower and projector of the checkpoint are
 * not mapped: MLC warns about them as unused, and so do we. The embedding and the head (only
 * when untied) have exactly `vocab_size` rows.
 *
 * FP8 checkpoints (`quantization_config` fp8 with static activations, L69-L115) set
 * `weight_block_size`; MLC converts them only with its block-scale quantizations (L96-L103),
 * which are not offered here, so they are refused before any tensor is read.
 *
 * @module
 */
import { ConfigError, intField, type ModelConfig, REQUIRED } from "./config.ts";
import { declaredUnused } from "./_standard.ts";
import { from } from "./_dense.ts";
import type { Architecture, ArchParam } from "./types.ts";
import { mistralWindows } from "./mistral.ts";
import { num } from "../pyjson.ts";
import { pyRepr } from "../genconfig/pystr.ts";

/** Set on a parsed config when config.json had a `vision_config` (MLC: `"vision_config" in kwargs`). */
const HAS_VISION: unique symbol = Symbol("ministral3.vision_config");

/** L52-L67: `text_config` merged into the top level. */
function prepare(src: Record<string, unknown>): Record<string, unknown> {
  const text = src.text_config;
  if (text === null || typeof text !== "object" || Array.isArray(text)) return src;
  const { text_config: _t, ...top } = src;
  const merged: Record<string, unknown> = { ...top, ...(text as Record<string, unknown>) };
  if (Object.hasOwn(src, "tie_word_embeddings")) merged.tie_word_embeddings = src.tie_word_embeddings;
  if (Object.hasOwn(src, "dtype")) merged.dtype = src.dtype;
  return merged;
}

/** L70-L115: FP8 static quantization sets `weight_block_size`; anything else is refused. */
function readQuantizationConfig(cfg: ModelConfig, kwargs: Record<string, unknown>): void {
  if (!Object.hasOwn(kwargs, "quantization_config")) return;
  const qc = kwargs.quantization_config;
  delete kwargs.quantization_config;
  if (qc === null || typeof qc !== "object" || Array.isArray(qc)) {
    throw new ConfigError(
      `Invalid Ministral 3 model quantization config: unrecognized quantization config: ${pyRepr(qc)}`,
    );
  }
  const q = qc as Record<string, unknown>;
  if (Array.isArray(q.modules_to_not_convert)) cfg.modules_to_not_convert = [...q.modules_to_not_convert];
  if (q.quant_method !== "fp8" || q.activation_scheme !== "static") {
    throw new ConfigError(
      "Invalid Ministral 3 model quantization config: only FP8 static quantization is supported, " +
        `got activation_scheme=${String(q.activation_scheme ?? "")}, quant_method=${
          String(q.quant_method ?? "")
        }`,
    );
  }
  const wbs = q.weight_block_size ?? null;
  if (wbs === null) cfg.weight_block_size = [128, 128];
  else if (!Array.isArray(wbs) || wbs.length !== 2) {
    throw new ConfigError(
      `Invalid Ministral3 quantization config: weight_block_size must be a list or tuple of two integers, got ${
        pyRepr(wbs)
      }`,
    );
  } else cfg.weight_block_size = wbs;
}

/** `Ministral3Config.__post_init__` (L69-L167). */
function postInit(
  cfg: ModelConfig,
  kwargs: Record<string, unknown>,
  log: Parameters<Architecture["configClass"]["postInit"]>[2],
): void {
  readQuantizationConfig(cfg, kwargs);
  // a symbol key: kept by spreads, never emitted in model_config
  (cfg as Record<symbol, unknown>)[HAS_VISION] = Object.hasOwn(kwargs, "vision_config");
  if (num(cfg.position_embedding_base) === 0) {
    const rp = cfg.rope_parameters;
    if (rp !== null && typeof rp === "object" && !Array.isArray(rp) && Object.hasOwn(rp, "rope_theta")) {
      // copied: Python pops from the parsed dict; we leave the caller's object alone
      const { rope_theta, ...rest } = rp as Record<string, unknown>;
      cfg.position_embedding_base = rope_theta;
      cfg.rope_parameters = rest;
    } else if (Object.hasOwn(kwargs, "rope_theta")) {
      cfg.position_embedding_base = kwargs.rope_theta;
      delete kwargs.rope_theta;
    } else cfg.position_embedding_base = 10000;
  }
  mistralWindows(cfg, kwargs, log); // (the rest is MistralConfig.__post_init__ word for word)
}

/** The ministral3 architecture. */
export const ministral3: Architecture = {
  name: "ministral3",
  hfModelTypes: ["ministral3"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "Ministral3Config",
    fields: [
      ["hidden_size", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["rms_norm_eps", REQUIRED],
      ["vocab_size", REQUIRED],
      ["attention_sink_size", 0],
      ["context_window_size", 0],
      ["dtype", "float32"],
      ["head_dim", 0],
      ["hidden_act", "silu"],
      ["max_batch_size", 1],
      ["num_key_value_heads", 0],
      ["position_embedding_base", 0],
      ["prefill_chunk_size", 0],
      ["rope_parameters", null],
      ["sliding_window_size", 0],
      ["tensor_parallel_shards", 1],
      ["tie_word_embeddings", false],
      ["weight_block_size", null],
      ["modules_to_not_convert", []],
    ],
    prepare,
    postInit,
  },
  /** Module order (ministral3_model.py L266-L341); sources per the loader. */
  params(cfg) {
    if (cfg.weight_block_size !== null && cfg.weight_block_size !== undefined) {
      throw new ConfigError(
        "The input Ministral 3 model is fp8 block quantized (quantization_config fp8, static activations); " +
          "only MLC's block-scale quantizations can convert it, and they are not supported here",
      );
    }
    const hf = (n: string) =>
      ((cfg as Record<symbol, unknown>)[HAS_VISION] === true ? "language_model." : "") + n;
    const h = intField(cfg, "hidden_size");
    const i = intField(cfg, "intermediate_size");
    const nq = intField(cfg, "num_attention_heads");
    const nkv = intField(cfg, "num_key_value_heads");
    const d = intField(cfg, "head_dim");
    const v = intField(cfg, "vocab_size");
    const one = (name: string, shape: number[], quant?: "linear" | "embedding"): ArchParam =>
      from(name, shape, [hf(name)], quant ? { quant } : {});
    const out: ArchParam[] = [one("model.embed_tokens.weight", [v, h], "embedding")];
    for (let l = 0; l < intField(cfg, "num_hidden_layers"); l++) {
      const p = `model.layers.${l}`;
      out.push(
        from(
          `${p}.self_attn.qkv_proj.weight`,
          [(nq + 2 * nkv) * d, h],
          ["q", "k", "v"].map((x) => hf(`${p}.self_attn.${x}_proj.weight`)),
          { quant: "linear" },
        ),
        one(`${p}.self_attn.o_proj.weight`, [h, nq * d], "linear"),
        from(
          `${p}.mlp.gate_up_proj.weight`,
          [2 * i, h],
          ["gate", "up"].map((x) => hf(`${p}.mlp.${x}_proj.weight`)),
          { quant: "linear" },
        ),
        one(`${p}.mlp.down_proj.weight`, [h, i], "linear"),
        one(`${p}.input_layernorm.weight`, [h]),
        one(`${p}.post_attention_layernorm.weight`, [h]),
      );
    }
    out.push(one("model.norm.weight", [h]));
    if (cfg.tie_word_embeddings !== true) out.push(one("lm_head.weight", [v, h], "linear"));
    return out;
  },
  isUnused: declaredUnused([/^model\.layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$/]),
};
