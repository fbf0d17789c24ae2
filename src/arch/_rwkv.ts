/**
 * What `rwkv5` and `rwkv6` share: the config class (`RWKV5Config`/`RWKV6Config` differ only in
 * `model_version`), the HF names (the MLC name with every `model` replaced by `rwkv`), the
 * parameters outside the attention block, and the value transforms of their loaders: rwkv5's
 * `time_decay = exp(-exp(x))` in float32 and the `rescale_every` division of
 * `attention.output.weight` / `feed_forward.value.weight` by `2^(i // rescale_every)`, done in
 * the model dtype after the cast (`rwkv5_loader.py` L41-L71, `rwkv6_loader.py` L40-L56).
 *
 * @module
 */
import { type ConfigClass, ConfigError, intField, type ModelConfig, REQUIRED } from "./config.ts";
import type { ArchParam, Dim, HostTensor, ParamTransform } from "./types.ts";
import {
  bf16Round,
  type DType,
  f16ToNumber,
  f32Bits,
  f32BitsToBf16,
  itemSize,
  numberToF16,
} from "../dtype.ts";
import { castReference } from "../quant/reference.ts";
import { numpyExpF32 } from "./_numpy_exp.ts";
import { num } from "../pyjson.ts";

/** The config class of an RWKV version (`"5_2"` required for v5, `"6_0"` the default of v6). */
export function rwkvConfigClass(className: string, version: "5_2" | "6_0"): ConfigClass {
  return {
    className,
    fields: [
      ["hidden_size", REQUIRED],
      ["intermediate_size", REQUIRED],
      ["num_hidden_layers", REQUIRED],
      ["vocab_size", REQUIRED],
      ["model_version", version === "5_2" ? REQUIRED : version],
      ["tensor_parallel_shards", 1],
      ["rescale_every", 0],
      ["head_size", 64],
      ["layer_norm_epsilon", 1e-5],
      ["context_window_size", -1],
      ["prefill_chunk_size", 4096],
      ["num_heads", 0],
      ["max_batch_size", 1],
    ],
    postInit(cfg) {
      if (cfg.model_version !== version) {
        throw new ConfigError(`Only support RWKV v${version}, got ${String(cfg.model_version)}.`);
      }
      const h = intField(cfg, "hidden_size");
      if (!num(cfg.intermediate_size)) cfg.intermediate_size = Math.floor(Math.trunc(h * 3.5) / 32) * 32;
      const hs = intField(cfg, "head_size");
      if (num(cfg.num_heads) === 0) cfg.num_heads = Math.floor(h / hs);
      if (intField(cfg, "num_heads") * hs !== h) {
        throw new ConfigError(`hidden_size (${h}) must be divisible by head_size (${hs})`);
      }
      if (num(cfg.tensor_parallel_shards) !== 1) {
        throw new ConfigError("Only support single device at this moment.");
      }
    },
  };
}

/**
 * A parameter read from the HF tensor named like it with every `model` replaced by `rwkv`.
 *
 * @example
 * ```ts
 * import { rwkvParam } from "./_rwkv.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(rwkvParam("model.blocks.0.ln1.weight", [8]).sources, ["rwkv.blocks.0.ln1.weight"]);
 * ```
 */
export function rwkvParam(name: string, shape: readonly Dim[], extra: Partial<ArchParam> = {}): ArchParam {
  return { name, shape, sources: [name.replaceAll("model", "rwkv")], ...extra };
}

/** LayerNorm `weight` and `bias` of an RWKV model. */
function ln(prefix: string, h: number): ArchParam[] {
  return [rwkvParam(`${prefix}.weight`, [h]), rwkvParam(`${prefix}.bias`, [h])];
}

/**
 * The parameters of an RWKV model around its attention blocks, in module order: embeddings,
 * per block `pre_ln` (block 0 only), `ln1`, `ln2`, the attention (`attention(i)`), the
 * feed-forward time-mix parameters (`ffnMix`) and `key`/`receptance`/`value`, then `ln_out`
 * and `head`. `value` (and the attention `output`, in `attention`) get the rescale transform.
 *
 * @example
 * ```ts ignore
 * rwkvParams(cfg, (i) => [...], ["time_mix_key", "time_mix_receptance"], intermediate);
 * ```
 */
export function rwkvParams(
  cfg: ModelConfig,
  attention: (block: number) => ArchParam[],
  ffnMix: readonly string[],
  ffnInner: number,
): ArchParam[] {
  const h = intField(cfg, "hidden_size");
  const v = intField(cfg, "vocab_size");
  const lin = (name: string, out: number, inp: number, extra: Partial<ArchParam> = {}) =>
    rwkvParam(name, [out, inp], { quant: "linear", ...extra });
  const out: ArchParam[] = [rwkvParam("model.embeddings.weight", [v, h], { quant: "embedding" })];
  for (let i = 0; i < intField(cfg, "num_hidden_layers"); i++) {
    const b = `model.blocks.${i}`;
    if (i === 0) out.push(...ln(`${b}.pre_ln`, h));
    out.push(...ln(`${b}.ln1`, h), ...ln(`${b}.ln2`, h), ...attention(i));
    out.push(
      ...ffnMix.map((m) => rwkvParam(`${b}.feed_forward.${m}`, [1, 1, h])),
      lin(`${b}.feed_forward.key.weight`, ffnInner, h),
      lin(`${b}.feed_forward.receptance.weight`, h, h),
      lin(`${b}.feed_forward.value.weight`, h, ffnInner, rescaled(cfg, i)),
    );
  }
  out.push(...ln("model.ln_out", h), lin("head.weight", v, h));
  return out;
}

