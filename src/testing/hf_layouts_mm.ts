/**
 * HF checkpoint layouts of the multimodal, embedding and speculative-decoding model types
 * (bert, qwen3-embedding, eagle, medusa, llava, phi3_v, ministral3, qwen3_5), in `state_dict`
 * order. Written from the HF modeling code (transformers BertModel, Qwen3Model,
 * LlavaForConditionalGeneration with CLIPVisionModel, Mistral3ForConditionalGeneration,
 * Qwen3_5ForConditionalGeneration; the model repositories' code for Phi-3-vision, EAGLE and
 * Medusa), not from our architecture files, so tests comparing the two are meaningful. Vision
 * towers are listed where the checkpoint has them, including those MLC ignores.
 *
 * @module
 */
import type { GenTensor } from "./checkpoint_gen.ts";

type Cfg = Record<string, unknown>;

const n = (cfg: Cfg, k: string, def?: number): number => {
  const v = cfg[k];
  if (v === null || v === undefined) {
    if (def === undefined) throw new Error(`config.json has no ${k}`);
    return def;
  }
  return Number(v);
};
const t = (name: string, ...shape: number[]): GenTensor => ({ name, shape });
const lin = (p: string, out: number, inp: number, bias: boolean): GenTensor[] =>
  bias ? [t(`${p}.weight`, out, inp), t(`${p}.bias`, out)] : [t(`${p}.weight`, out, inp)];
const ln = (p: string, h: number): GenTensor[] => [t(`${p}.weight`, h), t(`${p}.bias`, h)];
const range = (k: number): number[] => Array.from({ length: k }, (_, i) => i);

/** A Llama decoder under `prefix` (`<prefix>embed_tokens`, `<prefix>layers.{i}`, `<prefix>norm`). */
function llamaBody(
  cfg: Cfg,
  prefix: string,
  opts: { firstNorm?: boolean; norm?: boolean } = {},
): GenTensor[] {
  const h = n(cfg, "hidden_size");
  const nq = n(cfg, "num_attention_heads");
  const nkv = n(cfg, "num_key_value_heads", nq);
  const d = n(cfg, "head_dim", Math.floor(h / nq));
  const i = n(cfg, "intermediate_size");
  const out: GenTensor[] = [t(`${prefix}embed_tokens.weight`, n(cfg, "vocab_size"), h)];
  for (const l of range(n(cfg, "num_hidden_layers"))) {
    const p = `${prefix}layers.${l}`;
    out.push(
      ...lin(`${p}.self_attn.q_proj`, nq * d, h, false),
      ...lin(`${p}.self_attn.k_proj`, nkv * d, h, false),
      ...lin(`${p}.self_attn.v_proj`, nkv * d, h, false),
      ...lin(`${p}.self_attn.o_proj`, h, nq * d, false),
      t(`${p}.mlp.gate_proj.weight`, i, h),
      t(`${p}.mlp.up_proj.weight`, i, h),
      t(`${p}.mlp.down_proj.weight`, h, i),
    );
    if (l !== 0 || (opts.firstNorm ?? true)) out.push(t(`${p}.input_layernorm.weight`, h));
    out.push(t(`${p}.post_attention_layernorm.weight`, h));
  }
  if (opts.norm ?? true) out.push(t(`${prefix}norm.weight`, h));
  return out;
}

/** transformers CLIPVisionModel (`vision_model.*`) under `prefix`. */
export function clipVision(cfg: Cfg, prefix: string): GenTensor[] {
  const h = n(cfg, "hidden_size");
  const i = n(cfg, "intermediate_size");
  const patch = n(cfg, "patch_size");
  const positions = (n(cfg, "image_size") / patch) ** 2 + 1;
  const v = `${prefix}vision_model`;
  const out: GenTensor[] = [
    t(`${v}.embeddings.class_embedding`, h),
    t(`${v}.embeddings.patch_embedding.weight`, h, n(cfg, "num_channels", 3), patch, patch),
    t(`${v}.embeddings.position_embedding.weight`, positions, h),
    ...ln(`${v}.pre_layrnorm`, h),
  ];
  for (const l of range(n(cfg, "num_hidden_layers"))) {
    const p = `${v}.encoder.layers.${l}`;
    out.push(
      ...lin(`${p}.self_attn.k_proj`, h, h, true),
      ...lin(`${p}.self_attn.v_proj`, h, h, true),
      ...lin(`${p}.self_attn.q_proj`, h, h, true),
      ...lin(`${p}.self_attn.out_proj`, h, h, true),
      ...ln(`${p}.layer_norm1`, h),
      ...lin(`${p}.mlp.fc1`, i, h, true),
      ...lin(`${p}.mlp.fc2`, h, i, true),
      ...ln(`${p}.layer_norm2`, h),
    );
  }
  out.push(...ln(`${v}.post_layernorm`, h));
  return out;
}

