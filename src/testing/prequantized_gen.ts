/**
 * Tiny deterministic pre-quantized checkpoints, laid out as the published formats are: an
 * AutoAWQ GEMM llama (`qweight` `(K, N/8)` int32, `qzeros` `(K/128, N/8)` int32, `scales`
 * `(K/128, N)` float16 per Linear; float16 embeddings, norms and `lm_head`) and an FP8
 * block-scale qwen3 (`weight` `(N, K)` F8_E4M3 with `weight_scale_inv` `(ceil(N/b0), ceil(K/b1))`
 * F32 per Linear, `quantization_config.weight_block_size`; bfloat16 elsewhere). Every value is a
 * formula of (tensor tag, row, column), so tests can name the bytes they expect.
 *
 * @module
 */
import { fromDict } from "../arch/config.ts";
import { ARCHITECTURES } from "../arch/registry.ts";
import { importParams } from "../quant/import_params.ts";
import { IMPORT_QUANTIZATIONS } from "../quant/schemes.ts";
import { encodeSafetensors } from "../safetensors.ts";
import { hfTensors } from "./hf_layouts.ts";
import { encodeStateDictPickle, encodeStoredZip, type PickledTensor, zipBytes } from "./torch_writer.ts";

/** One generated tensor. */
export interface GenTensor {
  /** HF name. */
  name: string;
  /** Safetensors dtype. */
  stDtype: string;
  /** Shape. */
  shape: number[];
  /** Little-endian bytes. */
  data: Uint8Array;
}

/** A tiny llama that AWQ can hold (K a multiple of 128): one layer, 4 query heads, 2 KV heads. */
export const AWQ_LLAMA_CONFIG: Readonly<Record<string, unknown>> = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_act: "silu",
  hidden_size: 128,
  intermediate_size: 256,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 1,
  rms_norm_eps: 1e-5,
  vocab_size: 32,
  max_position_embeddings: 64,
  torch_dtype: "float16",
  quantization_config: { quant_method: "awq", bits: 4, group_size: 128, version: "gemm", zero_point: true },
};

/** A tiny FP8 qwen3: hidden 64, head_dim 32, blocks [32, 64] (down_proj's K = 96 needs a partial block). */
export const FP8_QWEN3_CONFIG: Readonly<Record<string, unknown>> = {
  architectures: ["Qwen3ForCausalLM"],
  model_type: "qwen3",
  attention_bias: false,
  hidden_act: "silu",
  hidden_size: 64,
  intermediate_size: 96,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 32,
  num_hidden_layers: 1,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  vocab_size: 32,
  max_position_embeddings: 64,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  quantization_config: {
    activation_scheme: "dynamic",
    fmt: "e4m3",
    quant_method: "fp8",
    weight_block_size: [32, 64],
  },
};

/**
 * AWQ word of tensor `tag` at `[r, c]`: `tag << 24 | r << 8 | c` (tags from 0x80 are negative
 * int32s, as real AWQ words often are).
 *
 * @example
 * ```ts
 * import { awqWord } from "./prequantized_gen.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(awqWord(0x82, 1, 0).toString(16), "82000100");
 * ```
 */
export function awqWord(tag: number, r: number, c: number): number {
  return ((tag << 24) | (r << 8) | c) >>> 0;
}

/**
 * Float16 bits of tensor `tag` at `[r, c]` (finite, distinct per position).
 *
 * @example
 * ```ts
 * import { f16Bits } from "./prequantized_gen.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(f16Bits(1, 0, 2).toString(16), "3002");
 * ```
 */
export function f16Bits(tag: number, r: number, c: number): number {
  return 0x2c00 + (tag << 10) + ((r * 7 + c) & 0x3ff);
}

/**
 * FP8 e4m3fn byte of tensor `tag` at `[r, c]` (never the NaN patterns 0x7f / 0xff).
 *
 * @example
 * ```ts
 * import { f8Byte } from "./prequantized_gen.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(f8Byte(2, 1, 3), 0xb6);
 * ```
 */
