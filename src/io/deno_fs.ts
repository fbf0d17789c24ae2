/**
 * File-system stores on Deno's APIs.
 *
 * @module
 */
import { IoWorker } from "./_io_worker.ts";
import type { FileSink, OutputStore, RandomAccessFile, SourceStore } from "./types.ts";

export { DIRECT_IO_ALIGN } from "./_io_worker.ts";

/**
 * Opens a file for positional reads (seek + read into the caller's buffer; no whole-file
 * reads).
 *
 * @example
 * ```ts ignore
 * import { openRandomAccess } from "./deno_fs.ts";
 * const f = await openRandomAccess("model.safetensors");
 * const head = new Uint8Array(8);
 * await f.readAt(0, head);
 * f.close();
 * ```
 */
export async function openRandomAccess(path: string): Promise<RandomAccessFile> {
  const file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  let pos = -1;
  return {
    size,
    async readAt(offset: number, into: Uint8Array): Promise<void> {
      if (offset + into.length > size) {
        throw new Error(
          `${path}: read past end of file (offset ${offset}, ${into.length} bytes, size ${size})`,
        );
      }
      if (pos !== offset) await file.seek(offset, Deno.SeekMode.Start);
      let done = 0;
      while (done < into.length) {
        const n = await file.read(into.subarray(done));
        if (n === null || n === 0) throw new Error(`${path}: unexpected end of file at ${offset + done}`);
        done += n;
      }
      pos = offset + into.length;
    },
    close() {
      file.close();
    },
  };
}

/**
 * A {@link SourceStore} over the local file system.
 *
 * @example
 * ```ts ignore
 * import { denoSource } from "@mlc-deno/convert";
 * const cfg = await denoSource().readTextFile("model/config.json");
 * ```
 */
export function denoSource(): SourceStore {
  return {
    readTextFile: (p) => Deno.readTextFile(p),
    open: openRandomAccess,
    localPath: (p) => p,
    async exists(p) {
      try {
        return (await Deno.stat(p)).isFile;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return false;
        throw e;
      }
    },
  };
}

/** Options of {@link denoOutput}. */
export interface DenoOutputOptions {
  /**
   * Write file data with `O_DIRECT` (default true): straight from the caller's buffer to the
   * device, without copying it into the page cache. Used for data in shared memory (written by
   * an I/O worker), for the parts whose file offset, length and memory address are aligned to
   * `DIRECT_IO_ALIGN`; everything else, and file systems that refuse direct I/O, go through
   * ordinary (buffered) writes.
   */
  directIO?: boolean;
  /** Milliseconds without writes after which the I/O worker stops (default 1000). */
  idleMs?: number;
}

/** An {@link OutputStore} on the file system, with counts of how its data was written. */
export interface DenoOutputStore extends OutputStore {
  /** Bytes written with direct I/O, and through the page cache (file data, not text files). */
  readonly stats: { directBytes: number; bufferedBytes: number };
  /** Waits for writes in flight and stops the I/O worker (it also stops after 1 s idle). */
  close(): Promise<void>;
  /** Starts the I/O worker now (it stops again after 1 s without writes). */
  prepare(): void;
}

/**
 * An {@link OutputStore} writing into directory `dir` (which must exist).
 *
 * Data in shared memory is written by an I/O worker, and with `directIO` (the default) its
 * aligned parts (shards collected in page-aligned buffers, see `alignedBuffer`) bypass the
 * page cache: a conversion then costs almost no CPU for writing, where filling fresh
 * page-cache pages can cost more than the quantization itself. Call `close()` at the end.
 *
 * @example
 * ```ts ignore
 * import { denoOutput } from "@mlc-deno/convert";
 * await denoOutput("/tmp/out").writeTextFile("x.json", "{}");
 * ```
 */
export function denoOutput(dir: string, opts: DenoOutputOptions = {}): DenoOutputStore {
  const directIO = opts.directIO ?? true;
  const stats = { directBytes: 0, bufferedBytes: 0 };
  let io: IoWorker | undefined;
  return {
    stats,
    async close() {
      await io?.close();
      io = undefined;
    },
    async create(name): Promise<FileSink> {
      const path = `${dir}/${name}`;
      const f = await Deno.open(path, { write: true, create: true, truncate: true });
      let pos = 0;
      let filePos = 0; // position of the buffered handle
      return {
        async write(chunk) {
          if (chunk.buffer instanceof SharedArrayBuffer) {
            // (shared memory: written by the I/O worker, direct where aligned)
            const r = await (io ??= new IoWorker(opts.idleMs)).write(path, chunk, pos, directIO);
            stats.directBytes += r.direct;
            stats.bufferedBytes += r.buffered;
            pos += chunk.length;
            return;
          }
          if (filePos !== pos) await f.seek(pos, Deno.SeekMode.Start);
          let done = 0;
          while (done < chunk.length) done += await f.write(chunk.subarray(done));
          pos += chunk.length;
          filePos = pos;
          stats.bufferedBytes += chunk.length;
        },
        close() {
          f.close();
          return Promise.resolve();
        },
      };
    },
    writeTextFile: (name, text) => Deno.writeTextFile(`${dir}/${name}`, text),
    prepare() {
      (io ??= new IoWorker(opts.idleMs)).start(); // (the I/O worker for data in shared memory)
    },
  };
}
