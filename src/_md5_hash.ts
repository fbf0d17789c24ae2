/**
 * `createHash("md5")` over the WASM md5 kernel: the same call shape as `node:crypto`'s, with no
 * `node:*` import, so that the library loads in a browser. One private kernel instance (its
 * memory is not shared with a conversion's kernels); each hash keeps its own stream state.
 *
 * @module
 */
import { WasmKernels } from "./kernels/wasm.ts";
import { md5StreamState } from "./kernels/md5.ts";

/** An incremental md5. */
export interface Md5Hash {
  /** Hashes `data` (may be called any number of times). */
  update(data: Uint8Array): Md5Hash;
  /** Lowercase hex md5 of everything given to {@link Md5Hash.update}. */
  digest(encoding: "hex"): string;
}

let kernels: WasmKernels | undefined;

/**
 * Starts an md5 (the only algorithm: the tensor cache's `md5sum`).
 *
 * @example
 * ```ts
 * import { createHash } from "./_md5_hash.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(createHash("md5").update(new TextEncoder().encode("abc")).digest("hex"), "900150983cd24fb0d6963f7d28e17f72");
 * ```
 */
export function createHash(algorithm: "md5"): Md5Hash {
  if (algorithm !== "md5") throw new Error(`unsupported hash ${algorithm}`);
  const k = kernels ??= WasmKernels.createSync();
  const st = md5StreamState();
  const h: Md5Hash = {
    update(data) {
      k.md5StreamUpdate(st, data);
      return h;
    },
    digest: () => k.md5StreamDigest(st),
  };
  return h;
}
