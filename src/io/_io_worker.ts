/**
 * A writer thread for direct I/O. Writes from shared memory run in a worker with blocking
 * `node:fs` calls (one `pwrite` for a whole aligned shard), so neither the main thread nor the
 * compute workers wait for the device, and no event-loop round trip is needed per piece
 * (`node:fs`'s asynchronous writes either block the caller or go 512 KiB at a time).
 *
 * @module
 */
// deno-lint-ignore-file no-explicit-any
import { shutDown, startWorker } from "../worker_start.ts";

/** Alignment of direct writes (file offset, length and memory address). */
export const DIRECT_IO_ALIGN = 4096;

/** How one write went. */
export interface WriteResult {
  /** Bytes written with direct I/O. */
  direct: number;
  /** Bytes written through the page cache. */
  buffered: number;
}

/**
 * Worker body: for each `{ id, path, buf, offset, length, position, direct }` writes
 * `length` bytes of shared memory `buf` from `offset` into the existing file `path` at
 * `position`: the aligned part with `O_DIRECT` (when `direct` and the file system allows
 * it), the rest through the page cache. Answers `{ id, direct, buffered }` or `{ id, error }`.
 */
function ioWorkerMain(): void {
  const g = self as any;
  const ALIGN = 4096;
  let fs: any;
  const writeAll = (fd: number, view: Uint8Array, from: number, to: number, position: number) => {
    let at = from;
    while (at < to) {
      const n = fs.writeSync(fd, view, at, to - at, position + (at - from));
      if (n <= 0) throw new Error("short write");
      at += n;
    }
  };
  g.onmessage = async (e: MessageEvent) => {
    const m = e.data;
    if (m.type === "close") {
      g.postMessage({ closed: true });
      g.close();
      return;
    }
    try {
      fs ??= await import("node:fs");
      const view = new Uint8Array(m.buf, m.offset, m.length);
      let direct = 0;
      const aligned = m.position % ALIGN === 0 && m.offset % ALIGN === 0 ? m.length - (m.length % ALIGN) : 0;
      if (m.direct && aligned > 0) {
        let fd = -1;
        try {
          fd = fs.openSync(m.path, fs.constants.O_WRONLY | fs.constants.O_DIRECT);
          writeAll(fd, view, 0, aligned, m.position);
          direct = aligned;
        } catch (err) {
          // EINVAL: this file system, or this memory's address, does not allow direct I/O
          if ((err as any)?.code !== "EINVAL") throw err;
        } finally {
          if (fd >= 0) fs.closeSync(fd);
        }
      }
      if (direct < m.length) {
        const fd = fs.openSync(m.path, fs.constants.O_WRONLY);
        try {
          writeAll(fd, view, direct, m.length, m.position + direct);
        } finally {
          fs.closeSync(fd);
        }
      }
      g.postMessage({ id: m.id, direct, buffered: m.length - direct });
    } catch (err) {
      g.postMessage({ id: m.id, error: String((err as Error)?.message ?? err), code: (err as any)?.code });
    }
  };
}

/**
 * Writes from shared memory in an I/O worker (started on first use). {@link IoWorker.close}
 * stops it; an idle worker also stops by itself after `idleMs`, so a forgotten `close` never
 * keeps a program alive for long.
 */
export class IoWorker {
  #worker: Worker | undefined;
  readonly #pending = new Map<number, { resolve: (r: WriteResult) => void; reject: (e: Error) => void }>();
  #nextId = 0;
  #idle: ReturnType<typeof setTimeout> | undefined;
  readonly #inflight = new Set<Promise<WriteResult>>();
  readonly #idleMs: number;

  /** An I/O worker stopping itself after `idleMs` without work (default 1000). */
  constructor(idleMs = 1000) {
    this.#idleMs = idleMs;
  }

  /**
   * Starts the worker now (starting one blocks the calling thread for some milliseconds), so
   * that the first write does not wait for it; it stops again after `idleMs` without writes.
   */
  start(): void {
    if (this.#worker) return;
    this.#worker = this.#start();
    this.#armIdle();
  }

  /** Whether the worker is running (started and not stopped). */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  #armIdle(): void {
    const t = setTimeout(() => void this.#stop(), this.#idleMs);
    Deno.unrefTimer(t as unknown as number);
    this.#idle = t;
  }

  /**
   * Writes `view` (a view of a `SharedArrayBuffer`) into the existing file `path` at
   * `position`, with direct I/O for its aligned part when `direct`.
   */
  write(path: string, view: Uint8Array, position: number, direct: boolean): Promise<WriteResult> {
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    this.#idle = undefined;
    const w = this.#worker ??= this.#start();
    const id = this.#nextId++;
    const done = new Promise<WriteResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      w.postMessage({
        id,
        path,
        buf: view.buffer,
        offset: view.byteOffset,
        length: view.length,
        position,
        direct,
      });
    });
    this.#inflight.add(done);
    const forget = () => void this.#inflight.delete(done);
    done.then(forget, forget);
    return done;
  }

  #start(): Worker {
    const w = startWorker(ioWorkerMain);
    w.onmessage = (e: MessageEvent<{ id: number; error?: string; code?: string } & WriteResult>) => {
      const p = this.#pending.get(e.data.id);
      if (!p) return;
      this.#pending.delete(e.data.id);
      if (e.data.error !== undefined) {
        p.reject(Object.assign(new Error(e.data.error), { code: e.data.code }));
      } else p.resolve({ direct: e.data.direct, buffered: e.data.buffered });
      if (this.#pending.size === 0) this.#armIdle();
    };
    w.onerror = (e) => {
      e.preventDefault();
      const err = new Error(`I/O worker failed: ${e.message}`);
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
      void this.#stop();
    };
    return w;
  }

  /** Stops the worker: it exits by itself between writes (see `shutDown`). */
  #stop(): Promise<void> {
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    this.#idle = undefined;
    const w = this.#worker;
    this.#worker = undefined;
    return w ? shutDown([w]) : Promise.resolve();
  }

  /** Waits for the writes in flight, then stops the worker. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#inflight]);
    await this.#stop();
  }
}
