/**
 * Crash-safe output directory. A conversion is written into a hidden staging directory inside
 * OUT (`.mlc-convert-partial-*`, holding a marker file `.mlc-convert-staging` that its run
 * keeps locked) and moved into place at the end, so that at every moment, even after
 * `kill -9`, OUT holds a complete previous conversion, a complete new one, or no cache JSON at
 * all: never a cache JSON that points at missing, partial or foreign shards.
 *
 * The commit: (1) the previous cache JSONs are moved aside into the staging directory's
 * `.previous/` (while one is left in OUT, the previous shards it points at are all there); (2)
 * every previous shard is moved there too (any number, not a prefix); (3) the new shards are
 * moved in under their final names; (4) the new cache JSONs are moved in
 * (`ndarray-cache.json`, then `tensor-cache.json`), then the staging directory, with the
 * previous conversion, is removed.
 *
 * A later run removes staging directories of earlier runs that it recognises as its own (the
 * name, and a marker with our tool name that no live process holds locked), whether they were
 * interrupted, killed or crashed. When such a run was killed inside its commit (OUT has no
 * cache JSON, its `.previous/` has one), the previous conversion is first moved back into OUT,
 * so a kill loses nothing. Nothing else is removed. Nothing is written outside OUT.
 *
 * @module
 */
import { denoOutput } from "./deno_fs.ts";
import { TEMP_PREFIX } from "./replacing_output.ts";
import type { OutputStore } from "./types.ts";

/** Files a conversion writes (a previous conversion in OUT is recognised by these). */
export const CACHE_FILE_RE: RegExp = /^(params_shard_\d+\.bin|(tensor|ndarray)-cache(-b16)?\.json)$/;

/** Files `gen_config` writes (ours and MLC's); OUT may hold them besides a conversion. */
export const GEN_CONFIG_FILE_RE: RegExp =
  /^(mlc-chat-config\.json|tokenizer(_config)?\.json|tokenizer\.model|tokenizer_model|vocab\.(json|txt)|merges\.txt|added_tokens\.json|special_tokens_map\.json|tokenizer\.txt)$/;

/** Name prefix of staging directories. */
export const STAGING_PREFIX = ".mlc-convert-partial-";

/** Name of the marker file inside a staging directory. */
export const STAGING_MARKER = ".mlc-convert-staging";

/** The `tool` field of a staging marker. */
const TOOL = "mlc-convert";

/** Cache JSONs, in the order the commit removes the previous ones. */
const CACHE_JSONS = [
  "tensor-cache.json",
  "ndarray-cache.json",
  "tensor-cache-b16.json",
  "ndarray-cache-b16.json",
];

/** What a staging marker says about its run. */
export interface StagingOwner {
  /** Process id. */
  pid: number;
  /** Host name (when the run could read it). */
  host?: string;
  /** Start time (ISO 8601). */
  started: string;
}

/** What OUT holds, by kind (names, sorted). */
export interface OutputDirState {
  /** OUT exists. */
  exists: boolean;
  /** Files of a previous conversion (shards, cache JSONs). */
  previous: string[];
  /** Files of `gen_config`. */
  genConfig: string[];
  /** Staging directories of finished (interrupted, killed) runs: removed by the next run. */
  stale: string[];
  /** Staging directories of runs still going. */
  live: { name: string; owner: StagingOwner }[];
  /** Entries named like staging directories without our marker (left alone). */
  foreign: string[];
  /** Anything else (a directory gets a trailing `/`). */
  unexpected: string[];
}

/** Error when OUT holds files that are not a previous conversion (and not `--overwrite`). */
export class OutputNotEmptyError extends Error {
  /** The unexpected entries. */
  readonly files: string[];
  /** Creates the error. */
  constructor(dir: string, files: string[]) {
    const shown = files.slice(0, 10).map((f) => JSON.stringify(f).slice(1, -1));
    super(
      `Output directory ${dir} holds files that are not a previous conversion: ${shown.join(", ")}${
        files.length > 10 ? `, and ${files.length - 10} more` : ""
      }. A previous conversion (params_shard_*.bin, tensor-cache.json or ndarray-cache.json, gen_config ` +
        `outputs) is replaced without a flag; other files are not: move them away, choose another -o, or pass ` +
        `--overwrite to write the conversion beside them (they are left alone).`,
    );
    this.name = "OutputNotEmptyError";
    this.files = files;
  }
}

