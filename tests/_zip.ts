// Reads a stored (uncompressed) zip through its central directory, checking each entry's local
// header, its data descriptor (when flagged) and its CRC-32 against the bytes.
import { assertEquals } from "./_assert.ts";
import { crc32 } from "../src/crc32.ts";

/** The entries of a stored zip, in central-directory order. */
export function unzip(zip: Uint8Array): Map<string, Uint8Array> {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const end = zip.length - 22;
  assertEquals(v.getUint32(end, true), 0x06054b50, "end of central directory");
  const count = v.getUint16(end + 10, true);
  let at = v.getUint32(end + 16, true);
  assertEquals(at + v.getUint32(end + 12, true), end, "central directory size");
  const out = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    assertEquals(v.getUint32(at, true), 0x02014b50, "central header");
    assertEquals(v.getUint16(at + 10, true), 0, "stored");
    const flags = v.getUint16(at + 8, true), crc = v.getUint32(at + 16, true);
    const size = v.getUint32(at + 24, true), nameLen = v.getUint16(at + 28, true);
    const local = v.getUint32(at + 42, true);
    const name = new TextDecoder().decode(zip.subarray(at + 46, at + 46 + nameLen));
    assertEquals(v.getUint32(local, true), 0x04034b50, `${name}: local header`);
    assertEquals(v.getUint16(local + 6, true), flags, `${name}: flags`);
    const dataAt = local + 30 + v.getUint16(local + 26, true) + v.getUint16(local + 28, true);
    const data = zip.subarray(dataAt, dataAt + size);
    assertEquals(crc32(0, data), crc, `${name}: crc`);
    if (flags & 8) {
      const d = dataAt + size;
      assertEquals(
        [0, 4, 8, 12].map((o) => v.getUint32(d + o, true)),
        [0x08074b50, crc, size, size],
        `${name}: descriptor`,
      );
    }
    out.set(name, data);
    at += 46 + nameLen;
  }
  return out;
}
