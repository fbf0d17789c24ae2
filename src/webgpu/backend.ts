/**
 * The WebGPU backend (`--device webgpu`): dtype casts, group quantization, dequantization and a
 * dequantize-matmul on the GPU through Deno's built-in `navigator.gpu` (no permission flag
 * needed in Deno 2.x). Results are byte-identical with the TypeScript reference: the kernels
 * use integer arithmetic on IEEE bit patterns for every stored value (see `_shaders.ts`).
 *
 * Large inputs are processed in chunks that respect `maxStorageBufferBindingSize` and
 * `maxBufferSize`; two sets of GPU buffers alternate (double buffering) so that the upload and
 * readback of one chunk overlap with the compute of the other. Buffers are reused across calls.
 *
 * @module
 */
import type { DType, FloatDType } from "../dtype.ts";
import type { GroupQuantJob, QuantBackend } from "../quant/backend.ts";
import { groupConstants } from "../quant/schemes.ts";
import {
  castShader,
  dequantizeShader,
  MATMUL_MAX_BATCH,
  matmulShader,
  quantizeShader,
  WORKGROUP,
} from "./_shaders.ts";

/** What the WebGPU adapter is. */
export interface WebGpuAdapterDescription {
  /** Adapter description string, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`. */
  readonly description: string;
  /** Vendor string or id. */
  readonly vendor: string;
  /** Architecture string (may be empty). */
  readonly architecture: string;
  /** Whether this is a software fallback adapter (e.g. llvmpipe). */
  readonly isFallbackAdapter: boolean;
  /** Whether the optional `shader-f16` feature exists (not needed by these kernels). */
  readonly shaderF16: boolean;
  /** Largest storage buffer binding in bytes. */
  readonly maxStorageBufferBindingSize: number;
  /** Largest buffer in bytes. */
  readonly maxBufferSize: number;
  /** One-line summary for messages. */
  readonly summary: string;
}

/** Options of {@link createWebGpuBackend}. */
export interface WebGpuBackendOptions {
  /** Accept a software fallback adapter (llvmpipe). Default false. */
  readonly allowFallback?: boolean;
  /**
   * Upper bound of the bytes of one chunk's input or output (default 16 MiB). Clamped to the
   * device limits; small values force splitting (used by tests).
   */
  readonly chunkBytes?: number;
}

/** A quantized NK weight to dequantize. */
export interface DequantJob {
  /** Code words, rows x (wordsPerGroup * groups). */
  readonly words: Uint32Array;
  /** Scales, rows x groups: f16/bf16 bits, or Float32Array for float32. */
  readonly scales: Uint16Array | Float32Array;
  /** Rows (N). */
  readonly rows: number;
  /** Elements per row (K). */
  readonly k: number;
  /** 3 or 4. */
  readonly bits: 3 | 4;
  /** Elements per group. */
  readonly groupSize: number;
  /** Scale dtype. */
  readonly modelDtype: FloatDType;
}

/** A dequantize-matmul: out (batch x rows) = x (batch x k) times W^T (W is rows x k). */
export interface DequantMatmulJob extends DequantJob {
  /** Activations, batch x k, row-major. */
  readonly x: Float32Array;
  /** Batch size. */
  readonly batch: number;
}

// deno-lint-ignore no-explicit-any
type AnyInfo = any;

function isFallback(adapter: GPUAdapter): boolean {
  const info: AnyInfo = adapter.info;
  // deno-lint-ignore no-explicit-any
  return Boolean(info?.isFallbackAdapter ?? (adapter as any).isFallbackAdapter);
}

function describe(adapter: GPUAdapter): WebGpuAdapterDescription {
  const info: AnyInfo = adapter.info ?? {};
  const fallback = isFallback(adapter);
  const description = String(info.description || info.device || "unknown adapter");
  return {
    description,
    vendor: String(info.vendor ?? ""),
    architecture: String(info.architecture ?? ""),
    isFallbackAdapter: fallback,
    shaderF16: adapter.features.has("shader-f16"),
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
    summary: `WebGPU ${description}${info.vendor ? ` (vendor ${info.vendor})` : ""}${
      fallback ? " [software fallback adapter]" : ""
    }`,
  };
}