/** The text weights of a Qwen3.5 checkpoint (config.json's `text_config`, or the config itself). */
function qwen35Text(top: Cfg): GenTensor[] {
  const cfg = (top.text_config ?? top) as Cfg;
  const h = n(cfg, "hidden_size");
  const nq = n(cfg, "num_attention_heads");
  const nkv = n(cfg, "num_key_value_heads");
  const d = n(cfg, "head_dim");
  const i = n(cfg, "intermediate_size");
  const nk = n(cfg, "linear_num_key_heads");
  const nv = n(cfg, "linear_num_value_heads");
  const dk = n(cfg, "linear_key_head_dim");
  const dv = n(cfg, "linear_value_head_dim");
  const every = n(cfg, "full_attention_interval", 4);
  const types = (cfg.layer_types as string[] | undefined) ??
    range(n(cfg, "num_hidden_layers")).map((l) => (l + 1) % every ? "linear_attention" : "full_attention");
  const bias = cfg.attention_bias === true;
  const m = "model.language_model";
  const out: GenTensor[] = [t(`${m}.embed_tokens.weight`, n(cfg, "vocab_size"), h)];
  types.forEach((type, l) => {
    const p = `${m}.layers.${l}`;
    if (type === "full_attention") {
      const a = `${p}.self_attn`;
      out.push(
        ...lin(`${a}.q_proj`, 2 * nq * d, h, bias),
        ...lin(`${a}.k_proj`, nkv * d, h, bias),
        ...lin(`${a}.v_proj`, nkv * d, h, bias),
        ...lin(`${a}.o_proj`, h, nq * d, bias),
        t(`${a}.q_norm.weight`, d),
        t(`${a}.k_norm.weight`, d),
      );
    } else {
      const a = `${p}.linear_attn`;
      const conv = 2 * nk * dk + nv * dv;
      out.push(
        t(`${a}.conv1d.weight`, conv, 1, n(cfg, "linear_conv_kernel_dim")),
        t(`${a}.dt_bias`, nv),
        t(`${a}.A_log`, nv),
        t(`${a}.norm.weight`, dv),
        t(`${a}.out_proj.weight`, h, nv * dv),
        t(`${a}.in_proj_qkv.weight`, conv, h),
        t(`${a}.in_proj_z.weight`, nv * dv, h),
        t(`${a}.in_proj_b.weight`, nv, h),
        t(`${a}.in_proj_a.weight`, nv, h),
      );
    }
    out.push(
      t(`${p}.mlp.gate_proj.weight`, i, h),
      t(`${p}.mlp.up_proj.weight`, i, h),
      t(`${p}.mlp.down_proj.weight`, h, i),
      t(`${p}.input_layernorm.weight`, h),
      t(`${p}.post_attention_layernorm.weight`, h),
    );
  });
  out.push(t(`${m}.norm.weight`, h));
  if (!(top.tie_word_embeddings ?? cfg.tie_word_embeddings)) {
    out.push(t("lm_head.weight", n(cfg, "vocab_size"), h));
  }
  return out;
}
/** transformers LlamaConfig defaults (the sizes of Llama-2-7B). */
const LLAMA_DEFAULTS: Cfg = {
  hidden_size: 4096,
  intermediate_size: 11008,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  vocab_size: 32000,
};

/** openai/clip-vit-large-patch14-336's vision config (Phi-3-vision's `img_processor`). */
const CLIP_L14_336: Cfg = {
  hidden_size: 1024,
  image_size: 336,
  intermediate_size: 4096,
  num_attention_heads: 16,
  num_hidden_layers: 24,
  patch_size: 14,
};

