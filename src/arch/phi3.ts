/**
 * `phi3`: Phi3ForCausalLM checkpoints (Phi-3/3.5-mini/medium, Phi-4, Phi-4-mini). HF already
 * stores fused `qkv_proj` and `gate_up_proj`: every mapping is a 1:1 rename.
 *
 * @module
 */
import {
  ConfigError,
  intField,
  REQUIRED,
  resolveHeadDim,
  resolveKvHeads,
  resolvePrefill,
  resolveRopeBase,
} from "./config.ts";
import type { Architecture, ArchParam } from "./types.ts";
import { num } from "../pyjson.ts";

/** The phi3 architecture. */
export const phi3: Architecture = {
  name: "phi3",
  hfModelTypes: ["phi3"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "Phi3Config",
    fields: [
      ["model_type", REQUIRED],
      ["hidden_size", REQUIRED],
      ["vocab_size", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["num_attention_heads", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["rms_norm_eps", REQUIRED],
      ["num_key_value_heads", REQUIRED],
      ["max_position_embeddings", REQUIRED],
      ["position_embedding_base", 0],
      ["rope_scaling", null],
      ["original_max_position_embeddings", 0],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["head_dim", 0],
      ["tensor_parallel_shards", 1],
      ["max_batch_size", 1],
      ["tie_word_embeddings", false],
      ["partial_rotary_factor", 1.0],
    ],
    postInit(cfg, kwargs, log) {
      resolveRopeBase(cfg, kwargs);
      // copied: Python mutates the parsed config.json dict, we leave the caller's object alone
      const rs = cfg.rope_scaling !== null && typeof cfg.rope_scaling === "object"
        ? { ...(cfg.rope_scaling as Record<string, unknown>) }
        : null;
      if (rs !== null) {
        cfg.rope_scaling = rs;
        if (!Object.hasOwn(rs, "type")) cfg.rope_scaling = null;
        else {
          if (rs.type === "su") rs.type = "longrope";
          if (rs.type !== "longrope") {
            throw new ConfigError(
              `Unsupported RoPE scaling type ${String(rs.rope_type ?? rs.type)} for Phi3`,
            );
          }
          rs.rope_type = rs.type;
          rs.max_position_embeddings = cfg.max_position_embeddings;
          rs.original_max_position_embeddings = cfg.original_max_position_embeddings;
        }
      }
      if (num(cfg.context_window_size) === 0) cfg.context_window_size = cfg.max_position_embeddings;
      resolvePrefill(cfg, log);
      resolveHeadDim(cfg);
      resolveKvHeads(cfg);
    },
  },
  params(cfg) {
    const h = intField(cfg, "hidden_size");
    const i = intField(cfg, "intermediate_size");
    const nq = intField(cfg, "num_attention_heads");
    const nkv = intField(cfg, "num_key_value_heads");
    const d = intField(cfg, "head_dim");
    const layers = intField(cfg, "num_hidden_layers");
    const v = intField(cfg, "vocab_size");
    const p = (
      name: string,
      shape: ArchParam["shape"],
      source: string,
      quant?: "linear" | "embedding",
    ): ArchParam => ({
      name,
      shape,
      sources: [source],
      ...(quant ? { quant } : {}),
    });
    const out: ArchParam[] = [p("transformer.embd.weight", [v, h], "model.embed_tokens.weight", "embedding")];
    for (let l = 0; l < layers; l++) {
      const b = `transformer.h.${l}`;
      const hf = `model.layers.${l}`;
      out.push(
        p(`${b}.ln.weight`, [h], `${hf}.input_layernorm.weight`),
        p(`${b}.mixer.qkv_proj.weight`, [(nq + 2 * nkv) * d, h], `${hf}.self_attn.qkv_proj.weight`, "linear"),
        p(`${b}.mixer.out_proj.weight`, [h, nq * d], `${hf}.self_attn.o_proj.weight`, "linear"),
        p(`${b}.mlp.gate_up_proj.weight`, [2 * i, h], `${hf}.mlp.gate_up_proj.weight`, "linear"),
        p(`${b}.mlp.down_proj.weight`, [h, i], `${hf}.mlp.down_proj.weight`, "linear"),
        p(`${b}.post_attention_layernorm.weight`, [h], `${hf}.post_attention_layernorm.weight`),
      );
    }
    out.push(p("transformer.norm.weight", [h], "model.norm.weight"));
    if (!cfg.tie_word_embeddings) {
      out.push(p("lm_head.weight", ["vocab_size", h], "lm_head.weight", "linear"));
    }
    return out;
  },
};
