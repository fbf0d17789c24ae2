/**
 * The kernels `verify` runs: dtype casts, dequantization and the dequantize-matmul, on the WASM
 * SIMD kernels (`cpu`), on WebGPU (`webgpu`, matmul and dequantization on the GPU) or in plain
 * TypeScript with float64 accumulation (`reference`). A registry of factories, as `--device`.
 *
 * @module
 */
import type { DType, FloatDType } from "./dtype.ts";
import { WasmKernels } from "./kernels/wasm.ts";
import { bf16Value, castReference, f16Value } from "./quant/reference.ts";
import { groupConstants } from "./quant/schemes.ts";
import {
  createWebGpuBackend,
  type DequantJob,
  type DequantMatmulJob,
  describeWebGpuAdapter,
} from "./webgpu/backend.ts";

export type { DequantJob, DequantMatmulJob };

/** The compute `verify` needs. */
export interface VerifyKernels {
  /** `cpu`, `webgpu` or `reference`. */
  readonly name: VerifyDeviceName;
  /** Human-readable description (the adapter for WebGPU). */
  readonly description: string;
  /** Casts `count` elements (numpy `astype` semantics, as the conversion). */
  cast(src: Uint8Array, srcDtype: DType, dst: Uint8Array, dstDtype: FloatDType, count: number): void;
  /** Dequantizes NK codes to rows x k values. */
  dequantize(job: DequantJob): Promise<Float32Array | Float64Array>;
  /** out (batch x rows) = x (batch x k) times dequant(W)^T. */
  dequantMatmul(job: DequantMatmulJob): Promise<Float32Array | Float64Array>;
  /** Releases resources. */
  close(): Promise<void>;
}

/** A concrete `verify --device` value. */
export type VerifyDeviceName = "cpu" | "webgpu" | "reference";

/** Valid `verify --device` values (`auto`: a real GPU when there is one, else cpu). */
export const VERIFY_DEVICES: readonly string[] = ["cpu", "webgpu", "reference", "auto"];

const SHORT: Readonly<Record<string, string>> = { float16: "f16", bfloat16: "bf16", float32: "f32" };
const WASM_CASTS = new Set(["f16>f32", "bf16>f32", "f32>f16", "f32>bf16", "bf16>f16", "f16>bf16"]);

function wasmCast(k: WasmKernels): VerifyKernels["cast"] {
  return (src, srcDtype, dst, dstDtype, count) => {
    const kind = `${SHORT[srcDtype]}>${SHORT[dstDtype]}`;
    if (srcDtype === dstDtype) dst.set(src.subarray(0, count * (dstDtype === "float32" ? 4 : 2)));
    else if (WASM_CASTS.has(kind)) k.convertBytes(kind as "f16>f32", src, dst, count);
    else castReference(src, srcDtype, dst, dstDtype, count);
  };
}

/**
 * Dequantizes NK codes in float64 (`(code - max_int) * scale`; exact, so equal to the kernels'
 * float32 results).
 *
 * @example
 * ```ts
 * import { dequantizeReference } from "./verify_kernels.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(dequantizeReference({ words: new Uint32Array(4).fill(0x88888888), scales: new Uint16Array([0x3c00]),
 *   rows: 1, k: 32, bits: 4, groupSize: 32, modelDtype: "float16" })[0], 1);
 * ```
 */
export function dequantizeReference(job: DequantJob): Float64Array {
  const { rows, k, bits, groupSize, modelDtype } = job;
  const { elemPerWord, wordsPerGroup, maxInt } = groupConstants(job);
  const groups = Math.ceil(k / groupSize);
  const out = new Float64Array(rows * k);
  const mask = (1 << bits) - 1;
  const scale = modelDtype === "float32"
    ? (i: number) => (job.scales as Float32Array)[i]
    : modelDtype === "float16"
    ? (i: number) => f16Value((job.scales as Uint16Array)[i])
    : (i: number) => bf16Value((job.scales as Uint16Array)[i]);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) {
      const g = Math.floor(j / groupSize);
      const i = j - g * groupSize;
      const word = job.words[(r * groups + g) * wordsPerGroup + Math.floor(i / elemPerWord)];
      const code = (word >>> ((i % elemPerWord) * bits)) & mask;
      out[r * k + j] = (code - maxInt) * scale(r * groups + g);
    }
  }
  return out;
}