async function requestAdapter(): Promise<GPUAdapter | undefined> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) return undefined;
  try {
    return (await gpu.requestAdapter({ powerPreference: "high-performance" })) ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * Describes the WebGPU adapter Deno offers, or `undefined` when there is none (no
 * `navigator.gpu`, or no adapter). `--device auto` must not use a fallback adapter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeWebGpuAdapter } from "@mlc-deno/convert";
 * const a = await describeWebGpuAdapter();
 * // (undefined without an adapter; else e.g. "llvmpipe ... (software fallback)")
 * assert.ok(a === undefined || (typeof a.summary === "string" && a.summary.length > 0));
 * ```
 */
export async function describeWebGpuAdapter(): Promise<WebGpuAdapterDescription | undefined> {
  const adapter = await requestAdapter();
  return adapter ? describe(adapter) : undefined;
}

/**
 * Creates the WebGPU backend, or returns `undefined` when no adapter exists, or only a fallback
 * adapter exists and `allowFallback` is not set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createWebGpuBackend } from "@mlc-deno/convert";
 * const gpu = await createWebGpuBackend({ allowFallback: true });
 * if (gpu) {
 *   const src = new Uint8Array(new Uint16Array([0x3f80]).buffer); // bf16 1.0
 *   const dst = new Uint8Array(2);
 *   await gpu.cast(src, "bfloat16", dst, "float16", 1);
 *   assert.equal(new Uint16Array(dst.buffer)[0], 0x3c00); // (f16 1.0)
 *   await gpu.close();
 * }
 * ```
 */
export async function createWebGpuBackend(
  opts: WebGpuBackendOptions = {},
): Promise<WebGpuBackend | undefined> {
  const adapter = await requestAdapter();
  if (!adapter) return undefined;
  const desc = describe(adapter);
  if (desc.isFallbackAdapter && !opts.allowFallback) return undefined;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
  return new WebGpuBackend(device, desc, opts.chunkBytes ?? 16 << 20);
}

/** One set of reusable buffers (two sets alternate). */
class Slot {
  readonly #device: GPUDevice;
  readonly #buffers = new Map<string, GPUBuffer>();
  /** Pending readback of the last chunk run in this slot. */
  pending: Promise<void> = Promise.resolve();
  constructor(device: GPUDevice) {
    this.#device = device;
  }
  /** A buffer of at least `size` bytes for `role`, reused while large enough. */
  get(role: string, size: number, usage: number): GPUBuffer {
    const need = Math.max(16, Math.ceil(size / 256) * 256);
    const old = this.#buffers.get(role);
    if (old && old.size >= need) return old;
    old?.destroy();
    const buf = this.#device.createBuffer({ size: need, usage });
    this.#buffers.set(role, buf);
    return buf;
  }
  destroy(): void {
    for (const b of this.#buffers.values()) b.destroy();
    this.#buffers.clear();
  }
}

const STORAGE_IN = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
const STORAGE_OUT = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
const UNIFORM = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
const READBACK = GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;

/** Writes `bytes` to `buf` at offset 0, padding the tail to a multiple of 4 bytes. */
function writePadded(queue: GPUQueue, buf: GPUBuffer, bytes: Uint8Array): void {
  const full = bytes.byteLength & ~3;
  if (full > 0) queue.writeBuffer(buf, 0, bytes.buffer as ArrayBuffer, bytes.byteOffset, full);
  const rest = bytes.byteLength - full;
  if (rest > 0) {
    const tail = new Uint8Array(4);
    tail.set(bytes.subarray(full));
    queue.writeBuffer(buf, full, tail);
  }
}

/**
 * Uploads elements [start, start+count) of `item`-byte elements in `bytes`, 16-bit ones from an
 * even element so that pairs share a word; returns the element offset inside the buffer (0 or 1).
 */
function writeElems(
  queue: GPUQueue,
  buf: GPUBuffer,
  bytes: Uint8Array,
  item: number,
  start: number,
  count: number,
) {
  const off = item === 2 ? start & 1 : 0;
  const a = start - off;
  writePadded(queue, buf, bytes.subarray(a * item, (start + count) * item));
  return off;
}

/** Uploads 16-bit elements [start, start+count); returns the element offset (0 or 1). */
function write16(queue: GPUQueue, buf: GPUBuffer, arr: Uint16Array, start: number, count: number): number {
  return writeElems(queue, buf, new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), 2, start, count);
}

function dispatchDims(invocations: number, perGroup: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(invocations / perGroup));
  const x = Math.min(groups, 65535);
  const y = Math.ceil(groups / x);
  return [x, y, x * perGroup];
}

const ITEM: Record<string, number> = { float16: 2, bfloat16: 2, float32: 4 };

