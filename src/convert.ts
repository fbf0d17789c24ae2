/**
 * The streaming conversion pipeline: source reader -> architecture mapping -> quantizer
 * (backend) -> cache writer. One parameter at a time, big tensors in row chunks, buffers
 * reused, so peak memory does not grow with model size.
 *
 * @module
 */
import type { HostTensor } from "./arch/_types.ts";
import { type TensorCache, TensorCacheWriter } from "./cache_writer.ts";
import type { Checkpoint } from "./checkpoint.ts";
import {
  bf16Round,
  type DType,
  f32Bits,
  f32BitsToBf16,
  type FloatDType,
  itemSize,
  numberToF16,
} from "./dtype.ts";
import type { OutputStore } from "./io/types.ts";
import type { ConversionPlan, PlannedParam } from "./plan.ts";
import type { QuantBackend, TieRounding } from "./quant/backend.ts";
import { groupConstants } from "./quant/schemes.ts";
import { bf16Value, f16Value } from "./quant/reference.ts";

/** Progress after each parameter. */
export interface ConvertProgress {
  /** Parameters done. */
  done: number;
  /** Parameters in total. */
  total: number;
  /** Name of the parameter just finished. */
  name: string;
  /** Source bytes read so far. */
  bytesRead: number;
  /** Source bytes in total. */
  bytesTotal: number;
  /** Seconds since the start. */
  seconds: number;
}

/** Options of {@link convertWeight}. */
export interface ConvertOptions {
  /** The plan (must have no problems). */
  plan: ConversionPlan;
  /** The checkpoint the plan was made from. */
  checkpoint: Checkpoint;
  /** Compute backend. */
  backend: QuantBackend;
  /** Where shards and cache JSON go. */
  output: OutputStore;
  /** Tie rule for `round` (default `even`). */
  tie?: TieRounding;
  /** Source bytes per chunk (default 8 MiB). */
  chunkBytes?: number;
  /** Called after each parameter. */
  onProgress?: (p: ConvertProgress) => void;
}

/** Result of a conversion. */
export interface ConvertResult {
  /** The cache JSON content. */
  cache: TensorCache;
  /** Source bytes read. */
  bytesRead: number;
  /** Wall-clock seconds. */
  seconds: number;
}

/** Reusable growable byte buffers. */
class Buffers {
  #bufs = new Map<string, ArrayBuffer>();
  get(key: string, bytes: number): ArrayBuffer {
    let b = this.#bufs.get(key);
    if (!b || b.byteLength < bytes) {
      b = new ArrayBuffer(Math.max(bytes, b ? Math.min(b.byteLength * 2, bytes * 2) : bytes));
      this.#bufs.set(key, b);
    }
    return b;
  }
}

/** Applies `x + 1` in the source dtype, in place (Gemma norms). */
function addOneInPlace(data: Uint8Array, dtype: DType, count: number): void {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < count; i++) {
    if (dtype === "bfloat16") {
      const x = bf16Value(dv.getUint16(i * 2, true));
      dv.setUint16(i * 2, f32BitsToBf16(f32Bits(bf16Round(x + 1))), true);
    } else if (dtype === "float16") {
      dv.setUint16(i * 2, numberToF16(f16Value(dv.getUint16(i * 2, true)) + 1), true);
    } else {
      dv.setFloat32(i * 4, Math.fround(dv.getFloat32(i * 4, true) + 1), true);
    }
  }
}

/**
 * A source of rows for one parameter: the concatenation of its sources along axis 0
 * (from the checkpoint) or an in-memory tensor (whole-tensor transforms).
 */
interface RowSource {
  dtype: DType;
  rows: number;
  rowElems: number;
  read(rowStart: number, rows: number, into: Uint8Array): Promise<void>;
}

