/**
 * `--download`: a copy of the files a conversion needs, in the standard Hugging Face cache
 * layout (`models--owner--name/{blobs,refs,snapshots/<sha>/...}`), so Hugging Face's own tools
 * reuse it and a second run reads it from disk. Snapshot entries are hard links to the blobs
 * (copies where the file system refuses links): Deno refuses `symlink` under path-scoped
 * permissions. Each file is hashed whole while it downloads (sha256 for LFS files, the git
 * blob sha1 for others); an interrupted download resumes from its `.incomplete` blob.
 *
 * @module
 */
import type { HubClient, RepoFile, RepoInfo } from "./client.ts";
import { sha256 } from "./_hash.ts";
import { fetchVerified, HttpRangeFile, type HttpStats, IntegrityError } from "./http_file.ts";

/** Environment variables the cache location is read from, in order. */
export const CACHE_ENV = ["HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "HOME"] as const;

/**
 * The Hub cache directory as `huggingface_hub` resolves it: `HF_HUB_CACHE`, else
 * `HF_HOME/hub`, else `XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`.
 *
 * @example
 * ```ts
 * import { hubCacheDir } from "@mlc-deno/convert/hub";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(hubCacheDir({ HF_HOME: "/data/hf" }), "/data/hf/hub");
 * ```
 */
export function hubCacheDir(env: Partial<Record<(typeof CACHE_ENV)[number], string>>): string | undefined {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return `${env.HF_HOME}/hub`;
  if (env.XDG_CACHE_HOME) return `${env.XDG_CACHE_HOME}/huggingface/hub`;
  if (env.HOME) return `${env.HOME}/.cache/huggingface/hub`;
  return undefined;
}

/**
 * The repository's folder in the cache.
 *
 * @example
 * ```ts
 * import { repoCacheDir } from "@mlc-deno/convert/hub";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(repoCacheDir("/c", "Qwen/Qwen2.5-0.5B"), "/c/models--Qwen--Qwen2.5-0.5B");
 * ```
 */
export function repoCacheDir(cacheDir: string, repo: string): string {
  return `${cacheDir}/models--${repo.replaceAll("/", "--")}`;
}

const OTHER_WEIGHTS =
  /\.(bin|pt|pth|h5|msgpack|ot|onnx|onnx_data|gguf|tflite|ckpt)$|^(pytorch_model|tf_model|flax_model)\..*index\.json$/;

/**
 * The files a conversion and gen_config read: the repository's top-level files, without other
 * formats' weights when safetensors are present (subfolders such as `original/` are skipped).
 *
 * @example
 * ```ts
 * import { snapshotFiles } from "@mlc-deno/convert/hub";
 * import { deepStrictEqual } from "node:assert/strict";
 * const f = (path: string) => ({ path, size: 1, oid: "" });
 * deepStrictEqual(snapshotFiles([f("config.json"), f("model.safetensors"), f("pytorch_model.bin"), f("original/x.pth")])
 *   .map((x) => x.path), ["config.json", "model.safetensors"]);
 * ```
 */
export function snapshotFiles(files: readonly RepoFile[]): RepoFile[] {
  const top = files.filter((f) => !f.path.includes("/"));
  const st = top.some((f) => f.path.endsWith(".safetensors"));
  return top.filter((f) => !st || !OTHER_WEIGHTS.test(f.path));
}

/** What {@link downloadSnapshot} did. */
export interface SnapshotResult {
  /** The snapshot directory (`.../snapshots/<sha>`), a local model directory. */
  dir: string;
  /** Files downloaded now. */
  downloaded: string[];
  /** Files already in the cache. */
  reused: string[];
  /** Bytes downloaded. */
  bytes: number;
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  // a new name, then renamed over `to` (another run may be linking the same entry)
  const tmp = `${to}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.link(from, tmp);
  } catch {
    await Deno.copyFile(from, tmp);
  }
  await Deno.rename(tmp, to);
  await Deno.remove(tmp).catch(() => {}); // (left when `to` was already this very file)
}

/**
 * Downloads `files` of the repository at `info.sha` into the cache (skipping what is there),
 * and returns the snapshot directory.
 *
 * @example
 * ```ts ignore
 * const snap = await downloadSnapshot(client, info, "main", snapshotFiles(files), "/data/hf/hub");
 * console.log(snap.dir);
 * ```
 */
export async function downloadSnapshot(
  client: HubClient,
  info: RepoInfo,
  revision: string,
  files: readonly RepoFile[],
  cacheDir: string,
  stats: HttpStats = { requests: 0, bytes: 0, resumes: 0 },
): Promise<SnapshotResult> {
  const root = repoCacheDir(cacheDir, info.repo);
  const dir = `${root}/snapshots/${info.sha}`;
  await Deno.mkdir(`${root}/blobs`, { recursive: true });
  await Deno.mkdir(`${root}/refs`, { recursive: true });
  await Deno.mkdir(dir, { recursive: true });
  if (revision !== info.sha && !revision.includes("/")) {
    await Deno.writeTextFile(`${root}/refs/${revision}`, info.sha);
  }
  const result: SnapshotResult = { dir, downloaded: [], reused: [], bytes: 0 };
  for (const f of files) {
    const snap = `${dir}/${f.path}`;
    const blob = `${root}/blobs/${f.sha256 ?? f.oid}`;
    if ((await fileSize(snap)) === f.size && (await fileSize(blob)) === f.size) {
      result.reused.push(f.path);
      continue;
    }
    if ((await fileSize(blob)) !== f.size) {
      const ref = { client, repo: info.repo, sha: info.sha, file: f, label: `HF://${info.repo}/${f.path}` };
      let fetched = true;
      if (f.sha256) fetched = await downloadLfs(ref, blob, stats);
      else {
        // (small: fetched whole and checked in memory; a unique temporary name, renamed)
        const tmp = `${blob}.${crypto.randomUUID()}.incomplete`;
        await Deno.writeFile(tmp, await fetchVerified(ref, stats));
        await Deno.rename(tmp, blob);
      }
      if (fetched) {
        result.downloaded.push(f.path);
        result.bytes += f.size;
      } else result.reused.push(f.path);
    } else result.reused.push(f.path);
    await linkOrCopy(blob, snap);
  }
  return result;
}

