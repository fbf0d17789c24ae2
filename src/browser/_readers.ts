/**
 * Reader workers for browser sources: a large `readAt` is split among a few workers, each reading
 * its part with `FileReaderSync` (the buffers transferred back, not copied), which in Chromium
 * reads several times faster than `Blob.slice().arrayBuffer()` on the page's thread (measured:
 * about 0.15 GB/s there, 0.4-0.55 GB/s with two workers).
 *
 * @module
 */

// (the worker: reads [blob, offset, length] requests, answers with the bytes or an error)
const READER = `onmessage = (e) => {
  const { id, blob, offset, length } = e.data;
  try {
    const a = new FileReaderSync().readAsArrayBuffer(blob.slice(offset, offset + length));
    postMessage({ id, a }, [a]);
  } catch (err) {
    postMessage({ id, error: String(err && err.message || err) });
  }
};`;

type Waiting = { resolve: (a: ArrayBuffer) => void; reject: (e: Error) => void };

/** A pool of reader workers. */
export class ReaderPool {
  readonly #workers: Worker[];
  readonly #waiting = new Map<number, Waiting>();
  #id = 0;

  /** Starts `count` reader workers (from a blob: URL). */
  constructor(count: number) {
    const url = URL.createObjectURL(new Blob([READER], { type: "text/javascript" }));
    this.#workers = Array.from({ length: count }, () => {
      const w = new Worker(url);
      w.onmessage = (e: MessageEvent<{ id: number; a?: ArrayBuffer; error?: string }>) => {
        const p = this.#waiting.get(e.data.id);
        this.#waiting.delete(e.data.id);
        if (e.data.error !== undefined) p?.reject(new Error(e.data.error));
        else p?.resolve(e.data.a!);
      };
      return w;
    });
    URL.revokeObjectURL(url);
  }

  /** Reads `into.length` bytes of `blob` at `offset`, split among the workers. */
  async readAt(blob: Blob, offset: number, into: Uint8Array): Promise<void> {
    const n = this.#workers.length;
    const part = Math.ceil(into.length / n / 4096) * 4096;
    const jobs: Promise<void>[] = [];
    for (let i = 0, at = 0; at < into.length; i++, at += part) {
      const length = Math.min(part, into.length - at);
      const id = ++this.#id;
      jobs.push(
        new Promise<ArrayBuffer>((resolve, reject) => {
          this.#waiting.set(id, { resolve, reject });
          this.#workers[i].postMessage({ id, blob, offset: offset + at, length });
        }).then((a) => {
          if (a.byteLength !== length) throw new Error(`short read at ${offset + at}`);
          into.set(new Uint8Array(a), at);
        }),
      );
    }
    await Promise.all(jobs);
  }

  /** Stops the workers. */
  close(): void {
    for (const w of this.#workers) w.terminate();
  }
}
