/**
 * Input scope: every file a conversion reads is checked before it is touched. Its path must
 * stay inside one of the granted roots (the model directory, `--source`), also once every
 * symbolic link on the way is resolved; it must be a regular file (never a FIFO, a device or a
 * socket, which would hang or stream forever); and read permission must already be granted,
 * so that Deno's permission layer never prompts. A refusal names the file and, for a link,
 * its target.
 *
 * Symbolic links inside the roots are fine (and so are links from a Hugging Face cache
 * snapshot, `models--owner--name/snapshots/REV/`, into the same repository's `blobs/`).
 *
 * @module
 */
import type { RandomAccessFile, SourceStore } from "./types.ts";

/** Largest text file (config.json, index, tokenizer_config.json) read whole: 64 MiB. */
export const MAX_TEXT_FILE_BYTES: number = 64 << 20;

/** Error for an input outside the granted roots, or one that is not a regular file. */
export class ScopeError extends Error {
  /** The path as it was asked for. */
  readonly path: string;
  /** Creates the error. */
  constructor(path: string, message: string) {
    super(message);
    this.name = "ScopeError";
    this.path = path;
  }
}

/** What a path turned out to be. */
export type ScopeCheck = { kind: "file"; size: number } | { kind: "missing" } | { kind: "directory" };

/** What kind of thing a non-regular file is, for messages. */
function kindOf(st: Deno.FileInfo): string {
  if (st.isFifo) return "a FIFO (named pipe)";
  if (st.isCharDevice) return "a character device";
  if (st.isBlockDevice) return "a block device";
  if (st.isSocket) return "a socket";
  if (st.isDirectory) return "a directory";
  return "not a regular file";
}

/**
 * `p` with `.` and `..` segments resolved lexically and no trailing `/` (a relative path stays
 * relative: the working directory is never asked for, which would need a permission).
 */
export function normalizePath(p: string): string {
  const abs = p.startsWith("/");
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === ".." && out.length && out[out.length - 1] !== "..") out.pop();
    else if (seg !== ".." || !abs) out.push(seg);
  }
  return abs ? `/${out.join("/")}` : out.join("/") || ".";
}

/** Whether normalized `p` is normalized `root` or below it. */
function within(root: string, p: string): boolean {
  if (root === ".") return !p.startsWith("/") && p !== ".." && !p.startsWith("../");
  if (root === "/") return p.startsWith("/");
  return p === root || p.startsWith(`${root}/`);
}

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : p.slice(0, i);
}

/** A Hugging Face cache snapshot's repository folder (`.../models--a--b`), if `dir` is a snapshot. */
function hubRepoOf(dir: string): string | undefined {
  const m = /^(.*\/(?:models|datasets|spaces)--[^/]+)\/snapshots\/[^/]+$/.exec(dir);
  return m?.[1];
}

/**
 * Checks paths against granted roots (see the module doc). Results are cached per path.
 *
 * @example
 * ```ts ignore
 * import { InputScope } from "./scope.ts";
 * const scope = new InputScope(["models/x"]);
 * await scope.check("models/x/config.json"); // { kind: "file", size: ... } or throws ScopeError
 * ```
 */
export class InputScope {
  readonly #roots: { given: string; abs: string }[];
  #real: Promise<string[]> | undefined;
  readonly #cache = new Map<string, Promise<ScopeCheck>>();

  /** Roots: directories (a file root grants its directory). */
  constructor(roots: readonly string[]) {
    this.#roots = roots.map((r) => ({ given: r, abs: normalizePath(r) }));
  }

