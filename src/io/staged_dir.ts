/**
 * Crash-safe output directory: files are written into a hidden staging directory inside OUT
 * and moved into place at the end, cache JSON last, so an interrupted run never leaves a
 * cache JSON that points at missing or partial shards. Nothing is written outside OUT.
 *
 * @module
 */
import { denoOutput } from "./deno_fs.ts";
import type { OutputStore } from "./types.ts";

/** Files a conversion writes (a previous conversion in OUT is recognised by these). */
export const CACHE_FILE_RE: RegExp = /^(params_shard_\d+\.bin|(tensor|ndarray)-cache(-b16)?\.json)$/;

/** Files `gen_config` writes; their presence does not make OUT "non-empty" for convert_weight. */
export const GEN_CONFIG_FILE_RE: RegExp =
  /^(mlc-chat-config\.json|tokenizer(_config)?\.json|tokenizer\.model|vocab\.(json|txt)|merges\.txt|added_tokens\.json|special_tokens_map\.json|tokenizer\.txt)$/;

/** A staging directory with commit/abort. */
export interface StagedDir {
  /** Where files are written meanwhile. */
  readonly store: OutputStore;
  /** The staging directory path. */
  readonly path: string;
  /** Moves the staged files into OUT (cache JSON last) and removes the staging directory. */
  commit(): Promise<string[]>;
  /** Removes the staging directory. */
  abort(): Promise<void>;
}

/** Error when OUT holds files and `--overwrite` was not given. */
export class OutputNotEmptyError extends Error {
  /** Creates the error. */
  constructor(dir: string, files: string[]) {
    super(
      `Output directory ${dir} is not empty (${files.slice(0, 5).join(", ")}${
        files.length > 5 ? `, ... ${files.length} files` : ""
      }). Pass --overwrite to replace a previous conversion, or choose another -o.`,
    );
    this.name = "OutputNotEmptyError";
  }
}

/**
 * Prepares OUT for a conversion. OUT may be missing or empty, or hold only gen_config
 * outputs; otherwise `overwrite` is required (previous cache files are then replaced at
 * commit, after all new shards are complete). `directIO` is passed on to {@link denoOutput}.
 *
 * @example
 * ```ts ignore
 * import { stageOutputDir } from "./staged_dir.ts";
 * const staged = await stageOutputDir("dist/out", { overwrite: false });
 * await staged.store.writeTextFile("tensor-cache.json", "{}");
 * await staged.commit();
 * ```
 */
export async function stageOutputDir(
  out: string,
  opts: { overwrite?: boolean; directIO?: boolean } = {},
): Promise<StagedDir> {
  await Deno.mkdir(out, { recursive: true });
  // (Deno's rename needs read access too, so OUT is readable here)
  const blocking: string[] = [];
  for await (const e of Deno.readDir(out)) {
    if (!GEN_CONFIG_FILE_RE.test(e.name) && !e.name.startsWith(".mlc-convert-partial-")) {
      blocking.push(e.name);
    }
  }
  if (blocking.length && !opts.overwrite) throw new OutputNotEmptyError(out, blocking.sort());
  const path = `${out}/.mlc-convert-partial-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(path);
  const inner = denoOutput(path, { directIO: opts.directIO });
  const staged = new Set<string>();
  const store: OutputStore = {
    create(name) {
      staged.add(name);
      return inner.create(name);
    },
    writeTextFile(name, text) {
      staged.add(name);
      return inner.writeTextFile(name, text);
    },
    prepare: () => inner.prepare(),
  };
  return {
    store,
    path,
    async commit() {
      await inner.close(); // (every write has finished)
      const names = [...staged];
      // 1. remove an older conversion: its JSON first, so it never points at new or missing shards
      for (
        const n of [
          "tensor-cache.json",
          "ndarray-cache.json",
          "tensor-cache-b16.json",
          "ndarray-cache-b16.json",
        ]
      ) {
        await removeIfExists(`${out}/${n}`);
      }
      for (let i = 0; await removeIfExists(`${out}/params_shard_${i}.bin`); i++);
      // 2. shards and other files, then side JSONs, then the main cache JSONs
      const isJson = (n: string) => n.endsWith(".json");
      const rank = (
        n: string,
      ) => (!isJson(n) ? 0 : /-b16\.json$/.test(n) ? 1 : /cache\.json$/.test(n) ? 3 : 2);
      names.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
      for (const n of names) await Deno.rename(`${path}/${n}`, `${out}/${n}`);
      await Deno.remove(path);
      return names;
    },
    async abort() {
      await inner.close().catch(() => {});
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

async function removeIfExists(p: string): Promise<boolean> {
  try {
    await Deno.remove(p);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
