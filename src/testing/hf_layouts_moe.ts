/**
 * HF checkpoint layouts of the mixture-of-experts model types (mixtral ... llama4), in
 * `state_dict` order. Written from the HF modeling code (transformers' Mixtral, Qwen2-MoE,
 * Qwen3-MoE and Llama 4; the model repositories' remote code for DeepSeek-MoE, DeepSeek-V2/V3
 * and MiniCPM), not from our architecture files, so tests comparing the two are meaningful.
 * Experts are saved one module per expert (`experts.{e}.w1` / `gate_proj` ...), except
 * Llama 4's fused `experts.gate_up_proj` / `experts.down_proj` 3-D tensors.
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

/** q/k/v/o projections of a llama-like attention (optional q/k/v biases). */
function qkvo(cfg: Cfg, a: string, qkvBias = false): GenTensor[] {
  const h = n(cfg, "hidden_size");
  const nq = n(cfg, "num_attention_heads");
  const nkv = n(cfg, "num_key_value_heads", nq);
  const d = n(cfg, "head_dim", Math.floor(h / nq));
  const lin = (p: string, out: number, inp: number, bias: boolean) =>
    bias ? [t(`${p}.weight`, out, inp), t(`${p}.bias`, out)] : [t(`${p}.weight`, out, inp)];
  return [
    ...lin(`${a}.q_proj`, nq * d, h, qkvBias),
    ...lin(`${a}.k_proj`, nkv * d, h, qkvBias),
    ...lin(`${a}.v_proj`, nkv * d, h, qkvBias),
    t(`${a}.o_proj.weight`, h, nq * d),
  ];
}

/** gate/up/down of a SwiGLU MLP of width `i`. */
const gud = (m: string, h: number, i: number): GenTensor[] => [
  t(`${m}.gate_proj.weight`, i, h),
  t(`${m}.up_proj.weight`, i, h),
  t(`${m}.down_proj.weight`, h, i),
];

/** Per-expert SwiGLU modules `experts.{e}.{gate,up,down}_proj` (or Mixtral's `w1, w2, w3`). */
function experts(m: string, count: number, h: number, i: number, mixtral = false): GenTensor[] {
  const out: GenTensor[] = [];
  for (let e = 0; e < count; e++) {
    const x = `${m}.experts.${e}`;
    out.push(
      ...(mixtral
        ? [t(`${x}.w1.weight`, i, h), t(`${x}.w2.weight`, h, i), t(`${x}.w3.weight`, i, h)]
        : gud(x, h, i)),
    );
  }
  return out;
}

/** The decoder: embeddings, `f(prefix, layer)` per layer, final norm, optional head. */
function decoder(cfg: Cfg, f: (p: string, l: number) => GenTensor[], head: boolean, root = ""): GenTensor[] {
  const h = n(cfg, "hidden_size");
  const v = n(cfg, "vocab_size");
  const out: GenTensor[] = [t(`${root}model.embed_tokens.weight`, v, h)];
  for (let l = 0; l < n(cfg, "num_hidden_layers"); l++) {
    const p = `${root}model.layers.${l}`;
    out.push(...f(p, l), t(`${p}.input_layernorm.weight`, h), t(`${p}.post_attention_layernorm.weight`, h));
  }
  out.push(t(`${root}model.norm.weight`, h));
  if (head) out.push(t(`${root}lm_head.weight`, v, h));
  return out;
}

/** Whether layer `l` of a DeepSeek model is a MoE layer (modeling_deepseek.py). */
const deepseekMoe = (cfg: Cfg, l: number): boolean =>
  cfg.n_routed_experts !== null && l >= n(cfg, "first_k_dense_replace") && l % n(cfg, "moe_layer_freq") === 0;

/** The MLP of a DeepSeek / DeepSeek-V2/V3 layer (remote code `DeepseekMoE` / `DeepseekV2MoE`). */
function deepseekMlp(cfg: Cfg, m: string, l: number, v3Bias: boolean): GenTensor[] {
  const h = n(cfg, "hidden_size");
  if (!deepseekMoe(cfg, l)) return gud(m, h, n(cfg, "intermediate_size"));
  const mi = n(cfg, "moe_intermediate_size");
  const e = n(cfg, "n_routed_experts");
  return [
    ...experts(m, e, h, mi),
    t(`${m}.gate.weight`, e, h),
    ...(v3Bias ? [t(`${m}.gate.e_score_correction_bias`, e)] : []),
    ...gud(`${m}.shared_experts`, h, mi * n(cfg, "n_shared_experts")),
  ];
}

/** DeepSeek-V2/V3 multi-head latent attention (remote code `DeepseekV2Attention`). */
function mla(cfg: Cfg, a: string): GenTensor[] {
  const h = n(cfg, "hidden_size");
  const nq = n(cfg, "num_attention_heads");
  const rank = n(cfg, "kv_lora_rank");
  const rope = n(cfg, "qk_rope_head_dim");
  const qk = n(cfg, "qk_nope_head_dim") + rope;
  const q = cfg.q_lora_rank === null || cfg.q_lora_rank === undefined
    ? [t(`${a}.q_proj.weight`, nq * qk, h)]
    : [
      t(`${a}.q_a_proj.weight`, n(cfg, "q_lora_rank"), h),
      t(`${a}.q_a_layernorm.weight`, n(cfg, "q_lora_rank")),
      t(`${a}.q_b_proj.weight`, nq * qk, n(cfg, "q_lora_rank")),
    ];
  return [
    ...q,
    t(`${a}.kv_a_proj_with_mqa.weight`, rank + rope, h),
    t(`${a}.kv_a_layernorm.weight`, rank),
    t(`${a}.kv_b_proj.weight`, nq * (n(cfg, "qk_nope_head_dim") + n(cfg, "v_head_dim")), rank),
    t(`${a}.o_proj.weight`, h, nq * n(cfg, "v_head_dim")),
  ];
}