async function rowSourceFor(pp: PlannedParam, ckpt: Checkpoint): Promise<RowSource> {
  const t = pp.param.transform ?? { kind: "concat" as const };
  // 1-D tensors are read element-wise (rows of one element), so 1-D concatenations
  // (fused q/k/v biases) straddle their sources like 2-D ones.
  const rowElems = pp.shape.length > 1 ? pp.shape.slice(1).reduce((a, b) => a * b, 1) : 1;
  const rows = pp.shape[0] ?? 1;
  if (t.kind === "whole") {
    const hosts: HostTensor[] = [];
    for (const s of pp.sources) {
      const data = new Uint8Array(s.nbytes);
      await ckpt.read(s.name, 0, data);
      hosts.push({ dtype: s.dtype!, shape: [...s.shape], data });
    }
    const r = t.apply(hosts);
    const rb = rowElems * itemSize(r.dtype);
    return {
      dtype: r.dtype,
      rows,
      rowElems,
      read(start, n, into) {
        into.set(r.data.subarray(start * rb, (start + n) * rb));
        return Promise.resolve();
      },
    };
  }
  const dtypes = new Set(pp.sources.map((s) => s.dtype!));
  if (dtypes.size !== 1) {
    throw new Error(
      `Parameter ${pp.param.name}: sources have different dtypes (${
        pp.sources.map((s) => `${s.name}: ${s.dtype}`).join(", ")
      }); numpy would promote them, which is not supported`,
    );
  }
  const dtype = pp.sources[0].dtype!;
  const rb = rowElems * itemSize(dtype);
  const bounds: number[] = [];
  let acc = 0;
  for (const s of pp.sources) {
    bounds.push(acc);
    acc += s.shape[0] ?? 1;
  }
  const addOne = t.addOne === true;
  return {
    dtype,
    rows,
    rowElems,
    async read(start, n, into) {
      // rows may straddle sources
      let done = 0;
      while (done < n) {
        const row = start + done;
        let si = bounds.length - 1;
        while (bounds[si] > row) si--;
        const src = pp.sources[si];
        const srcRows = src.shape[0] ?? 1;
        const local = row - bounds[si];
        const take = Math.min(n - done, srcRows - local);
        await ckpt.read(src.name, local * rb, into.subarray(done * rb, (done + take) * rb));
        done += take;
      }
      if (addOne) addOneInPlace(into, dtype, n * rowElems);
    },
  };
}

function typedView(buf: ArrayBuffer, dtype: FloatDType, count: number): Uint16Array | Float32Array {
  return dtype === "float32" ? new Float32Array(buf, 0, count) : new Uint16Array(buf, 0, count);
}

function transpose(src: Uint8Array, rows: number, cols: number, elem: number, dst: Uint8Array): void {
  if (elem === 4) {
    const s = new Uint32Array(src.buffer, src.byteOffset, rows * cols);
    const d = new Uint32Array(dst.buffer, dst.byteOffset, rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) d[c * rows + r] = s[r * cols + c];
  } else {
    const s = new Uint16Array(src.buffer, src.byteOffset, rows * cols);
    const d = new Uint16Array(dst.buffer, dst.byteOffset, rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) d[c * rows + r] = s[r * cols + c];
  }
}

/**
 * Runs the conversion described by `plan`, writing the tensor cache to `output`.
 *
 * @example
 * ```ts ignore
 * import { convertWeight } from "./convert.ts";
 * const result = await convertWeight({ plan, checkpoint, backend, output });
 * console.log(result.cache.metadata);
 * ```
 */
