/**
 * Bodies of the pipeline's workers: self-contained functions (no imports at run time, no
 * captured variables), started with their helpers by `startWorker`.
 *
 * @module
 */
// deno-lint-ignore-file no-explicit-any
import { closeFiles, readRanges } from "../io/direct_read.ts";
import { kernelJobBytes, runKernelJob } from "../kernels/job.ts";
import { md5Digest, md5InPlace, md5Lanes, md5Streams, md5StreamState, md5Update } from "../kernels/md5.ts";
import type { JobRequest, Md5Request, Md5WorkerRequest, QuantWorkerRequest } from "./_messages.ts";

/**
 * Kernel worker (its helpers' declarations are prepended to its source, so the names it
 * imports here are the prepended functions there): instantiates the kernels module posted
 * once on the pipeline's shared memory, with its own stack and working region there, then runs chunk jobs (`runKernelJob`: source
 * rows read straight from the files part by part with `readRanges`, or copied from the slot's
 * input) and answers md5 messages ({@link md5Message}). Runs with the sources of
 * `kernelJobBytes`, `kernelJobLayout`, `runKernelJob`, `readRanges`, `closeFiles`,
 * {@link md5Message} and its helpers prepended.
 * Answers `{ id, readMs, computeMs, nonFinite }`, md5 answers, or `{ id, error }`.
 */
export function quantWorkerMain(): void {
  const g = self as any;
  let ex: any;
  let base = 0;
  let end = 0;
  let slots: SharedArrayBuffer[] = [];
  const files = new Map<string, any>();
  const streams = new Map<number, any>();
  const run = (m: JobRequest) => {
    const t0 = performance.now();
    const job = m.job;
    const rowBytes = job.k * job.srcSize;
    const align16 = (n: number) => (n + 15) & ~15;
    const need = kernelJobBytes(job);
    if (base + need > end) {
      throw new Error(`a job needs ${need} bytes, the worker's region has ${end - base}`);
    }
    let readMs = 0;
    const r = runKernelJob(ex, base, job, (row0, rows, at) => {
      const t1 = performance.now();
      const into = new Uint8Array(ex.memory.buffer, at, rows * rowBytes);
      if (m.reads) readRanges(files, m.reads, row0 * rowBytes, into);
      else into.set(new Uint8Array(slots[m.slot], row0 * rowBytes, rows * rowBytes));
      readMs += performance.now() - t1;
    });
    if (job.wordsAt === undefined) {
      const out = new Uint8Array(slots[m.slot], m.outAt, align16(job.outBytes) + job.scaleBytes);
      out.set(new Uint8Array(ex.memory.buffer, r.words, job.outBytes));
      out.set(new Uint8Array(ex.memory.buffer, r.scales, job.scaleBytes), align16(job.outBytes));
    }
    return { readMs, computeMs: performance.now() - t0 - readMs, nonFinite: r.nonFinite };
  };
  g.onmessage = (e: MessageEvent<QuantWorkerRequest>) => {
    const m = e.data;
    if (m.type === "init") {
      const memory = m.memory;
      const exports = new WebAssembly.Instance(m.module, { env: { memory } }).exports as any;
      exports.__stack_pointer.value = m.region.stackTop;
      ex = { ...exports, memory };
      base = m.region.base;
      end = m.region.end;
      slots = m.slots;
      // a few small calls now make the engine compile the hot kernels with its optimizing tier
      // (the module's code is shared by the workers) instead of running the first jobs slowly
      const at = base + 16384; // (bf16 input 32 KiB, scratch 8 KiB, words 8 KiB, scales 1 KiB)
      const input = new Uint16Array(memory.buffer, at, 16384);
      for (let i = 0; i < input.length; i++) input[i] = 0x3c00 + ((i * 2654435761) >>> 22);
      for (let i = 0; i < 16; i++) {
        ex.cast_group_quantize(at, 1, 8, 2048, at + 32768, at + 40960, at + 49152, 4, 32, 0, 0);
        ex.md5_blocks_x4(base, at, at + 4096, at + 8192, at + 12288, 64);
        ex.md5_blocks(base, at, 64);
      }
      return;
    }
    if (m.type === "close") {
      closeFiles(files);
      g.postMessage({ closed: true });
      g.close();
      return;
    }
    try {
      g.postMessage(m.type === "job" ? { id: m.id, ...run(m) } : md5Message(ex, base, streams, m));
    } catch (err) {
      g.postMessage({ id: m.id, error: String((err as Error)?.stack ?? err) });
    }
  };
}

/**
 * Answers one md5 message in a worker (self-contained: prepended to worker sources, after
 * `md5Blocks`, `md5Drive`, `md5Streams`, `md5InPlace`, `md5Lanes`, `md5StreamState`, `md5Update`
 * and `md5Digest`): `md5` answers `{ id, hex, ms }` (hashes of the buffers), `update`
 * `{ id, ms }`, `digest` `{ id, hex, ms }`, `lanes` `{ id, lanes, ms }` (see `md5Lanes`). Uses
 * linear memory from `base` on.
 */
export function md5Message(
  ex: any,
  base: number,
  streams: Map<number, any>,
  m: Md5Request,
): Record<string, unknown> {
  const t0 = performance.now();
  if (m.type === "update") {
    let st = streams.get(m.stream);
    if (!st) streams.set(m.stream, st = md5StreamState());
    md5Update(ex, base, st, new Uint8Array(m.buf, m.offset, m.length));
    return { id: m.id, ms: performance.now() - t0 };
  }
  if (m.type === "lanes") {
    return { id: m.id, lanes: md5Lanes(ex, base, m.pieces), ms: performance.now() - t0 };
  }
  if (m.type === "digest") {
    const st = streams.get(m.stream) ?? md5StreamState();
    streams.delete(m.stream);
    return { id: m.id, hex: md5Digest(ex, base, st), ms: performance.now() - t0 };
  }
  if (!m.bufs) {
    return { id: m.id, hex: md5InPlace(ex, base, m.offsets, m.lengths), ms: performance.now() - t0 };
  }
  const bufs = m.bufs;
  const views = bufs.map((b, i) => new Uint8Array(b, m.offsets[i], m.lengths[i]));
  return { id: m.id, hex: md5Streams(ex, base, views), ms: performance.now() - t0 };
}

/**
 * md5 worker: instantiates the kernels module posted once, then answers md5 messages (see
 * {@link md5Message}); failures answer `{ id, error }`. Runs with the sources of `md5Drive`,
 * `md5Streams`, `md5InPlace`, `md5StreamState`, `md5Update`, `md5Digest` and `md5Message`
 * prepended (see `startWorker`).
 */
export function md5WorkerMain(): void {
  const g = self as any;
  let ex: any;
  let base = 0;
  const streams = new Map<number, any>();
  g.onmessage = (e: MessageEvent<Md5WorkerRequest>) => {
    const m = e.data;
    if (m.type === "init") {
      const memory = new WebAssembly.Memory({ initial: m.pages, maximum: 65536 });
      ex = { ...new WebAssembly.Instance(m.module, { env: { memory } }).exports, memory };
      base = (ex.heap_base() + 15) & ~15;
      return;
    }
    if (m.type === "close") {
      g.postMessage({ closed: true });
      g.close();
      return;
    }
    try {
      g.postMessage(md5Message(ex, base, streams, m));
    } catch (err) {
      g.postMessage({ id: m.id, error: String((err as Error)?.stack ?? err) });
    }
  };
}
