/**
 * `llama4`: Llama 4 text weights (Llama4ForConditionalGeneration checkpoints: Llama-4-Scout;
 * HF names are MLC's prefixed with `language_model.`, the vision tower is left unused). MLC
 * `Llama4Config` with a nested `Llama4TextConfig`; every layer is a MoE block: the experts'
 * fused `gate_up_proj (E, H, 2I)` and `down_proj (E, I, H)` are raw parameters copied 1:1 and
 * never quantized, the router `router.router` is an ordinary Linear (its name does not end with
 * `gate`, so group quantization quantizes it), and a shared expert with fused `gate_up_proj`
 * (`python/mlc_llm/model/llama4/llama4_model.py`, `llama4_loader.py`).
 *
 * MLC HEAD cannot convert configs with dense (non-MoE) layers, as Llama-4-Maverick interleaves:
 * its loader maps the shared expert, router and experts of every layer
 * (`llama4_loader.py` L44-L107) and fails with a `KeyError` on the first dense one, whose model
 * MLP would moreover be `intermediate_size` wide where the checkpoint's is
 * `intermediate_size_mlp`. Such configs are refused here before any tensor is read.
 *
 * @module
 */
import {
  type ConfigClass,
  ConfigError,
  intField,
  type ModelConfig,
  nestedFromDict,
  REQUIRED,
} from "./config.ts";
import type { Architecture, ArchParam, Dim } from "./types.ts";
import { num } from "../pyjson.ts";

/** `Llama4TextConfig` (llama4_model.py L26-L93; its `kwargs` are emitted with it). */
const TEXT_CONFIG: ConfigClass = {
  className: "Llama4TextConfig",
  fields: [
    ["hidden_size", REQUIRED],
    ["intermediate_size", REQUIRED],
    ["num_attention_heads", REQUIRED],
    ["num_hidden_layers", REQUIRED],
    ["rms_norm_eps", REQUIRED],
    ["rope_theta", REQUIRED],
    ["use_qk_norm", REQUIRED],
    ["interleave_moe_layer_step", REQUIRED],
    ["num_experts_per_tok", REQUIRED],
    ["num_local_experts", REQUIRED],
    ["hidden_act", REQUIRED],
    ["tie_word_embeddings", false],
    ["position_embedding_base", 0],
    ["rope_scaling", null],
    ["num_key_value_heads", 0],
    ["head_dim", 0],
    ["attn_scale", 0.1],
    ["floor_scale", 8192],
    ["vocab_size", 202048],
    ["attention_bias", false],
    ["attn_temperature_tuning", true],
    ["no_rope_layers", null],
    ["no_rope_layer_interval", 4],
    ["moe_layers", null],
  ],
  postInit(cfg, kwargs) {
    // L58-L62: `rope_theta` is a field, so it is never in kwargs: the base stays 10000
    if (num(cfg.position_embedding_base) === 0) {
      if (Object.hasOwn(kwargs, "rope_theta")) {
        cfg.position_embedding_base = kwargs.rope_theta;
        delete kwargs.rope_theta;
      } else cfg.position_embedding_base = 10000;
    }
    const rs = cfg.rope_scaling;
    if (rs !== null && rs !== undefined) {
      if (typeof rs !== "object" || Array.isArray(rs)) {
        throw new ConfigError("rope_scaling must be an object");
      }
      if (!("rope_type" in rs)) cfg.rope_scaling = null;
      else if ((rs as Record<string, unknown>).rope_type !== "llama3") {
        throw new ConfigError(
          `Unsupported RoPE scaling type ${String((rs as Record<string, unknown>).rope_type)} for Llama`,
        );
      }
    }
    const layers = intField(cfg, "num_hidden_layers");
    // L72-L80: an empty or missing list becomes [int((i + 1) % interval != 0) for i in layers]
    const nr = cfg.no_rope_layers;
    if (!Array.isArray(nr) || nr.length === 0) {
      const every = intField(cfg, "no_rope_layer_interval");
      if (every === 0) throw new ConfigError("no_rope_layer_interval must not be 0");
      cfg.no_rope_layers = Array.from({ length: layers }, (_, i) => Number((i + 1) % every !== 0));
    }
    // L83-L93: moe_layers defaults to range(step - 1, L, step)
    if (cfg.moe_layers === null || cfg.moe_layers === undefined) {
      const step = intField(cfg, "interleave_moe_layer_step");
      if (step <= 0) throw new ConfigError(`interleave_moe_layer_step must be positive, got ${step}`);
      const moe: number[] = [];
      for (let i = step - 1; i < layers; i += step) moe.push(i);
      cfg.moe_layers = moe;
    } else if (!Array.isArray(cfg.moe_layers)) throw new ConfigError("moe_layers must be a list");
  },
};

