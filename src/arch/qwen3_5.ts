/**
 * `qwen3_5` / `qwen3_5_text`: Qwen3.5 dense hybrid language models (Qwen3_5ForConditionalGeneration
 * checkpoints: Qwen3.5-0.8B ... 27B; text weights only). MLC `Qwen35Config` flattens `text_config`
 * and `rope_parameters`; layer `i` is full attention when `(i + 1) % full_attention_interval == 0`
 * (fused `c_attn` from q|k|v, where q carries the output gate: `2 * heads * head_dim` rows),
 * otherwise a GatedDeltaNet linear attention (`in_proj_qkv`, `in_proj_z`, `in_proj_a`,
 * `in_proj_b`, `out_proj`, `conv1d_weight`, `A_log` and `dt_bias` kept float32, a gated norm).
 * The zero-centred RMSNorm weights (layer norms, q/k norms, final norm) get `+ 1.0` computed in
 * float32 before the cast. HF names are MLC's with `model.` replaced by `model.language_model.`
 * (`python/mlc_llm/model/qwen35/qwen35_model.py`, `qwen35_loader.py`).
 *
 * Both registry keys use the same classes and loader, so a `qwen3_5_text` checkpoint must also
 * hold the `model.language_model.*` names; a Qwen3_5ForCausalLM saved on its own
 * (`model.layers.*`) is refused for missing sources, as MLC refuses it. `mtp.*` and
 * `model.visual.*` tensors are reported unused.
 *
 * @module
 */
import { ConfigError, type ConfigLog, intField, type ModelConfig, resolveContextWindow } from "./config.ts";
import type { Architecture, ArchParam, Dim, HostTensor, ParamTransform } from "./types.ts";
import { bf16ToNumber, f16ToNumber, itemSize } from "../dtype.ts";

/** Keys of `Qwen35Config` (qwen35_model.py L28-L58). */
const FIELDS: readonly (readonly [string, unknown])[] = [
  ["hidden_size", 0],
  ["intermediate_size", 0],
  ["num_attention_heads", 0],
  ["num_hidden_layers", 0],
  ["num_key_value_heads", 0],
  ["rms_norm_eps", 1e-6],
  ["vocab_size", 0],
  ["rope_theta", 10000000],
  ["head_dim", 256],
  ["hidden_act", "silu"],
  ["attention_bias", false],
  ["tie_word_embeddings", false],
  ["linear_key_head_dim", 128],
  ["linear_value_head_dim", 128],
  ["linear_num_key_heads", 16],
  ["linear_num_value_heads", 16],
  ["linear_conv_kernel_dim", 4],
  ["full_attention_interval", 4],
  ["partial_rotary_factor", 0.25],
  ["context_window_size", 0],
  ["prefill_chunk_size", 0],
  ["tensor_parallel_shards", 1],
  ["dtype", "float32"],
  ["max_batch_size", 1],
];
const NAMES = new Set(FIELDS.map(([n]) => n));

/** `rope_parameters` overrides of rope_theta and partial_rotary_factor (L71-L86). */
function applyRope(cfg: ModelConfig, rope: unknown): void {
  if (rope === null || typeof rope !== "object" || Array.isArray(rope)) return;
  const r = rope as Record<string, unknown>;
  if (Object.hasOwn(r, "rope_theta")) cfg.rope_theta = r.rope_theta;
  if (Object.hasOwn(r, "partial_rotary_factor")) cfg.partial_rotary_factor = r.partial_rotary_factor;
}

/** `Qwen35Config.__post_init__` (L60-L108). */
function postInit(cfg: ModelConfig, kwargs: Record<string, unknown>, log: ConfigLog): void {
  if (Object.hasOwn(kwargs, "text_config")) {
    const tc = kwargs.text_config;
    delete kwargs.text_config;
    if (tc !== null && typeof tc === "object" && !Array.isArray(tc)) {
      // L65-L70: text_config's field keys overwrite the fields, the others go to kwargs
      for (const [k, v] of Object.entries(tc)) {
        if (NAMES.has(k)) cfg[k] = v;
        else kwargs[k] = v;
      }
      applyRope(cfg, (tc as Record<string, unknown>).rope_parameters);
    }
  }
  if (Object.hasOwn(kwargs, "rope_parameters")) {
    applyRope(cfg, kwargs.rope_parameters);
    delete kwargs.rope_parameters;
  }
  resolveContextWindow(cfg, kwargs, log);
  // L105-L108: prefill defaults to and is clamped at min(ctx, 2048), silently
  const ctx = intField(cfg, "context_window_size");
  const prefill = intField(cfg, "prefill_chunk_size");
  if (prefill === 0 || prefill > ctx) cfg.prefill_chunk_size = Math.min(ctx, 2048);
}

/** The float32 value of element `i` of a float tensor. */
function valueAt(t: HostTensor, dv: DataView, i: number): number {
  if (t.dtype === "float16") return f16ToNumber(dv.getUint16(i * 2, true));
  if (t.dtype === "bfloat16") return bf16ToNumber(dv.getUint16(i * 2, true));
  if (t.dtype === "float32") return dv.getFloat32(i * 4, true);
  throw new Error(`qwen3_5 norm: unsupported source dtype ${t.dtype}`);
}

