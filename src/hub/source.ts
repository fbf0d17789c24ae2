/**
 * A {@link SourceStore} over a Hub repository at one commit: the tree listing answers `exists`
 * and directory listings without a request; small (non-LFS) files are fetched whole and
 * checked against their git blob sha1; LFS files (the weights) are read by HTTP range
 * requests into the caller's buffers and never stored.
 *
 * Integrity of range reads: every response's size is checked against the listing, and a file
 * read whole in order (as a conversion reads a safetensors file: header, then the tensors in
 * data order) has its sha256 checked as the bytes pass, before its last bytes are handed over.
 * A file read out of order or in part cannot be hashed that way (`stats.verified` lists the
 * files that were); `--download` (see `downloadSnapshot`) hashes every file whole.
 *
 * @module
 */
import type { RandomAccessFile, SourceStore } from "../io/types.ts";
import type { HubClient, RepoFile, RepoInfo } from "./client.ts";
import { fetchVerified, HttpRangeFile, type HttpStats } from "./http_file.ts";
import { type HubRef, parseHubRef } from "./_ref.ts";

/** A source store over a Hub repository (with the directory listing gen_config uses). */
export interface HubSource extends SourceStore {
  /** The reference it was opened with (paths start with `ref.root + "/"`). */
  readonly ref: HubRef;
  /** The repository at the resolved commit. */
  readonly info: RepoInfo;
  /** Every file, by path. */
  readonly files: ReadonlyMap<string, RepoFile>;
  /** HTTP traffic so far, and the LFS files whose sha256 was checked while read. */
  readonly stats: HttpStats;
  /** LFS files opened for range reads. */
  readonly rangeFiles: ReadonlySet<string>;
  /** Names of the files directly in `dir`. */
  listDir(dir: string): Promise<string[]>;
}

/** Options of {@link openHubSource}. */
export interface HubSourceOptions {
  /** Bytes a sequential range request asks for (default 64 MiB). */
  rangeWindow?: number;
}

/**
 * Opens `HF://owner/name[@revision]`: resolves the revision to a commit and lists its files
 * (two requests), then reads through the Hub's `resolve` URLs at that commit.
 *
 * @example
 * ```ts ignore
 * import { HubClient } from "@mlc-deno/convert/hub";
 * import { openHubSource } from "@mlc-deno/convert/hub";
 * const src = await openHubSource("HF://Qwen/Qwen2.5-0.5B", new HubClient());
 * const cfg = JSON.parse(await src.readTextFile("HF://Qwen/Qwen2.5-0.5B/config.json"));
 * ```
 */
export async function openHubSource(
  ref: HubRef | string,
  client: HubClient,
  opts: HubSourceOptions = {},
): Promise<HubSource> {
  const r = typeof ref === "string" ? parseHubRef(ref) : ref;
  const info = await client.modelInfo(r.repo, r.revision);
  const files = new Map((await client.listFiles(r.repo, info.sha)).map((f) => [f.path, f]));
  const stats: HttpStats = { requests: 0, bytes: 0, resumes: 0, verified: [] };
  const rangeFiles = new Set<string>();
  const rel = (p: string): string | undefined => {
    const q = p.replace(/\/+$/, "");
    if (q === r.root) return "";
    return q.startsWith(r.root + "/") ? q.slice(r.root.length + 1).replace(/^(\.\/)+/, "") : undefined;
  };
  const lookup = (p: string): RepoFile => {
    const f = files.get(rel(p) ?? "\0");
    if (!f) {
      throw new Deno.errors.NotFound(`No such file: ${p} (not in ${r.repo} at ${info.sha.slice(0, 12)})`);
    }
    return f;
  };
  const at = (file: RepoFile) => ({
    client,
    repo: r.repo,
    sha: info.sha,
    file,
    label: `${r.root}/${file.path}`,
  });
  return {
    ref: r,
    info,
    files,
    stats,
    rangeFiles,
    async readTextFile(p) {
      return new TextDecoder().decode(await fetchVerified(at(lookup(p)), stats));
    },
    async open(p): Promise<RandomAccessFile> {
      const f = lookup(p);
      if (f.sha256) {
        rangeFiles.add(f.path);
        return new HttpRangeFile(at(f), stats, opts.rangeWindow);
      }
      const data = await fetchVerified(at(f), stats);
      return {
        size: data.length,
        readAt(offset, into) {
          if (offset + into.length > data.length) {
            return Promise.reject(
              new Error(`${p}: read past end of file (offset ${offset}, ${into.length} bytes)`),
            );
          }
          into.set(data.subarray(offset, offset + into.length));
          return Promise.resolve();
        },
        close() {},
      };
    },
    exists(p) {
      const k = rel(p);
      return Promise.resolve(k !== undefined && files.has(k));
    },
    listDir(dir) {
      const k = rel(dir);
      if (k === undefined) return Promise.resolve([]);
      const pre = k ? `${k}/` : "";
      return Promise.resolve(
        [...files.keys()].filter((f) => f.startsWith(pre) && !f.slice(pre.length).includes("/"))
          .map((f) => f.slice(pre.length)),
      );
    },
  };
}
