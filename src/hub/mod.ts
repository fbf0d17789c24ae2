/**
 * The Hugging Face Hub, both ways: convert straight from `HF://owner/name[@revision]` (range
 * reads, nothing stored; or `--download` into the standard HF cache) and publish a converted
 * directory with the Hub's commit API.
 *
 * @example
 * ```ts ignore
 * import { HubClient, openHubSource } from "@mlc-deno/convert/hub";
 * const src = await openHubSource("HF://Qwen/Qwen2.5-0.5B", new HubClient({ token: Deno.env.get("HF_TOKEN") }));
 * console.log(src.info.sha, [...src.files.keys()]);
 * ```
 *
 * @module
 */
export { isHubRef, parseHubRef } from "./_ref.ts";
export type { HubRef } from "./_ref.ts";
export { DEFAULT_ENDPOINT, HubClient, HubError } from "./client.ts";
export type { HubClientOptions, RepoFile, RepoInfo } from "./client.ts";
export { HttpRangeFile, IntegrityError, RANGE_WINDOW } from "./http_file.ts";
export type { HttpStats } from "./http_file.ts";
export { openHubSource } from "./source.ts";
export type { HubSource, HubSourceOptions } from "./source.ts";
export { CACHE_ENV, downloadSnapshot, hubCacheDir, repoCacheDir, snapshotFiles } from "./cache.ts";
export type { SnapshotResult } from "./cache.ts";
export { HF_DOWNLOAD_HOSTS, HF_UPLOAD_HOSTS, HUB_ENV_VARS, hubNetHosts, readHubEnv } from "./permissions.ts";
export type { HubEnv } from "./permissions.ts";
export { uploadFiles } from "./upload.ts";
export type { UploadFile, UploadOptions, UploadResult } from "./upload.ts";
export { modelCard } from "./model_card.ts";
export type { ModelCardInfo } from "./model_card.ts";
export type { RandomAccessFile, SourceStore } from "../io/types.ts";
