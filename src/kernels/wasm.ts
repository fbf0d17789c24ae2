/**
 * Thin typed wrapper of the SIMD WebAssembly kernels (`kernels/`, built by `kernels/build.sh`):
 * dtype conversions, group quantization, dequantization and a dequantize-matmul, byte-identical
 * to the scalar reference (`src/quant/reference.ts`).
 *
 * The module keeps no state in its memory (no allocator, no statics): the wrapper copies inputs
 * to the top of linear memory, runs a kernel and copies outputs back, in chunks of rows so
 * memory stays small. The module imports its memory (`env.memory`): each {@link WasmKernels}
 * owns one instance on a memory of its own; a worker creates its own instance from a transferred
 * {@link kernelsModule}. Several instances may share one memory ({@link kernelsModule} with
 * `shared`), each with its own stack region (`__stack_pointer`) and working region.
 *
 * @module
 */
import type { DType, FloatDType } from "../dtype.ts";
import {
  type GroupQuantJob,
  type GroupQuantParams,
  kernelTieFlags,
  type QuantBackend,
} from "../quant/backend.ts";
import { WASM_BASE64 } from "./_wasm_b64.ts";
import { md5Digest, md5Streams, type Md5StreamState, md5Update } from "./md5.ts";

/** The raw exports of the kernels module (byte offsets into `memory`). */
export interface KernelExports {
  /** The module's linear memory. */
  readonly memory: WebAssembly.Memory;
  /** First free byte of memory. */
  heap_base(): number;
  /** ABI version (1). */
  abi_version(): number;
  /** Quantize; see `kernels/src/quantize.rs`. */
  group_quantize(
    src: number,
    rows: number,
    k: number,
    words: number,
    scales: number,
    bits: number,
    gs: number,
    dtype: number,
    tie: number,
  ): number;
  /** Fused cast + quantize; see `kernels/src/fused.rs`. */
  cast_group_quantize(
    src: number,
    srcDtype: number,
    rows: number,
    k: number,
    scratch: number,
    words: number,
    scales: number,
    bits: number,
    gs: number,
    dtype: number,
    tie: number,
  ): number;
  /**
   * Non-finite (NaN, infinite) elements among `n` of dtype code `dtype` at `src` (`simd` 0: the
   * scalar path); see `kernels/src/finite.rs`.
   */
  count_nonfinite(src: number, dtype: number, n: number, simd: number): number;
  /** Cast `(src, srcDtype, dst, dtype, n)` between dtype codes (0 f16, 1 bf16, 2 f32). */
  cast(src: number, srcDtype: number, dst: number, dtype: number, n: number): number;
  /** Dequantize to f32. */
  dequantize(
    words: number,
    scales: number,
    rows: number,
    k: number,
    bits: number,
    gs: number,
    dtype: number,
    out: number,
  ): number;
  /** y = x * dequant(W)^T. */
  dequant_matmul(
    words: number,
    scales: number,
    n: number,
    k: number,
    bits: number,
    gs: number,
    dtype: number,
    x: number,
    batch: number,
    y: number,
  ): number;
  /** Conversions `(src, dst, count)`. */
  cvt_f16_f32(src: number, dst: number, n: number): void;
  /** bf16 -> f32. */
  cvt_bf16_f32(src: number, dst: number, n: number): void;
  /** f32 -> f16. */
  cvt_f32_f16(src: number, dst: number, n: number): void;
  /** f32 -> bf16 (ml_dtypes). */
  cvt_f32_bf16(src: number, dst: number, n: number): void;
  /** f32 -> bf16 (tvmjs storage encoding). */
  cvt_f32_bf16_storage(src: number, dst: number, n: number): void;
  /** bf16 -> f16. */
  cvt_bf16_f16(src: number, dst: number, n: number): void;
  /** f16 -> bf16. */
  cvt_f16_bf16(src: number, dst: number, n: number): void;
  /** Transpose `(src, rows, cols, dst)`, u32 elements. */
  transpose_u32(src: number, rows: number, cols: number, dst: number): void;
  /** Transpose, u16 elements. */
  transpose_u16(src: number, rows: number, cols: number, dst: number): void;
  /** Scalar MD5 compression of whole blocks `(state, data, nblocks)`; see `kernels/src/md5.rs`. */
  md5_blocks(state: number, data: number, nblocks: number): void;
  /** MD5 compression of four streams at once (one per lane). */
  md5_blocks_x4(states: number, p0: number, p1: number, p2: number, p3: number, nblocks: number): void;
}

