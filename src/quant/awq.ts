/**
 * AWQ import (`q4f16_autoawq`, `--source-format awq`): how MLC's AWQ loaders map AutoAWQ GEMM
 * checkpoints (`qweight` / `qzeros` / `scales`, group 128, 8 int4 per int32 in AWQ's interleaved
 * order) onto MLC's `AWQQuantizeLinear` parameters. It is a pure copy: fused modules
 * concatenate along axis 1, then `astype` (int32 -> uint32 keeps the bits; scales to float16).
 *
 * Sources: `mlc:python/mlc_llm/quantization/awq_quantization.py` (AWQQuantizeLinear params,
 * `_dequantize` with `ft_reorder=True`), `mlc:python/mlc_llm/model/llama/llama_loader.py::awq`
 * (axis-1 concatenation), `mlc:python/mlc_llm/model/model.py` (which models register it);
 * spec/quant.md section 5.1.
 *
 * @module
 */
import type { ArchParam, HostTensor } from "../arch/types.ts";
import type { DType } from "../dtype.ts";

/** AWQ group size (MLC's `q4f16_autoawq`: `group_size=128`). */
export const AWQ_GROUP_SIZE = 128;
/** Int4 elements per uint32 storage word. */
export const AWQ_PACK = 8;
/** AutoAWQ's packing order: nibble position p of a word holds logical column `AWQ_ORDER[p]`. */
export const AWQ_ORDER: readonly number[] = [0, 2, 4, 6, 1, 3, 5, 7];

/** MLC model types whose loader registers an `awq` source and whose model supports AWQ. */
export const AWQ_ARCHITECTURES: ReadonlySet<string> = new Set(["llama", "olmo", "eagle"]);

/** Why MLC cannot import AWQ for the other model types that mention it (spec/models.md table). */
const AWQ_REFUSALS: Readonly<Record<string, string>> = {
  mistral: "MLC's mistral_loader.awq crashes (it unpacks 2 values from export_tvm, which returns 3) and " +
    "mistral has no awq quantize entry",
  mixtral: "MLC's mixtral sets supports_awq but has no awq source loader (it raises NotImplementedError)",
  nemotron: "MLC's nemotron sets supports_awq but has no awq source loader",
  cohere: "MLC's cohere_loader.awq exists but is not registered in model.py",
};

/**
 * Why `q4f16_autoawq` cannot convert this model type, or `undefined` when MLC registers an AWQ
 * loader for it.
 *
 * @example
 * ```ts
 * import { awqRefusal } from "./awq.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(awqRefusal("llama"), undefined);
 * deepStrictEqual(awqRefusal("qwen2")!.startsWith("MLC has no AWQ loader for qwen2"), true);
 * ```
 */
export function awqRefusal(modelType: string): string | undefined {
  if (AWQ_ARCHITECTURES.has(modelType)) return undefined;
  const why = AWQ_REFUSALS[modelType] ?? `MLC has no AWQ loader for ${modelType}`;
  return `${why}; q4f16_autoawq imports AutoAWQ checkpoints for ${[...AWQ_ARCHITECTURES].join(", ")} only`;
}

/** One MLC parameter of an AWQ model: its sources are concatenated along `axis`. */
export interface AwqParam {
  /** MLC name (`...qkv_proj.qweight`, `...scales`, or a non-quantized name). */
  readonly name: string;
  /** Shape (symbolic dims of non-quantized params kept). */
  readonly shape: readonly (number | string)[];
  /** Stored dtype: uint32 for packed words, float16 for scales and everything else. */
  readonly dtype: DType;
  /** AutoAWQ tensor names, in concatenation order. */
  readonly sources: readonly string[];
  /** Concatenation axis: 1 for AWQ tensors (AWQ GEMM stores them transposed), 0 otherwise. */
  readonly axis: 0 | 1;
}

const FINAL_FC = new Set(["head", "lm_head", "lm_head.linear", "embed_out"]);

/**
 * MLC's AWQ parameter list from an architecture's no-quant parameters: every Linear weight
 * `(N, K)` that is not a final FC or MoE gate becomes `qweight (K, N/8)`, `qzeros (K/128, N/8)`
 * (uint32) and `scales (K/128, N)` (float16) in that order, each from the same-suffix AutoAWQ
 * tensors of the weight's sources; the rest (embeddings, norms, `lm_head`, biases) keep their
 * names and are cast to float16 (or stay pinned float32).
 *
 * @example
 * ```ts
 * import { awqParams } from "./awq.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const p = awqParams([{ name: "m.o_proj.weight", shape: [256, 128], sources: ["m.o_proj.weight"], quant: "linear" }]);
 * deepStrictEqual(p.map((x) => `${x.name} ${x.shape}`), ["m.o_proj.qweight 128,32", "m.o_proj.qzeros 1,32", "m.o_proj.scales 1,256"]);
 * ```
 */
