/**
 * `phi3_v`: Phi-3 / Phi-3.5 vision checkpoints (Phi3VForCausalLM, e.g.
 * microsoft/Phi-3.5-vision-instruct). MLC keeps the whole model (`phi3v_model.py`): the Phi-3
 * decoder under `model.` (`model.embd`, `model.h.{i}.{ln,mixer.qkv_proj,mixer.out_proj,...}`,
 * already fused in HF, renamed 1:1), `lm_head`, and the image embedding
 * `vision_embed_tokens.*`: a CLIP tower (`img_processor`, not quantized), the `glb_GN` / `sub_GN`
 * separators and the projector `img_projection.linear_{1,2}` from HF's `img_projection.{0,2}`
 * (`phi3v_loader.py` L55-L117). The CLIP tower's config is always MLC's built-in
 * CLIP-ViT-L/14-336 (`CLIPVISION_DEFAULT_CONFIG`, L25-L35, L64-L73): config.json has none.
 *
 * @module
 */
import { type ConfigClass, ConfigError, intField, type ModelConfig, REQUIRED } from "./config.ts";
import { CLIP_VISION_CONFIG, clipVisionParams } from "./_clip.ts";
import { nestedFromDict } from "./config.ts";
import { from, linear, same } from "./_dense.ts";
import type { Architecture, ArchParam } from "./types.ts";
import { PyFloat } from "../pyjson.ts";
import { phi3 } from "./phi3.ts";

/** `CLIPVISION_DEFAULT_CONFIG` (phi3v_model.py L25-L35). */
const clipDefault = (): Record<string, unknown> => ({
  hidden_size: 1024,
  image_size: 336,
  intermediate_size: 4096,
  num_attention_heads: 16,
  num_hidden_layers: 24,
  patch_size: 14,
  projection_dim: 768,
  layer_norm_eps: new PyFloat(1e-05),
  vocab_size: null,
});

const PHI3V_CONFIG: ConfigClass = {
  className: "Phi3VConfig",
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
    ["vision_config", null],
    ["img_processor", null],
    ["position_embedding_base", 0],
    ["rope_scaling", null],
    ["original_max_position_embeddings", 0],
    ["context_window_size", 0],
    ["prefill_chunk_size", 0],
    ["head_dim", 0],
    ["tensor_parallel_shards", 1],
    ["max_batch_size", 1],
  ],
  /**
   * L63-L123: the vision config from the built-in default (a dict `vision_config`, as config.json
   * or a re-parse gives, is not a `CLIPVisionConfig` and is ignored), then Phi-3's rules.
   */
  postInit(cfg, kwargs, log) {
    cfg.vision_config = nestedFromDict(CLIP_VISION_CONFIG, clipDefault(), log);
    phi3.configClass.postInit(cfg, kwargs, log);
  },
};

/** The phi3_v architecture. */
export const phi3V: Architecture = {
  name: "phi3_v",
  hfModelTypes: ["phi3_v"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: PHI3V_CONFIG,
  /** Module order: `model` (embd, h, norm), `lm_head`, `vision_embed_tokens`. */
  params(cfg) {
    const h = intField(cfg, "hidden_size");
    const i = intField(cfg, "intermediate_size");
    const nq = intField(cfg, "num_attention_heads");
    const nkv = intField(cfg, "num_key_value_heads");
    const d = intField(cfg, "head_dim");
    const vision = cfg.vision_config as ModelConfig;
    const ip = cfg.img_processor;
    if (ip === null || typeof ip !== "object" || Array.isArray(ip) || !Object.hasOwn(ip, "image_dim_out")) {
      // phi3v_image.py L59 reads config.img_processor["image_dim_out"]
      throw new ConfigError(
        `phi3_v needs img_processor.image_dim_out in config.json, got img_processor ${JSON.stringify(ip)}`,
      );
    }
    const dimOut = intField(ip as ModelConfig, "image_dim_out");
    if (!(dimOut >= 1 && dimOut <= 131_072)) {
      throw new ConfigError(
        `img_processor.image_dim_out must be a positive integer (at most 131,072), got ${dimOut}`,
      );
    }
    const out: ArchParam[] = [
      from("model.embd.weight", [intField(cfg, "vocab_size"), h], ["model.embed_tokens.weight"], {
        quant: "embedding",
      }),
    ];
    for (let l = 0; l < intField(cfg, "num_hidden_layers"); l++) {
      const b = `model.h.${l}`;
      const hf = `model.layers.${l}`;
      const lin = (name: string, shape: number[], src: string) =>
        from(name, shape, [src], { quant: "linear" });
      out.push(
        from(`${b}.ln.weight`, [h], [`${hf}.input_layernorm.weight`]),
        lin(`${b}.mixer.qkv_proj.weight`, [(nq + 2 * nkv) * d, h], `${hf}.self_attn.qkv_proj.weight`),
        lin(`${b}.mixer.out_proj.weight`, [h, nq * d], `${hf}.self_attn.o_proj.weight`),
        lin(`${b}.mlp.gate_up_proj.weight`, [2 * i, h], `${hf}.mlp.gate_up_proj.weight`),
        lin(`${b}.mlp.down_proj.weight`, [h, i], `${hf}.mlp.down_proj.weight`),
        from(`${b}.post_attention_layernorm.weight`, [h], [`${hf}.post_attention_layernorm.weight`]),
      );
    }
    const e = "vision_embed_tokens";
    const projection = (k: number, j: number, inp: number) =>
      linear(`${e}.img_projection.linear_${k}`, h, inp, true).map((p) => ({
        ...p,
        sources: [`model.${e}.img_projection.${j}.${p.name.endsWith("bias") ? "bias" : "weight"}`],
      }));
    out.push(
      same("model.norm.weight", [h]),
      same("lm_head.weight", ["vocab_size", h], { quant: "linear" }),
      ...clipVisionParams(vision, `${e}.img_processor.`, `model.${e}.img_processor.`),
      from(`${e}.glb_GN`, [1, 1, 4 * dimOut], [`model.${e}.glb_GN`]),
      from(`${e}.sub_GN`, [1, 1, 1, 4 * dimOut], [`model.${e}.sub_GN`]),
      ...projection(1, 0, 4 * intField(vision, "hidden_size")),
      ...projection(2, 2, h),
    );
    return out;
  },
  /** L130: the HF embedding is also declared unused (it is used, for `model.embd`). */
  isUnused: (name) => name === "model.embed_tokens.weight",
};
