/**
 * A reference forward pass of a converted decoder-only model, in TypeScript, on the
 * dequantized weights of the converted directory: RMSNorm, rotate-half RoPE (with Llama 3
 * frequency scaling), grouped-query causal attention with a KV cache, SiLU-gated MLP; the
 * names and fused layouts are MLC's (`qkv_proj` / `c_attn` = [q; k; v], `gate_up_proj` =
 * [gate; up]). Activations are float32 arrays; dot products and softmax sums accumulate in
 * float64 (JavaScript numbers), so the result is at least as accurate as the runtime's float32.
 *
 * Covered model types ({@link FORWARD_ARCHS}): llama, mistral (prompts shorter than its sliding
 * window), qwen2 (qkv bias), qwen3 (q/k RMSNorm per head, optional bias).
 *
 * @module
 */
import type { Matrix } from "./weights.ts";

/** What differs between the covered model types. */
export interface ForwardArch {
  /** The fused attention input projection, under `model.layers.N.` */
  qkv: string;
  /** The model_config field of the RoPE base. */
  ropeBase: "position_embedding_base" | "rope_theta";
  /** Per-head RMSNorm of q and k before RoPE (qwen3). */
  qkNorm: boolean;
}

/** The covered model types. */
export const FORWARD_ARCHS: Readonly<Record<string, ForwardArch>> = {
  llama: { qkv: "self_attn.qkv_proj", ropeBase: "position_embedding_base", qkNorm: false },
  mistral: { qkv: "self_attn.qkv_proj", ropeBase: "position_embedding_base", qkNorm: false },
  qwen2: { qkv: "self_attn.c_attn", ropeBase: "rope_theta", qkNorm: false },
  qwen3: { qkv: "self_attn.c_attn", ropeBase: "rope_theta", qkNorm: true },
};

/** The dimensions and constants of a forward pass (from `mlc-chat-config.json`). */
export interface ForwardConfig {
  /** Model type (a key of {@link FORWARD_ARCHS}). */
  modelType: string;
  /** Hidden size. */
  hidden: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads. */
  kvHeads: number;
  /** Dimension of a head. */
  headDim: number;
  /** Decoder layers. */
  layers: number;
  /** RMSNorm epsilon. */
  eps: number;
  /** RoPE inverse frequencies (headDim / 2). */
  invFreq: Float64Array;
  /** Longest context the pass accepts (the sliding window of mistral, else the context window). */
  maxPositions: number;
}

const num = (v: unknown, what: string): number => {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`model_config.${what} is not a number`);
  return v;
};

/**
 * RoPE inverse frequencies `theta^(-2i/d)`, with MLC's Llama 3 scaling when `scaling` says so
 * (`mlc_llm/nn/rope.py` `rope_freq_llama3`: smooth = clamp(alpha f - beta, 0, 1),
 * f' = (1 - smooth) f / factor + smooth f).
 *
 * @example
 * ```ts
 * import { ropeInvFreq } from "./decoder.ts";
 * const f = ropeInvFreq(4, 10000);
 * if (f[0] !== 1 || Math.abs(f[1] - 0.01) > 1e-15) throw new Error(String(f));
 * ```
 */
export function ropeInvFreq(
  d: number,
  theta: number,
  scaling?: Record<string, unknown> | null,
): Float64Array {
  const f = new Float64Array(d / 2).map((_, i) => 1 / Math.pow(theta, (2 * i) / d));
  if (!scaling) return f;
  if (scaling.rope_type !== "llama3") {
    throw new Error(`RoPE scaling ${JSON.stringify(scaling.rope_type)} is not covered by the reference pass`);
  }
  const factor = num(scaling.factor, "rope_scaling.factor");
  const low = num(scaling.low_freq_factor, "rope_scaling.low_freq_factor");
  const high = num(scaling.high_freq_factor, "rope_scaling.high_freq_factor");
  const orig = num(scaling.original_max_position_embeddings, "rope_scaling.original_max_position_embeddings");
  const alpha = orig / (2 * Math.PI) / (high - low), beta = low / (high - low);
  return f.map((x) => {
    const smooth = Math.max(0, Math.min(1, alpha * x - beta));
    return (1 - smooth) * x / factor + smooth * x;
  });
}

/**
 * The forward configuration of an `mlc-chat-config.json` (its `model_type` and `model_config`).
 *
 * @example
 * ```ts
 * import { forwardConfig } from "./decoder.ts";
 * const c = forwardConfig({ model_type: "qwen2", model_config: { hidden_size: 8, num_attention_heads: 2,
 *   num_key_value_heads: 1, head_dim: 4, num_hidden_layers: 1, rms_norm_eps: 1e-6, rope_theta: 1e6,
 *   context_window_size: 32 } });
 * if (c.headDim !== 4 || c.invFreq.length !== 2 || c.maxPositions !== 32) throw new Error();
 * ```
 */
