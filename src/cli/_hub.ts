/**
 * The CLI's hook for `HF://` models: the store a CONFIG string reads from (a local directory,
 * or the Hub by range reads, or the Hub's cache after `--download`), and the permissions that
 * needs.
 *
 * @module
 */
import { denoSource } from "../io/deno_fs.ts";
import { scopedSource } from "../io/scope.ts";
import { resolveConfigPath } from "../model.ts";
import type { RandomAccessFile } from "../io/types.ts";
import type { GenConfigSource } from "../genconfig/mod.ts";
import {
  downloadSnapshot,
  HUB_ENV_VARS,
  HubClient,
  hubNetHosts,
  isHubRef,
  openHubSource,
  parseHubRef,
  readHubEnv,
  snapshotFiles,
} from "../hub/mod.ts";
import { type PermissionNeeds, UsageError } from "./_common.ts";

/** Test setting: backoff in ms of the Hub client (`MLC_CONVERT_TEST_HUB_BACKOFF_MS`). */
function testBackoff(): number | undefined {
  const v = Deno.permissions.querySync({ name: "env", variable: "MLC_CONVERT_TEST_HUB_BACKOFF_MS" }).state ===
      "granted"
    ? Deno.env.get("MLC_CONVERT_TEST_HUB_BACKOFF_MS")
    : undefined;
  return v ? Number(v) : undefined;
}

/**
 * A Hub client from the environment (`HF_ENDPOINT`, `HF_TOKEN`).
 *
 * @example
 * ```ts ignore
 * const client = hubClient();
 * ```
 */
export function hubClient(): HubClient {
  const env = readHubEnv();
  return new HubClient({ endpoint: env.endpoint, token: env.token, backoffMs: testBackoff() });
}

/**
 * What reading CONFIG needs: read access to a local model directory (CONFIG's, by
 * `resolveConfigPath`: the weights and tokenizer files lie beside config.json); for `HF://`, the
 * Hub's environment variables and hosts (and with `--download` the cache directory, read and
 * write).
 *
 * @example
 * ```ts
 * import { sourceNeeds } from "./_hub.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(sourceNeeds("models/x", false), { read: ["models/x"], write: [] });
 * deepStrictEqual(sourceNeeds("models/x/config.json", false), { read: ["models/x"], write: [] });
 * ```
 */
export function sourceNeeds(config: string, download: boolean): PermissionNeeds {
  if (!isHubRef(config)) return { read: [resolveConfigPath(config).dir], write: [] };
  const env = readHubEnv();
  const cache = download && env.cacheDir ? [env.cacheDir] : [];
  return {
    read: cache,
    write: cache,
    net: hubNetHosts(env.endpoint, "download"),
    env: [...HUB_ENV_VARS, ...(download ? env.cacheVars : [])],
  };
}

/**
 * Several commands' needs as one (duplicates dropped).
 *
 * @example
 * ```ts
 * import { mergeNeeds } from "./_hub.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(mergeNeeds({ read: ["a"], write: [] }, { read: ["a", "b"], write: ["b"] }), { read: ["a", "b"], write: ["b"], net: [], env: [] });
 * ```
 */
export function mergeNeeds(...needs: PermissionNeeds[]): PermissionNeeds {
  const u = (k: keyof PermissionNeeds) => [...new Set(needs.flatMap((n) => n[k] ?? []))];
  return { read: u("read"), write: u("write"), net: u("net"), env: u("env") };
}

/** Where a model is read from. */
export interface ModelSource {
  /** The store (local paths, and `HF://` paths for a Hub model read by ranges). */
  store: GenConfigSource;
  /** CONFIG for the store (the `HF://` root, or the snapshot directory after `--download`). */
  config: string;
  /** Whether tensor files are local paths the conversion's workers may open themselves. */
  local: boolean;
  /** For range reads: which weight files had their sha256 checked while read (a log line). */
  integrity?(): string;
}

/**
 * Opens CONFIG: a local path as it is; `HF://owner/name[@rev]` by range reads (nothing stored),
 * or with `download` into the Hub cache and then from there. Local files are read through
 * {@link scopedSource}: only inside the model directory and `roots` (e.g. `--source`), regular
 * files, never through a link that leaves them.
 *
 * @example
 * ```ts ignore
 * const src = await openModelSource("HF://Qwen/Qwen2.5-0.5B", false, console.error);
 * ```
 */
export async function openModelSource(
  config: string,
  download: boolean,
  log: (line: string) => void,
  roots: readonly string[] = [],
): Promise<ModelSource> {
  const scoped = (dir: string) => scopedSource(listingSource(), [dir, ...roots]);
  if (!isHubRef(config)) {
    if (download) throw new UsageError("--download needs an HF:// model", "");
    return { store: scoped(resolveConfigPath(config).dir), config, local: true };
  }
  const local = scoped(roots[0] ?? ".");
  const ref = parseHubRef(config);
  const client = hubClient();
  const hub = await openHubSource(ref, client);
  log(`Model: ${ref.repo} at ${hub.info.sha} (${client.endpoint})`);
  if (!download) {
    const integrity = () => {
      const done = new Set(hub.stats.verified);
      const left = [...hub.rangeFiles].filter((f) => !done.has(f));
      const st = hub.stats;
      return `Read ${st.bytes} bytes from the Hub in ${st.requests} request(s)` +
        `${st.resumes ? ` (${st.resumes} resumed after a dropped connection)` : ""}; ` +
        `sha256 checked while reading: ${done.size} of ${hub.rangeFiles.size} weight file(s)` +
        (left.length ? ` (not read whole in order: ${left.join(", ")}; --download checks every byte)` : "");
    };
    return { store: routed(hub, local, ref.root), config: ref.root, local: false, integrity };
  }
  const cacheDir = readHubEnv().cacheDir;
  if (!cacheDir) throw new UsageError("--download: set HF_HUB_CACHE or HF_HOME (or HOME) for the cache", "");
  const snap = await downloadSnapshot(
    client,
    hub.info,
    ref.revision,
    snapshotFiles([...hub.files.values()]),
    cacheDir,
  );
  log(
    `Downloaded ${snap.downloaded.length} file(s) (${snap.bytes} bytes) into ${snap.dir}` +
      (snap.reused.length ? `; ${snap.reused.length} already there` : ""),
  );
  return { store: scoped(snap.dir), config: snap.dir, local: true };
}

/** Paths under `root` from the Hub, others from the file system. */
function routed(hub: GenConfigSource, local: GenConfigSource, root: string): GenConfigSource {
  const pick = (p: string) => (p === root || p.startsWith(root + "/") ? hub : local);
  return {
    readTextFile: (p) => pick(p).readTextFile(p),
    open: (p): Promise<RandomAccessFile> => pick(p).open(p),
    exists: (p) => pick(p).exists(p),
    listDir: (d) => pick(d).listDir!(d),
    localPath: (p) => pick(p).localPath?.(p),
  };
}

/** The file-system source with directory listings (gen_config's RWKV / tiktoken detection). */
export function listingSource(): GenConfigSource {
  return {
    ...denoSource(),
    async listDir(dir: string): Promise<string[]> {
      const names: string[] = [];
      for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
      return names;
    },
  };
}
