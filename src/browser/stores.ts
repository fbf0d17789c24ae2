/**
 * Browser I/O: a {@link SourceStore} over picked `File`s or a `FileSystemDirectoryHandle` (reads
 * by `Blob.slice`, never a whole weight file), an {@link OutputStore} over a directory handle
 * (a user-picked folder or the origin private file system) and a zip {@link OutputStore} for
 * browsers without the File System Access API. No Deno or Node API is used.
 *
 * @module
 */
import type { FileSink, OutputStore, RandomAccessFile, SourceStore } from "../io/types.ts";
import { notFoundError } from "../io/not_found.ts";
import { ReaderPool } from "./_readers.ts";

/** Options of the browser sources. */
export interface BrowserSourceOptions {
  /**
   * Reader workers for large reads (default 0: reads by `Blob.slice` on this thread). In a page,
   * 2 reads weights several times faster (`FileReaderSync` in workers, which only browsers have).
   */
  readers?: number;
  /** Reads of at least this many bytes go to the reader workers (default 1 MiB). */
  readerMinBytes?: number;
}

/** A source store that also lists a directory (gen_config's tokenizer detection uses it). */
export interface BrowserSource extends SourceStore {
  /** Names of the files directly in `dir`. */
  listDir(dir: string): Promise<string[]>;
}

const norm = (p: string): string => p.replace(/^\.\/+/, "").replace(/\/+/g, "/").replace(/\/$/, "");

/** A random-access file over a `Blob`: each read slices only the bytes asked for. */
function blobFile(
  path: string,
  blob: Blob,
  pool?: (bytes: number) => ReaderPool | undefined,
): RandomAccessFile {
  return {
    size: blob.size,
    async readAt(offset: number, into: Uint8Array): Promise<void> {
      if (offset < 0 || offset + into.length > blob.size) {
        throw new Error(`${path}: read past end of file (offset ${offset}, ${into.length} bytes)`);
      }
      const readers = pool?.(into.length);
      if (readers) {
        try {
          return await readers.readAt(blob, offset, into);
        } catch (e) {
          throw new Error(
            `${path}: read of ${into.length} bytes at ${offset} failed: ${(e as Error).message}`,
          );
        }
      }
      const bytes = new Uint8Array(await blob.slice(offset, offset + into.length).arrayBuffer());
      if (bytes.length !== into.length) throw new Error(`${path}: short read at ${offset}`);
      into.set(bytes);
    },
    close() {},
  };
}

/**
 * A source store over picked files, keyed by `webkitRelativePath` (an
 * `<input type=file webkitdirectory>` pick: `Model/config.json`) or, when that is empty, the
 * file name (an `<input type=file multiple>` pick of a folder's files).
 *
 * @example
 * ```ts
 * import { fileSource } from "./stores.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const src = fileSource([new File(["{}"], "config.json")]);
 * deepStrictEqual(await src.readTextFile("config.json"), "{}");
 * ```
 */
export function fileSource(files: Iterable<File>, opts: BrowserSourceOptions = {}): BrowserSource {
  const pool = readerPool(opts);
  const byPath = new Map<string, File>();
  for (const f of files) byPath.set(norm(f.webkitRelativePath || f.name), f);
  const get = (p: string): File => {
    const f = byPath.get(norm(p));
    if (!f) throw notFoundError(`No such file: ${p} (not among the picked files)`);
    return f;
  };
  return {
    readTextFile: (p) => Promise.resolve().then(() => get(p).text()),
    exists: (p) => Promise.resolve(byPath.has(norm(p))),
    open: (p) => Promise.resolve().then(() => blobFile(p, get(p), pool)),
    listDir(dir) {
      const d = norm(dir);
      const prefix = d === "" || d === "." ? "" : `${d}/`;
      const names: string[] = [];
      for (const p of byPath.keys()) {
        if (p.startsWith(prefix) && !p.slice(prefix.length).includes("/")) names.push(p.slice(prefix.length));
      }
      return Promise.resolve(names);
    },
  };
}

/** The source's reader workers, started at the first large read (shared by the page's sources; kept). */
function readerPool(opts: BrowserSourceOptions): (bytes: number) => ReaderPool | undefined {
  const n = Math.floor(opts.readers ?? 0);
  const min = opts.readerMinBytes ?? 1 << 20;
  return (bytes) => {
    if (n < 1 || bytes < min || bytes === 0) return undefined;
    if (!shared || shared.size < n) {
      shared = { size: n, pool: new ReaderPool(n) };
    }
    return shared.pool;
  };
}
let shared: { size: number; pool: ReaderPool } | undefined;