/** Error when another run is writing into OUT. */
export class OutputBusyError extends Error {
  /** Creates the error. */
  constructor(dir: string, name: string, owner: StagingOwner) {
    super(
      `Another mlc-convert run (pid ${owner.pid}${
        owner.host ? ` on ${owner.host}` : ""
      }, started ${owner.started}) ` +
        `is writing into ${dir} (${name}). Wait for it to finish, or choose another -o.`,
    );
    this.name = "OutputBusyError";
  }
}

/**
 * Reads what OUT holds, writing nothing: previous conversion files, gen_config files, staging
 * directories (stale, live, or not ours) and anything else.
 *
 * @example
 * ```ts ignore
 * import { inspectOutputDir } from "./staged_dir.ts";
 * const s = await inspectOutputDir("dist/out");
 * console.log(s.previous, s.unexpected);
 * ```
 */
export async function inspectOutputDir(out: string): Promise<OutputDirState> {
  const state: OutputDirState = {
    exists: false,
    previous: [],
    genConfig: [],
    stale: [],
    live: [],
    foreign: [],
    unexpected: [],
  };
  try {
    if (!(await Deno.stat(out)).isDirectory) throw new Error(`Output ${out} exists and is not a directory`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return state;
    throw e;
  }
  state.exists = true;
  for await (const e of Deno.readDir(out)) {
    const fileLike = e.isFile || e.isSymlink;
    if (e.name.startsWith(STAGING_PREFIX)) {
      const owner = e.isDirectory ? await stagingOwner(`${out}/${e.name}`) : undefined;
      if (!owner) state.foreign.push(e.name);
      else if (owner.live) state.live.push({ name: e.name, owner: owner.owner });
      else state.stale.push(e.name);
    } else if (fileLike && CACHE_FILE_RE.test(e.name)) state.previous.push(e.name);
    else if (e.isFile && e.name.startsWith(TEMP_PREFIX)) state.genConfig.push(e.name); // (a killed gen_config's)
    else if (fileLike && GEN_CONFIG_FILE_RE.test(e.name)) state.genConfig.push(e.name);
    else state.unexpected.push(e.isDirectory ? `${e.name}/` : e.name);
  }
  for (const k of ["previous", "genConfig", "stale", "foreign", "unexpected"] as const) state[k].sort();
  return state;
}

/**
 * Whether the staging directory `dir` is ours (a regular marker file naming our tool) and
 * whether its run is still going (it holds the marker locked; a dead process holds no lock).
 */
async function stagingOwner(dir: string): Promise<{ owner: StagingOwner; live: boolean } | undefined> {
  const marker = `${dir}/${STAGING_MARKER}`;
  let f: Deno.FsFile | undefined;
  try {
    const st = await Deno.lstat(marker);
    if (!st.isFile || st.size > 4096) return undefined;
    f = await Deno.open(marker, { read: true, write: true });
    const m = JSON.parse(new TextDecoder().decode(await readAll(f, st.size)));
    if (m?.tool !== TOOL || !Number.isInteger(m.pid)) return undefined;
    const owner: StagingOwner = { pid: m.pid, host: m.host, started: String(m.started) };
    const free = f.tryLockSync(true);
    if (free) f.unlockSync();
    return { owner, live: !free };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof SyntaxError) return undefined;
    throw e;
  } finally {
    f?.close();
  }
}

async function readAll(f: Deno.FsFile, size: number): Promise<Uint8Array> {
  const buf = new Uint8Array(size);
  let n = 0;
  while (n < size) {
    const r = await f.read(buf.subarray(n));
    if (r === null) break;
    n += r;
  }
  return buf.subarray(0, n);
}

/**
 * Throws when a conversion may not go into OUT: another run is writing there
 * ({@link OutputBusyError}), or OUT holds files that are not a previous conversion and
 * `overwrite` is not set ({@link OutputNotEmptyError}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOutputDir } from "./staged_dir.ts";
 * const state = { exists: true, previous: ["params_shard_0.bin"], genConfig: [], stale: [], live: [], foreign: [], unexpected: [] };
 * assert.doesNotThrow(() => checkOutputDir("out", state, {})); // (a previous conversion alone)
 * const other = { ...state, unexpected: ["notes.txt"] };
 * assert.throws(() => checkOutputDir("out", other, {}), /notes\.txt/);
 * assert.doesNotThrow(() => checkOutputDir("out", other, { overwrite: true }));
 * ```
 */