/**
 * `whole` transform: `(x.astype("float32") + 1.0)` (qwen35_loader.py L158-L166), a float32
 * result that the pipeline then casts to the parameter dtype.
 */
const PLUS_ONE_F32: ParamTransform = {
  kind: "whole",
  apply([src]) {
    const n = src.data.length / itemSize(src.dtype);
    const dv = new DataView(src.data.buffer, src.data.byteOffset, src.data.byteLength);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.fround(valueAt(src, dv, i) + 1);
    return { dtype: "float32", shape: [...src.shape], data: new Uint8Array(out.buffer) };
  },
};

/** The MLC parameters of `Qwen35LMHeadModel` in module order, with their HF sources. */
function qwen35Params(cfg: ModelConfig): ArchParam[] {
  const [h, inter, nq, nkv, d, v, layers, every] = [
    "hidden_size",
    "intermediate_size",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "vocab_size",
    "num_hidden_layers",
    "full_attention_interval",
  ].map((k) => intField(cfg, k));
  const [dk, dv, nk, nv, kernel] = [
    "linear_key_head_dim",
    "linear_value_head_dim",
    "linear_num_key_heads",
    "linear_num_value_heads",
    "linear_conv_kernel_dim",
  ].map((k) => intField(cfg, k));
  if (every <= 0) throw new ConfigError(`full_attention_interval must be positive, got ${every}`);
  const bias = cfg.attention_bias === true;
  // L128-L132: MLC `model.` becomes HF `model.language_model.`; other names (lm_head) stay
  const hf = (name: string) => name.startsWith("model.") ? `model.language_model.${name.slice(6)}` : name;
  const p = (name: string, shape: Dim[], extra: Partial<ArchParam> = {}): ArchParam => ({
    name,
    shape,
    sources: [hf(name)],
    ...extra,
  });
  const norm = (name: string, shape: Dim[]) => p(name, shape, { transform: PLUS_ONE_F32 });
  const out: ArchParam[] = [p("model.embed_tokens.weight", [v, h], { quant: "embedding" })];
  const qkv = 2 * nk * dk + nv * dv;
  for (let l = 0; l < layers; l++) {
    const m = `model.layers.${l}`;
    if ((l + 1) % every === 0) {
      // qwen35_model.py L171-L183; loader L55-L73 (q|k|v into c_attn; the c_attn bias, if any,
      // is looked up 1:1 under its own name, as MLC does)
      const a = `${m}.self_attn`;
      out.push(p(`${a}.c_attn.weight`, [(2 * nq + 2 * nkv) * d, h], {
        quant: "linear",
        sources: ["q_proj", "k_proj", "v_proj"].map((x) => hf(`${a}.${x}.weight`)),
      }));
      if (bias) out.push(p(`${a}.c_attn.bias`, [(2 * nq + 2 * nkv) * d]));
      out.push(p(`${a}.o_proj.weight`, [h, nq * d], { quant: "linear" }));
      if (bias) out.push(p(`${a}.o_proj.bias`, [h]));
      out.push(norm(`${a}.q_norm.weight`, [d]), norm(`${a}.k_norm.weight`, [d]));
    } else {
      // qwen35_model.py L390-L417 (A_log, dt_bias float32 by `to`, L591-L597); loader L74-L108
      const a = `${m}.linear_attn`;
      out.push(
        p(`${a}.in_proj_qkv.weight`, [qkv, h], { quant: "linear" }),
        p(`${a}.in_proj_z.weight`, [nv * dv, h], { quant: "linear" }),
        p(`${a}.in_proj_a.weight`, [nv, h], { quant: "linear" }),
        p(`${a}.in_proj_b.weight`, [nv, h], { quant: "linear" }),
        p(`${a}.out_proj.weight`, [h, nv * dv], { quant: "linear" }),
        p(`${a}.conv1d_weight`, [qkv, 1, kernel], { sources: [hf(`${a}.conv1d.weight`)] }),
        p(`${a}.A_log`, [nv], { dtype: "float32" }),
        p(`${a}.dt_bias`, [nv], { dtype: "float32" }),
        p(`${a}.norm.weight`, [dv]),
      );
    }
    // qwen35_model.py L144-L149, L618-L622; loader L110-L126 (gate|up)
    out.push(
      p(`${m}.mlp.gate_up_proj.weight`, [2 * inter, h], {
        quant: "linear",
        sources: [hf(`${m}.mlp.gate_proj.weight`), hf(`${m}.mlp.up_proj.weight`)],
      }),
      p(`${m}.mlp.down_proj.weight`, [h, inter], { quant: "linear" }),
      norm(`${m}.input_layernorm.weight`, [h]),
      norm(`${m}.post_attention_layernorm.weight`, [h]),
    );
  }
  out.push(norm("model.norm.weight", [h]));
  if (!cfg.tie_word_embeddings) out.push(p("lm_head.weight", [v, h], { quant: "linear" }));
  return out;
}

/** The qwen3_5 architecture. */
export const qwen35: Architecture = {
  name: "qwen3_5",
  hfModelTypes: ["qwen3_5"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: { className: "Qwen35Config", fields: FIELDS, postInit },
  params: qwen35Params,
};

/** The qwen3_5_text architecture (the same classes and loader, `--model-type qwen3_5_text`). */
export const qwen35Text: Architecture = { ...qwen35, name: "qwen3_5_text", hfModelTypes: ["qwen3_5_text"] };
