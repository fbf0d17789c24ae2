/**
 * HF checkpoint layouts of the dense model types added in the second wave (starcoder2 ...
 * rwkv6), in `state_dict` order. Written from the HF modeling code (transformers, or the
 * model repository's remote code: InternLM, InternLM2, ChatGLM, Baichuan, Orion, Qwen-1,
 * RWKV-5/6), not from our architecture files, so tests comparing the two are meaningful.
 * Only persistent tensors are listed (rotary `inv_freq` buffers are not, except where noted).
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

/** Shapes shared by the llama-like layouts. */
function dims(cfg: Cfg) {
  const h = n(cfg, "hidden_size");
  const nq = n(cfg, "num_attention_heads");
  const nkv = n(cfg, "num_key_value_heads", nq);
  const d = n(cfg, "head_dim", Math.floor(h / nq));
  return { h, nq, nkv, d, i: n(cfg, "intermediate_size"), v: n(cfg, "vocab_size") };
}

/** q/k/v/o projections of a llama-like attention. */
function qkvo(cfg: Cfg, a: string, qkvBias: boolean, oBias: boolean): GenTensor[] {
  const { h, nq, nkv, d } = dims(cfg);
  return [
    ...lin(`${a}.q_proj`, nq * d, h, qkvBias),
    ...lin(`${a}.k_proj`, nkv * d, h, qkvBias),
    ...lin(`${a}.v_proj`, nkv * d, h, qkvBias),
    ...lin(`${a}.o_proj`, h, nq * d, oBias),
  ];
}

/** gate/up/down of a llama-like MLP. */
function gud(cfg: Cfg, m: string): GenTensor[] {
  const { h, i } = dims(cfg);
  return [t(`${m}.gate_proj.weight`, i, h), t(`${m}.up_proj.weight`, i, h), t(`${m}.down_proj.weight`, h, i)];
}

function layers(
  cfg: Cfg,
  f: (p: string, l: number) => GenTensor[],
  prefix = "model.layers",
  count = n(cfg, "num_hidden_layers"),
): GenTensor[] {
  const out: GenTensor[] = [];
  for (let l = 0; l < count; l++) out.push(...f(`${prefix}.${l}`, l));
  return out;
}

function rwkv(cfg: Cfg, attention: (a: string) => GenTensor[], ffnMix: string[], inner: number): GenTensor[] {
  const h = n(cfg, "hidden_size");
  const v = n(cfg, "vocab_size");
  const out: GenTensor[] = [t("rwkv.embeddings.weight", v, h)];
  for (let l = 0; l < n(cfg, "num_hidden_layers"); l++) {
    const b = `rwkv.blocks.${l}`;
    if (l === 0) out.push(...ln(`${b}.pre_ln`, h));
    out.push(
      ...ln(`${b}.ln1`, h),
      ...ln(`${b}.ln2`, h),
      ...attention(`${b}.attention`),
      ...ffnMix.map((m) => t(`${b}.feed_forward.${m}`, 1, 1, h)),
      t(`${b}.feed_forward.key.weight`, inner, h),
      t(`${b}.feed_forward.receptance.weight`, h, h),
      t(`${b}.feed_forward.value.weight`, h, inner),
    );
  }
  out.push(...ln("rwkv.ln_out", h), t("head.weight", v, h));
  return out;
}

function rwkvAttentionTail(a: string, h: number): GenTensor[] {
  return [
    ...["key", "value", "receptance", "gate", "output"].map((m) => t(`${a}.${m}.weight`, h, h)),
    ...ln(`${a}.ln_x`, h),
  ];
}

