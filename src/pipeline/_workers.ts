/**
 * Bodies of the pipeline's workers. Each is a self-contained function (no imports, no
 * captured variables) run from a data: URL, so starting a worker needs no read permission
 * for module files (the CLI grants read access to the model and output only).
 *
 * @module
 */
// deno-lint-ignore-file no-explicit-any
import { md5Digest, md5InPlace, md5Streams, md5StreamState, md5Update } from "../kernels/_md5.ts";

/**
 * Kernel worker: instantiates the kernels module posted once on the pool's shared memory, with
 * its own stack and working region there, then runs chunk jobs and answers md5 messages
 * ({@link md5Message}, whose source is prepended with its helpers). A job's source rows are
 * read straight from the file into the working region, `partBytes` at a time, each part cast
 * and quantized by the fused kernel before the next is read (or the whole input is copied
 * from the slot's input region), and the outputs written by the kernel where they go
 * (`destAt`, `scaleDestAt`: the shard buffers, in the same memory), else copied into the
 * slot's output region; non-finite source values are counted part by part. Answers
 * `{ id, readMs, computeMs, nonFinite }` or `{ id, error }`.
 */
export function quantWorkerMain(): void {
  const g = self as any;
  let ex: any;
  let base = 0;
  let end = 0;
  let slots: SharedArrayBuffer[] = [];
  const files = new Map<string, any>();
  const streams = new Map<number, any>();
  const align16 = (n: number) => (n + 15) & ~15;
  const reserve = (bytes: number) => {
    if (base + bytes > end) {
      throw new Error(`a job needs ${bytes} bytes, the worker's region has ${end - base}`);
    }
    return base;
  };
  const readInto = (path: string, offset: number, into: Uint8Array) => {
    let f = files.get(path);
    if (!f) files.set(path, f = g.Deno.openSync(path, { read: true }));
    f.seekSync(offset, 0);
    let done = 0;
    while (done < into.length) {
      const n = f.readSync(into.subarray(done));
      if (n === null || n === 0) throw new Error(`${path}: unexpected end of file at ${offset + done}`);
      done += n;
    }
  };
  const readPart = (reads: [string, number, number][], from: number, into: Uint8Array) => {
    let at = 0, filled = 0;
    for (const [path, offset, length] of reads) {
      const lo = Math.max(from + filled, at), hi = Math.min(from + into.length, at + length);
      if (lo < hi) {
        readInto(path, offset + lo - at, into.subarray(filled, filled + hi - lo));
        filled += hi - lo;
      }
      at += length;
      if (filled === into.length) break;
    }
  };
  const run = (job: any) => {
    const t0 = performance.now();
    const rowBytes = job.k * job.srcSize;
    const inBytes = job.rows * rowBytes;
    const scratch = align16(job.k * 4);
    const pIn = reserve(scratch + align16(inBytes) + align16(job.outBytes)) + scratch;
    const pOut = pIn + align16(inBytes);
    // in place: the kernel writes into the shard buffers (in this memory)
    const pWords = job.destAt ?? pOut, pScales = job.scaleDestAt ?? pOut + job.scalesAt;
    // rows read and quantized together (`partBytes` of source): the part just read is still in
    // the core's cache when the kernel takes it (a whole 8 MiB chunk is not), and the parts
    // reuse the same input bytes
    const partRows = job.reads ? Math.max(1, Math.floor((job.partBytes ?? inBytes) / rowBytes)) : job.rows;
    let readMs = 0, nonFinite = 0;
    for (let r0 = 0; r0 < job.rows; r0 += partRows) {
      const rows = Math.min(partRows, job.rows - r0);
      const t1 = performance.now();
      if (job.reads) {
        readPart(job.reads, r0 * rowBytes, new Uint8Array(ex.memory.buffer, pIn, rows * rowBytes));
      } else {
        new Uint8Array(ex.memory.buffer, pIn, inBytes).set(new Uint8Array(slots[job.slot], 0, inBytes));
      }
      readMs += performance.now() - t1;
      const rc = job.kind === "quant"
        ? ex.cast_group_quantize(
          pIn,
          job.srcDtype,
          rows,
          job.k,
          pIn - scratch,
          pWords + r0 * job.outRowBytes,
          pScales + r0 * job.scaleRowBytes,
          job.bits,
          job.groupSize,
          job.modelDtype,
          job.tie,
        )
        : ex.cast(pIn, job.srcDtype, pWords + r0 * job.outRowBytes, job.modelDtype, rows * job.k);
      if (rc < 0) {
        throw new Error(`kernel rejected a ${job.kind} job (bits ${job.bits}, group ${job.groupSize})`);
      }
      // NaN/Inf among the source values, counted while the part is in the core's cache; the
      // quantizer reports the groups holding them (0 proves the part finite), a cast does not
      if (job.kind !== "quant" || rc > 0) nonFinite += ex.count_nonfinite(pIn, job.srcDtype, rows * job.k, 1);
    }
    if (job.destAt === undefined) {
      new Uint8Array(slots[job.slot], job.outAt, job.outBytes).set(
        new Uint8Array(ex.memory.buffer, pOut, job.outBytes),
      );
    }
    return { readMs, computeMs: performance.now() - t0 - readMs, nonFinite };
  };
  g.onmessage = (e: MessageEvent) => {
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
      for (const f of files.values()) f.close();
      files.clear();
      g.postMessage({ closed: true });
      g.close();
      return;
    }
    const id = m.type === "job" ? m.job.id : m.id;
    try {
      g.postMessage(m.type === "job" ? { id, ...run(m.job) } : md5Message(ex, base, streams, m));
    } catch (err) {
      g.postMessage({ id, error: String((err as Error)?.stack ?? err) });
    }
  };
}