export function awqParams(params: readonly ArchParam[]): AwqParam[] {
  const out: AwqParam[] = [];
  for (const p of params) {
    const module = p.name.endsWith(".weight") ? p.name.slice(0, -".weight".length) : undefined;
    const gate = module?.endsWith("gate") && typeof p.shape[0] === "number" && p.shape[0] <= 256;
    if (p.quant !== "linear" || module === undefined || FINAL_FC.has(module) || gate) {
      out.push({ name: p.name, shape: p.shape, dtype: p.dtype ?? "float16", sources: p.sources, axis: 0 });
      continue;
    }
    const [n, k] = p.shape;
    if (typeof n !== "number" || typeof k !== "number") {
      throw new Error(`${p.name}: AWQ needs a fixed (N, K) shape, got ${JSON.stringify(p.shape)}`);
    }
    if (n % AWQ_PACK !== 0 || k % AWQ_GROUP_SIZE !== 0) {
      throw new Error(
        `${p.name}: AWQ needs N divisible by ${AWQ_PACK} and K by ${AWQ_GROUP_SIZE}, got (N, K) = (${n}, ${k})`,
      );
    }
    const src = (suffix: string): string[] => p.sources.map((s) => s.replace(/\.weight$/, `.${suffix}`));
    out.push(
      {
        name: `${module}.qweight`,
        shape: [k, n / AWQ_PACK],
        dtype: "uint32",
        sources: src("qweight"),
        axis: 1,
      },
      {
        name: `${module}.qzeros`,
        shape: [k / AWQ_GROUP_SIZE, n / AWQ_PACK],
        dtype: "uint32",
        sources: src("qzeros"),
        axis: 1,
      },
      {
        name: `${module}.scales`,
        shape: [k / AWQ_GROUP_SIZE, n],
        dtype: "float16",
        sources: src("scales"),
        axis: 1,
      },
    );
  }
  return out;
}

/**
 * `np.concatenate(parts, axis=1)` of 2-D row-major tensors with equal row counts and dtype
 * (bytes copied as they are: int32 -> uint32 is the same bits).
 *
 * @example
 * ```ts
 * import { concatAxis1 } from "./awq.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const a = { dtype: "uint32" as const, shape: [2, 1], data: new Uint8Array(new Uint32Array([1, 2]).buffer) };
 * const b = { dtype: "uint32" as const, shape: [2, 1], data: new Uint8Array(new Uint32Array([3, 4]).buffer) };
 * deepStrictEqual([...new Uint32Array(concatAxis1([a, b]).data.buffer)], [1, 3, 2, 4]);
 * ```
 */
export function concatAxis1(parts: readonly HostTensor[]): HostTensor {
  const rows = parts[0].shape[0];
  const item = parts[0].data.length / Math.max(1, parts[0].shape[0] * parts[0].shape[1]);
  for (const t of parts) {
    if (t.shape.length !== 2 || t.shape[0] !== rows || t.dtype !== parts[0].dtype) {
      throw new Error(
        `AWQ concatenation along axis 1 needs 2-D tensors with ${rows} rows of one dtype, got ${t.dtype} ${
          JSON.stringify(t.shape)
        }`,
      );
    }
  }
  const cols = parts.reduce((a, t) => a + t.shape[1], 0);
  const data = new Uint8Array(rows * cols * item);
  let o = 0;
  for (let r = 0; r < rows; r++) {
    for (const t of parts) {
      const len = t.shape[1] * item;
      data.set(t.data.subarray(r * len, (r + 1) * len), o);
      o += len;
    }
  }
  return { dtype: parts[0].dtype, shape: [rows, cols], data };
}

/**
 * The 8 logical int4 values of one AWQ word as MLC's dequantization reads them
 * (`convert_uint_to_float(..., ft_reorder=True)`: logical element e at bit
 * `((e % 2) * 4 + e >> 1) * 4`).
 *
 * @example
 * ```ts
 * import { unpackAwqWord } from "./awq.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(unpackAwqWord(0x76543210), [0, 4, 1, 5, 2, 6, 3, 7]);
 * ```
 */
export function unpackAwqWord(word: number): number[] {
  const out: number[] = [];
  for (let e = 0; e < AWQ_PACK; e++) out.push((word >>> (((e % 2) * 4 + (e >> 1)) * 4)) & 0xf);
  return out;
}

/**
 * Packs 8 logical int4 values the way AutoAWQ's GEMM packer does (position p holds
 * `values[AWQ_ORDER[p]]`); the inverse of {@link unpackAwqWord}.
 *
 * @example
 * ```ts
 * import { packAwqWord } from "./awq.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(packAwqWord([0, 1, 2, 3, 4, 5, 6, 7]).toString(16), "75316420");
 * ```
 */
export function packAwqWord(values: readonly number[]): number {
  let w = 0;
  for (let p = 0; p < AWQ_PACK; p++) w |= (values[AWQ_ORDER[p]] & 0xf) << (4 * p);
  return w >>> 0;
}
