/**
 * What the Hub commands need from Deno: the environment variables Hugging Face's clients
 * read, the hosts they connect to, and the cache directory for `--download`.
 *
 * @module
 */
import { CACHE_ENV, hubCacheDir } from "./cache.ts";
import { DEFAULT_ENDPOINT } from "./client.ts";

/** Environment variables every Hub command reads. */
export const HUB_ENV_VARS: readonly string[] = ["HF_TOKEN", "HF_HOME", "HF_HUB_CACHE", "HF_ENDPOINT"];

/**
 * Hosts huggingface.co redirects file downloads to (Xet bridge and LFS CDNs). Another host in
 * a redirect fails with the `--allow-net` entry to add.
 */
export const HF_DOWNLOAD_HOSTS: readonly string[] = [
  "cas-bridge.xethub.hf.co",
  "cdn-lfs.hf.co",
  "cdn-lfs-us-1.hf.co",
  "cdn-lfs-eu-1.hf.co",
];

/** Hosts huggingface.co sends LFS uploads ("basic" transfers) to. */
export const HF_UPLOAD_HOSTS: readonly string[] = ["hf-hub-lfs-us-east-1.s3-accelerate.amazonaws.com"];

/** The Hub settings from the environment. */
export interface HubEnv {
  /** `HF_ENDPOINT` or the default. */
  endpoint: string;
  /** `HF_TOKEN`. */
  token?: string;
  /** The cache directory (see `hubCacheDir`), when the environment gives one. */
  cacheDir?: string;
  /** The variables the cache directory comes from beyond {@link HUB_ENV_VARS}. */
  cacheVars: string[];
}

/**
 * Reads the Hub's environment variables, each only where Deno allows it (never prompts; a
 * variable not allowed counts as unset).
 *
 * @example
 * ```ts
 * import { readHubEnv } from "@mlc-deno/convert/hub";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(readHubEnv().endpoint.startsWith("http"), true);
 * ```
 */
export function readHubEnv(): HubEnv {
  const get = (v: string) =>
    Deno.permissions.querySync({ name: "env", variable: v }).state === "granted"
      ? Deno.env.get(v)
      : undefined;
  const env = Object.fromEntries(CACHE_ENV.map((v) => [v, get(v)]));
  return {
    endpoint: (get("HF_ENDPOINT") || DEFAULT_ENDPOINT).replace(/\/+$/, ""),
    token: get("HF_TOKEN") || undefined,
    cacheDir: hubCacheDir(env),
    cacheVars: env.HF_HUB_CACHE || env.HF_HOME ? [] : ["XDG_CACHE_HOME", "HOME"],
  };
}

/**
 * The hosts a command connects to: the endpoint's (with its port when not the default), and
 * for huggingface.co the CDN hosts of downloads or uploads.
 *
 * @example
 * ```ts
 * import { hubNetHosts } from "@mlc-deno/convert/hub";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(hubNetHosts("http://127.0.0.1:8080", "download"), ["127.0.0.1:8080"]);
 * ```
 */
export function hubNetHosts(endpoint: string, mode: "download" | "upload"): string[] {
  const u = new URL(endpoint);
  const extra = u.origin === new URL(DEFAULT_ENDPOINT).origin
    ? (mode === "download" ? HF_DOWNLOAD_HOSTS : HF_UPLOAD_HOSTS)
    : [];
  return [u.host, ...extra];
}