export function checkOutputDir(out: string, state: OutputDirState, opts: { overwrite?: boolean }): void {
  if (state.live.length) throw new OutputBusyError(out, state.live[0].name, state.live[0].owner);
  if (state.unexpected.length && !opts.overwrite) throw new OutputNotEmptyError(out, state.unexpected);
}

/** Points of the commit (for tests: each is reached once, in this order). */
export type CommitStep =
  | "staged"
  | "old-json-removed"
  | "stale-shards-removed"
  | "shard-moved"
  | "json-moved"
  | "committed";

/** Options of {@link stageOutputDir}. */
export interface StageOptions {
  /** Write the conversion even though OUT holds other files (they are left alone). */
  overwrite?: boolean;
  /** Passed on to {@link denoOutput}. */
  directIO?: boolean;
  /** Called at each point of the commit (a test hook: pause or fail there). */
  onStep?: (step: CommitStep) => void | Promise<void>;
}

/** A staging directory with commit/abort. */
export interface StagedDir {
  /** Where files are written meanwhile. */
  readonly store: OutputStore;
  /** The staging directory path. */
  readonly path: string;
  /** What OUT held before (after the stale staging directories were removed). */
  readonly before: OutputDirState;
  /** Staging directories of earlier runs that were removed. */
  readonly removedStale: string[];
  /** The staging directory a previous conversion was moved back from (a run killed in its commit). */
  readonly restoredFrom?: string;
  /** `open` until {@link StagedDir.commit} finished (`committed`) or {@link StagedDir.abort} ran (`aborted`). */
  readonly state: "open" | "committing" | "committed" | "aborted";
  /**
   * Moves the staged files into OUT (see the module doc), replacing a previous conversion;
   * returns the names moved in.
   */
  commit(): Promise<string[]>;
  /** Removes the staging directory (OUT is left as it was). */
  abort(): Promise<void>;
}

/**
 * Prepares OUT for a conversion: checks it ({@link checkOutputDir}), creates it if missing,
 * removes the stale staging directories of earlier runs, and creates a locked staging
 * directory. `directIO` is passed on to {@link denoOutput}.
 *
 * @example
 * ```ts ignore
 * import { stageOutputDir } from "./staged_dir.ts";
 * const staged = await stageOutputDir("dist/out");
 * await staged.store.writeTextFile("tensor-cache.json", "{}");
 * await staged.commit();
 * ```
 */