/** HF layouts by MLC registry key. */
export const MM_HF_LAYOUTS: Readonly<Record<string, (cfg: Cfg) => GenTensor[]>> = {
  // transformers BertModel (with its pooler; `embeddings.position_ids` is a non-persistent buffer
  // since transformers 4.31, so checkpoints saved since do not hold it)
  bert: (cfg) => {
    const h = n(cfg, "hidden_size");
    const i = n(cfg, "intermediate_size");
    const out: GenTensor[] = [
      t("embeddings.word_embeddings.weight", n(cfg, "vocab_size"), h),
      t("embeddings.position_embeddings.weight", n(cfg, "max_position_embeddings"), h),
      t("embeddings.token_type_embeddings.weight", n(cfg, "type_vocab_size", 2), h),
      ...ln("embeddings.LayerNorm", h),
    ];
    for (const l of range(n(cfg, "num_hidden_layers"))) {
      const p = `encoder.layer.${l}`;
      out.push(
        ...lin(`${p}.attention.self.query`, h, h, true),
        ...lin(`${p}.attention.self.key`, h, h, true),
        ...lin(`${p}.attention.self.value`, h, h, true),
        ...lin(`${p}.attention.output.dense`, h, h, true),
        ...ln(`${p}.attention.output.LayerNorm`, h),
        ...lin(`${p}.intermediate.dense`, i, h, true),
        ...lin(`${p}.output.dense`, h, i, true),
        ...ln(`${p}.output.LayerNorm`, h),
      );
    }
    out.push(...lin("pooler.dense", h, h, true));
    return out;
  },
  "bert-bge": (cfg) => MM_HF_LAYOUTS.bert(cfg),
  // Qwen3-Embedding: transformers Qwen3Model saved on its own (no `model.` prefix, no lm_head)
  "qwen3-embedding": (cfg) => {
    const h = n(cfg, "hidden_size");
    const d = n(cfg, "head_dim");
    return llamaBody(cfg, "").flatMap((x) =>
      /input_layernorm/.test(x.name)
        ? [
          t(x.name.replace("input_layernorm", "self_attn.q_norm"), d),
          t(x.name.replace("input_layernorm", "self_attn.k_norm"), d),
          t(x.name, h),
        ]
        : [x]
    );
  },
  // EAGLE's draft model (its `Model`: embed_tokens, layers without input_layernorm in layer 0, fc)
  eagle: (cfg) => {
    const h = n(cfg, "hidden_size");
    return [
      ...llamaBody(cfg, "", { firstNorm: false, norm: false }),
      ...lin("fc", h, 2 * h, cfg.bias !== false),
    ];
  },
  // Medusa heads as MLC names them (medusa_head.{h}.{l}.linear, medusa_head.{h}.{layers})
  medusa: (cfg) => {
    const h = n(cfg, "hidden_size");
    const layers = n(cfg, "medusa_num_layers");
    return range(n(cfg, "medusa_num_heads")).flatMap((head) => [
      ...range(layers).flatMap((l) => lin(`medusa_head.${head}.${l}.linear`, h, h, true)),
      t(`medusa_head.${head}.${layers}.weight`, n(cfg, "vocab_size"), h),
    ]);
  },
  // transformers Qwen3_5ForConditionalGeneration, text model (`model.language_model.*`; layer types
  // from `layer_types`, default linear_attention unless (i + 1) % full_attention_interval == 0;
  // Qwen3_5GatedDeltaNet / Qwen3_5Attention (q_proj with the output gate: 2 * heads * head_dim rows))
  qwen3_5: (cfg) => qwen35Text(cfg),
  // MLC reads the same `model.language_model.*` names under this key
  qwen3_5_text: (cfg) => qwen35Text(cfg),
  // transformers LlavaForConditionalGeneration as llava-hf checkpoints were saved (before the
  // 4.52 key rename): vision_tower, multi_modal_projector, language_model. The text model's
  // missing sizes are transformers LlamaConfig's defaults (Llama-2-7B's).
  llava: (cfg) => {
    const text = { ...LLAMA_DEFAULTS, ...(cfg.text_config as Cfg) };
    const vision = cfg.vision_config as Cfg;
    const th = n(text, "hidden_size");
    return [
      ...clipVision(vision, "vision_tower."),
      ...lin("multi_modal_projector.linear_1", th, n(vision, "hidden_size"), true),
      ...lin("multi_modal_projector.linear_2", th, th, true),
      ...llamaBody(text, "language_model.model."),
      t("language_model.lm_head.weight", n(text, "vocab_size"), th),
    ];
  },
  // transformers Mistral3ForConditionalGeneration as MLC's loader reads it: the text model
  // under language_model. when config.json has a vision_config (its Pixtral tower and patch-
  // merging projector beside it, which MLC does not map), else a bare Ministral3ForCausalLM.
  // Head only when untied.
  ministral3: (cfg) => {
    const text = { ...cfg, ...(cfg.text_config as Cfg | undefined ?? {}) };
    const vision = cfg.vision_config as Cfg | undefined;
    const p = vision ? "language_model." : "";
    const h = n(text, "hidden_size");
    const out = llamaBody(text, `${p}model.`);
    if (text.tie_word_embeddings !== true) out.push(t(`${p}lm_head.weight`, n(text, "vocab_size"), h));
    if (!vision) return out;
    const vh = n(vision, "hidden_size");
    const vi = n(vision, "intermediate_size");
    const patch = n(vision, "patch_size");
    return [
      ...out,
      t("vision_tower.patch_conv.weight", vh, n(vision, "num_channels", 3), patch, patch),
      t("vision_tower.ln_pre.weight", vh),
      ...range(n(vision, "num_hidden_layers")).flatMap((l) => {
        const q = `vision_tower.transformer.layers.${l}`;
        return [
          ...["q", "k", "v", "o"].map((x) => t(`${q}.attention.${x}_proj.weight`, vh, vh)),
          t(`${q}.attention_norm.weight`, vh),
          t(`${q}.feed_forward.gate_proj.weight`, vi, vh),
          t(`${q}.feed_forward.up_proj.weight`, vi, vh),
          t(`${q}.feed_forward.down_proj.weight`, vh, vi),
          t(`${q}.ffn_norm.weight`, vh),
        ];
      }),
      t("multi_modal_projector.norm.weight", vh),
      t("multi_modal_projector.patch_merger.merging_layer.weight", vh, 4 * vh),
      t("multi_modal_projector.linear_1.weight", h, vh),
      t("multi_modal_projector.linear_2.weight", h, h),
    ];
  },
  // Phi3VForCausalLM (the model repository's modeling_phi3_v.py): embed_tokens, the image
  // embedding (CLIP-ViT-L/14-336, glb_GN / sub_GN, img_projection = Linear, GELU, Linear), the
  // Phi-3 layers (fused qkv_proj, gate_up_proj), norm, lm_head
  phi3_v: (cfg) => {
    const h = n(cfg, "hidden_size");
    const nq = n(cfg, "num_attention_heads");
    const nkv = n(cfg, "num_key_value_heads", nq);
    const d = h / nq;
    const i = n(cfg, "intermediate_size");
    const dimOut = n(cfg.img_processor as Cfg, "image_dim_out");
    const e = "model.vision_embed_tokens";
    return [
      t("model.embed_tokens.weight", n(cfg, "vocab_size"), h),
      ...clipVision(CLIP_L14_336, `${e}.img_processor.`),
      t(`${e}.glb_GN`, 1, 1, 4 * dimOut),
      t(`${e}.sub_GN`, 1, 1, 1, 4 * dimOut),
      ...lin(`${e}.img_projection.0`, h, 4 * n(CLIP_L14_336, "hidden_size"), true),
      ...lin(`${e}.img_projection.2`, h, h, true),
      ...range(n(cfg, "num_hidden_layers")).flatMap((l) => {
        const p = `model.layers.${l}`;
        return [
          t(`${p}.self_attn.o_proj.weight`, h, nq * d),
          t(`${p}.self_attn.qkv_proj.weight`, (nq + 2 * nkv) * d, h),
          t(`${p}.mlp.gate_up_proj.weight`, 2 * i, h),
          t(`${p}.mlp.down_proj.weight`, h, i),
          t(`${p}.input_layernorm.weight`, h),
          t(`${p}.post_attention_layernorm.weight`, h),
        ];
      }),
      t("model.norm.weight", h),
      t("lm_head.weight", n(cfg, "vocab_size"), h),
    ];
  },
};