  /** The roots' real paths (and a cache snapshot's repository folder). */
  #realRoots(): Promise<string[]> {
    return this.#real ??= (async () => {
      const out: string[] = [];
      for (const r of this.#roots) {
        let real: string;
        try {
          real = await Deno.realPath(r.given);
          if (!(await Deno.stat(real)).isDirectory) real = dirname(real);
        } catch {
          real = r.abs;
        }
        out.push(real, hubRepoOf(real) ?? real);
      }
      return [...new Set(out)];
    })();
  }

  /** The root `p` lies in lexically, or a {@link ScopeError} naming the path. */
  #rootOf(p: string): string {
    const abs = normalizePath(p);
    const hit = this.#roots.find((r) => within(r.abs, abs));
    if (hit) return hit.given;
    throw new ScopeError(
      p,
      `${p} is outside the model directory ${this.#roots.map((r) => r.given).join(" and ")}` +
        (p.split(/[\\/]/).includes("..") ? ` (through "..")` : "") + `: refusing to read it`,
    );
  }

  /**
   * Checks `p`: inside a root (also after resolving links), read permission granted (never a
   * prompt), and a regular file. Returns what it is; a missing path is `missing`.
   */
  check(p: string): Promise<ScopeCheck> {
    let c = this.#cache.get(p);
    if (!c) this.#cache.set(p, c = this.#check(p));
    return c;
  }

  async #check(p: string): Promise<ScopeCheck> {
    const root = this.#rootOf(p);
    if (Deno.permissions.querySync({ name: "read", path: p }).state !== "granted") {
      throw new Deno.errors.NotCapable(
        `Missing permission: read ${p}. Run with --allow-read=${root} (the model directory)`,
      );
    }
    let real: string;
    try {
      real = await Deno.realPath(p);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return { kind: "missing" };
      throw e;
    }
    const roots = await this.#realRoots();
    if (!roots.some((r) => within(r, real))) {
      const link = await linkTarget(p);
      throw new ScopeError(
        p,
        (link === undefined
          ? `${p} resolves through a symbolic link to ${real}`
          : `${p} is a symbolic link to ${link}${link === real ? "" : ` (${real})`}`) +
          `, outside the model directory ${root}: refusing to read it. Copy the file into ${root}, or ` +
          `pass the directory that holds it.`,
      );
    }
    const st = await Deno.stat(real);
    if (st.isDirectory) return { kind: "directory" };
    if (!st.isFile) {
      throw new ScopeError(p, `${p} is ${kindOf(st)}, not a regular file: refusing to read it`);
    }
    return { kind: "file", size: st.size };
  }
}

async function linkTarget(p: string): Promise<string | undefined> {
  try {
    return (await Deno.lstat(p)).isSymlink ? await Deno.readLink(p) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A {@link SourceStore} that checks every path with an {@link InputScope} over `roots` before
 * the inner store touches it: `readTextFile` and `open` refuse what is outside the roots, not a
 * regular file (FIFO, device) or not readable without a prompt; `readTextFile` also refuses
 * files over {@link MAX_TEXT_FILE_BYTES}; `exists` is false for a missing path or a directory
 * and throws for the rest; `localPath` answers only for files `open` has checked.
 *
 * @example
 * ```ts ignore
 * import { scopedSource } from "./scope.ts";
 * import { denoSource } from "@mlc-deno/convert";
 * const src = scopedSource(denoSource(), ["models/x"]);
 * await src.readTextFile("models/x/config.json");
 * ```
 */
export function scopedSource<S extends SourceStore & { listDir?(dir: string): Promise<string[]> }>(
  inner: S,
  roots: readonly string[],
): S {
  const scope = new InputScope(roots);
  const opened = new Set<string>();
  const file = async (p: string): Promise<number> => {
    const c = await scope.check(p);
    if (c.kind === "missing") throw new Deno.errors.NotFound(`${p}: no such file`);
    if (c.kind === "directory") throw new ScopeError(p, `${p} is a directory, not a file`);
    return c.size;
  };
  const wrapped: SourceStore & { listDir?(dir: string): Promise<string[]> } = {
    ...inner,
    async readTextFile(p: string): Promise<string> {
      const size = await file(p);
      if (size > MAX_TEXT_FILE_BYTES) {
        throw new ScopeError(
          p,
          `${p} is ${size} bytes, more than the ${MAX_TEXT_FILE_BYTES}-byte limit for a JSON/text file`,
        );
      }
      return inner.readTextFile(p);
    },
    async open(p: string): Promise<RandomAccessFile> {
      await file(p);
      opened.add(p);
      return inner.open(p);
    },
    async exists(p: string): Promise<boolean> {
      return (await scope.check(p)).kind === "file";
    },
    // (direct reads only of files that passed the check, when `open` was asked for them)
    localPath: (p: string) => opened.has(p) ? inner.localPath?.(p) : undefined,
  };
  if (inner.listDir) {
    const list = inner.listDir.bind(inner);
    wrapped.listDir = async (dir: string) => {
      if ((await scope.check(dir)).kind !== "directory") return [];
      return list(dir);
    };
  }
  return wrapped as S;
}