/** The WebGPU backend. Create with {@link createWebGpuBackend}. */
export class WebGpuBackend implements QuantBackend {
  /** Backend name. */
  readonly name = "webgpu";
  /** Adapter description (marks a fallback adapter). */
  readonly description: string;
  /** The adapter. */
  readonly adapter: WebGpuAdapterDescription;
  readonly #device: GPUDevice;
  readonly #budget: number;
  readonly #slots: [Slot, Slot];
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  #queue: Promise<unknown> = Promise.resolve();
  #next = 0;
  #lost = false;

  /** Use {@link createWebGpuBackend}. */
  constructor(device: GPUDevice, adapter: WebGpuAdapterDescription, chunkBytes: number) {
    this.#device = device;
    this.adapter = adapter;
    this.description = adapter.summary;
    const lim = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    this.#budget = Math.max(4096, Math.min(chunkBytes, lim) & ~255);
    this.#slots = [new Slot(device), new Slot(device)];
    device.lost.then(() => this.#lost = true);
  }

  /** Serializes calls: the buffer slots are shared. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #pipeline(key: string, code: () => string): Promise<GPUComputePipeline> {
    const cached = this.#pipelines.get(key);
    if (cached) return cached;
    const dev = this.#device;
    dev.pushErrorScope("validation");
    const module = dev.createShaderModule({ code: code() });
    const pipeline = dev.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
    const err = await dev.popErrorScope();
    if (err) throw new Error(`WebGPU pipeline ${key}: ${err.message}`);
    this.#pipelines.set(key, pipeline);
    return pipeline;
  }

  /** Runs `run` in the next slot once that slot's previous readback finished. */
  async #inSlot(run: (slot: Slot) => Promise<void>): Promise<void> {
    if (this.#lost) throw new Error("WebGPU device lost");
    const slot = this.#slots[this.#next];
    this.#next ^= 1;
    try {
      await slot.pending;
    } catch (e) {
      await this.#drain().catch(() => {});
      throw e;
    }
    // Errors of this chunk surface when the slot is reused or drained.
    slot.pending = run(slot);
    slot.pending.catch(() => {}); // handled later; avoid an unhandled-rejection crash meanwhile
  }

  async #drain(): Promise<void> {
    const results = await Promise.allSettled(this.#slots.map((s) => s.pending));
    for (const s of this.#slots) s.pending = Promise.resolve();
    for (const r of results) if (r.status === "rejected") throw r.reason;
  }

  /** Encodes one dispatch plus copies of `outputs` into a readback buffer and submits it. */
  #submit(
    slot: Slot,
    pipeline: GPUComputePipeline,
    entries: GPUBuffer[],
    dims: [number, number, number],
    outputs: [GPUBuffer, number][],
  ): GPUBuffer {
    const dev = this.#device;
    const bind = dev.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: entries.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const total = outputs.reduce((s, [, n]) => s + n, 0);
    const rb = slot.get("readback", total, READBACK);
    const enc = dev.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(dims[0], dims[1]);
    pass.end();
    let at = 0;
    for (const [buf, n] of outputs) {
      const size = Math.ceil(n / 4) * 4;
      if (size > 0) enc.copyBufferToBuffer(buf, 0, rb, at, size);
      at += size;
    }
    dev.queue.submit([enc.finish()]);
    return rb;
  }

  #uniform(slot: Slot, values: number[]): GPUBuffer {
    const u = slot.get("params", 32, UNIFORM);
    const data = new Uint32Array(8);
    data.set(values);
    this.#device.queue.writeBuffer(u, 0, data);
    return u;
  }