export function f8Byte(tag: number, r: number, c: number): number {
  return ((tag << 4) + r * 13 + c * 3) % 0x7f | (c & 1 ? 0x80 : 0);
}

/**
 * Float32 bits of scale_inv `tag` at `[r, c]`: the low half is exactly half a bf16 ulp (a tie)
 * in column 0 and just above it elsewhere, so the f32-to-bf16 encoding is visible.
 *
 * @example
 * ```ts
 * import { scaleBits } from "./prequantized_gen.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(scaleBits(1, 1, 0).toString(16), "3c098000");
 * ```
 */
export function scaleBits(tag: number, r: number, c: number): number {
  return (0x3c000000 + (tag << 19) + (r << 16) + 0x8000 + (c ? 1 : 0)) >>> 0;
}

/** Bytes of a tensor filled element by element. */
function fill(shape: number[], bytes: 1 | 2 | 4, f: (r: number, c: number) => number): Uint8Array {
  const cols = shape.length > 1 ? shape[shape.length - 1] : shape[0];
  const rows = shape.length > 1 ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
  const data = new Uint8Array(rows * cols * bytes);
  const dv = new DataView(data.buffer);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = f(r, c);
      const at = (r * cols + c) * bytes;
      if (bytes === 1) dv.setUint8(at, v);
      else if (bytes === 2) dv.setUint16(at, v, true);
      else dv.setUint32(at, v, true);
    }
  }
  return data;
}

/** Tags, by HF module suffix, used by both generators (tests read them to name bytes). */
export const TAGS: Readonly<Record<string, number>> = {
  q_proj: 1,
  k_proj: 2,
  v_proj: 3,
  o_proj: 4,
  gate_proj: 5,
  up_proj: 6,
  down_proj: 7,
};

/** Linear shapes `(N, K)` of a one-layer llama / qwen3 from its config. */
function linears(cfg: Readonly<Record<string, unknown>>): [string, number, number][] {
  const h = cfg.hidden_size as number, i = cfg.intermediate_size as number;
  const heads = cfg.num_attention_heads as number, kv = cfg.num_key_value_heads as number;
  const d = (cfg.head_dim as number | undefined) ?? h / heads;
  return [
    ["self_attn.q_proj", heads * d, h],
    ["self_attn.k_proj", kv * d, h],
    ["self_attn.v_proj", kv * d, h],
    ["self_attn.o_proj", h, heads * d],
    ["mlp.gate_proj", i, h],
    ["mlp.up_proj", i, h],
    ["mlp.down_proj", h, i],
  ];
}

const tagOf = (module: string): number => TAGS[module.split(".").pop()!];

/** The float tensors (embeddings, norms, head) in `st` (values near 2^-4 / 2^-7). */
function floats(
  cfg: Readonly<Record<string, unknown>>,
  st: string,
  extraNorms: [string, number][],
): GenTensor[] {
  const h = cfg.hidden_size as number, v = cfg.vocab_size as number;
  const t = (name: string, shape: number[]): GenTensor => ({
    name,
    stDtype: st,
    shape,
    data: fill(shape, 2, (r, c) => (st === "BF16" ? 0x3c00 : 0x2c00) + ((r * 7 + c) & 0x3ff)),
  });
  return [
    t("lm_head.weight", [v, h]),
    t("model.embed_tokens.weight", [v, h]),
    t("model.layers.0.input_layernorm.weight", [h]),
    t("model.layers.0.post_attention_layernorm.weight", [h]),
    ...extraNorms.map(([n, d]) => t(n, [d])),
    t("model.norm.weight", [h]),
  ];
}

/**
 * The tensors of the tiny AutoAWQ llama ({@link AWQ_LLAMA_CONFIG}), sorted by name as
 * safetensors writes them.
 *
 * @example
 * ```ts
 * import { awqLlamaTensors } from "./prequantized_gen.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(awqLlamaTensors().find((t) => t.name.endsWith("k_proj.qweight"))!.shape, [128, 8]);
 * ```
 */
