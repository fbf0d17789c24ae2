/**
 * `phi-msft`: remote-code Phi checkpoints (phi-1.5/phi-2 before transformers support), with
 * `model_type` `phi-msft` (MLC names 1:1, embedding from `transformer.embd.wte.weight`) or
 * the older `mixformer-sequential` layout (`layers.0.wte`, `layers.{i+1}.*`,
 * `layers.{n_layer+1}.*` for the head).
 *
 * @module
 */
import { ConfigError, intField, REQUIRED, resolveHeadDim, resolveRopeBase } from "./config.ts";
import type { Architecture } from "./types.ts";
import { type PhiDims, phiParams } from "./phi.ts";
import { num } from "../pyjson.ts";

function msftSource(name: string): string[] {
  return [name === "transformer.embd.weight" ? "transformer.embd.wte.weight" : name];
}

function mixformerSource(layers: number): (name: string) => string[] {
  return (name) => {
    if (name === "transformer.embd.weight") return ["layers.0.wte.weight"];
    const m = /^transformer\.h\.(\d+)\.(.+)$/.exec(name);
    if (m) return [`layers.${Number(m[1]) + 1}.${m[2]}`];
    return [`layers.${layers + 1}.${name.slice("lm_head.".length)}`];
  };
}

/** The phi-msft architecture (PhiConfig). */
export const phiMsft: Architecture = {
  name: "phi-msft",
  hfModelTypes: ["phi-msft"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "PhiConfig",
    fields: [
      ["model_type", REQUIRED],
      ["vocab_size", 51200],
      ["n_positions", 2048],
      ["n_embd", 2560],
      ["n_layer", 32],
      ["n_inner", 0],
      ["n_head", 32],
      ["rotary_dim", 32],
      ["position_embedding_base", 0],
      ["layer_norm_epsilon", 1e-5],
      ["context_window_size", 0],
      ["prefill_chunk_size", 0],
      ["n_head_kv", 0],
      ["head_dim", 0],
      ["tensor_parallel_shards", 1],
    ],
    postInit(cfg, kwargs, log) {
      resolveRopeBase(cfg, kwargs);
      if (num(cfg.context_window_size) === 0) {
        let found = false;
        for (const k of ["max_position_embeddings", "max_sequence_length"]) {
          if (Object.hasOwn(kwargs, k)) {
            cfg.context_window_size = kwargs[k];
            delete kwargs[k];
            log(
              "info",
              `context_window_size not found in config.json. Falling back to ${k} (${
                num(cfg.context_window_size)
              })`,
            );
            found = true;
            break;
          }
        }
        if (!found) {
          cfg.context_window_size = cfg.n_positions;
          log(
            "info",
            `context_window_size not found in config.json. Falling back to n_positions (${
              num(cfg.n_positions)
            })`,
          );
        }
      }
      if (num(cfg.prefill_chunk_size) === 0) cfg.prefill_chunk_size = cfg.context_window_size;
      if (num(cfg.prefill_chunk_size)! > num(cfg.context_window_size)!) {
        cfg.prefill_chunk_size = cfg.context_window_size;
      }
      if (num(cfg.n_head_kv) === 0 || cfg.n_head_kv === null) cfg.n_head_kv = cfg.n_head;
      const h = intField(cfg, "n_embd");
      if (num(cfg.n_inner) === 0 || cfg.n_inner === null) cfg.n_inner = 4 * h;
      resolveHeadDim(cfg, "n_embd", "n_head");
      if (intField(cfg, "n_head") % intField(cfg, "n_head_kv") !== 0) {
        throw new ConfigError("n_head must be a multiple of n_head_kv");
      }
    },
  },
  params(cfg) {
    const dims: PhiDims = {
      h: intField(cfg, "n_embd"),
      inner: intField(cfg, "n_inner"),
      nq: intField(cfg, "n_head"),
      nkv: intField(cfg, "n_head_kv"),
      d: intField(cfg, "head_dim"),
      layers: intField(cfg, "n_layer"),
      vocab: intField(cfg, "vocab_size"),
    };
    if (cfg.model_type === "phi-msft") return phiParams(dims, msftSource);
    if (cfg.model_type === "mixformer-sequential") return phiParams(dims, mixformerSource(dims.layers));
    throw new ConfigError(
      `phi-msft weights can be mapped only for config.json model_type "phi-msft" or "mixformer-sequential", ` +
        `got ${
          JSON.stringify(cfg.model_type)
        } (MLC builds an empty mapping and fails with "Parameter not found in source")`,
    );
  },
  isUnused(name, cfg) {
    if (cfg.model_type !== "mixformer-sequential") return false;
    // add_unused(f"layers.{i + 1}.mixer.rotary_emb.inv_freq") for i in range(n_layer)
    const m = /^layers\.(\d+)\.mixer\.rotary_emb\.inv_freq$/.exec(name);
    return m !== null && Number(m[1]) >= 1 && Number(m[1]) <= intField(cfg, "n_layer");
  },
};