/** The handle of the file at `path` under `root` (a `NotFound` error when missing). */
async function fileHandleAt(root: FileSystemDirectoryHandle, path: string): Promise<FileSystemFileHandle> {
  const parts = norm(path).split("/").filter((s) => s !== "" && s !== ".");
  if (parts.some((s) => s === "..")) throw new Error(`${path}: ".." is not allowed`);
  try {
    let dir = root;
    for (const s of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(s);
    return await dir.getFileHandle(parts[parts.length - 1] ?? "");
  } catch (e) {
    const name = (e as Error)?.name;
    if (name === "NotFoundError" || name === "TypeMismatchError" || name === "TypeError") {
      throw notFoundError(`No such file: ${path}`);
    }
    throw e;
  }
}

/**
 * A source store over a directory handle (`showDirectoryPicker()`, or the origin private file
 * system); paths are relative to it.
 *
 * @example
 * ```ts ignore
 * import { directorySource } from "./stores.ts";
 * const src = directorySource(await showDirectoryPicker());
 * await src.readTextFile("config.json");
 * ```
 */
export function directorySource(
  root: FileSystemDirectoryHandle,
  opts: BrowserSourceOptions = {},
): BrowserSource {
  const pool = readerPool(opts);
  return {
    readTextFile: async (p) => await (await (await fileHandleAt(root, p)).getFile()).text(),
    exists: (p) => fileHandleAt(root, p).then(() => true, () => false),
    open: async (p) => blobFile(p, await (await fileHandleAt(root, p)).getFile(), pool),
    async listDir(dir) {
      let d = root;
      for (const s of norm(dir).split("/").filter((x) => x !== "" && x !== ".")) {
        d = await d.getDirectoryHandle(s);
      }
      const names: string[] = [];
      // deno-lint-ignore no-explicit-any
      for await (const [name, h] of (d as any).entries() as AsyncIterable<[string, FileSystemHandle]>) {
        if (h.kind === "file") names.push(name);
      }
      return names;
    },
  };
}

/** Files whose presence says "a complete output" (removed before anything is written). */
export const COMPLETE_MARKERS: readonly string[] = [
  "tensor-cache.json",
  "ndarray-cache.json",
  "mlc-chat-config.json",
];

/** A name written into a flat output directory (no path separators, no dot names). */
function checkName(name: string): string {
  if (name === "" || name === "." || name === ".." || /[\/\\]/.test(name)) {
    throw new Error(`refusing to write "${name}": not a plain file name`);
  }
  return name;
}

/**
 * An output store over a directory handle (a folder picked with `showDirectoryPicker({ mode:
 * "readwrite" })`, or `navigator.storage.getDirectory()`). Each file streams into the browser's
 * swap file and appears only when closed (the File System Access API commits on close), and
 * the cache JSON is written after every shard: a tab closed mid-conversion leaves no
 * `tensor-cache.json`. Markers of an earlier output ({@link COMPLETE_MARKERS}) are removed
 * first, so old and new files never mix into something that looks complete.
 *
 * @example
 * ```ts ignore
 * import { directoryOutput } from "./stores.ts";
 * const out = await directoryOutput(await navigator.storage.getDirectory());
 * await out.writeTextFile("a.json", "{}");
 * ```
 */
export async function directoryOutput(dir: FileSystemDirectoryHandle): Promise<OutputStore> {
  for (const name of COMPLETE_MARKERS) {
    await dir.removeEntry(name).catch((e: Error) => {
      if (e?.name !== "NotFoundError") throw e;
    });
  }
  const create = async (name: string): Promise<FileSink> => {
    const h = await dir.getFileHandle(checkName(name), { create: true });
    const w = await h.createWritable({ keepExistingData: false });
    return {
      // (a copy: the chunk may be a view of shared memory, and the caller reuses it)
      write: (chunk) => w.write(new Uint8Array(chunk)),
      close: () => w.close(),
    };
  };
  return {
    create,
    async writeTextFile(name, text) {
      const s = await create(name);
      await s.write(new TextEncoder().encode(text));
      await s.close();
    },
  };
}
