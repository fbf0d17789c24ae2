/**
 * `llava`: LLaVA 1.5 checkpoints (LlavaForConditionalGeneration, e.g. llava-hf/llava-1.5-7b-hf).
 * MLC keeps the whole model (`llava_model.py`): the CLIP vision tower (`vision_tower.*`, 1:1, not
 * quantized), the two-layer projector (`multi_modal_projector.linear_{1,2}`, quantized) and a
 * Llama or Mistral language model under `language_model.` (standard loader with
 * `layer_prefix="language_model.model.layers"`: fused `qkv_proj` / `gate_up_proj`, rotary
 * `inv_freq` declared unused; `llava_loader.py` L19-L28). `language_model.lm_head` is not a
 * final-FC name, so `q4f16_2` quantizes it too.
 *
 * `LlavaConfig.__post_init__` (L53-L86) replaces a `text_config` that names its model
 * (`_name_or_path`, as llava-hf configs do) by that model's config: from transformers when it can
 * fetch it, else from MLC's presets (L88-L112). Offline, MLC takes the preset; so do we (the text
 * model's own config.json is never fetched here). Other names are refused, as MLC refuses them.
 *
 * @module
 */
import { ConfigError, type ConfigLog, intField, type ModelConfig, REQUIRED } from "./config.ts";
import { CLIP_VISION_CONFIG, clipVisionParams, flattenKwargs } from "./_clip.ts";
import { nestedFromDict } from "./config.ts";
import { linear } from "./_dense.ts";
import { textPreset } from "./_llava_presets.ts";
import { declaredUnused } from "./_standard.ts";
import type { Architecture } from "./types.ts";
import { llama } from "./llama.ts";
import { mistral } from "./mistral.ts";

/** `CONFIG_MAP` / `ARCHITECTURE_MAP` (L28-L32). */
const TEXT_ARCHITECTURES: Readonly<Record<string, Architecture>> = {
  LlamaForCausalLM: llama,
  MistralForCausalLM: mistral,
};

function textArchitecture(cfg: ModelConfig): Architecture {
  const arch = TEXT_ARCHITECTURES[cfg.text_architecture as string];
  if (!arch) {
    throw new ConfigError(
      `llava text architecture ${JSON.stringify(cfg.text_architecture)} is not supported ` +
        `(MLC knows ${Object.keys(TEXT_ARCHITECTURES).join(", ")})`,
    );
  }
  return arch;
}

/** `LlavaConfig.__post_init__` (L53-L86). */
function llavaPostInit(cfg: ModelConfig, _kwargs: Record<string, unknown>, log: ConfigLog): void {
  cfg.vision_config = nestedFromDict(
    CLIP_VISION_CONFIG,
    flattenKwargs(cfg.vision_config, "vision_config"),
    log,
  );
  let text: Record<string, unknown>;
  if (cfg.text_config !== null && typeof cfg.text_config === "object" && "_name_or_path" in cfg.text_config) {
    const name = String((cfg.text_config as Record<string, unknown>)._name_or_path);
    const preset = textPreset(name);
    if (!preset) {
      throw new ConfigError(
        `Unsupported text model ${JSON.stringify(name)}: MLC reads the config of text_config._name_or_path ` +
          "with transformers, which needs the network; offline it knows meta-llama/Llama-2-7b-hf, " +
          "meta-llama/Llama-2-13b-hf, lmsys/vicuna-7b-v1.5 and mistralai/Mistral-7B-v0.1",
      );
    }
    text = { ...(cfg.text_config as Record<string, unknown>), ...preset };
    const archs = text.architectures;
    if (!Array.isArray(archs) || archs.length !== 1) {
      throw new ConfigError("text_config.architectures must list exactly one architecture");
    }
    cfg.text_architecture = archs[0];
  } else {
    text = flattenKwargs(cfg.text_config, "text_config");
  }
  const cls = textArchitecture(cfg).configClass;
  cfg.text_config = nestedFromDict(cls, text, log);
  for (const k of ["context_window_size", "sliding_window_size", "prefill_chunk_size"]) {
    if (intField(cfg, k) <= 0 && cls.fields.some(([n]) => n === k)) {
      cfg[k] = (cfg.text_config as ModelConfig)[k];
    }
  }
}

/** The llava architecture. */
export const llava: Architecture = {
  name: "llava",
  hfModelTypes: ["llava"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    className: "LlavaConfig",
    fields: [
      ["image_token_index", REQUIRED],
      ["text_config", REQUIRED],
      ["vision_config", REQUIRED],
      ["vocab_size", REQUIRED],
      ["context_window_size", -1],
      ["sliding_window_size", -1],
      ["prefill_chunk_size", -1],
      ["tensor_parallel_shards", 1],
      ["max_batch_size", 1],
      ["text_architecture", "LlamaForCausalLM"],
    ],
    postInit: llavaPostInit,
  },
  /** Module order (L134-L143): vision tower, projector, language model. */
  params(cfg) {
    const text = cfg.text_config as ModelConfig;
    const vision = cfg.vision_config as ModelConfig;
    const th = intField(text, "hidden_size");
    const lm = textArchitecture(cfg).params(text).map((p) => ({
      ...p,
      name: `language_model.${p.name}`,
      sources: p.sources.map((s) => `language_model.${s}`),
    }));
    return [
      ...clipVisionParams(vision, "vision_tower.", "vision_tower."),
      ...linear("multi_modal_projector.linear_1", th, intField(vision, "hidden_size"), true),
      ...linear("multi_modal_projector.linear_2", th, th, true),
      ...lm,
    ];
  },
  isUnused: declaredUnused(
    [/^language_model\.model\.layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$/],
    (cfg) => intField(cfg.text_config as ModelConfig, "num_hidden_layers"),
  ),
};
