/**
 * The I/O gen_config needs beyond {@link SourceStore}/{@link OutputStore}: an optional
 * directory listing (RWKV / tiktoken detection) and an optional rename (atomic writes).
 *
 * @module
 */
import type { OutputStore, SourceStore } from "../io/types.ts";

/** A source store that can optionally list a directory (file names only). */
export interface GenConfigSource extends SourceStore {
  /** Names of the regular files in `dir`, in listing order. */
  listDir?(dir: string): Promise<string[]>;
}

/** An output store that can optionally rename a file (used for atomic writes). */
export interface GenConfigOutput extends OutputStore {
  /** Renames `from` to `to` inside the output directory, replacing `to`. */
  rename?(from: string, to: string): Promise<void>;
}

/**
 * Joins a directory and a file name with `/` (`""` or `.` means the current directory).
 *
 * @example
 * ```ts
 * import { joinPath } from "./_io.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(joinPath("models/x", "config.json"), "models/x/config.json");
 * ```
 */
export function joinPath(dir: string, name: string): string {
  if (dir === "" || dir === ".") return name;
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/**
 * Reads a whole file as bytes through {@link SourceStore.open}.
 *
 * @example
 * ```ts
 * import { readBytes } from "./_io.ts";
 * import { memorySource } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual((await readBytes(memorySource({ a: "xy" }), "a")).length, 2);
 * ```
 */
export async function readBytes(src: SourceStore, path: string): Promise<Uint8Array> {
  const f = await src.open(path);
  try {
    const buf = new Uint8Array(f.size);
    const chunk = 8 << 20;
    for (let off = 0; off < f.size; off += chunk) {
      await f.readAt(off, buf.subarray(off, Math.min(f.size, off + chunk)));
    }
    return buf;
  } finally {
    f.close();
  }
}

/**
 * Writes bytes to a new output file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeBytes } from "./_io.ts";
 * import { memoryOutput } from "@mlc-deno/convert";
 * const out = memoryOutput();
 * await writeBytes(out, "a.bin", new Uint8Array([1, 2]));
 * assert.deepEqual([...out.files.get("a.bin")!], [1, 2]);
 * ```
 */
export async function writeBytes(out: OutputStore, name: string, data: Uint8Array): Promise<void> {
  const sink = await out.create(name);
  const chunk = 8 << 20;
  for (let off = 0; off < data.length; off += chunk) {
    await sink.write(data.subarray(off, Math.min(data.length, off + chunk)));
  }
  await sink.close();
}
