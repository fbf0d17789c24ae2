/**
 * Base64 of bytes (the commit API's inline file contents and preupload samples).
 *
 * @module
 */

/**
 * Encodes `data` as base64.
 *
 * @example
 * ```ts
 * import { encodeBase64 } from "./_base64.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(encodeBase64(new TextEncoder().encode("hi")), "aGk=");
 * ```
 */
export function encodeBase64(data: Uint8Array): string {
  let s = "";
  for (let i = 0; i < data.length; i += 0x8000) s += String.fromCharCode(...data.subarray(i, i + 0x8000));
  return btoa(s);
}