export function forwardConfig(chatConfig: Record<string, unknown>): ForwardConfig {
  const modelType = String(chatConfig.model_type);
  const arch = FORWARD_ARCHS[modelType];
  if (!arch) {
    throw new Error(
      `the reference forward pass covers ${Object.keys(FORWARD_ARCHS).join(", ")}, not ${modelType}`,
    );
  }
  const m = (chatConfig.model_config ?? {}) as Record<string, unknown>;
  const hidden = num(m.hidden_size, "hidden_size"), heads = num(m.num_attention_heads, "num_attention_heads");
  const headDim = m.head_dim ? num(m.head_dim, "head_dim") : hidden / heads;
  const window = modelType === "mistral" && num(m.sliding_window_size ?? -1, "sliding_window_size") > 0
    ? num(m.sliding_window_size, "sliding_window_size")
    : num(m.context_window_size, "context_window_size");
  return {
    modelType,
    hidden,
    heads,
    kvHeads: m.num_key_value_heads ? num(m.num_key_value_heads, "num_key_value_heads") : heads,
    headDim,
    layers: num(m.num_hidden_layers, "num_hidden_layers"),
    eps: num(m.rms_norm_eps, "rms_norm_eps"),
    invFreq: ropeInvFreq(headDim, num(m[arch.ropeBase], arch.ropeBase), m.rope_scaling as never),
    maxPositions: window,
  };
}

/**
 * RMSNorm of `x` (length a multiple of `w`'s: applied to each `w.length` slice, as per head).
 *
 * @example
 * ```ts
 * import { rmsNorm } from "./decoder.ts";
 * // [3, 4]: mean square 12.5, so [3, 4] / sqrt(12.5)
 * const y = rmsNorm(new Float32Array([3, 4]), new Float32Array([1, 2]), 0);
 * if (Math.abs(y[0] - 3 / Math.sqrt(12.5)) > 1e-7 || Math.abs(y[1] - 8 / Math.sqrt(12.5)) > 1e-6) throw new Error();
 * ```
 */
export function rmsNorm(x: Float32Array, w: Float32Array, eps: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let o = 0; o < x.length; o += w.length) {
    let ss = 0;
    for (let i = 0; i < w.length; i++) ss += x[o + i] * x[o + i];
    const inv = 1 / Math.sqrt(ss / w.length + eps);
    for (let i = 0; i < w.length; i++) out[o + i] = x[o + i] * inv * w[i];
  }
  return out;
}

/**
 * Rotate-half RoPE of the head at `off` (length `2 * invFreq.length`) at position `pos`, in place.
 *
 * @example
 * ```ts
 * import { rope } from "./decoder.ts";
 * const v = new Float32Array([1, 0]);
 * rope(v, 0, 1, new Float64Array([1])); // angle 1 rad: (cos 1, sin 1)
 * if (Math.abs(v[0] - Math.cos(1)) > 1e-7 || Math.abs(v[1] - Math.sin(1)) > 1e-7) throw new Error();
 * ```
 */
export function rope(v: Float32Array, off: number, pos: number, invFreq: Float64Array): void {
  const half = invFreq.length;
  for (let i = 0; i < half; i++) {
    const a = pos * invFreq[i];
    const c = Math.cos(a), s = Math.sin(a);
    const x0 = v[off + i], x1 = v[off + i + half];
    v[off + i] = x0 * c - x1 * s;
    v[off + i + half] = x1 * c + x0 * s;
  }
}

/** `y[b] = W x[b] (+ bias)` for every input, each block of W's rows dequantized once. */
export async function matmul(w: Matrix, xs: Float32Array[], bias?: Float32Array): Promise<Float32Array[]> {
  const ys = xs.map(() => new Float32Array(w.rows));
  const k = w.cols;
  await w.blocks((r0, values) => {
    const n = values.length / k;
    for (let r = 0; r < n; r++) {
      for (let b = 0; b < xs.length; b++) {
        const x = xs[b];
        let acc = 0;
        for (let j = 0; j < k; j++) acc += values[r * k + j] * x[j];
        ys[b][r0 + r] = acc + (bias ? bias[r0 + r] : 0);
      }
    }
  });
  return ys;
}

/** `x / (1 + e^-x)`, the SiLU. */
export const silu = (x: number): number => x / (1 + Math.exp(-x));