/**
 * The dequantize-matmul in float64: out[b, n] = sum_k x[b, k] * W[n, k].
 *
 * @example
 * ```ts
 * import { dequantMatmulReference } from "./verify_kernels.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(dequantMatmulReference({ words: new Uint32Array(4).fill(0x88888888), scales: new Uint16Array([0x3c00]),
 *   rows: 1, k: 32, bits: 4, groupSize: 32, modelDtype: "float16", x: new Float32Array(32).fill(1),
 *   batch: 1 })[0], 32);
 * ```
 */
export function dequantMatmulReference(job: DequantMatmulJob): Float64Array {
  const w = dequantizeReference(job);
  const { rows, k, batch, x } = job;
  const out = new Float64Array(batch * rows);
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += x[b * k + j] * w[r * k + j];
      out[b * rows + r] = s;
    }
  }
  return out;
}

function cpuKernels(): VerifyKernels {
  const k = WasmKernels.createSync();
  return {
    name: "cpu",
    description: "WebAssembly SIMD (simd128) kernels",
    cast: wasmCast(k),
    dequantize: (j) => Promise.resolve(k.dequantize(j.words, j.scales, j.rows, j.k, j)),
    dequantMatmul: (j) => Promise.resolve(k.dequantMatmul(j.words, j.scales, j.rows, j.k, j.x, j.batch, j)),
    close: () => Promise.resolve(),
  };
}

/** Factories by device; undefined with a reason when unavailable. */
const FACTORIES: Record<
  VerifyDeviceName,
  (allowFallback: boolean) => Promise<{ kernels?: VerifyKernels; reason?: string }>
> = {
  reference: () =>
    Promise.resolve({
      kernels: {
        name: "reference",
        description: "TypeScript, float64 accumulation",
        cast: castReference,
        dequantize: (j) => Promise.resolve(dequantizeReference(j)),
        dequantMatmul: (j) => Promise.resolve(dequantMatmulReference(j)),
        close: () => Promise.resolve(),
      },
    }),
  cpu: () => {
    try {
      return Promise.resolve({ kernels: cpuKernels() });
    } catch (e) {
      return Promise.resolve({ reason: `WebAssembly SIMD unavailable (${(e as Error).message})` });
    }
  },
  webgpu: async (allowFallback) => {
    const desc = await describeWebGpuAdapter().catch(() => undefined);
    if (!desc) return { reason: "no WebGPU adapter" };
    if (desc.isFallbackAdapter && !allowFallback) {
      return { reason: `only a software fallback adapter (${desc.summary})` };
    }
    const gpu = await createWebGpuBackend({ allowFallback });
    if (!gpu) return { reason: "the adapter refused to create a device" };
    const cast = wasmCast(WasmKernels.createSync()); // casts stay on the CPU; the checks run on the GPU
    return {
      kernels: {
        name: "webgpu",
        description: gpu.description,
        cast,
        dequantize: (j) => gpu.dequantize(j),
        dequantMatmul: (j) => gpu.dequantMatmul(j),
        close: () => gpu.close(),
      },
    };
  },
};

/**
 * Creates the kernels for `verify --device`: `webgpu` accepts a software fallback adapter
 * (asked for explicitly) and falls back to `cpu` with a message when there is no adapter;
 * `auto` uses a real GPU only.
 *
 * @example
 * ```ts
 * import { createVerifyKernels } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * const k = await createVerifyKernels("reference");
 * deepStrictEqual(k.name, "reference");
 * ```
 */
export async function createVerifyKernels(
  device: string,
  log: (msg: string) => void = () => {},
): Promise<VerifyKernels> {
  if (!VERIFY_DEVICES.includes(device)) {
    throw new Error(`Unknown device "${device}". Valid choices: ${VERIFY_DEVICES.join(", ")}`);
  }
  const order: VerifyDeviceName[] = device === "auto"
    ? ["webgpu", "cpu", "reference"]
    : device === "webgpu"
    ? ["webgpu", "cpu", "reference"]
    : device === "cpu"
    ? ["cpu", "reference"]
    : ["reference"];
  for (const d of order) {
    const r = await FACTORIES[d](device !== "auto");
    if (r.kernels) return r.kernels;
    log(`${d} not used (${r.reason}); falling back`);
  }
  throw new Error("no verify device available");
}