export function awqLlamaTensors(): GenTensor[] {
  const out = floats(AWQ_LLAMA_CONFIG, "F16", []);
  for (const [m, n, k] of linears(AWQ_LLAMA_CONFIG)) {
    const p = `model.layers.0.${m}`;
    const tag = tagOf(m);
    out.push(
      {
        name: `${p}.qweight`,
        stDtype: "I32",
        shape: [k, n / 8],
        data: fill([k, n / 8], 4, (r, c) => awqWord(0x80 | tag, r, c)),
      },
      {
        name: `${p}.qzeros`,
        stDtype: "I32",
        shape: [k / 128, n / 8],
        data: fill([k / 128, n / 8], 4, (r, c) => awqWord(0x10 | tag, r, c)),
      },
      {
        name: `${p}.scales`,
        stDtype: "F16",
        shape: [k / 128, n],
        data: fill([k / 128, n], 2, (r, c) => f16Bits(tag, r, c)),
      },
    );
  }
  return out.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * The tensors of the tiny FP8 qwen3 ({@link FP8_QWEN3_CONFIG}), sorted by name.
 *
 * @example
 * ```ts
 * import { fp8Qwen3Tensors } from "./prequantized_gen.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(fp8Qwen3Tensors().find((t) => t.name.endsWith("down_proj.weight_scale_inv"))!.shape, [2, 2]);
 * ```
 */
export function fp8Qwen3Tensors(): GenTensor[] {
  const cfg = FP8_QWEN3_CONFIG;
  const [b0, b1] = (cfg.quantization_config as { weight_block_size: number[] }).weight_block_size;
  const d = cfg.head_dim as number;
  const out = floats(cfg, "BF16", [
    ["model.layers.0.self_attn.k_norm.weight", d],
    ["model.layers.0.self_attn.q_norm.weight", d],
  ]);
  for (const [m, n, k] of linears(cfg)) {
    const p = `model.layers.0.${m}`;
    const tag = tagOf(m);
    const ss = [Math.ceil(n / b0), Math.ceil(k / b1)];
    out.push(
      {
        name: `${p}.weight`,
        stDtype: "F8_E4M3",
        shape: [n, k],
        data: fill([n, k], 1, (r, c) => f8Byte(tag, r, c)),
      },
      {
        name: `${p}.weight_scale_inv`,
        stDtype: "F32",
        shape: ss,
        data: fill(ss, 4, (r, c) => scaleBits(tag, r, c)),
      },
    );
  }
  return out.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * Writes `config.json` and `model.safetensors` of a generated checkpoint into `dir`.
 *
 * @example
 * ```ts ignore
 * await writePrequantized(dir, AWQ_LLAMA_CONFIG, awqLlamaTensors());
 * ```
 */
export async function writePrequantized(
  dir: string,
  config: Readonly<Record<string, unknown>>,
  tensors: GenTensor[],
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config, null, 2));
  await Deno.writeFile(`${dir}/model.safetensors`, encodeSafetensors(tensors));
}

/** A tiny FP8 qwen3_moe: {@link FP8_QWEN3_CONFIG}'s attention, 2 experts of 32 (blocks [32, 64]). */
export const FP8_QWEN3_MOE_CONFIG: Readonly<Record<string, unknown>> = {
  ...FP8_QWEN3_CONFIG,
  architectures: ["Qwen3MoeForCausalLM"],
  model_type: "qwen3_moe",
  moe_intermediate_size: 32,
  num_experts: 2,
  num_experts_per_tok: 1,
  decoder_sparse_step: 1,
  norm_topk_prob: true,
};

/**
 * The tensors of the tiny FP8 qwen3_moe ({@link FP8_QWEN3_MOE_CONFIG}), sorted by name: the
 * attention of {@link fp8Qwen3Tensors}, a bfloat16 router `mlp.gate` and per expert `e` FP8
 * gate / up / down projections (tags `0x10 * (e + 1)` plus gate 5, up 6, down 7) with their
 * `weight_scale_inv`.
 *
 * @example
 * ```ts
 * import { fp8Qwen3MoeTensors } from "./prequantized_gen.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(fp8Qwen3MoeTensors().find((t) => t.name.endsWith("experts.1.down_proj.weight"))!.shape, [64, 32]);
 * ```
 */