/**
 * Answers one md5 message in a worker (self-contained: prepended to worker sources, after
 * `md5Drive`, `md5Streams`, `md5InPlace`, `md5StreamState`, `md5Update` and `md5Digest`): `md5` hashes
 * `lengths[i]` bytes at `offsets[i]` of each shared buffer `bufs[i]` together, or without
 * `bufs` of the worker's own memory, in place (multi-buffer md5; answer `{ id, hex, ms }`);
 * `update` hashes a piece of a long stream (`{ id, ms }`), `digest` finishes one
 * (`{ id, hex, ms }`). Uses linear memory from `base` on.
 */
export function md5Message(
  ex: any,
  base: number,
  streams: Map<number, any>,
  m: any,
): Record<string, unknown> {
  const t0 = performance.now();
  if (m.type === "update") {
    let st = streams.get(m.stream);
    if (!st) streams.set(m.stream, st = md5StreamState());
    md5Update(ex, base, st, new Uint8Array(m.buf, m.offset, m.length));
    return { id: m.id, ms: performance.now() - t0 };
  }
  if (m.type === "digest") {
    const st = streams.get(m.stream) ?? md5StreamState();
    streams.delete(m.stream);
    return { id: m.id, hex: md5Digest(ex, base, st), ms: performance.now() - t0 };
  }
  if (!m.bufs) {
    return { id: m.id, hex: md5InPlace(ex, base, m.offsets, m.lengths), ms: performance.now() - t0 };
  }
  const views = m.bufs.map((b: SharedArrayBuffer, i: number) =>
    new Uint8Array(b, m.offsets[i], m.lengths[i])
  );
  return { id: m.id, hex: md5Streams(ex, base, views), ms: performance.now() - t0 };
}

/**
 * md5 worker: instantiates the kernels module posted once, then answers md5 messages (see
 * {@link md5Message}); failures answer `{ id, error }`. Runs with the sources of `md5Drive`,
 * `md5Streams`, `md5InPlace`, `md5StreamState`, `md5Update`, `md5Digest` and `md5Message`
 * prepended (see {@link startWorker}).
 */
export function md5WorkerMain(): void {
  const g = self as any;
  let ex: any;
  let base = 0;
  const streams = new Map<number, any>();
  g.onmessage = (e: MessageEvent) => {
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

/**
 * Starts a module worker running `main` (a self-contained function) from a data: URL, after
 * the declarations of `helpers` (self-contained named functions `main` may call).
 *
 * @example
 * ```ts ignore
 * import { md5WorkerMain, startWorker } from "./_workers.ts";
 * const w = startWorker(md5WorkerMain);
 * w.terminate();
 * ```
 */
export function startWorker(
  main: () => void,
  helpers: readonly ((...args: any[]) => unknown)[] = [],
): Worker {
  const code = `${helpers.map((f) => f.toString()).join("\n")}\n(${main.toString()})();`;
  return new Worker(`data:text/javascript,${encodeURIComponent(code)}`, { type: "module" });
}

/**
 * Asks workers to finish (a `close` message: they answer `{ closed: true }` and exit), waits
 * for their answers (at most `ms`), then terminates them. Exiting by themselves, between jobs,
 * spares the runtime tearing a busy worker down. (Replaces the workers' message handlers.)
 *
 * @example
 * ```ts ignore
 * import { shutDown, startWorker } from "./_workers.ts";
 * await shutDown([startWorker(md5WorkerMain)]);
 * ```
 */
export async function shutDown(workers: readonly Worker[], ms = 1000): Promise<void> {
  const answered = workers.map((w) =>
    new Promise<void>((resolve) => {
      w.onmessage = (e: MessageEvent<{ closed?: boolean }>) => {
        if (e.data?.closed) resolve();
      };
      w.onerror = (e) => {
        e.preventDefault();
        resolve();
      };
    })
  );
  for (const w of workers) w.postMessage({ type: "close" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(answered),
    new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
  ]);
  clearTimeout(timer);
  for (const w of workers) w.terminate();
}