/**
 * The attention projections and the float32 GroupNorm `ln_x` every RWKV attention ends with:
 * `key`, `value`, `receptance`, `gate`, `output` (rescaled), `ln_x.weight`, `ln_x.bias`.
 *
 * @example
 * ```ts ignore
 * rwkvAttentionTail(cfg, "model.blocks.0.attention", 0);
 * ```
 */
export function rwkvAttentionTail(cfg: ModelConfig, a: string, block: number): ArchParam[] {
  const h = intField(cfg, "hidden_size");
  const lin = (n: string, extra: Partial<ArchParam> = {}) =>
    rwkvParam(`${a}.${n}.weight`, [h, h], { quant: "linear", ...extra });
  return [
    lin("key"),
    lin("value"),
    lin("receptance"),
    lin("gate"),
    lin("output", rescaled(cfg, block)),
    rwkvParam(`${a}.ln_x.weight`, [h], { dtype: "float32" }),
    rwkvParam(`${a}.ln_x.bias`, [h], { dtype: "float32" }),
  ];
}

/** `{ transform }` for a rescaled weight of block `i`, or nothing when `rescale_every` is 0. */
function rescaled(cfg: ModelConfig, i: number): Partial<ArchParam> {
  const every = intField(cfg, "rescale_every");
  return every > 0 ? { transform: rescaleTransform(Math.floor(i / every)) } : {};
}

const toF32 = (t: HostTensor): Float32Array => {
  const n = t.data.length / itemSize(t.dtype);
  const out = new Float32Array(n);
  castReference(t.data, t.dtype, new Uint8Array(out.buffer), "float32", n);
  return out;
};

/**
 * `x.astype(target) / 2**t` as numpy and ml_dtypes compute it: the cast (round to nearest
 * even), the quotient in float32, rounded to `target`.
 *
 * @example
 * ```ts
 * import { rescale } from "./_rwkv.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const t = rescale({ dtype: "float32", shape: [1], data: new Uint8Array(new Float32Array([3]).buffer) }, 1, "float16");
 * deepStrictEqual(new Uint16Array(t.data.buffer)[0], 0x3e00); // 1.5
 * ```
 */
export function rescale(t: HostTensor, power: number, target: DType): HostTensor {
  const x = toF32(t);
  const d = 2 ** power;
  const out = new Uint8Array(x.length * itemSize(target));
  const dv = new DataView(out.buffer);
  for (let k = 0; k < x.length; k++) {
    if (target === "float16") {
      const c = numberToF16(x[k]); // astype(float16)
      dv.setUint16(k * 2, numberToF16(Math.fround(f16ToNumber(c) / d)), true);
    } else if (target === "bfloat16") {
      const c = bf16Round(x[k]);
      dv.setUint16(k * 2, f32BitsToBf16(f32Bits(Math.fround(c / d))), true);
    } else if (target === "float32") dv.setFloat32(k * 4, Math.fround(x[k] / d), true);
    else throw new Error(`rescale: unsupported target dtype ${target}`);
  }
  return { dtype: target, shape: [...t.shape], data: out };
}

/**
 * `whole` transform: {@link rescale} by `2^power`.
 *
 * @example
 * ```ts
 * import { rescaleTransform } from "./_rwkv.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(rescaleTransform(2).kind, "whole");
 * ```
 */
export function rescaleTransform(power: number): ParamTransform {
  return { kind: "whole", apply: (s, target) => rescale(s[0], power, target), outShape: (sh) => [...sh[0]] };
}

/**
 * rwkv5's `time_decay` map: `np.exp(-np.exp(x.astype(float32)))`, with numpy's own float32
 * `exp` ({@link numpyExpF32}: the x86-64 SIMD loop, which is not correctly rounded; numpy on
 * other CPUs calls the C library's `expf`, which can differ in the last bit of some elements).
 *
 * @example
 * ```ts
 * import { expNegExp } from "./_rwkv.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const t = expNegExp({ dtype: "float32", shape: [1], data: new Uint8Array(new Float32Array([0]).buffer) });
 * deepStrictEqual(new Uint32Array(t.data.buffer)[0].toString(16), "3ebc5ab1"); // numpy; Math.exp(-1) rounds to ...b2
 * ```
 */
export function expNegExp(t: HostTensor): HostTensor {
  const x = toF32(t);
  const y = new Float32Array(x.length);
  for (let k = 0; k < x.length; k++) y[k] = numpyExpF32(-numpyExpF32(x[k]));
  return { dtype: "float32", shape: [...t.shape], data: new Uint8Array(y.buffer) };
}

/** `whole` transform: {@link expNegExp} of the single source. */
export const EXP_NEG_EXP: ParamTransform = {
  kind: "whole",
  apply: (s) => expNegExp(s[0]),
  outShape: (sh) => [...sh[0]],
};
