/**
 * In-memory stores, for tests and for library users who convert buffers.
 *
 * @module
 */
import type { FileSink, OutputStore, RandomAccessFile, SourceStore } from "./types.ts";
import { notFoundError } from "./not_found.ts";

/**
 * A {@link SourceStore} over a map of paths to bytes or text.
 *
 * @example
 * ```ts
 * import { memorySource } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * const src = memorySource({ "m/config.json": "{}" });
 * deepStrictEqual(await src.readTextFile("m/config.json"), "{}");
 * ```
 */
export function memorySource(files: Record<string, Uint8Array | string>): SourceStore {
  const get = (p: string): Uint8Array => {
    const v = files[p];
    if (v === undefined) throw notFoundError(`No such file: ${p}`);
    return typeof v === "string" ? new TextEncoder().encode(v) : v;
  };
  return {
    readTextFile: (p) => Promise.resolve(new TextDecoder().decode(get(p))),
    exists: (p) => Promise.resolve(files[p] !== undefined),
    open(p): Promise<RandomAccessFile> {
      const data = get(p);
      return Promise.resolve({
        size: data.length,
        readAt(offset: number, into: Uint8Array): Promise<void> {
          if (offset + into.length > data.length) {
            return Promise.reject(
              new Error(`${p}: read past end of file (offset ${offset}, ${into.length} bytes)`),
            );
          }
          into.set(data.subarray(offset, offset + into.length));
          return Promise.resolve();
        },
        close() {},
      });
    },
  };
}

/** An {@link OutputStore} that keeps files in memory. */
export interface MemoryOutput extends OutputStore {
  /** The written files. */
  readonly files: Map<string, Uint8Array>;
}

/**
 * Creates an in-memory {@link OutputStore}.
 *
 * @example
 * ```ts
 * import { memoryOutput } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * const out = memoryOutput();
 * await out.writeTextFile("a.json", "{}");
 * deepStrictEqual(out.files.get("a.json")!.length, 2);
 * ```
 */
export function memoryOutput(): MemoryOutput {
  const files = new Map<string, Uint8Array>();
  return {
    files,
    create(name): Promise<FileSink> {
      const parts: Uint8Array[] = [];
      return Promise.resolve({
        write(chunk) {
          parts.push(chunk.slice());
          return Promise.resolve();
        },
        close() {
          const n = parts.reduce((a, p) => a + p.length, 0);
          const all = new Uint8Array(n);
          let o = 0;
          for (const p of parts) {
            all.set(p, o);
            o += p.length;
          }
          files.set(name, all);
          return Promise.resolve();
        },
      });
    },
    writeTextFile(name, text) {
      files.set(name, new TextEncoder().encode(text));
      return Promise.resolve();
    },
  };
}
