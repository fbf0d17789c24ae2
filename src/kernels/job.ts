/**
 * One kernel job: a chunk of rows of one parameter, cast to the model dtype (and group
 * quantized), by the fused kernels in linear memory. One runner for the conversion pipeline's
 * main thread and its kernel workers: the job's rows are read part by part into a work region
 * (the part just read is still in the core's cache when the kernel takes it), non-finite source
 * values counted, and the outputs written where the job says (the work region, or their place
 * in a shard buffer in the same memory). Self-contained functions (no imports, no captured
 * variables, {@link runKernelJob} calling {@link kernelJobLayout}): the workers run them too
 * (see `startWorker`).
 *
 * @module
 */
// deno-lint-ignore-file no-explicit-any

/** A chunk job as the kernels see it (dtype codes of the kernels' ABI, byte offsets). */
export interface KernelJob {
  /** Fused cast + quantize, or cast only. */
  kind: "quant" | "cast";
  /** Source dtype code (0 f16, 1 bf16, 2 f32). */
  srcDtype: number;
  /** Bytes per source element. */
  srcSize: number;
  /** Model dtype code. */
  modelDtype: number;
  /** Rows of the chunk. */
  rows: number;
  /** Elements per row. */
  k: number;
  /** Quantization bits (3 or 4). */
  bits: number;
  /** Group size. */
  groupSize: number;
  /** The kernels' tie flags (`kernelTieFlags`): bit 0 ties away, bit 1 bf16 codes from the f32 scale. */
  tie: number;
  /** Bytes of words (or cast elements) of the whole chunk. */
  outBytes: number;
  /** Bytes of scales of the whole chunk. */
  scaleBytes: number;
  /** Rows read and converted at a time (at most `rows`). */
  partRows: number;
  /** Where the words (or cast elements) go instead of the work region (a memory offset). */
  wordsAt?: number;
  /** Where the scales go instead of the work region (a memory offset). */
  scalesAt?: number;
}

/**
 * Bytes of work region {@link runKernelJob} needs for `job`: the kernel's scratch row, a part's
 * input, and the outputs (words, then scales).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kernelJobBytes } from "./job.ts";
 * const job = { kind: "quant", srcDtype: 1, srcSize: 2, modelDtype: 0, rows: 4, k: 64, bits: 4,
 *   groupSize: 32, tie: 0, outBytes: 4 * 32, scaleBytes: 4 * 2 * 2, partRows: 2 } as const;
 * assert.equal(kernelJobBytes(job), 256 + 256 + 128 + 16);
 * ```
 */
export function kernelJobBytes(job: KernelJob): number {
  const align16 = (n: number) => (n + 15) & ~15;
  return align16(job.k * 4) + align16(job.partRows * job.k * job.srcSize) + align16(job.outBytes) +
    job.scaleBytes;
}

/**
 * Where {@link runKernelJob} puts things in the work region at `base`: the kernel's scratch
 * row, the input of a part, the outputs (unless the job places them elsewhere).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kernelJobLayout } from "./job.ts";
 * const job = { kind: "cast", srcDtype: 1, srcSize: 2, modelDtype: 0, rows: 4, k: 10, bits: 4,
 *   groupSize: 32, tie: 0, outBytes: 80, scaleBytes: 0, partRows: 4 } as const;
 * assert.deepEqual(kernelJobLayout(1024, job), { scratch: 1024, input: 1072, words: 1152, scales: 1232 });
 * ```
 */
export function kernelJobLayout(
  base: number,
  job: KernelJob,
): { scratch: number; input: number; words: number; scales: number } {
  const align16 = (n: number) => (n + 15) & ~15;
  const input = base + align16(job.k * 4);
  const out = input + align16(job.partRows * job.k * job.srcSize);
  return {
    scratch: base,
    input,
    words: job.wordsAt ?? out,
    scales: job.scalesAt ?? out + align16(job.outBytes),
  };
}

/**
 * Runs `job` with the kernel exports `ex` in the work region at `base` (see
 * {@link kernelJobLayout}): for each part, `fill(row0, rows, at)` puts the source rows at
 * memory offset `at`, then the fused kernel writes their outputs, and their non-finite
 * values are counted (for a quantized part only when the kernel saw a group holding one). Returns the count and the offsets of the outputs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WasmKernels } from "@mlc-deno/convert";
 * import { kernelJobBytes, runKernelJob } from "./job.ts";
 * const k = WasmKernels.createSync();
 * const job = { kind: "quant", srcDtype: 1, srcSize: 2, modelDtype: 0, rows: 2, k: 32, bits: 4,
 *   groupSize: 32, tie: 0, outBytes: 2 * 16, scaleBytes: 2 * 2, partRows: 1 } as const;
 * const base = k.reserve(kernelJobBytes(job));
 * const mem = () => new Uint16Array(k.exports.memory.buffer);
 * // rows of 1.0 (bf16 0x3f80) and NaN (0x7fc0)
 * const r = runKernelJob(k.exports, base, job, (row0, _rows, at) => mem().fill(row0 ? 0x7fc0 : 0x3f80, at / 2, at / 2 + 32));
 * assert.equal(r.nonFinite, 32);
 * assert.equal(new Uint32Array(k.exports.memory.buffer, r.words, 1)[0].toString(16), "eeeeeeee");
 * ```
 */
export function runKernelJob(
  ex: any,
  base: number,
  job: KernelJob,
  fill: (row0: number, rows: number, at: number) => void,
): { nonFinite: number; words: number; scales: number } {
  const { scratch, input, words, scales } = kernelJobLayout(base, job);
  const outRow = job.outBytes / job.rows, scaleRow = job.scaleBytes / job.rows;
  let nonFinite = 0;
  for (let r0 = 0; r0 < job.rows; r0 += job.partRows) {
    const rows = Math.min(job.partRows, job.rows - r0);
    fill(r0, rows, input);
    const rc = job.kind === "quant"
      ? ex.cast_group_quantize(
        input,
        job.srcDtype,
        rows,
        job.k,
        scratch,
        words + r0 * outRow,
        scales + r0 * scaleRow,
        job.bits,
        job.groupSize,
        job.modelDtype,
        job.tie,
      )
      : ex.cast(input, job.srcDtype, words + r0 * outRow, job.modelDtype, rows * job.k);
    if (rc < 0) {
      throw new Error(`kernel rejected a ${job.kind} job (bits ${job.bits}, group ${job.groupSize})`);
    }
    // NaN/Inf among the source values, counted while the part is in the core's cache; the
    // quantizer reports the groups holding them (0 proves the part finite), a cast does not
    if (job.kind !== "quant" || rc > 0) nonFinite += ex.count_nonfinite(input, job.srcDtype, rows * job.k, 1);
  }
  return { nonFinite, words, scales };
}
