/**
 * The hashes the Hub lists: git blob sha1 for regular files, sha256 for LFS files.
 *
 * @module
 */
import { createHash } from "node:crypto";

const hex = (b: ArrayBuffer | Uint8Array) =>
  Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");

/**
 * Git's blob id of `data`: sha1 of `blob <size>\0<data>` (the `oid` of a regular file in the
 * Hub's tree listing).
 *
 * @example
 * ```ts
 * import { gitBlobSha1 } from "./_hash.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(await gitBlobSha1(new Uint8Array()), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
 * ```
 */
export async function gitBlobSha1(data: Uint8Array): Promise<string> {
  const head = new TextEncoder().encode(`blob ${data.length}\0`);
  const all = new Uint8Array(head.length + data.length);
  all.set(head);
  all.set(data, head.length);
  return hex(await crypto.subtle.digest("SHA-1", all));
}

/** An incremental sha256. */
export interface Sha256 {
  /** Adds bytes. */
  update(data: Uint8Array): void;
  /** The hex digest (once). */
  digest(): string;
}

/**
 * Starts an incremental sha256 (node:crypto's, native).
 *
 * @example
 * ```ts
 * import { sha256 } from "./_hash.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const h = sha256();
 * h.update(new TextEncoder().encode("abc"));
 * deepStrictEqual(h.digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
 * ```
 */
export function sha256(): Sha256 {
  const h = createHash("sha256");
  return { update: (d) => void h.update(d), digest: () => h.digest("hex") };
}

/**
 * sha256 of a file, streamed.
 *
 * @example
 * ```ts ignore
 * import { sha256File } from "./_hash.ts";
 * console.log(await sha256File("out/params_shard_0.bin"));
 * ```
 */
export async function sha256File(path: string): Promise<string> {
  const h = sha256();
  const f = await Deno.open(path);
  for await (const chunk of f.readable) h.update(chunk); // (the stream closes the file)
  return h.digest();
}