/** HF layouts by MLC registry key. */
export const DENSE_HF_LAYOUTS: Readonly<Record<string, (cfg: Cfg) => GenTensor[]>> = {
  // transformers Starcoder2ForCausalLM; tie_word_embeddings defaults to true (no lm_head saved)
  starcoder2: (cfg) => {
    const { h, i, v } = dims(cfg);
    const b = !!cfg.use_bias;
    return [
      t("model.embed_tokens.weight", v, h),
      ...layers(cfg, (p) => [
        ...qkvo(cfg, `${p}.self_attn`, b, b),
        ...lin(`${p}.mlp.c_fc`, i, h, b),
        ...lin(`${p}.mlp.c_proj`, h, i, b),
        ...ln(`${p}.input_layernorm`, h),
        ...ln(`${p}.post_attention_layernorm`, h),
      ]),
      ...ln("model.norm", h),
      ...(cfg.tie_word_embeddings === false ? [t("lm_head.weight", v, h)] : []),
    ];
  },
  // transformers GPTBigCodeForCausalLM (multi_query: c_attn = n_embd + 2 * head_dim rows)
  gpt_bigcode: (cfg) => {
    const h = n(cfg, "n_embd");
    const inner = n(cfg, "n_inner", 4 * h);
    const d = h / n(cfg, "n_head");
    const v = n(cfg, "vocab_size");
    return [
      t("transformer.wte.weight", v, h),
      t("transformer.wpe.weight", n(cfg, "n_positions"), h),
      ...layers(
        cfg,
        (p) => [
          ...ln(`${p}.ln_1`, h),
          ...lin(`${p}.attn.c_attn`, h + 2 * d, h, true),
          ...lin(`${p}.attn.c_proj`, h, h, true),
          ...ln(`${p}.ln_2`, h),
          ...lin(`${p}.mlp.c_fc`, inner, h, true),
          ...lin(`${p}.mlp.c_proj`, h, inner, true),
        ],
        "transformer.h",
        n(cfg, "n_layer"),
      ),
      ...ln("transformer.ln_f", h),
      t("lm_head.weight", v, h),
    ];
  },
  // transformers StableLmForCausalLM
  stablelm: (cfg) => {
    const { h, v } = dims(cfg);
    return [
      t("model.embed_tokens.weight", v, h),
      ...layers(cfg, (p) => [
        ...qkvo(cfg, `${p}.self_attn`, !!cfg.use_qkv_bias, false),
        ...gud(cfg, `${p}.mlp`),
        ...ln(`${p}.input_layernorm`, h),
        ...ln(`${p}.post_attention_layernorm`, h),
      ]),
      ...ln("model.norm", h),
      t("lm_head.weight", v, h),
    ];
  },
  // transformers OlmoForCausalLM: non-parametric LayerNorms
  olmo: (cfg) => {
    const { h, v } = dims(cfg);
    return [
      t("model.embed_tokens.weight", v, h),
      ...layers(cfg, (p) => [...qkvo(cfg, `${p}.self_attn`, false, false), ...gud(cfg, `${p}.mlp`)]),
      ...(cfg.tie_word_embeddings ? [] : [t("lm_head.weight", v, h)]),
    ];
  },
  // transformers Olmo2ForCausalLM
  olmo2: (cfg) => {
    const { h, v, nq, nkv, d } = dims(cfg);
    return [
      t("model.embed_tokens.weight", v, h),
      ...layers(cfg, (p) => [
        ...qkvo(cfg, `${p}.self_attn`, false, false),
        t(`${p}.self_attn.q_norm.weight`, nq * d),
        t(`${p}.self_attn.k_norm.weight`, nkv * d),
        ...gud(cfg, `${p}.mlp`),
        t(`${p}.post_attention_layernorm.weight`, h),
        t(`${p}.post_feedforward_layernorm.weight`, h),
      ]),
      t("model.norm.weight", h),
      ...(cfg.tie_word_embeddings ? [] : [t("lm_head.weight", v, h)]),
    ];
  },
  // internlm/internlm-chat-7b modeling_internlm.py (rotary inv_freq is a persistent buffer there)
  internlm: (cfg) => {
    const { h, v, d } = dims(cfg);
    const b = !!cfg.bias;
    return [
      t("model.embed_tokens.weight", v, h),
      ...layers(cfg, (p) => [
        ...qkvo(cfg, `${p}.self_attn`, b, b),
        t(`${p}.self_attn.rotary_emb.inv_freq`, d / 2),
        ...gud(cfg, `${p}.mlp`),
        t(`${p}.input_layernorm.weight`, h),
        t(`${p}.post_attention_layernorm.weight`, h),
      ]),
      t("model.norm.weight", h),
      t("lm_head.weight", v, h),
    ];
  },
  // internlm/internlm2_5-7b-chat modeling_internlm2.py: wqkv grouped per kv head
  internlm2: (cfg) => {
    const { h, i, v, nq, nkv, d } = dims(cfg);
    const b = !!cfg.bias;
    return [
      t("model.tok_embeddings.weight", v, h),
      ...layers(cfg, (p) => [
        ...lin(`${p}.attention.wqkv`, (nq + 2 * nkv) * d, h, b),
        ...lin(`${p}.attention.wo`, h, nq * d, b),
        t(`${p}.feed_forward.w1.weight`, i, h),
        t(`${p}.feed_forward.w3.weight`, i, h),
        t(`${p}.feed_forward.w2.weight`, h, i),
        t(`${p}.attention_norm.weight`, h),
        t(`${p}.ffn_norm.weight`, h),
      ]),
      t("model.norm.weight", h),
      t("output.weight", v, h),
    ];
  },
  // transformers CohereForCausalLM: weight-only LayerNorms, tied head (not saved)
  cohere: (cfg) => {
    const { h, v } = dims(cfg);
    return [
      t("model.embed_tokens.weight", v, h),
      ...layers(cfg, (p) => [
        ...qkvo(cfg, `${p}.self_attn`, false, false),
        ...gud(cfg, `${p}.mlp`),
        t(`${p}.input_layernorm.weight`, h),
      ]),
      t("model.norm.weight", h),
    ];
  },
  // THUDM/glm-4-9b-chat modeling_chatglm.py (its transformer.rotary_pos_emb.inv_freq buffer is
  // saved too, and MLC only warns about it: left out here, tests add it where they need it)
  chatglm: (cfg) => {
    const h = n(cfg, "hidden_size");
    const nq = n(cfg, "num_attention_heads");
    const d = n(cfg, "kv_channels");
    const nkv = cfg.multi_query_attention ? n(cfg, "multi_query_group_num") : nq;
    const f = n(cfg, "ffn_hidden_size");
    const v = n(cfg, "padded_vocab_size");
    const b = !!cfg.add_bias_linear;
    const out: GenTensor[] = [t("transformer.embedding.word_embeddings.weight", v, h)];
    for (let l = 0; l < n(cfg, "num_layers"); l++) {
      const p = `transformer.encoder.layers.${l}`;
      out.push(
        t(`${p}.input_layernorm.weight`, h),
        ...lin(`${p}.self_attention.query_key_value`, (nq + 2 * nkv) * d, h, b || !!cfg.add_qkv_bias),
        ...lin(`${p}.self_attention.dense`, h, nq * d, b),
        t(`${p}.post_attention_layernorm.weight`, h),
        ...lin(`${p}.mlp.dense_h_to_4h`, 2 * f, h, b),
        ...lin(`${p}.mlp.dense_4h_to_h`, h, f, b),
      );
    }
    if (cfg.post_layer_norm) {
      out.push(t("transformer.encoder.final_layernorm.weight", h));
      if (!cfg.rmsnorm) out.push(t("transformer.encoder.final_layernorm.bias", h));
    }
    out.push(t("transformer.output_layer.weight", v, h));
    return out;
  },
  // baichuan-inc/Baichuan2-7B-Chat modeling_baichuan.py (NormHead's weight is lm_head.weight)
  baichuan: (cfg) => {
    const { h, v } = dims(cfg);
    return [
      t("model.embed_tokens.weight", v, h),
      ...layers(cfg, (p) => [
        t(`${p}.self_attn.W_pack.weight`, 3 * h, h),
        t(`${p}.self_attn.o_proj.weight`, h, h),
        ...gud(cfg, `${p}.mlp`),
        t(`${p}.input_layernorm.weight`, h),
        t(`${p}.post_attention_layernorm.weight`, h),
      ]),
      t("model.norm.weight", h),
      t("lm_head.weight", v, h),
    ];
  },
  // OrionStarAI/Orion-14B-Chat modeling_orion.py: LayerNorms with bias
  orion: (cfg) => {
    const { h, v } = dims(cfg);
    return [
      t("model.embed_tokens.weight", v, h),
      ...layers(cfg, (p) => [
        ...qkvo(cfg, `${p}.self_attn`, false, false),
        ...gud(cfg, `${p}.mlp`),
        ...ln(`${p}.input_layernorm`, h),
        ...ln(`${p}.post_attention_layernorm`, h),
      ]),
      ...ln("model.norm", h),
      t("lm_head.weight", v, h),
    ];
  },
  // Qwen/Qwen-7B-Chat modeling_qwen.py: w1/w2 are intermediate_size / 2 each
  qwen: (cfg) => {
    const { h, i, v } = dims(cfg);
    return [
      t("transformer.wte.weight", v, h),
      ...layers(cfg, (p) => [
        t(`${p}.ln_1.weight`, h),
        ...lin(`${p}.attn.c_attn`, 3 * h, h, true),
        t(`${p}.attn.c_proj.weight`, h, h),
        t(`${p}.ln_2.weight`, h),
        t(`${p}.mlp.w1.weight`, i / 2, h),
        t(`${p}.mlp.w2.weight`, i / 2, h),
        t(`${p}.mlp.c_proj.weight`, h, i / 2),
      ], "transformer.h"),
      t("transformer.ln_f.weight", h),
      t("lm_head.weight", v, h),
    ];
  },
  // transformers NemotronForCausalLM: LayerNorm1P with bias, no gate
  nemotron: (cfg) => {
    const { h, i, v } = dims(cfg);
    const b = !!cfg.mlp_bias;
    return [
      t("model.embed_tokens.weight", v, h),
      ...layers(cfg, (p) => [
        ...qkvo(cfg, `${p}.self_attn`, false, false),
        ...lin(`${p}.mlp.up_proj`, i, h, b),
        ...lin(`${p}.mlp.down_proj`, h, i, b),
        ...ln(`${p}.input_layernorm`, h),
        ...ln(`${p}.post_attention_layernorm`, h),
      ]),
      ...ln("model.norm", h),
      ...(cfg.tie_word_embeddings ? [] : [t("lm_head.weight", v, h)]),
    ];
  },
  // transformers GPTJForCausalLM (k_proj, v_proj, q_proj declared in that order)
  gptj: (cfg) => {
    const h = n(cfg, "n_embd");
    const inner = n(cfg, "n_inner", 4 * h);
    const v = n(cfg, "vocab_size");
    return [
      t("transformer.wte.weight", v, h),
      ...layers(
        cfg,
        (p) => [
          ...ln(`${p}.ln_1`, h),
          ...["k_proj", "v_proj", "q_proj", "out_proj"].map((m) => t(`${p}.attn.${m}.weight`, h, h)),
          ...lin(`${p}.mlp.fc_in`, inner, h, true),
          ...lin(`${p}.mlp.fc_out`, h, inner, true),
        ],
        "transformer.h",
        n(cfg, "n_layer"),
      ),
      ...ln("transformer.ln_f", h),
      ...lin("lm_head", v, h, true),
    ];
  },
  // RWKV/rwkv-5-world-3b modeling_rwkv5.py
  rwkv5: (cfg) => {
    const h = n(cfg, "hidden_size");
    const hs = n(cfg, "head_size", 64);
    const inner = n(cfg, "intermediate_size", Math.floor(Math.trunc(h * 3.5) / 32) * 32);
    return rwkv(
      cfg,
      (a) => [
        t(`${a}.time_decay`, h / hs, hs),
        t(`${a}.time_faaaa`, h / hs, hs),
        ...["time_mix_key", "time_mix_value", "time_mix_receptance", "time_mix_gate"].map((m) =>
          t(`${a}.${m}`, 1, 1, h)
        ),
        ...rwkvAttentionTail(a, h),
      ],
      ["time_mix_key", "time_mix_receptance"],
      inner,
    );
  },
  // RWKV/rwkv-6-world-1b6 modeling_rwkv6.py
  rwkv6: (cfg) => {
    const h = n(cfg, "hidden_size");
    const hs = n(cfg, "head_size", 64);
    const [mix, decay] = h === 4096 ? [64, 128] : [32, 64];
    return rwkv(
      cfg,
      (a) => [
        ...["x", "w", "k", "v", "r", "g"].map((m) => t(`${a}.time_maa_${m}`, 1, 1, h)),
        t(`${a}.time_maa_w1`, h, 5 * mix),
        t(`${a}.time_maa_w2`, 5, mix, h),
        t(`${a}.time_decay_w1`, h, decay),
        t(`${a}.time_decay_w2`, decay, h),
        t(`${a}.time_decay`, 1, 1, h),
        t(`${a}.time_faaaa`, h / hs, hs),
        ...rwkvAttentionTail(a, h),
      ],
      ["time_maa_k", "time_maa_r"],
      Math.floor(h / 2) * 7,
    );
  },
};