export async function convertWeight(opts: ConvertOptions): Promise<ConvertResult> {
  const { plan, checkpoint, backend, output } = opts;
  if (plan.problems.length) throw new Error(`cannot convert:\n${plan.problems.join("\n")}`);
  const tie = opts.tie ?? "even";
  const chunkBytes = opts.chunkBytes ?? 8 << 20;
  const writer = new TensorCacheWriter(output);
  const bufs = new Buffers();
  const t0 = performance.now();
  let bytesRead = 0;
  const scheme = plan.scheme;
  let done = 0;
  for (const pp of plan.params) {
    const src = await rowSourceFor(pp, checkpoint);
    const srcItem = itemSize(src.dtype);
    const md = pp.dtype as FloatDType;
    const mdItem = itemSize(md);
    const rowBytes = src.rowElems * srcItem;
    const chunkRows = Math.max(1, Math.floor(chunkBytes / rowBytes));
    if (!pp.quant) {
      const [out] = pp.outputs;
      const sink = await writer.begin(out.name, out.shape, out.dtype);
      for (let r = 0; r < src.rows; r += chunkRows) {
        const n = Math.min(chunkRows, src.rows - r);
        const count = n * src.rowElems;
        const raw = new Uint8Array(bufs.get("src", count * srcItem), 0, count * srcItem);
        await src.read(r, n, raw);
        const cast = new Uint8Array(bufs.get("md", count * mdItem), 0, count * mdItem);
        await backend.cast(raw, src.dtype, cast, md, count);
        await sink.write(cast);
      }
      await sink.end();
    } else {
      if (scheme.kind !== "group-quant") throw new Error("unreachable: quantized param without group scheme");
      const k = src.rowElems;
      const groups = Math.ceil(k / scheme.groupSize);
      const wpr = groups * groupConstants(scheme).wordsPerGroup;
      const [qw, qs] = pp.outputs;
      const scaleAll = new Uint8Array(
        bufs.get("scales", src.rows * groups * mdItem),
        0,
        src.rows * groups * mdItem,
      );
      const kn = pp.quant === "KN";
      const wordsAll = kn
        ? new Uint8Array(bufs.get("wordsAll", src.rows * wpr * 4), 0, src.rows * wpr * 4)
        : undefined;
      const sink = kn ? undefined : await writer.begin(qw.name, qw.shape, qw.dtype);
      for (let r = 0; r < src.rows; r += chunkRows) {
        const n = Math.min(chunkRows, src.rows - r);
        const count = n * k;
        const raw = new Uint8Array(bufs.get("src", count * srcItem), 0, count * srcItem);
        await src.read(r, n, raw);
        const mdBuf = bufs.get("md", count * mdItem);
        await backend.cast(raw, src.dtype, new Uint8Array(mdBuf, 0, count * mdItem), md, count);
        const words = wordsAll
          ? new Uint32Array(wordsAll.buffer, r * wpr * 4, n * wpr)
          : new Uint32Array(bufs.get("words", n * wpr * 4), 0, n * wpr);
        const scales = md === "float32"
          ? new Float32Array(scaleAll.buffer, r * groups * 4, n * groups)
          : new Uint16Array(scaleAll.buffer, r * groups * 2, n * groups);
        await backend.groupQuantize({
          input: typedView(mdBuf, md, count),
          rows: n,
          k,
          words,
          scales,
          bits: scheme.bits,
          groupSize: scheme.groupSize,
          modelDtype: md,
          tie,
        });
        if (sink) await sink.write(new Uint8Array(words.buffer, words.byteOffset, words.byteLength));
      }
      if (sink) await sink.end();
      if (kn) {
        const tw = new Uint8Array(bufs.get("transpose", wordsAll!.length), 0, wordsAll!.length);
        transpose(wordsAll!, src.rows, wpr, 4, tw);
        await writer.add(qw.name, qw.shape, qw.dtype, tw);
        const ts = new Uint8Array(bufs.get("transpose", scaleAll.length), 0, scaleAll.length);
        transpose(scaleAll, src.rows, groups, mdItem, ts);
        await writer.add(qs.name, qs.shape, qs.dtype, ts);
      } else {
        await writer.add(qs.name, qs.shape, qs.dtype, scaleAll);
      }
    }
    bytesRead += pp.sources.reduce((a, s) => a + s.nbytes, 0);
    done++;
    opts.onProgress?.({
      done,
      total: plan.params.length,
      name: pp.param.name,
      bytesRead,
      bytesTotal: plan.sourceBytes,
      seconds: (performance.now() - t0) / 1000,
    });
  }
  const cache = await writer.finish(plan.totalParamNum);
  return { cache, bytesRead, seconds: (performance.now() - t0) / 1000 };
}
