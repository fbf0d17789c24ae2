/**
 * Publishing a converted directory with the Hub's commit API: `preupload` (which files go to
 * LFS), the LFS batch API (basic transfers: PUT, then verify) for the shards, and one commit
 * (NDJSON: header, regular files inline, LFS pointers). Files already on the branch with the
 * same hash are skipped, and LFS objects the Hub already has are not sent again, so an
 * interrupted upload resumes where it stopped.
 *
 * @module
 */
import { type HubClient, HubError, type RepoFile } from "./client.ts";
import { gitBlobSha1, sha256 } from "./_hash.ts";
import { encodeBase64 } from "./_base64.ts";

/**
 * A file to upload. Its bytes are read when needed, one file at a time (to hash it, to send it),
 * so memory holds one file at most (MLC's shards are at most a few tens of MB).
 */
export interface UploadFile {
  /** Path in the repository. */
  path: string;
  /** The bytes. */
  read(): Promise<Uint8Array>;
}

/** Options of {@link uploadFiles}. */
export interface UploadOptions {
  /** The client (endpoint and token). */
  client: HubClient;
  /** `owner/name`. */
  repo: string;
  /** Branch (default `main`; created from main when missing). */
  revision?: string;
  /** Create the repository when missing. */
  create?: boolean;
  /** With `create`: make it private. */
  private?: boolean;
  /** Commit summary. */
  message?: string;
  /** Remote paths removed in the same commit when not uploaded (e.g. stale shards). */
  removeStale?: (path: string) => boolean;
  /** Progress messages. */
  log?: (line: string) => void;
}

/** What an upload did. */
export interface UploadResult {
  /** The commit made (absent when nothing changed). */
  commitOid?: string;
  /** Its URL. */
  commitUrl?: string;
  /** Files in the commit. */
  uploaded: string[];
  /** Files skipped: already on the branch with the same hash. */
  skipped: string[];
  /** Remote files removed. */
  deleted: string[];
  /** LFS bytes sent (objects the Hub already had are not sent). */
  lfsBytes: number;
}

/** A file hashed (its bytes dropped again). */
interface Hashed {
  file: UploadFile;
  size: number;
  sample: Uint8Array;
  sha256: string;
  /** Git blob sha1, for files small enough to be regular ones. */
  gitOid?: string;
}

/** Regular (non-LFS) files are at most this big on the Hub. */
const REGULAR_MAX = 10 << 20;

async function hashFile(file: UploadFile): Promise<Hashed> {
  const data = await file.read();
  const h = sha256();
  h.update(data);
  return {
    file,
    size: data.length,
    sample: data.slice(0, 512),
    sha256: h.digest(),
    gitOid: data.length <= REGULAR_MAX ? await gitBlobSha1(data) : undefined,
  };
}

interface Prepared extends Hashed {
  mode: "lfs" | "regular";
}

/** The branch's files, creating the repository or the branch when asked/needed. */
async function remoteFiles(
  o: UploadOptions,
  rev: string,
): Promise<{ sha?: string; files: Map<string, RepoFile> }> {
  const { client, repo } = o;
  try {
    const info = await client.modelInfo(repo, rev);
    return {
      sha: info.sha,
      files: new Map((await client.listFiles(repo, info.sha)).map((f) => [f.path, f])),
    };
  } catch (e) {
    if (!(e instanceof HubError)) throw e;
    if (e.code === "RevisionNotFound") {
      await client.postJson(
        `/api/models/${repo}/branch/${encodeURIComponent(rev)}`,
        {},
        `HF://${repo}@${rev}`,
      );
      o.log?.(`Created branch ${rev} of ${repo}`);
      return remoteFiles(o, rev);
    }
    if (!(e.code === "RepoNotFound" || e.status === 404 || e.status === 401)) throw e;
    if (!o.create) throw new HubError(`${e.message}; to create it, add --create`, e.status, e.code);
    const [org, name] = repo.includes("/") ? repo.split("/") : [undefined, repo];
    await client.postJson(
      "/api/repos/create",
      // (`visibility` as current huggingface_hub sends it, `private` as older Hub versions read it)
      {
        type: "model",
        name,
        ...(org ? { organization: org } : {}),
        private: o.private === true,
        visibility: o.private ? "private" : "public",
      },
      `HF://${repo}`,
    );
    o.log?.(`Created ${o.private ? "private " : ""}repository ${repo}`);
    return remoteFiles({ ...o, create: false }, rev);
  }
}

/** Asks `preupload` which files go to LFS. */
async function preupload(o: UploadOptions, rev: string, files: Hashed[]) {
  const modes = new Map<string, { mode: "lfs" | "regular"; ignore: boolean }>();
  for (let i = 0; i < files.length; i += 100) {
    const batch = files.slice(i, i + 100);
    const r = await o.client.postJson<
      { files: { path: string; uploadMode: string; shouldIgnore?: boolean }[] }
    >(
      `/api/models/${o.repo}/preupload/${encodeURIComponent(rev)}`,
      {
        files: batch.map((f) => ({ path: f.file.path, size: f.size, sample: encodeBase64(f.sample) })),
      },
      `HF://${o.repo}@${rev}: preupload`,
    );
    for (const f of r.files ?? []) {
      modes.set(f.path, {
        mode: f.uploadMode === "lfs" ? "lfs" : "regular",
        ignore: f.shouldIgnore === true,
      });
    }
  }
  return modes;
}