async function writeAll(f: Deno.FsFile, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) done += await f.write(data.subarray(done));
}

/**
 * Streams an LFS file into `blob.incomplete` (continuing what an earlier run left there), checks
 * its sha256, renames it. The `.incomplete` file is locked while in use: a second run on the same
 * cache waits, then finds the blob done.
 */
async function downloadLfs(
  ref: { client: HubClient; repo: string; sha: string; file: RepoFile; label: string },
  blob: string,
  stats: HttpStats,
): Promise<boolean> {
  const part = `${blob}.incomplete`;
  const size = ref.file.size;
  const out = await Deno.open(part, { read: true, write: true, create: true });
  try {
    await out.lock(true);
    if ((await fileSize(blob)) === size) return false; // another run finished it meanwhile
    let have = (await out.stat()).size;
    if (have > size) {
      await out.truncate(0);
      have = 0;
    }
    const h = sha256();
    const buf = new Uint8Array(Math.min(8 << 20, Math.max(1, size)));
    for (let at = 0; at < have;) {
      // hash what an earlier run downloaded, then continue after it
      const n = await out.read(buf.subarray(0, Math.min(buf.length, have - at)));
      if (!n) throw new Error(`${part}: unexpected end of file`);
      h.update(buf.subarray(0, n));
      at += n;
    }
    await out.seek(have, Deno.SeekMode.Start);
    await fetchRest(ref, out, have, h, stats);
    const got = h.digest();
    if (got !== ref.file.sha256) {
      await Deno.remove(part);
      throw new IntegrityError(
        `${ref.label}: sha256 mismatch: the Hub lists ${ref.file.sha256}, the download hashes to ${got}`,
      );
    }
    await Deno.rename(part, blob);
    return true;
  } finally {
    out.close();
  }
}

/** Appends bytes `have..size` of the file to `out`, hashing them. */
async function fetchRest(
  ref: { client: HubClient; repo: string; sha: string; file: RepoFile; label: string },
  out: Deno.FsFile,
  have: number,
  h: ReturnType<typeof sha256>,
  stats: HttpStats,
): Promise<void> {
  const src = new HttpRangeFile(ref, stats, undefined, false); // (hashed here, from the byte an earlier run reached)
  const size = ref.file.size;
  const step = Math.min(8 << 20, Math.max(1, size - have));
  // two buffers: the next range arrives while this one is hashed and written
  let [cur, next] = [new Uint8Array(step), new Uint8Array(step)];
  const fill = (at: number, buf: Uint8Array) => src.readAt(at, buf.subarray(0, Math.min(step, size - at)));
  let reading = have < size ? fill(have, cur) : undefined;
  try {
    for (let at = have; at < size; at += step) {
      await reading;
      const chunk = cur.subarray(0, Math.min(step, size - at));
      reading = at + step < size ? fill(at + step, next) : undefined;
      const written = writeAll(out, chunk);
      h.update(chunk);
      await written;
      [cur, next] = [next, cur];
    }
  } finally {
    reading?.catch(() => {}); // (a read in flight when writing failed)
    src.close();
  }
}
