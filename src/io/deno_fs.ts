/**
 * File-system stores on Deno's APIs.
 *
 * @module
 */
import { constants as fsConstants, promises as fsp } from "node:fs";
import type { FileSink, OutputStore, RandomAccessFile, SourceStore } from "./types.ts";

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
 * import { denoSource } from "./deno_fs.ts";
 * const cfg = await denoSource().readTextFile("model/config.json");
 * ```
 */
export function denoSource(): SourceStore {
  return {
    readTextFile: (p) => Deno.readTextFile(p),
    open: openRandomAccess,
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
   * device, without copying it into the page cache. Used for the parts of a write whose file
   * offset, length and memory address are aligned to {@link DIRECT_IO_ALIGN}; everything else,
   * and file systems that refuse direct I/O, go through ordinary (buffered) writes.
   */
  directIO?: boolean;
}

/** An {@link OutputStore} on the file system, with counts of how its data was written. */
export interface DenoOutputStore extends OutputStore {
  /** Bytes written with direct I/O, and through the page cache (file data, not text files). */
  readonly stats: { directBytes: number; bufferedBytes: number };
}

/** Alignment of direct writes (file offset, length and memory address). */
export const DIRECT_IO_ALIGN = 4096;

/**
 * An {@link OutputStore} writing into directory `dir` (which must exist).
 *
 * With `directIO` (the default), big aligned writes (shards collected in page-aligned buffers,
 * see `alignedBuffer`) bypass the page cache: a conversion then costs almost no CPU for writing,
 * where filling fresh page-cache pages can cost more than the quantization itself.
 *
 * @example
 * ```ts ignore
 * import { denoOutput } from "./deno_fs.ts";
 * await denoOutput("/tmp/out").writeTextFile("x.json", "{}");
 * ```
 */
export function denoOutput(dir: string, opts: DenoOutputOptions = {}): DenoOutputStore {
  const directIO = opts.directIO ?? true;
  const stats = { directBytes: 0, bufferedBytes: 0 };
  return {
    stats,
    async create(name): Promise<FileSink> {
      const path = `${dir}/${name}`;
      const f = await Deno.open(path, { write: true, create: true, truncate: true });
      // direct handle: undefined until first used, null once direct I/O is off for this file
      let direct: fsp.FileHandle | undefined | null = directIO ? undefined : null;
      let pos = 0;
      let filePos = 0; // position of the buffered handle
      const offDirect = async () => {
        await direct?.close();
        direct = null;
      };
      return {
        async write(chunk) {
          let c = chunk;
          const n = c.length - (c.length % DIRECT_IO_ALIGN);
          if (direct !== null && pos % DIRECT_IO_ALIGN === 0 && n > 0) {
            let done = 0;
            try {
              direct ??= await fsp.open(path, fsConstants.O_WRONLY | fsConstants.O_DIRECT);
              while (done < n) {
                const { bytesWritten } = await direct.write(c, done, n - done, pos + done);
                if (bytesWritten <= 0) throw new Error(`${path}: short write`);
                done += bytesWritten;
                if (done % DIRECT_IO_ALIGN !== 0) break; // (the rest goes buffered)
              }
            } catch (e) {
              // EINVAL: this file system, or this buffer's address, does not allow direct I/O
              if ((e as { code?: string }).code !== "EINVAL") throw e;
              await offDirect();
            }
            pos += done;
            stats.directBytes += done;
            c = c.subarray(done);
          }
          if (c.length === 0) return;
          if (filePos !== pos) await f.seek(pos, Deno.SeekMode.Start);
          let done = 0;
          while (done < c.length) done += await f.write(c.subarray(done));
          pos += c.length;
          filePos = pos;
          stats.bufferedBytes += c.length;
        },
        async close() {
          await direct?.close();
          f.close();
        },
      };
    },
    writeTextFile: (name, text) => Deno.writeTextFile(`${dir}/${name}`, text),
  };
}