/** Conversion kernels, by `src>dst` dtype pair (storage: tvmjs `f32-to-bf16`). */
export type ConvertKernel =
  | "f16>f32"
  | "bf16>f32"
  | "f32>f16"
  | "f32>bf16"
  | "f32>bf16-storage"
  | "bf16>f16"
  | "f16>bf16";

const CONVERT: Readonly<Record<ConvertKernel, { fn: keyof KernelExports; src: number; dst: number }>> = {
  "f16>f32": { fn: "cvt_f16_f32", src: 2, dst: 4 },
  "bf16>f32": { fn: "cvt_bf16_f32", src: 2, dst: 4 },
  "f32>f16": { fn: "cvt_f32_f16", src: 4, dst: 2 },
  "f32>bf16": { fn: "cvt_f32_bf16", src: 4, dst: 2 },
  "f32>bf16-storage": { fn: "cvt_f32_bf16_storage", src: 4, dst: 2 },
  "bf16>f16": { fn: "cvt_bf16_f16", src: 2, dst: 2 },
  "f16>bf16": { fn: "cvt_f16_bf16", src: 2, dst: 2 },
};

const SHORT: Readonly<Record<string, string>> = { float16: "f16", bfloat16: "bf16", float32: "f32" };
/**
 * Dtype codes of the kernels' ABI.
 *
 * @example
 * ```ts
 * import { DTYPE_CODE } from "./wasm.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(DTYPE_CODE.bfloat16, 1);
 * ```
 */
export const DTYPE_CODE: Readonly<Record<FloatDType, number>> = { float16: 0, bfloat16: 1, float32: 2 };
/** Elements per chunk of the array wrappers (bounds the module's memory). */
const CHUNK_ELEMS = 1 << 21;

function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

let bytesCache: Uint8Array | undefined;
let moduleCache: WebAssembly.Module | undefined;

/**
 * The bytes of the kernels module (decoded once from the inlined base64).
 *
 * @example
 * ```ts
 * import { kernelsBytes } from "./wasm.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual([...kernelsBytes().subarray(0, 4)], [0, 97, 115, 109]); // "\0asm"
 * ```
 */
export function kernelsBytes(): Uint8Array {
  return bytesCache ??= decodeBase64(WASM_BASE64);
}

/**
 * The compiled module, synchronously (cached). A `WebAssembly.Module` can be posted to workers.
 * It imports its memory as `env.memory` (at most {@link KERNEL_MAX_PAGES} pages; see
 * {@link kernelsMemory}); with `shared`, a shared memory (the import patched to `shared`), so
 * that instances in several workers can work on one memory.
 *
 * @example
 * ```ts
 * import { kernelsModule } from "./wasm.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(WebAssembly.Module.exports(kernelsModule()).some((e) => e.name === "group_quantize"), true);
 * deepStrictEqual(WebAssembly.Module.imports(kernelsModule(true)), [{ module: "env", name: "memory", kind: "memory" }]);
 * ```
 */
export function kernelsModule(shared = false): WebAssembly.Module {
  if (shared) {
    if (!sharedModuleCache) {
      const bytes = kernelsBytes().slice();
      bytes[memoryImportOf(bytes).flagsAt] |= 2; // limits flags: 0x01 (with maximum) -> 0x03 (shared)
      sharedModuleCache = new WebAssembly.Module(bytes);
    }
    return sharedModuleCache;
  }
  return moduleCache ??= new WebAssembly.Module(kernelsBytes() as Uint8Array<ArrayBuffer>);
}

let sharedModuleCache: WebAssembly.Module | undefined;
let minPagesCache: number | undefined;

/** Largest memory of the kernels module, in 64 KiB pages (4 GiB, its import's maximum). */
export const KERNEL_MAX_PAGES = 65536;

/**
 * Where the memory import of a module's bytes declares its limits: the offset of the flags byte
 * (0x01: minimum and maximum) and the minimum in pages.
 */