export function fp8Qwen3MoeTensors(): GenTensor[] {
  const cfg = FP8_QWEN3_MOE_CONFIG;
  const [b0, b1] = (cfg.quantization_config as { weight_block_size: number[] }).weight_block_size;
  const h = cfg.hidden_size as number, i = cfg.moe_intermediate_size as number;
  const out = fp8Qwen3Tensors().filter((t) => !t.name.includes(".mlp."));
  const e = cfg.num_experts as number;
  out.push({
    name: "model.layers.0.mlp.gate.weight",
    stDtype: "BF16",
    shape: [e, h],
    data: fill([e, h], 2, (r, c) => 0x3c00 + r * 64 + c),
  });
  for (let x = 0; x < e; x++) {
    for (const [m, n, k] of [["gate_proj", i, h], ["up_proj", i, h], ["down_proj", h, i]] as const) {
      const p = `model.layers.0.mlp.experts.${x}.${m}`;
      const tag = 0x10 * (x + 1) + TAGS[m];
      const ss = [Math.ceil(n / b0), Math.ceil(k / b1)];
      out.push(
        {
          name: `${p}.weight`,
          stDtype: "F8_E4M3",
          shape: [n, k],
          data: fill([n, k], 1, (r, c) => f8Byte(tag, r, c)),
        },
        {
          name: `${p}.weight_scale_inv`,
          stDtype: "F32",
          shape: ss,
          data: fill(ss, 4, (r, c) => scaleBits(tag & 0x3f, r, c)),
        },
      );
    }
  }
  return out.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * An FP8 block-scale checkpoint of any architecture MLC imports block-scale for, from its HF
 * layout ({@link hfTensors}): the sources of the float8_e4m3fn parameters become F8_E4M3 (with a
 * `weight_scale_inv` F32 of `(ceil(N/b0), ceil(K/b1))` blocks), the rest BF16; tensor `i` (in
 * layout order) has tag `i % 60 + 1`. Sorted by name. `hfConfig` must carry
 * `quantization_config.weight_block_size`.
 *
 * @example
 * ```ts ignore
 * const tensors = fp8CheckpointTensors("deepseek_v3", { ...cfg, quantization_config: qc });
 * ```
 */
export function fp8CheckpointTensors(arch: string, hfConfig: Record<string, unknown>): GenTensor[] {
  const a = ARCHITECTURES[arch];
  const config = fromDict(a.configClass, hfConfig);
  const problems: string[] = [];
  const params = importParams(a, config, IMPORT_QUANTIZATIONS.fp8_e4m3fn_bf16_block_scale, problems);
  if (problems.length) throw new Error(problems.join("\n"));
  const fp8 = new Set(params.filter((p) => p.dtype === "float8_e4m3fn").flatMap((p) => p.sources));
  const [b0, b1] = (hfConfig.quantization_config as { weight_block_size: number[] }).weight_block_size;
  const out: GenTensor[] = [];
  hfTensors(arch, hfConfig).forEach((t, i) => {
    const tag = i % 60 + 1;
    if (!fp8.has(t.name)) {
      out.push({
        name: t.name,
        stDtype: "BF16",
        shape: t.shape,
        data: fill(t.shape, 2, (r, c) => 0x3c00 + ((tag * 5 + r * 7 + c) & 0x3ff)),
      });
      return;
    }
    const [n, k] = t.shape;
    const ss = [Math.ceil(n / b0), Math.ceil(k / b1)];
    out.push(
      {
        name: t.name,
        stDtype: "F8_E4M3",
        shape: t.shape,
        data: fill(t.shape, 1, (r, c) => f8Byte(tag, r, c)),
      },
      {
        name: `${t.name}_scale_inv`,
        stDtype: "F32",
        shape: ss,
        data: fill(ss, 4, (r, c) => scaleBits(tag, r, c)),
      },
    );
  });
  return out.sort((x, y) => x.name < y.name ? -1 : x.name > y.name ? 1 : 0);
}

/**
 * An AutoAWQ GEMM checkpoint of any architecture MLC imports AWQ for, from its HF layout
 * ({@link hfTensors}): each quantized Linear `(N, K)` becomes `qweight (K, N/8)` / `qzeros
 * (K/128, N/8)` I32 and `scales (K/128, N)` F16 (tag `0x80 | i % 100 + 1`, `0x10 + i % 100 + 1`
 * and `i % 7 + 1` for tensor `i` in layout order), the rest F16. Sorted by name.
 *
 * @example
 * ```ts ignore
 * const tensors = awqCheckpointTensors("eagle", cfg);
 * ```
 */
export function awqCheckpointTensors(arch: string, hfConfig: Record<string, unknown>): GenTensor[] {
  const a = ARCHITECTURES[arch];
  const problems: string[] = [];
  const params = importParams(
    a,
    fromDict(a.configClass, hfConfig),
    IMPORT_QUANTIZATIONS.q4f16_autoawq,
    problems,
  );
  if (problems.length) throw new Error(problems.join("\n"));
  const quantized = new Set(
    params.filter((p) => p.name.endsWith(".qweight")).flatMap((p) =>
      p.sources.map((s) => s.replace(/qweight$/, "weight"))
    ),
  );
  const out: GenTensor[] = [];
  hfTensors(arch, hfConfig).forEach((t, i) => {
    const tag = i % 100 + 1;
    if (!quantized.has(t.name)) {
      out.push({
        name: t.name,
        stDtype: "F16",
        shape: t.shape,
        data: fill(t.shape, 2, (r, c) => f16Bits(tag % 7 + 1, r, c)),
      });
      return;
    }
    const [n, k] = t.shape;
    const p = t.name.slice(0, -".weight".length);
    const qs = [k / 128, n / 8];
    out.push(
      {
        name: `${p}.qweight`,
        stDtype: "I32",
        shape: [k, n / 8],
        data: fill([k, n / 8], 4, (r, c) => awqWord(0x80 | tag, r, c)),
      },
      {
        name: `${p}.qzeros`,
        stDtype: "I32",
        shape: qs,
        data: fill(qs, 4, (r, c) => awqWord(0x10 + tag, r, c)),
      },
      {
        name: `${p}.scales`,
        stDtype: "F16",
        shape: [k / 128, n],
        data: fill([k / 128, n], 2, (r, c) => f16Bits(tag % 7 + 1, r, c)),
      },
    );
  });
  return out.sort((x, y) => x.name < y.name ? -1 : x.name > y.name ? 1 : 0);
}

/** torch storage classes of the generated dtypes. */
const TORCH_STORAGE: Readonly<Record<string, string>> = {
  I32: "IntStorage",
  F16: "HalfStorage",
  BF16: "BFloat16Storage",
  F32: "FloatStorage",
  F8_E4M3: "Float8_e4m3fnStorage",
};

/**
 * The bytes of a `pytorch_model.bin` (torch.save's zip format, stored entries) holding
 * `tensors` in order, each in its own storage: the pre-quantized checkpoints as `.bin`.
 *
 * @example
 * ```ts
 * import { awqLlamaTensors, encodeTorchBin } from "./prequantized_gen.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(encodeTorchBin(awqLlamaTensors().slice(0, 1))[0], 0x50); // "P" of "PK"
 * ```
 */
export function encodeTorchBin(tensors: readonly GenTensor[]): Uint8Array {
  const pickled: PickledTensor[] = tensors.map((t, i) => ({
    name: t.name,
    storageClass: TORCH_STORAGE[t.stDtype],
    key: String(i),
    numel: t.shape.reduce((a, b) => a * b, 1),
    offset: 0,
    shape: t.shape,
    stride: t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1)),
  }));
  const text = (s: string) => new TextEncoder().encode(s);
  return zipBytes(encodeStoredZip([
    { name: "archive/data.pkl", data: encodeStateDictPickle(pickled) },
    { name: "archive/byteorder", data: text("little") },
    ...tensors.map((t, i) => ({ name: `archive/data/${i}`, data: t.data })),
    { name: "archive/version", data: text("3\n") },
  ]));
}
