/**
 * CRC-32 (the zip and PNG check value, polynomial 0xedb88320), continued chunk by chunk: the
 * browser's streamed zip output and the test generator of PyTorch zip files use it.
 *
 * @module
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * Continues a CRC-32 (zip's) over `data` from `crc` (0 to start).
 *
 * @example
 * ```ts
 * import { crc32 } from "./crc32.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(crc32(0, new TextEncoder().encode("123456789")).toString(16), "cbf43926");
 * ```
 */
export function crc32(crc: number, data: Uint8Array): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