/** Sends the LFS objects the Hub does not have (LFS batch API, basic transfers). */
async function uploadLfs(o: UploadOptions, rev: string, files: Prepared[]): Promise<number> {
  if (!files.length) return 0;
  const what = `HF://${o.repo}: LFS batch`;
  const r = await o.client.postJson<{ objects: LfsObject[] }>(
    `/${o.repo}.git/info/lfs/objects/batch`,
    {
      operation: "upload",
      transfers: ["basic"],
      objects: files.map((f) => ({ oid: f.sha256, size: f.size })),
      hash_algo: "sha256",
      ref: { name: rev },
    },
    what,
    { accept: "application/vnd.git-lfs+json", "content-type": "application/vnd.git-lfs+json" },
  );
  let sent = 0;
  for (const obj of r.objects ?? []) {
    const f = files.find((x) => x.sha256 === obj.oid);
    if (!f) continue;
    const path = f.file.path;
    if (obj.error) {
      throw new HubError(`${what}: ${path}: ${obj.error.message ?? obj.error.code}`, obj.error.code ?? 0);
    }
    const up = obj.actions?.upload;
    if (!up) continue; // the Hub has it already
    if (up.header?.chunk_size) {
      throw new HubError(`${what}: ${path}: multipart LFS uploads are not supported`, 0);
    }
    const data = await f.file.read();
    if (data.length !== f.size) throw new HubError(`${path}: changed while uploading`, 0);
    await o.client.request(up.href, {
      method: "PUT",
      body: data as Uint8Array<ArrayBuffer>,
      headers: { ...up.header },
    }, `${what}: ${path}`)
      .then(({ res }) => res.body?.cancel());
    sent += f.size;
    o.log?.(`Uploaded ${path} (${f.size} bytes, LFS)`);
    const v = obj.actions?.verify;
    if (v) {
      await o.client.request(v.href, {
        method: "POST",
        body: JSON.stringify({ oid: f.sha256, size: f.size }),
        headers: { "content-type": "application/vnd.git-lfs+json", ...v.header },
      }, `${what}: verify ${path}`).then(({ res }) => res.body?.cancel());
    }
  }
  return sent;
}

interface LfsObject {
  oid: string;
  actions?: Record<string, { href: string; header?: Record<string, string> } | undefined>;
  error?: { code?: number; message?: string };
}

/**
 * Uploads `files` to `repo` at `revision` in one commit, skipping unchanged ones.
 *
 * @example
 * ```ts ignore
 * import { HubClient } from "@mlc-deno/convert/hub";
 * import { uploadFiles } from "@mlc-deno/convert/hub";
 * const r = await uploadFiles([{ path: "a.json", read: async () => new TextEncoder().encode("{}") }],
 *   { client: new HubClient({ token: Deno.env.get("HF_TOKEN") }), repo: "me/x-MLC", create: true });
 * console.log(r.commitUrl, r.skipped);
 * ```
 */
export async function uploadFiles(files: readonly UploadFile[], o: UploadOptions): Promise<UploadResult> {
  const rev = o.revision ?? "main";
  const remote = await remoteFiles(o, rev);
  const hashed: Hashed[] = [];
  for (const f of files) hashed.push(await hashFile(f)); // one file in memory at a time
  const modes = await preupload(o, rev, hashed);
  const result: UploadResult = { uploaded: [], skipped: [], deleted: [], lfsBytes: 0 };
  const changed: Prepared[] = [];
  for (const h of hashed) {
    const m = modes.get(h.file.path) ?? { mode: "regular", ignore: false };
    if (m.ignore) continue;
    const r = remote.files.get(h.file.path);
    const same = r && r.size === h.size &&
      (m.mode === "lfs" ? r.sha256 === h.sha256 : !r.sha256 && r.oid === h.gitOid);
    if (same) result.skipped.push(h.file.path);
    else changed.push({ ...h, mode: m.mode });
  }
  const names = new Set(files.map((f) => f.path));
  result.deleted = [...remote.files.keys()].filter((p) => !names.has(p) && (o.removeStale?.(p) ?? false));
  if (!changed.length && !result.deleted.length) return result;
  result.lfsBytes = await uploadLfs(o, rev, changed.filter((f) => f.mode === "lfs"));
  const c = await commit(o, rev, remote.sha, changed, result.deleted);
  result.commitOid = c.commitOid;
  result.commitUrl = c.commitUrl;
  result.uploaded = changed.map((f) => f.file.path);
  return result;
}

/** The commit (NDJSON): header, regular files inline, LFS pointers, deletions. */
async function commit(
  o: UploadOptions,
  rev: string,
  parent: string | undefined,
  changed: Prepared[],
  deleted: string[],
): Promise<{ commitOid?: string; commitUrl?: string }> {
  const lines: string[] = [JSON.stringify({
    key: "header",
    value: {
      summary: o.message ?? `Upload ${changed.length} file(s) with mlc-convert`,
      description: "",
      ...(parent ? { parentCommit: parent } : {}),
    },
  })];
  for (const f of changed) {
    const path = f.file.path;
    lines.push(JSON.stringify(
      f.mode === "lfs"
        ? { key: "lfsFile", value: { path, algo: "sha256", oid: f.sha256, size: f.size } }
        : { key: "file", value: { path, encoding: "base64", content: encodeBase64(await f.file.read()) } },
    ));
  }
  for (const path of deleted) lines.push(JSON.stringify({ key: "deletedFile", value: { path } }));
  const { res } = await o.client.request(
    o.client.url(`/api/models/${o.repo}/commit/${encodeURIComponent(rev)}`),
    {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: lines.join("\n") + "\n",
    },
    `HF://${o.repo}@${rev}: commit`,
  );
  return await res.json();
}