function memoryImportOf(bytes: Uint8Array): { flagsAt: number; minPages: number } {
  let at = 8; // magic, version
  const leb = (): number => {
    let v = 0, shift = 0, b: number;
    do {
      b = bytes[at++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return v;
  };
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    const end = at + size; // (at after the size)
    if (id === 2) {
      for (let n = leb(); n > 0; n--) {
        for (let name = 0; name < 2; name++) { // module and field names
          const len = leb();
          at += len;
        }
        const kind = bytes[at++];
        if (kind === 2) {
          const flagsAt = at++;
          if (bytes[flagsAt] !== 1) break;
          return { flagsAt, minPages: leb() };
        }
        throw new Error("mlc_kernels.wasm: unexpected import");
      }
      break;
    }
    at = end;
  }
  throw new Error("mlc_kernels.wasm: no memory import with a maximum");
}

/**
 * The smallest memory the kernels module accepts, in 64 KiB pages (its static data and stack).
 *
 * @example
 * ```ts
 * import { kernelsMinPages } from "./wasm.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(kernelsMinPages() >= 1, true);
 * ```
 */
export function kernelsMinPages(): number {
  return minPagesCache ??= memoryImportOf(kernelsBytes()).minPages;
}

/**
 * A memory for kernel instances: at least the module's minimum (and `pages`), growable to
 * `maximum` pages (default {@link KERNEL_MAX_PAGES}; a shared memory reserves its maximum's
 * address space up front); shared for instances of `kernelsModule(true)`.
 *
 * @example
 * ```ts
 * import { kernelsMemory, kernelsModule } from "./wasm.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const memory = kernelsMemory();
 * const inst = new WebAssembly.Instance(kernelsModule(), { env: { memory } });
 * deepStrictEqual((inst.exports.abi_version as () => number)(), 1);
 * ```
 */
export function kernelsMemory(shared = false, pages = 0, maximum = KERNEL_MAX_PAGES): WebAssembly.Memory {
  const initial = Math.max(pages, kernelsMinPages());
  return new WebAssembly.Memory({
    initial,
    maximum: Math.min(KERNEL_MAX_PAGES, Math.max(initial, maximum)),
    shared,
  });
}

const align16 = (n: number): number => (n + 15) & ~15;

/** One instance of the kernels with its own linear memory. */
export class WasmKernels {
  /** The raw exports. */
  readonly exports: KernelExports;
  readonly #base: number;
  /** Elements per chunk of the array wrappers (bounds the module's memory; default 2 Mi). */
  chunkElems: number = CHUNK_ELEMS;

  /**
   * Wraps an instance on `memory` (its `env.memory` import; see {@link WasmKernels.create} and
   * {@link WasmKernels.createSync}).
   */
  constructor(instance: WebAssembly.Instance, memory: WebAssembly.Memory) {
    this.exports = { ...instance.exports, memory } as unknown as KernelExports;
    if (this.exports.abi_version() !== 1) throw new Error("mlc_kernels.wasm: unexpected ABI version");
    this.#base = align16(this.exports.heap_base());
  }

  /**
   * Instantiates synchronously (from a given module or the inlined bytes).
   *
   * @example
   * ```ts
   * import { WasmKernels } from "@mlc-deno/convert";
   * import { deepStrictEqual } from "node:assert/strict";
   * const k = WasmKernels.createSync();
   * deepStrictEqual([...k.convert("bf16>f16", new Uint16Array([0x3f80]))], [0x3c00]);
   * ```
   */
  static createSync(module: WebAssembly.Module = kernelsModule()): WasmKernels {
    const memory = kernelsMemory(module === sharedModuleCache);
    return new WasmKernels(new WebAssembly.Instance(module, { env: { memory } }), memory);
  }

  /**
   * Instantiates asynchronously (use in browsers' main thread, where sync compilation of large
   * modules is refused).
   *
   * @example
   * ```ts
   * import { WasmKernels } from "@mlc-deno/convert";
   * import { deepStrictEqual } from "node:assert/strict";
   * const k = await WasmKernels.create();
   * deepStrictEqual(k.exports.abi_version(), 1);
   * ```
   */
  static async create(module?: WebAssembly.Module): Promise<WasmKernels> {
    const m = module ??
      (moduleCache ??= await WebAssembly.compile(kernelsBytes() as Uint8Array<ArrayBuffer>));
    const memory = kernelsMemory(m === sharedModuleCache);
    return new WasmKernels(await WebAssembly.instantiate(m, { env: { memory } }), memory);
  }

  /**
   * Makes `bytes` bytes available above the heap base (growing memory) and returns their
   * offset. Views of the memory taken before a call may be detached by it.
   *
   * @example
   * ```ts
   * import { WasmKernels } from "@mlc-deno/convert";
   * import { deepStrictEqual } from "node:assert/strict";
   * const k = WasmKernels.createSync();
   * const p = k.reserve(1 << 20);
   * deepStrictEqual(k.exports.memory.buffer.byteLength >= p + (1 << 20), true);
   * ```
   */
  reserve(bytes: number): number {
    const mem = this.exports.memory;
    const need = this.#base + bytes;
    const have = mem.buffer.byteLength;
    if (need > have) mem.grow(Math.ceil((need - have) / 65536));
    return this.#base;
  }

  #u8(off: number, len: number): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer, off, len);
  }

  /**
   * Group quantization (NK layout), byte-identical to `groupQuantizeReference`. Returns the
   * number of groups that hold NaN or infinity (0 for finite input).
   *
   * @example
   * ```ts
   * import { WasmKernels } from "@mlc-deno/convert";
   * import { deepStrictEqual } from "node:assert/strict";
   * const k = WasmKernels.createSync();
   * const input = new Uint16Array(32).fill(0x3c00); // 32 x 1.0 (f16)
   * const words = new Uint32Array(4), scales = new Uint16Array(1);
   * k.groupQuantize({ input, rows: 1, k: 32, words, scales, bits: 4, groupSize: 32,
   *   modelDtype: "float16", tie: "even" });
   * deepStrictEqual(words[0].toString(16), "eeeeeeee");
   * ```
   */
  groupQuantize(job: GroupQuantJob): number {
    const { rows, k, bits, groupSize, modelDtype } = job;
    const { groups, wpg, inSize, scaleSize } = layout(job);
    const rowsPerChunk = Math.max(1, Math.floor(this.chunkElems / Math.max(1, k)));
    const inBytes = (r: number) => align16(r * k * inSize);
    const wordBytes = (r: number) => align16(r * groups * wpg * 4);
    const chunkRows = Math.min(rows, rowsPerChunk);
    const base = this.reserve(inBytes(chunkRows) + wordBytes(chunkRows) + chunkRows * groups * scaleSize);
    const inView = new Uint8Array(job.input.buffer, job.input.byteOffset, rows * k * inSize);
    const wordsView = new Uint8Array(job.words.buffer, job.words.byteOffset, rows * groups * wpg * 4);
    const scalesView = new Uint8Array(job.scales.buffer, job.scales.byteOffset, rows * groups * scaleSize);
    let nonFiniteGroups = 0;
    for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
      const n = Math.min(rowsPerChunk, rows - r0);
      const pIn = base, pW = base + inBytes(n), pS = pW + wordBytes(n);
      this.#u8(pIn, n * k * inSize).set(inView.subarray(r0 * k * inSize, (r0 + n) * k * inSize));
      const rc = this.exports.group_quantize(
        pIn,
        n,
        k,
        pW,
        pS,
        bits,
        groupSize,
        DTYPE_CODE[modelDtype],
        kernelTieFlags(job),
      );
      if (rc < 0) throw new Error(`group_quantize: unsupported parameters bits=${bits} group=${groupSize}`);
      nonFiniteGroups += rc;
      wordsView.set(this.#u8(pW, n * groups * wpg * 4), r0 * groups * wpg * 4);
      scalesView.set(this.#u8(pS, n * groups * scaleSize), r0 * groups * scaleSize);
    }
    return nonFiniteGroups;
  }

  /**
   * Fused cast + group quantization (NK layout) of `src` (little-endian `srcDtype` elements),
   * byte-identical to casting to `job.modelDtype` with `castReference` and then
   * `groupQuantizeReference`. Returns the number of groups that hold NaN or infinity after the
   * cast: 0 proves the source finite (a cast keeps NaN and infinity; a positive count may also
   * come from values the cast overflowed).
   *
   * @example
   * ```ts
   * import { WasmKernels } from "@mlc-deno/convert";
   * import { deepStrictEqual } from "node:assert/strict";
   * const k = WasmKernels.createSync();
   * const src = new Uint8Array(new Uint16Array(32).fill(0x3f80).buffer); // 32 x 1.0 (bf16)
   * const words = new Uint32Array(4), scales = new Uint16Array(1);
   * k.castGroupQuantize(src, "bfloat16", { rows: 1, k: 32, words, scales, bits: 4, groupSize: 32,
   *   modelDtype: "float16", tie: "even" });
   * deepStrictEqual(words[0].toString(16), "eeeeeeee");
   * ```
   */
  castGroupQuantize(src: Uint8Array, srcDtype: FloatDType, job: Omit<GroupQuantJob, "input">): number {
    const { rows, k, bits, groupSize, modelDtype } = job;
    const { groups, wpg, inSize, scaleSize } = layout(job);
    const sSize = srcDtype === "float32" ? 4 : 2;
    const rowsPerChunk = Math.max(1, Math.floor(this.chunkElems / Math.max(1, k)));
    const chunkRows = Math.min(rows, rowsPerChunk);
    const inBytes = (r: number) => align16(r * k * sSize);
    const wordBytes = (r: number) => align16(r * groups * wpg * 4);
    const scratch = align16(k * inSize);
    const base = this.reserve(
      scratch + inBytes(chunkRows) + wordBytes(chunkRows) + chunkRows * groups * scaleSize,
    );
    const wordsView = new Uint8Array(job.words.buffer, job.words.byteOffset, rows * groups * wpg * 4);
    const scalesView = new Uint8Array(job.scales.buffer, job.scales.byteOffset, rows * groups * scaleSize);
    let nonFiniteGroups = 0;
    for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
      const n = Math.min(rowsPerChunk, rows - r0);
      const pIn = base + scratch, pW = pIn + inBytes(n), pS = pW + wordBytes(n);
      this.#u8(pIn, n * k * sSize).set(src.subarray(r0 * k * sSize, (r0 + n) * k * sSize));
      const rc = this.exports.cast_group_quantize(
        pIn,
        DTYPE_CODE[srcDtype],
        n,
        k,
        base,
        pW,
        pS,
        bits,
        groupSize,
        DTYPE_CODE[modelDtype],
        kernelTieFlags(job),
      );
      if (rc < 0) {
        throw new Error(`cast_group_quantize: unsupported parameters bits=${bits} group=${groupSize}`);
      }
      nonFiniteGroups += rc;
      wordsView.set(this.#u8(pW, n * groups * wpg * 4), r0 * groups * wpg * 4);
      scalesView.set(this.#u8(pS, n * groups * scaleSize), r0 * groups * scaleSize);
    }
    return nonFiniteGroups;
  }

  /**
   * Dequantizes NK codes and scales to f32 (`(code - max_int) * scale`, exact in f32 for f16
   * and bf16 scales).
   *
   * @example
   * ```ts
   * import { WasmKernels } from "@mlc-deno/convert";
   * import { deepStrictEqual } from "node:assert/strict";
   * const k = WasmKernels.createSync();
   * const out = k.dequantize(new Uint32Array(4).fill(0xeeeeeeee), new Uint16Array([0x3c00]), 1, 32,
   *   { bits: 4, groupSize: 32, modelDtype: "float16" });
   * deepStrictEqual(out[0], 7);
   * ```
   */
  dequantize(
    words: Uint32Array,
    scales: Uint16Array | Float32Array,
    rows: number,
    k: number,
    params: Omit<GroupQuantParams, "tie">,
  ): Float32Array {
    const { bits, groupSize, modelDtype } = params;
    const { groups, wpg, scaleSize } = layout({ ...params, k });
    const out = new Float32Array(rows * k);
    const rowsPerChunk = Math.max(1, Math.floor(this.chunkElems / Math.max(1, k)));
    const chunkRows = Math.min(rows, rowsPerChunk);
    const wb = (r: number) => align16(r * groups * wpg * 4),
      sb = (r: number) => align16(r * groups * scaleSize);
    const base = this.reserve(wb(chunkRows) + sb(chunkRows) + chunkRows * k * 4);
    const wv = new Uint8Array(words.buffer, words.byteOffset, rows * groups * wpg * 4);
    const sv = new Uint8Array(scales.buffer, scales.byteOffset, rows * groups * scaleSize);
    for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
      const n = Math.min(rowsPerChunk, rows - r0);
      const pW = base, pS = base + wb(n), pO = pS + sb(n);
      this.#u8(pW, n * groups * wpg * 4).set(wv.subarray(r0 * groups * wpg * 4, (r0 + n) * groups * wpg * 4));
      this.#u8(pS, n * groups * scaleSize).set(
        sv.subarray(r0 * groups * scaleSize, (r0 + n) * groups * scaleSize),
      );
      const rc = this.exports.dequantize(pW, pS, n, k, bits, groupSize, DTYPE_CODE[modelDtype], pO);
      if (rc !== 0) throw new Error(`dequantize: unsupported parameters bits=${bits} group=${groupSize}`);
      out.set(new Float32Array(this.exports.memory.buffer, pO, n * k), r0 * k);
    }
    return out;
  }

  /**
   * `y (batch x n) = x (batch x k) * dequant(W)^T` for a quantized NK weight of `n` rows.
   *
   * @example
   * ```ts
   * import { WasmKernels } from "@mlc-deno/convert";
   * import { deepStrictEqual } from "node:assert/strict";
   * const k = WasmKernels.createSync();
   * const y = k.dequantMatmul(new Uint32Array(4).fill(0xffffffff), new Uint16Array([0x3c00]), 1, 32,
   *   new Float32Array(32).fill(1), 1, { bits: 4, groupSize: 32, modelDtype: "float16" });
   * deepStrictEqual(y[0], 256); // 32 x (15 - 7) x 1
   * ```
   */
  dequantMatmul(
    words: Uint32Array,
    scales: Uint16Array | Float32Array,
    n: number,
    k: number,
    x: Float32Array,
    batch: number,
    params: Omit<GroupQuantParams, "tie">,
  ): Float32Array {
    const { bits, groupSize, modelDtype } = params;
    const { groups, wpg, scaleSize } = layout({ ...params, k });
    const wBytes = align16(n * groups * wpg * 4), sBytes = align16(n * groups * scaleSize);
    const xBytes = align16(batch * k * 4);
    const base = this.reserve(wBytes + sBytes + xBytes + batch * n * 4);
    const pW = base, pS = pW + wBytes, pX = pS + sBytes, pY = pX + xBytes;
    this.#u8(pW, n * groups * wpg * 4).set(
      new Uint8Array(words.buffer, words.byteOffset, n * groups * wpg * 4),
    );
    this.#u8(pS, n * groups * scaleSize).set(
      new Uint8Array(scales.buffer, scales.byteOffset, n * groups * scaleSize),
    );
    new Float32Array(this.exports.memory.buffer, pX, batch * k).set(x.subarray(0, batch * k));
    const rc = this.exports.dequant_matmul(
      pW,
      pS,
      n,
      k,
      bits,
      groupSize,
      DTYPE_CODE[modelDtype],
      pX,
      batch,
      pY,
    );
    if (rc !== 0) throw new Error(`dequant_matmul: unsupported parameters bits=${bits} group=${groupSize}`);
    return new Float32Array(this.exports.memory.buffer, pY, batch * n).slice();
  }

  /**
   * Lowercase hex md5 of each buffer (equal to `node:crypto`'s), hashing up to four at once
   * (one per SIMD lane; a single stream runs the scalar kernel). Uses memory above the heap
   * base (views of it taken before are invalidated).
   *
   * @example
   * ```ts
   * import { WasmKernels } from "@mlc-deno/convert";
   * import { deepStrictEqual } from "node:assert/strict";
   * const k = WasmKernels.createSync();
   * deepStrictEqual(k.md5Many([new Uint8Array(0), new TextEncoder().encode("abc")]), ["d41d8cd98f00b204e9800998ecf8427e", "900150983cd24fb0d6963f7d28e17f72"]);
   * ```
   */
  md5Many(datas: readonly Uint8Array[]): string[] {
    return md5Streams(this.exports, this.#base, datas);
  }

  /**
   * Hashes `data` into the md5 stream `st` (scalar kernel): a long input given piece by piece.
   *
   * @example
   * ```ts
   * import { WasmKernels } from "@mlc-deno/convert";
   * import { md5StreamState } from "./md5.ts";
   * import { deepStrictEqual } from "node:assert/strict";
   * const k = WasmKernels.createSync();
   * const st = md5StreamState();
   * k.md5StreamUpdate(st, new TextEncoder().encode("ab"));
   * k.md5StreamUpdate(st, new TextEncoder().encode("c"));
   * deepStrictEqual(k.md5StreamDigest(st), "900150983cd24fb0d6963f7d28e17f72");
   * ```
   */
  md5StreamUpdate(st: Md5StreamState, data: Uint8Array): void {
    md5Update(this.exports, this.#base, st, data);
  }

  /**
   * Lowercase hex md5 of everything given to {@link WasmKernels.md5StreamUpdate} for `st`.
   *
   * @example
   * ```ts
   * import { WasmKernels } from "@mlc-deno/convert";
   * import { md5StreamState } from "./md5.ts";
   * import { deepStrictEqual } from "node:assert/strict";
   * deepStrictEqual(WasmKernels.createSync().md5StreamDigest(md5StreamState()), "d41d8cd98f00b204e9800998ecf8427e");
   * ```
   */
  md5StreamDigest(st: Md5StreamState): string {
    return md5Digest(this.exports, this.#base, st);
  }

  /**
   * Lowercase hex md5 of `data` (scalar kernel).
   *
   * @example
   * ```ts
   * import { WasmKernels } from "@mlc-deno/convert";
   * import { deepStrictEqual } from "node:assert/strict";
   * deepStrictEqual(WasmKernels.createSync().md5(new TextEncoder().encode("abc")), "900150983cd24fb0d6963f7d28e17f72");
   * ```
   */
  md5(data: Uint8Array): string {
    return md5Streams(this.exports, this.#base, [data])[0];
  }

  /**
   * Runs a conversion kernel over `count` elements of `src` into `dst` (allocated if absent).
   *
   * @example
   * ```ts
   * import { WasmKernels } from "@mlc-deno/convert";
   * import { deepStrictEqual } from "node:assert/strict";
   * const k = WasmKernels.createSync();
   * deepStrictEqual([...k.convert("f32>bf16-storage", new Uint32Array([0x7f7fffff]))], [0x7f7f]);
   * ```
   */
  convert(
    kind: ConvertKernel,
    src: Uint16Array | Uint32Array,
    dst?: Uint16Array | Uint32Array,
    count: number = src.length,
  ): Uint16Array | Uint32Array {
    const spec = CONVERT[kind];
    const out = dst ?? (spec.dst === 2 ? new Uint16Array(count) : new Uint32Array(count));
    this.convertBytes(
      kind,
      new Uint8Array(src.buffer, src.byteOffset, count * spec.src),
      new Uint8Array(out.buffer, out.byteOffset, count * spec.dst),
      count,
    );
    return out;
  }

  /**
   * {@link WasmKernels.convert} on little-endian bytes.
   *
   * @example
   * ```ts
   * import { WasmKernels } from "@mlc-deno/convert";
   * import { deepStrictEqual } from "node:assert/strict";
   * const k = WasmKernels.createSync();
   * const dst = new Uint8Array(2);
   * k.convertBytes("bf16>f16", new Uint8Array([0x80, 0x3f]), dst, 1);
   * deepStrictEqual([...dst], [0, 60]);
   * ```
   */
  convertBytes(kind: ConvertKernel, src: Uint8Array, dst: Uint8Array, count: number): void {
    const spec = CONVERT[kind];
    const fn = this.exports[spec.fn] as (s: number, d: number, n: number) => void;
    const step = this.chunkElems;
    const chunk = Math.min(count, step);
    const base = this.reserve(align16(chunk * spec.src) + chunk * spec.dst);
    for (let i = 0; i < count; i += step) {
      const n = Math.min(step, count - i);
      const pD = base + align16(n * spec.src);
      this.#u8(base, n * spec.src).set(src.subarray(i * spec.src, (i + n) * spec.src));
      fn(base, pD, n);
      dst.set(this.#u8(pD, n * spec.dst), i * spec.dst);
    }
  }
}

function layout(p: { bits: number; groupSize: number; modelDtype: FloatDType; k: number }): {
  groups: number;
  wpg: number;
  inSize: number;
  scaleSize: number;
} {
  const epw = Math.floor(32 / p.bits);
  if (p.groupSize <= 0 || p.groupSize % epw !== 0) {
    throw new Error("group size must be a multiple of codes per word");
  }
  const inSize = p.modelDtype === "float32" ? 4 : 2;
  return { groups: Math.ceil(p.k / p.groupSize), wpg: p.groupSize / epw, inSize, scaleSize: inSize };
}

/**
 * Dequantizes with a shared default instance; see {@link WasmKernels.dequantize}.
 *
 * @example
 * ```ts
 * import { dequantize } from "./wasm.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(dequantize(new Uint32Array(4), new Uint16Array([0x3c00]), 1, 32,
 *   { bits: 4, groupSize: 32, modelDtype: "float16" })[0], -7);
 * ```
 */
export function dequantize(
  words: Uint32Array,
  scales: Uint16Array | Float32Array,
  rows: number,
  k: number,
  params: Omit<GroupQuantParams, "tie">,
): Float32Array {
  return defaultKernels().dequantize(words, scales, rows, k, params);
}

/**
 * Dequantize-matmul with a shared default instance; see {@link WasmKernels.dequantMatmul}.
 *
 * @example
 * ```ts
 * import { dequantMatmul } from "./wasm.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(dequantMatmul(new Uint32Array(4), new Uint16Array([0x3c00]), 1, 32, new Float32Array(32).fill(1), 1,
 *   { bits: 4, groupSize: 32, modelDtype: "float16" })[0], -224);
 * ```
 */
export function dequantMatmul(
  words: Uint32Array,
  scales: Uint16Array | Float32Array,
  n: number,
  k: number,
  x: Float32Array,
  batch: number,
  params: Omit<GroupQuantParams, "tie">,
): Float32Array {
  return defaultKernels().dequantMatmul(words, scales, n, k, x, batch, params);
}

let defaultInstance: WasmKernels | undefined;

/**
 * The lazily created shared instance of this thread.
 *
 * @example
 * ```ts
 * import { defaultKernels } from "./wasm.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(defaultKernels() === defaultKernels(), true);
 * ```
 */
export function defaultKernels(): WasmKernels {
  return defaultInstance ??= WasmKernels.createSync();
}

/** The `cpu` backend: the SIMD WebAssembly kernels on this thread. */
export class WasmBackend implements QuantBackend {
  /** Backend name. */
  readonly name = "cpu";
  /** Description. */
  readonly description = "WebAssembly SIMD (simd128) kernels";
  readonly #k: WasmKernels;

  /** Uses the given instance, or its own. */
  constructor(kernels: WasmKernels = WasmKernels.createSync()) {
    this.#k = kernels;
  }

  /** The underlying kernels. */
  get kernels(): WasmKernels {
    return this.#k;
  }

  /** Cast with `castReference` semantics (NaN handling included). */
  cast(
    src: Uint8Array,
    srcDtype: DType,
    dst: Uint8Array,
    dstDtype: FloatDType,
    count: number,
  ): Promise<void> {
    if (srcDtype === dstDtype) {
      dst.set(src.subarray(0, count * (dstDtype === "float32" ? 4 : 2)));
      return Promise.resolve();
    }
    const kind = `${SHORT[srcDtype]}>${SHORT[dstDtype]}`;
    if (!(kind in CONVERT)) return Promise.reject(new Error(`cannot cast ${srcDtype} to ${dstDtype}`));
    this.#k.convertBytes(kind as ConvertKernel, src, dst, count);
    return Promise.resolve();
  }

  /** Group quantization, see {@link WasmKernels.groupQuantize}. */
  groupQuantize(job: GroupQuantJob): Promise<void> {
    this.#k.groupQuantize(job);
    return Promise.resolve();
  }

  /** Fused cast + quantization, see {@link WasmKernels.castGroupQuantize}. */
  castGroupQuantize(src: Uint8Array, srcDtype: DType, job: Omit<GroupQuantJob, "input">): Promise<void> {
    if (srcDtype !== "float16" && srcDtype !== "bfloat16" && srcDtype !== "float32") {
      return Promise.reject(new Error(`cannot cast ${srcDtype} to ${job.modelDtype}`));
    }
    this.#k.castGroupQuantize(src, srcDtype, job);
    return Promise.resolve();
  }

  /** Nothing to release (the instance is garbage collected). */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