/** HF layouts by MLC registry key. */
export const MOE_HF_LAYOUTS: Readonly<Record<string, (cfg: Cfg) => GenTensor[]>> = {
  // transformers MixtralForCausalLM (MixtralSparseMoeBlock: gate, experts.{e}.w1/w2/w3)
  mixtral: (cfg) => {
    const h = n(cfg, "hidden_size");
    return decoder(cfg, (p) => [
      ...qkvo(cfg, `${p}.self_attn`),
      t(`${p}.block_sparse_moe.gate.weight`, n(cfg, "num_local_experts"), h),
      ...experts(`${p}.block_sparse_moe`, n(cfg, "num_local_experts"), h, n(cfg, "intermediate_size"), true),
    ], !cfg.tie_word_embeddings);
  },
  // transformers Qwen2MoeForCausalLM (gate, experts, shared_expert, shared_expert_gate)
  qwen2_moe: (cfg) => {
    const h = n(cfg, "hidden_size");
    const e = n(cfg, "num_experts");
    return decoder(cfg, (p) => [
      ...qkvo(cfg, `${p}.self_attn`, true),
      t(`${p}.mlp.gate.weight`, e, h),
      ...experts(`${p}.mlp`, e, h, n(cfg, "moe_intermediate_size")),
      ...gud(`${p}.mlp.shared_expert`, h, n(cfg, "shared_expert_intermediate_size")),
      t(`${p}.mlp.shared_expert_gate.weight`, 1, h),
    ], !cfg.tie_word_embeddings);
  },
  // transformers Qwen3MoeForCausalLM (q/k norms; gate, experts)
  qwen3_moe: (cfg) => {
    const h = n(cfg, "hidden_size");
    const e = n(cfg, "num_experts");
    const d = n(cfg, "head_dim");
    return decoder(cfg, (p) => [
      ...qkvo(cfg, `${p}.self_attn`, !!cfg.attention_bias),
      ...(cfg.attention_bias ? [t(`${p}.self_attn.o_proj.bias`, h)] : []),
      t(`${p}.self_attn.q_norm.weight`, d),
      t(`${p}.self_attn.k_norm.weight`, d),
      t(`${p}.mlp.gate.weight`, e, h),
      ...experts(`${p}.mlp`, e, h, n(cfg, "moe_intermediate_size")),
    ], !cfg.tie_word_embeddings);
  },
  // deepseek-ai/deepseek-moe-16b-base modeling_deepseek.py
  deepseek: (cfg) =>
    decoder(cfg, (p, l) => [
      ...qkvo(cfg, `${p}.self_attn`),
      ...deepseekMlp(cfg, `${p}.mlp`, l, false),
    ], !cfg.tie_word_embeddings),
  // deepseek-ai/DeepSeek-V2-Lite modeling_deepseek.py
  deepseek_v2: (cfg) =>
    decoder(cfg, (p, l) => [...mla(cfg, `${p}.self_attn`), ...deepseekMlp(cfg, `${p}.mlp`, l, false)], true),
  // deepseek-ai/DeepSeek-V3 modeling_deepseek.py (noaux_tc: gate.e_score_correction_bias)
  deepseek_v3: (cfg) =>
    decoder(cfg, (p, l) => [
      ...mla(cfg, `${p}.self_attn`),
      ...deepseekMlp(cfg, `${p}.mlp`, l, cfg.topk_method === "noaux_tc"),
    ], true),
  // openbmb/MiniCPM-2B modeling_minicpm.py (MiniCPM-MoE-8x2B: mlp.gate, mlp.experts.{e}.w1/w2/w3)
  minicpm: (cfg) => {
    const h = n(cfg, "hidden_size");
    const i = n(cfg, "intermediate_size");
    const e = n(cfg, "num_experts", 0);
    return decoder(cfg, (p) => [
      ...qkvo(cfg, `${p}.self_attn`),
      ...(e === 0
        ? gud(`${p}.mlp`, h, i)
        : [t(`${p}.mlp.gate.weight`, e, h), ...experts(`${p}.mlp`, e, h, i, true)]),
    ], !cfg.tie_word_embeddings);
  },
  // transformers Llama4ForConditionalGeneration, text tower (Llama4TextMoe: experts, router,
  // shared_expert, in the layers of `moe_layers` (default range(step - 1, L, step)); the other
  // layers are Llama4TextMLP of width intermediate_size_mlp); the vision tower is not listed
  llama4: (cfg) => {
    const tc = cfg.text_config as Cfg;
    const h = n(tc, "hidden_size");
    const i = n(tc, "intermediate_size");
    const e = n(tc, "num_local_experts");
    const step = n(tc, "interleave_moe_layer_step", 1);
    const moe = Array.isArray(tc.moe_layers)
      ? (tc.moe_layers as unknown[]).map(Number)
      : Array.from({ length: n(tc, "num_hidden_layers") }, (_, l) => l).filter((l) => (l + 1) % step === 0);
    const m = (p: string) => `${p}.feed_forward`;
    return decoder(
      tc,
      (p, l) => [
        ...qkvo(tc, `${p}.self_attn`),
        ...(moe.includes(l)
          ? [
            t(`${m(p)}.experts.gate_up_proj`, e, h, 2 * i),
            t(`${m(p)}.experts.down_proj`, e, i, h),
            t(`${m(p)}.router.weight`, e, h),
            ...gud(`${m(p)}.shared_expert`, h, i),
          ]
          : gud(m(p), h, n(tc, "intermediate_size_mlp", i))),
      ],
      !(cfg.tie_word_embeddings ?? tc.tie_word_embeddings),
      "language_model.",
    );
  },
};