export async function stageOutputDir(out: string, opts: StageOptions = {}): Promise<StagedDir> {
  const before = await inspectOutputDir(out);
  checkOutputDir(out, before, opts);
  await Deno.mkdir(out, { recursive: true });
  // (Deno's rename needs read access too, so OUT is readable here)
  const removedStale: string[] = [];
  let restoredFrom: string | undefined;
  for (const name of before.stale) {
    // (its run is gone: nobody writes there any more)
    if (await restorePrevious(out, `${out}/${name}`)) restoredFrom = name;
    await removeTree(`${out}/${name}`);
    removedStale.push(name);
  }
  before.stale = [];
  const path = `${out}/${STAGING_PREFIX}${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(path);
  const lock = await createMarker(path);
  // the I/O worker stays for the whole run (no restarts after idle pauses)
  const inner = denoOutput(path, { directIO: opts.directIO, idleMs: 2 ** 31 - 1 });
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
  const step = opts.onStep ?? (() => {});
  let state: StagedDir["state"] = "open";
  return {
    store,
    path,
    before,
    removedStale,
    restoredFrom,
    get state() {
      return state;
    },
    async commit() {
      if (state !== "open") throw new Error(`staging directory ${path} is ${state}`);
      state = "committing";
      await inner.close(); // (every write has finished)
      const names = await commitStaged(out, path, [...staged], step);
      await removeTree(path);
      lock.close(); // (after the removal: the directory never looks stale while it exists)
      state = "committed";
      return names;
    },
    async abort() {
      if (state !== "open" && state !== "committing") return;
      const committing = state === "committing";
      state = "aborted";
      await inner.close().catch(() => {});
      // (a commit that failed half way: the previous conversion goes back first)
      if (committing) await restorePrevious(out, path);
      await removeTree(path);
      lock.close();
    },
  };
}

/**
 * Writes the marker (our tool, pid, host, start time) under a temporary name, locks it, and
 * renames it into place, so that another run sees the marker only once it is locked.
 */
async function createMarker(dir: string): Promise<Deno.FsFile> {
  const tmp = `${dir}/${STAGING_MARKER}.tmp`;
  const f = await Deno.open(tmp, { read: true, write: true, createNew: true });
  f.lockSync(true);
  const host = Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state === "granted"
    ? Deno.hostname()
    : undefined;
  const text = JSON.stringify({ tool: TOOL, pid: Deno.pid, host, started: new Date().toISOString() });
  await f.write(new TextEncoder().encode(text));
  await Deno.rename(tmp, `${dir}/${STAGING_MARKER}`);
  return f;
}

/** The commit's moves (see the module doc); returns the names moved into OUT. */
async function commitStaged(
  out: string,
  path: string,
  names: string[],
  step: (s: CommitStep) => void | Promise<void>,
): Promise<string[]> {
  await step("staged");
  const previous = `${path}/${PREVIOUS_DIR}`;
  await Deno.mkdir(previous);
  for (const n of CACHE_JSONS) await renameIfExists(`${out}/${n}`, `${previous}/${n}`);
  await step("old-json-removed");
  for await (const e of Deno.readDir(out)) {
    if (SHARD_RE.test(e.name) && !e.isDirectory) {
      await renameIfExists(`${out}/${e.name}`, `${previous}/${e.name}`);
    }
  }
  await step("stale-shards-removed");
  // data files first, then the side JSONs, then the cache JSONs (ndarray-cache.json, tensor-cache.json last)
  const rank = (n: string) =>
    !n.endsWith(".json") ? 0 : /-b16\.json$/.test(n) ? 1 : /^(tensor|ndarray)-cache\.json$/.test(n) ? 3 : 2;
  const order = [...names].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  let shardMoved = false;
  let jsonMoved = false;
  for (const n of order) {
    await Deno.rename(`${path}/${n}`, `${out}/${n}`);
    if (rank(n) === 0 && !shardMoved) await step("shard-moved");
    if (rank(n) === 3 && !jsonMoved) await step("json-moved");
    shardMoved ||= rank(n) === 0;
    jsonMoved ||= rank(n) === 3;
  }
  await step("committed");
  return order;
}

/** Where a commit moves the previous conversion, inside its staging directory. */
const PREVIOUS_DIR = ".previous";

const SHARD_RE = /^params_shard_\d+\.bin$/;

/**
 * Moves the previous conversion a killed commit left in `staging`/.previous back into OUT, when
 * OUT has no cache JSON (the kill came before the new one was in place); the new shards it had
 * moved in are removed. Returns whether it did.
 */
async function restorePrevious(out: string, staging: string): Promise<boolean> {
  const previous = `${staging}/${PREVIOUS_DIR}`;
  const names = await listNames(previous);
  if (!names || !names.some((n) => CACHE_JSONS.includes(n))) return false;
  if ((await listNames(out))!.some((n) => CACHE_JSONS.includes(n))) return false;
  for (const n of (await listNames(out))!) {
    if (SHARD_RE.test(n) && !names.includes(n)) await removeIfExists(`${out}/${n}`);
  }
  // shards first, then the cache JSONs in the reverse of the order they were moved aside
  for (const n of names.filter((n) => !CACHE_JSONS.includes(n))) {
    await Deno.rename(`${previous}/${n}`, `${out}/${n}`);
  }
  for (const n of [...CACHE_JSONS].reverse()) await renameIfExists(`${previous}/${n}`, `${out}/${n}`);
  return true;
}

/** The names in a directory, or undefined when it does not exist. */
async function listNames(dir: string): Promise<string[] | undefined> {
  try {
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    return names.sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await Deno.rename(from, to);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Removes a directory tree, retrying while files still appear in it (writes in flight). */
async function removeTree(p: string): Promise<void> {
  for (let i = 0; i < 5; i++) {
    try {
      await Deno.remove(p, { recursive: true });
      return;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      if (i === 4) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
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
