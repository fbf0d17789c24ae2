/**
 * The interface every compute backend (TypeScript reference, WASM SIMD, WebGPU) implements.
 * All backends must produce byte-identical results.
 *
 * @module
 */
import type { DType, FloatDType } from "../dtype.ts";
import type { WasmKernels } from "../kernels/wasm.ts";

/** How `round` breaks ties: current MLC (TVM >= 2026-04) is `even`; older CPU builds `away`. */
export type TieRounding = "even" | "away";

/** Parameters of one group quantization call. */
export interface GroupQuantParams {
  /** 3 or 4. */
  readonly bits: 3 | 4;
  /** Elements per group. */
  readonly groupSize: number;
  /** Arithmetic and scale dtype. */
  readonly modelDtype: FloatDType;
  /** Tie rule of `round`. */
  readonly tie: TieRounding;
  /**
   * MLC's `output_transpose` (Linear weights of the KN layouts; the caller transposes the
   * outputs). MLC computes the scale, then transposes it, so the untransposed scale is an internal
   * buffer, which TVM's BF16ComputeLegalize re-types to float32 (apache/tvm
   * `src/tir/transforms/unsupported_dtype_legalize.cc`, `ComputeLegalizePlanner`): for bfloat16
   * the codes are computed with the unrounded float32 `max_abs / max_int`, while the stored scale
   * is rounded to bfloat16 as always. No effect for float16 and float32. Default false.
   */
  readonly outputTranspose?: boolean;
}

/**
 * The kernels' `tie` flags of a job: bit 0 ties away (else to even), bit 1 bfloat16 codes from
 * the unrounded float32 scale ({@link GroupQuantParams.outputTranspose}).
 *
 * @example
 * ```ts
 * import { kernelTieFlags } from "./backend.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(kernelTieFlags({ tie: "away", outputTranspose: true }), 3);
 * ```
 */
export function kernelTieFlags(p: Pick<GroupQuantParams, "tie" | "outputTranspose">): number {
  return (p.tie === "away" ? 1 : 0) | (p.outputTranspose ? 2 : 0);
}

/**
 * Quantize `rows` rows of `k` elements each (last axis), NK layout.
 * - `input`: model-dtype elements, row-major: Uint16Array of f16/bf16 bits, or Float32Array.
 * - `words`: receives rows x (wordsPerGroup * ceil(k / groupSize)) uint32 codes.
 * - `scales`: receives rows x ceil(k / groupSize) scales: Uint16Array bits for f16/bf16,
 *   Float32Array for float32.
 */
export interface GroupQuantJob extends GroupQuantParams {
  /** Model-dtype input elements. */
  readonly input: Uint16Array | Float32Array;
  /** Number of rows. */
  readonly rows: number;
  /** Elements per row (K). */
  readonly k: number;
  /** Output words. */
  readonly words: Uint32Array;
  /** Output scales. */
  readonly scales: Uint16Array | Float32Array;
}

/** A compute backend. */
export interface QuantBackend {
  /** `reference`, `cpu` or `webgpu`. */
  readonly name: string;
  /** Human-readable description (e.g. the GPU adapter). */
  readonly description: string;
  /**
   * Converts `count` little-endian elements of `srcDtype` in `src` to `dstDtype` in `dst`
   * (numpy/ml_dtypes `astype` semantics: RNE, overflow to inf, NaN kept).
   */
  cast(src: Uint8Array, srcDtype: DType, dst: Uint8Array, dstDtype: FloatDType, count: number): Promise<void>;
  /** Group quantization, NK layout. */
  groupQuantize(job: GroupQuantJob): Promise<void>;
  /**
   * Optional fused cast + group quantization: `src` holds `rows * k` little-endian elements of
   * `srcDtype`; must equal `cast` to `job.modelDtype` followed by `groupQuantize`.
   */
  castGroupQuantize?(src: Uint8Array, srcDtype: DType, job: Omit<GroupQuantJob, "input">): Promise<void>;
  /**
   * Optional: the WebAssembly kernels this backend computes with. The conversion pipeline then
   * runs its chunk jobs with them itself (the fused job runner, source rows read straight into
   * kernel memory, on this thread or in kernel workers writing into the shard buffers).
   */
  readonly kernels?: WasmKernels;
  /** Releases resources (workers, GPU device). */
  close(): Promise<void>;
}