  /**
   * Casts `count` elements (numpy/ml_dtypes semantics, byte-identical with `castReference`).
   */
  cast(
    src: Uint8Array,
    srcDtype: DType,
    dst: Uint8Array,
    dstDtype: FloatDType,
    count: number,
  ): Promise<void> {
    const sb = ITEM[srcDtype];
    const db = ITEM[dstDtype];
    if (!sb) return Promise.reject(new Error(`cannot cast ${srcDtype} to ${dstDtype}`));
    if (src.byteLength < count * sb || dst.byteLength < count * db) {
      return Promise.reject(new Error("cast: buffer too small"));
    }
    if (srcDtype === dstDtype) {
      dst.set(src.subarray(0, count * db));
      return Promise.resolve();
    }
    return this.#serial(async () => {
      const pipeline = await this.#pipeline(
        `cast:${srcDtype}>${dstDtype}`,
        () => castShader(srcDtype, dstDtype),
      );
      const perChunk = Math.max(2, Math.floor(this.#budget / Math.max(sb, db)) & ~1);
      for (let i0 = 0; i0 < count; i0 += perChunk) {
        const c = Math.min(perChunk, count - i0);
        await this.#inSlot(async (slot) => {
          const q = this.#device.queue;
          const inBuf = slot.get("in", c * sb + 4, STORAGE_IN);
          writePadded(q, inBuf, src.subarray(i0 * sb, (i0 + c) * sb));
          const outWords = db === 4 ? c : Math.ceil(c / 2);
          const outBuf = slot.get("out", outWords * 4, STORAGE_OUT);
          const dims = dispatchDims(outWords, WORKGROUP);
          const u = this.#uniform(slot, [outWords, dims[2]]);
          const rb = this.#submit(slot, pipeline, [inBuf, outBuf, u], dims, [[outBuf, outWords * 4]]);
          await rb.mapAsync(GPUMapMode.READ, 0, outWords * 4);
          dst.set(new Uint8Array(rb.getMappedRange(0, outWords * 4), 0, c * db), i0 * db);
          rb.unmap();
        });
      }
      await this.#drain();
    });
  }

  /** Group quantization (NK layout), byte-identical with `groupQuantizeReference`. */
  groupQuantize(job: GroupQuantJob): Promise<void> {
    const inp = job.input;
    return this.#quantize(job, new Uint8Array(inp.buffer, inp.byteOffset, inp.byteLength), job.modelDtype);
  }

  /**
   * Fused cast + group quantization: `src` holds `rows * k` little-endian elements of
   * `srcDtype`; the result equals `cast` to the model dtype followed by `groupQuantize`, with one
   * upload and one readback instead of two round trips.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { createWebGpuBackend } from "@mlc-deno/convert";
   * const gpu = await createWebGpuBackend({ allowFallback: true });
   * const src = new Uint8Array(new Uint16Array(32).fill(0x3f80).buffer); // 32 x bf16 1.0
   * const words = new Uint32Array(4), scales = new Uint16Array(1);
   * await gpu?.castGroupQuantize(src, "bfloat16", { rows: 1, k: 32, words, scales, bits: 4,
   *   groupSize: 32, modelDtype: "float16", tie: "even" });
   * if (gpu) assert.deepEqual([words[0], scales[0]], [0xeeeeeeee, 0x3092]); // (f16 1/7)
   * await gpu?.close();
   * ```
   */
  castGroupQuantize(src: Uint8Array, srcDtype: DType, job: Omit<GroupQuantJob, "input">): Promise<void> {
    if (!(srcDtype in ITEM)) return Promise.reject(new Error(`cannot quantize from ${srcDtype}`));
    return this.#quantize(job, src, srcDtype as FloatDType);
  }

  #quantize(job: Omit<GroupQuantJob, "input">, input: Uint8Array, srcDtype: FloatDType): Promise<void> {
    return this.#serial(async () => {
      const { rows, k, groupSize, modelDtype } = job;
      const { wordsPerGroup: wpg } = groupConstants(job);
      const groups = Math.ceil(k / groupSize);
      const eb = ITEM[srcDtype];
      if (input.byteLength < rows * k * eb) throw new Error("groupQuantize: input too small");
      if (job.words.length < rows * groups * wpg || job.scales.length < rows * groups) {
        throw new Error("groupQuantize: output too small");
      }
      if (rows === 0 || k === 0) return;
      const pipeline = await this.#pipeline(
        `q:${srcDtype}>${modelDtype}:${job.bits}:${groupSize}:${job.tie}` +
          (job.outputTranspose && modelDtype === "bfloat16" ? ":f32scale" : ""),
        () => quantizeShader({ ...job, srcDtype }),
      );
      // Pieces: whole rows, or (for rows larger than a chunk) group-aligned row segments.
      const unitBytes = Math.max(groupSize * eb, wpg * 4) + 8;
      const rowBytes = groups * unitBytes;
      const pieces: { e0: number; rows: number; k: number; groups: number; u0: number }[] = [];
      if (rowBytes <= this.#budget) {
        const per = Math.max(1, Math.floor(this.#budget / rowBytes));
        for (let r = 0; r < rows; r += per) {
          const n = Math.min(per, rows - r);
          pieces.push({ e0: r * k, rows: n, k, groups, u0: r * groups });
        }
      } else {
        const segGroups = Math.max(1, Math.floor(this.#budget / unitBytes));
        for (let r = 0; r < rows; r++) {
          for (let g = 0; g < groups; g += segGroups) {
            const ng = Math.min(segGroups, groups - g);
            const kk = Math.min(ng * groupSize, k - g * groupSize);
            pieces.push({ e0: r * k + g * groupSize, rows: 1, k: kk, groups: ng, u0: r * groups + g });
          }
        }
      }
      const scaleBits = job.scales instanceof Float32Array
        ? new Uint32Array(job.scales.buffer, job.scales.byteOffset, job.scales.length)
        : job.scales;
      for (const pc of pieces) {
        await this.#inSlot(async (slot) => {
          const q = this.#device.queue;
          const units = pc.rows * pc.groups;
          const count = pc.rows * pc.k;
          const inBuf = slot.get("in", count * eb + 8, STORAGE_IN);
          const off = writeElems(q, inBuf, input, eb, pc.e0, count);
          const wBuf = slot.get("words", units * wpg * 4, STORAGE_OUT);
          const sBuf = slot.get("scales", units * 4, STORAGE_OUT);
          const dims = dispatchDims(units, WORKGROUP);
          const u = this.#uniform(slot, [units, pc.k, pc.groups, off, dims[2]]);
          const wBytes = units * wpg * 4;
          const rb = this.#submit(slot, pipeline, [inBuf, wBuf, sBuf, u], dims, [[wBuf, wBytes], [
            sBuf,
            units * 4,
          ]]);
          await rb.mapAsync(GPUMapMode.READ, 0, wBytes + units * 4);
          const range = rb.getMappedRange(0, wBytes + units * 4);
          job.words.set(new Uint32Array(range, 0, units * wpg), pc.u0 * wpg);
          scaleBits.set(new Uint32Array(range, wBytes, units), pc.u0);
          rb.unmap();
        });
      }
      await this.#drain();
    });
  }

  #rowChunks(job: DequantJob, perRowBytes: number): { r0: number; n: number }[] {
    const per = Math.max(1, Math.floor(this.#budget / perRowBytes));
    const out: { r0: number; n: number }[] = [];
    for (let r0 = 0; r0 < job.rows; r0 += per) out.push({ r0, n: Math.min(per, job.rows - r0) });
    return out;
  }

  #uploadScales(slot: Slot, job: DequantJob, g0: number, count: number): [GPUBuffer, number] {
    const q = this.#device.queue;
    if (job.scales instanceof Float32Array) {
      const buf = slot.get("scl", count * 4, STORAGE_IN);
      q.writeBuffer(buf, 0, job.scales.buffer as ArrayBuffer, job.scales.byteOffset + g0 * 4, count * 4);
      return [buf, 0];
    }
    const buf = slot.get("scl", count * 2 + 8, STORAGE_IN);
    return [buf, write16(q, buf, job.scales, g0, count)];
  }

  /**
   * Dequantizes NK codes to f32: `(code - max_int) * f32(scale)`, rounded to f32 (exact for
   * f16 and bf16 scales). Returns rows x k values.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { createWebGpuBackend } from "@mlc-deno/convert";
   * const gpu = await createWebGpuBackend({ allowFallback: true });
   * const w = await gpu?.dequantize({ words: new Uint32Array(4).fill(0x88888888),
   *   scales: new Uint16Array([0x3c00]), rows: 1, k: 32, bits: 4, groupSize: 32, modelDtype: "float16" });
   * if (gpu) assert.equal(w![0], 1);
   * await gpu?.close();
   * ```
   */
  dequantize(job: DequantJob): Promise<Float32Array> {
    return this.#serial(async () => {
      const { wordsPerGroup: wpg } = groupConstants(job);
      const groups = Math.ceil(job.k / job.groupSize);
      const out = new Float32Array(job.rows * job.k);
      const pipeline = await this.#pipeline(
        `dq:${job.modelDtype}:${job.bits}:${job.groupSize}`,
        () => dequantizeShader(job),
      );
      const perRow = Math.max(groups * wpg * 4, job.k * 4) + groups * 4;
      for (const { r0, n } of this.#rowChunks(job, perRow)) {
        await this.#inSlot(async (slot) => {
          const q = this.#device.queue;
          const spr = groups * wpg;
          const wBuf = slot.get("w", n * spr * 4, STORAGE_IN);
          q.writeBuffer(
            wBuf,
            0,
            job.words.buffer as ArrayBuffer,
            job.words.byteOffset + r0 * spr * 4,
            n * spr * 4,
          );
          const [sBuf, soff] = this.#uploadScales(slot, job, r0 * groups, n * groups);
          const oBuf = slot.get("o", n * job.k * 4, STORAGE_OUT);
          const dims = dispatchDims(n * spr, WORKGROUP);
          const u = this.#uniform(slot, [n, job.k, groups, soff, dims[2], 0]);
          const rb = this.#submit(slot, pipeline, [wBuf, sBuf, oBuf, u], dims, [[oBuf, n * job.k * 4]]);
          await rb.mapAsync(GPUMapMode.READ, 0, n * job.k * 4);
          out.set(new Float32Array(rb.getMappedRange(0, n * job.k * 4)), r0 * job.k);
          rb.unmap();
        });
      }
      await this.#drain();
      return out;
    });
  }

  /**
   * Dequantize-matmul: returns out (batch x rows) with out[b, n] = sum_k x[b, k] * W[n, k],
   * accumulated in f32 (per-invocation strided partial sums, then a fixed tree reduction).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { createWebGpuBackend } from "@mlc-deno/convert";
   * const gpu = await createWebGpuBackend({ allowFallback: true });
   * const y = await gpu?.dequantMatmul({ words: new Uint32Array(4).fill(0x88888888),
   *   scales: new Uint16Array([0x3c00]), rows: 1, k: 32, bits: 4, groupSize: 32, modelDtype: "float16",
   *   x: new Float32Array(32).fill(1), batch: 1 });
   * if (gpu) assert.equal(y![0], 32);
   * await gpu?.close();
   * ```
   */
  dequantMatmul(job: DequantMatmulJob): Promise<Float32Array> {
    return this.#serial(async () => {
      const { wordsPerGroup: wpg } = groupConstants(job);
      const { rows, k, batch } = job;
      if (job.x.length < batch * k) throw new Error("dequantMatmul: activations too small");
      const groups = Math.ceil(k / job.groupSize);
      const spr = groups * wpg;
      const out = new Float32Array(batch * rows);
      const pipeline = await this.#pipeline(
        `mm:${job.modelDtype}:${job.bits}:${job.groupSize}`,
        () => matmulShader(job),
      );
      const q = this.#device.queue;
      const chunks = this.#rowChunks(job, spr * 4 + groups * 4 + MATMUL_MAX_BATCH * 4);
      for (let b0 = 0; b0 < batch; b0 += MATMUL_MAX_BATCH) {
        const nb = Math.min(MATMUL_MAX_BATCH, batch - b0);
        // The activations buffer is shared by both slots: no chunk may be in flight while it changes.
        await this.#drain();
        const act = this.#slots[0].get("act", nb * k * 4, STORAGE_IN);
        q.writeBuffer(act, 0, job.x.buffer as ArrayBuffer, job.x.byteOffset + b0 * k * 4, nb * k * 4);
        for (const { r0, n } of chunks) {
          await this.#inSlot(async (slot) => {
            const wBuf = slot.get("w", n * spr * 4, STORAGE_IN);
            q.writeBuffer(
              wBuf,
              0,
              job.words.buffer as ArrayBuffer,
              job.words.byteOffset + r0 * spr * 4,
              n * spr * 4,
            );
            const [sBuf, soff] = this.#uploadScales(slot, job, r0 * groups, n * groups);
            const oBuf = slot.get("o", nb * n * 4, STORAGE_OUT);
            const dims = dispatchDims(n, 1);
            const u = this.#uniform(slot, [n, k, groups, soff, dims[2], nb]);
            const rb = this.#submit(slot, pipeline, [wBuf, sBuf, act, oBuf, u], dims, [[oBuf, nb * n * 4]]);
            await rb.mapAsync(GPUMapMode.READ, 0, nb * n * 4);
            const res = new Float32Array(rb.getMappedRange(0, nb * n * 4));
            for (let b = 0; b < nb; b++) out.set(res.subarray(b * n, (b + 1) * n), (b0 + b) * rows + r0);
            rb.unmap();
          });
        }
      }
      await this.#drain();
      return out;
    });
  }

  /** Releases the buffers and the device. */
  close(): Promise<void> {
    return this.#serial(() => {
      for (const s of this.#slots) s.destroy();
      this.#pipelines.clear();
      this.#device.destroy();
      return Promise.resolve();
    });
  }
}