/** `Llama4Config` (llama4_model.py L96-L156). */
const LLAMA4_CONFIG: ConfigClass = {
  className: "Llama4Config",
  fields: [
    ["text_config", REQUIRED],
    ["tensor_parallel_shards", 1],
    ["context_window_size", 0],
    ["pipeline_parallel_stages", 1],
    ["prefill_chunk_size", 0],
    ["max_batch_size", 1],
    ["disaggregation", false],
    ["vocab_size", 202048],
  ],
  postInit(cfg, _kwargs, log) {
    const tc = cfg.text_config;
    if (tc === null || typeof tc !== "object" || Array.isArray(tc)) {
      throw new ConfigError("Llama4Config: text_config must be an object");
    }
    // L113-L122: the nested kwargs (present on the second pass) are merged back first
    const textDict: Record<string, unknown> = { ...(tc as Record<string, unknown>) };
    const inner = textDict.kwargs as Record<string, unknown> | undefined;
    delete textDict.kwargs;
    if (inner && typeof inner === "object") Object.assign(textDict, inner);
    const text = nestedFromDict(TEXT_CONFIG, textDict, log);
    cfg.text_config = text;
    if (num(cfg.context_window_size) === 0) {
      // L124-L133: the class constant max_position_embeddings = 4096 * 32, not config.json's
      cfg.context_window_size = 131072;
      log(
        "info",
        "context_window_size not found in config.json. Falling back to max_position_embeddings (131072)",
      );
    }
    const nq = intField(text, "num_attention_heads");
    if (num(text.num_key_value_heads) === 0) text.num_key_value_heads = text.num_attention_heads;
    if (num(text.head_dim) === 0) text.head_dim = Math.floor(intField(text, "hidden_size") / nq);
    if (nq % intField(text, "num_key_value_heads") !== 0) {
      throw new ConfigError("num_attention_heads must be a multiple of num_key_value_heads");
    }
    const ctx = intField(cfg, "context_window_size");
    const prefill = intField(cfg, "prefill_chunk_size");
    if (prefill === 0) {
      cfg.prefill_chunk_size = Math.min(ctx, 8192);
      log("info", `prefill_chunk_size defaults to ${cfg.prefill_chunk_size}`);
    } else if (prefill > ctx) {
      log("info", `Overriding prefill_chunk_size from ${prefill} to ${Math.min(ctx, 8192)}`);
      cfg.prefill_chunk_size = Math.min(ctx, 8192);
    }
  },
};

const HF = "language_model.";

/** The MLC parameters of `Llama4ForCausalLM` in module order, with their HF sources. */
function llama4Params(cfg: ModelConfig): ArchParam[] {
  const text = cfg.text_config as ModelConfig;
  const h = intField(text, "hidden_size");
  const i = intField(text, "intermediate_size");
  const nq = intField(text, "num_attention_heads");
  const nkv = intField(text, "num_key_value_heads");
  const d = intField(text, "head_dim");
  const e = intField(text, "num_local_experts");
  const layers = intField(text, "num_hidden_layers");
  if (h % nq !== 0) throw new ConfigError("hidden_size must be a multiple of num_attention_heads");
  if (!Number.isInteger(e) || e < 1) throw new ConfigError(`num_local_experts must be positive, got ${e}`);
  const moe = new Set((text.moe_layers as unknown[]).map((x) => num(x)));
  const dense = Array.from({ length: layers }, (_, l) => l).filter((l) => !moe.has(l));
  if (dense.length > 0) {
    throw new ConfigError(
      `llama4: layer(s) ${dense.join(", ")} are dense (moe_layers / interleave_moe_layer_step ` +
        `${String(text.interleave_moe_layer_step)}), as in Llama-4-Maverick. MLC's llama4 loader maps MoE ` +
        `weights for every layer and fails with KeyError: 'model.layers.${
          dense[0]
        }.feed_forward.shared_expert.` +
        "gate_up_proj.weight' (llama4_loader.py L44-L48); only all-MoE configs (Llama-4-Scout) convert",
    );
  }
  const p = (name: string, shape: Dim[], extra: Partial<ArchParam> = {}): ArchParam => ({
    name,
    shape,
    sources: [HF + name],
    ...extra,
  });
  const out: ArchParam[] = [p("model.embed_tokens.weight", ["vocab_size", h], { quant: "embedding" })];
  for (let l = 0; l < layers; l++) {
    const a = `model.layers.${l}.self_attn`;
    const f = `model.layers.${l}.feed_forward`;
    const s = `${f}.shared_expert`;
    out.push(
      // llama4_model.py L226-L245: separate q/k/v/o (the q/k L2 norms have no weight)
      p(`${a}.q_proj.weight`, [nq * d, h], { quant: "linear" }),
      p(`${a}.k_proj.weight`, [nkv * d, h], { quant: "linear" }),
      p(`${a}.v_proj.weight`, [nkv * d, h], { quant: "linear" }),
      p(`${a}.o_proj.weight`, [h, nq * d], { quant: "linear" }),
      // L345-L348 raw Parameters (not quantized), loader L77-L107 1:1
      p(`${f}.experts.gate_up_proj`, [e, h, 2 * i]),
      p(`${f}.experts.down_proj`, [e, i, h]),
      // L365-L369 Linear(H, E); loader L61-L75 from `feed_forward.router.weight`
      p(`${f}.router.router.weight`, [e, h], { quant: "linear", sources: [`${HF}${f}.router.weight`] }),
      // L170-L177 shared expert; loader L45-L59 gate|up concatenated
      p(`${s}.gate_up_proj.weight`, [2 * i, h], {
        quant: "linear",
        sources: [`${HF}${s}.gate_proj.weight`, `${HF}${s}.up_proj.weight`],
      }),
      p(`${s}.down_proj.weight`, [h, i], { quant: "linear" }),
      p(`model.layers.${l}.input_layernorm.weight`, [h]),
      p(`model.layers.${l}.post_attention_layernorm.weight`, [h]),
    );
  }
  out.push(p("model.norm.weight", [h]));
  // L547-L549: the head follows text_config.tie_word_embeddings (the top-level key is a kwarg)
  if (!text.tie_word_embeddings) out.push(p("lm_head.weight", ["vocab_size", h], { quant: "linear" }));
  return out;
}

/** The llama4 architecture. */
export const llama4: Architecture = {
  name: "llama4",
  hfModelTypes: ["llama4"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: LLAMA4_CONFIG,
  params: llama4Params,
};
