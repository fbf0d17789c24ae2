/**
 * An output directory whose files are replaced, never written through: each file is written
 * under a fresh temporary name (created exclusively, so a planted symbolic link or file of that
 * name is never followed) and renamed over its final name when it is complete. A symbolic link
 * planted at `OUT/tokenizer.json` is therefore replaced by the file, and its target is left
 * untouched; a reader never sees a half-written file.
 *
 * @module
 */
import type { FileSink, OutputStore } from "./types.ts";

/** Prefix of the temporary files (hidden; removed by {@link ReplacingOutput.cleanup}). */
export const TEMP_PREFIX = ".mlc-convert-tmp-";

/** An {@link OutputStore} that replaces files (see the module doc). */
export interface ReplacingOutput extends OutputStore {
  /** Renames `from` to `to` inside the directory (replacing `to`, never following it). */
  rename(from: string, to: string): Promise<void>;
  /** Removes the temporary files of writes that did not finish. */
  cleanup(): Promise<void>;
}

/** `name` as a plain file name inside the directory, or an error. */
function plainName(name: string): string {
  if (
    !name || name.includes("/") || name.includes("\\") || name === ".." || name === "." || name.includes("\0")
  ) {
    throw new Error(`refusing to write outside the output directory: ${JSON.stringify(name)}`);
  }
  return name;
}

/**
 * An output store for directory `dir` (which must exist) that replaces each file atomically.
 *
 * @example
 * ```ts ignore
 * import { replacingOutput } from "./replacing_output.ts";
 * const out = replacingOutput("dist/out");
 * await out.writeTextFile("mlc-chat-config.json", "{}"); // a link there is replaced, not followed
 * ```
 */
export function replacingOutput(dir: string): ReplacingOutput {
  const pending = new Set<string>();
  const open = async (name: string) => {
    const final = `${dir}/${plainName(name)}`;
    const tmp = `${dir}/${TEMP_PREFIX}${crypto.randomUUID().slice(0, 8)}-${name}`;
    const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    pending.add(tmp);
    return { f, tmp, final };
  };
  const finish = async (tmp: string, final: string) => {
    await Deno.rename(tmp, final);
    pending.delete(tmp);
  };
  return {
    async create(name): Promise<FileSink> {
      const { f, tmp, final } = await open(name);
      let closed = false;
      return {
        async write(chunk) {
          let done = 0;
          while (done < chunk.length) done += await f.write(chunk.subarray(done));
        },
        async close() {
          if (closed) return;
          closed = true;
          f.close();
          await finish(tmp, final);
        },
      };
    },
    async writeTextFile(name, text) {
      const { f, tmp, final } = await open(name);
      try {
        const bytes = new TextEncoder().encode(text);
        let done = 0;
        while (done < bytes.length) done += await f.write(bytes.subarray(done));
      } finally {
        f.close();
      }
      await finish(tmp, final);
    },
    rename: (from, to) => Deno.rename(`${dir}/${plainName(from)}`, `${dir}/${plainName(to)}`),
    async cleanup() {
      for (const p of pending) await Deno.remove(p).catch(() => {});
      pending.clear();
    },
  };
}
