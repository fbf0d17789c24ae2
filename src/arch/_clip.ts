/**
 * What the vision-language types share: MLC's `CLIPVisionConfig` and the parameters of its
 * `CLIPVisionModel` (`python/mlc_llm/model/vision/clip_vision.py`), which has
 * `no_quantization = True` (L223-L224), so the tower is kept, unquantized, in the model dtype;
 * and the nested-dataclass rules of `ConfigBase` (`asdict` keeps a nested config's `kwargs`,
 * `__post_init__`s merge them back before `from_dict`).
 *
 * @module
 */
import { type ConfigClass, ConfigError, intField, type ModelConfig, REQUIRED } from "./config.ts";
import { layerNorm, linear, same } from "./_dense.ts";
import type { ArchParam } from "./types.ts";

/** `CLIPVisionConfig` (no `__post_init__`). */
export const CLIP_VISION_CONFIG: ConfigClass = {
  className: "CLIPVisionConfig",
  fields: [
    ["hidden_size", REQUIRED],
    ["image_size", REQUIRED],
    ["intermediate_size", REQUIRED],
    ["num_attention_heads", REQUIRED],
    ["num_hidden_layers", REQUIRED],
    ["patch_size", REQUIRED],
    ["projection_dim", REQUIRED],
    ["vocab_size", REQUIRED],
    ["num_channels", 3],
    ["layer_norm_eps", 1e-06],
  ],
  postInit() {},
};

/**
 * `dict(x)` of a nested config value (a config.json object, or the `asdict` of a parsed one) with
 * its `kwargs` merged back into the top level, as the multimodal `__post_init__`s do.
 *
 * @example
 * ```ts
 * import { flattenKwargs } from "./_clip.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(flattenKwargs({ a: 1, kwargs: { b: 2 } }, "text_config"), { a: 1, b: 2 });
 * ```
 */
export function flattenKwargs(value: unknown, name: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(`${name} must be an object, got ${JSON.stringify(value)}`);
  }
  const d: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const kw = d.kwargs as Record<string, unknown> | undefined;
  delete d.kwargs;
  for (const [k, v] of Object.entries(kw ?? {})) d[k] = v;
  return d;
}

/**
 * The parameters of MLC's `CLIPVisionModel` (module order of `clip_vision.py` L48-L231: class and
 * patch embeddings, position table, `pre_layrnorm`, per layer k/v/q/out projections with biases,
 * `layer_norm1`, `fc1`/`fc2`, `layer_norm2`, then `post_layernorm`) under `mlcPrefix`, mapped 1:1
 * from `hfPrefix` + the same suffix. Nothing is quantizable (`no_quantization`).
 *
 * @example
 * ```ts
 * import { clipVisionParams } from "./_clip.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const ps = clipVisionParams({ hidden_size: 8, image_size: 4, intermediate_size: 16,
 *   num_attention_heads: 2, num_hidden_layers: 1, patch_size: 2, num_channels: 3 }, "v.", "m.v.");
 * deepStrictEqual(ps[1].shape, [8, 3, 2, 2]);
 * ```
 */
export function clipVisionParams(vision: ModelConfig, mlcPrefix: string, hfPrefix: string): ArchParam[] {
  const h = intField(vision, "hidden_size");
  const i = intField(vision, "intermediate_size");
  const heads = intField(vision, "num_attention_heads");
  const patch = intField(vision, "patch_size");
  if (Math.floor(h / heads) * heads !== h) {
    throw new ConfigError(
      `embed_dim must be divisible by num_heads (got \`embed_dim\`: ${h} and \`num_heads\`: ${heads}).`,
    );
  }
  const image = intField(vision, "image_size");
  if (!(patch >= 1 && image >= patch && image <= 65_536)) {
    throw new ConfigError(
      `vision_config: image_size ${image} and patch_size ${patch} must satisfy 1 <= patch_size <= image_size <= 65536`,
    );
  }
  const v = "vision_model";
  const positions = Math.floor(image / patch) ** 2 + 1;
  const out: ArchParam[] = [
    same(`${v}.embeddings.class_embedding`, [h]),
    same(`${v}.embeddings.patch_embedding.weight`, [h, intField(vision, "num_channels"), patch, patch]),
    same(`${v}.embeddings.position_embedding.weight`, [positions, h]),
    ...layerNorm(`${v}.pre_layrnorm`, h),
  ];
  for (let l = 0; l < intField(vision, "num_hidden_layers"); l++) {
    const p = `${v}.encoder.layers.${l}`;
    out.push(
      ...["k_proj", "v_proj", "q_proj", "out_proj"].flatMap((x) => linear(`${p}.self_attn.${x}`, h, h, true)),
      ...layerNorm(`${p}.layer_norm1`, h),
      ...linear(`${p}.mlp.fc1`, i, h, true),
      ...linear(`${p}.mlp.fc2`, h, i, true),
      ...layerNorm(`${p}.layer_norm2`, h),
    );
  }
  out.push(...layerNorm(`${v}.post_layernorm`, h));
  return out.map(({ quant: _q, ...p }) => ({
    ...p,
    name: mlcPrefix + p.name,
    sources: p.sources.map((s) => hfPrefix + s),
  }));
}
