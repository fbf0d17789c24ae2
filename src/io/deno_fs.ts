/**
 * File-system stores on Deno's APIs.
 *
 * @module
 */
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

/**
 * An {@link OutputStore} writing into directory `dir` (which must exist).
 *
 * @example
 * ```ts ignore
 * import { denoOutput } from "./deno_fs.ts";
 * await denoOutput("/tmp/out").writeTextFile("x.json", "{}");
 * ```
 */
export function denoOutput(dir: string): OutputStore {
  return {
    async create(name): Promise<FileSink> {
      const f = await Deno.open(`${dir}/${name}`, { write: true, create: true, truncate: true });
      return {
        async write(chunk) {
          let done = 0;
          while (done < chunk.length) done += await f.write(chunk.subarray(done));
        },
        close() {
          f.close();
          return Promise.resolve();
        },
      };
    },
    writeTextFile: (name, text) => Deno.writeTextFile(`${dir}/${name}`, text),
  };
}
