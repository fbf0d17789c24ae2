import { assertEquals } from "./_assert.ts";
import { denoOutput, DIRECT_IO_ALIGN } from "../src/io/deno_fs.ts";
import { alignedBuffer } from "../src/io/_aligned.ts";

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return out;
}

Deno.test("alignedBuffer: whole 64 KiB pages, shared or not", () => {
  const a = alignedBuffer(100_000, false), s = alignedBuffer(1, true);
  assertEquals([a.byteLength, a instanceof ArrayBuffer], [131072, true]);
  assertEquals([s.byteLength, s instanceof SharedArrayBuffer], [65536, true]);
});

Deno.test("denoOutput: direct I/O for aligned parts, buffered tails and unaligned chunks, same bytes", async () => {
  const dir = await Deno.makeTempDir({ dir: "dist", prefix: "direct-io-test-" }).catch(() =>
    Deno.makeTempDir()
  );
  try {
    const out = denoOutput(dir);
    // an aligned buffer: 3 pages and 100 bytes go as one aligned direct write plus a buffered tail
    const buf = new Uint8Array(alignedBuffer(1 << 20, false));
    const a = pattern(3 * DIRECT_IO_ALIGN + 100, 1);
    buf.set(a);
    let f = await out.create("a.bin");
    await f.write(buf.subarray(0, a.length));
    await f.close();
    assertEquals(await Deno.readFile(`${dir}/a.bin`), a);
    const direct = out.stats.directBytes;
    // (file systems without direct I/O write it all buffered: same bytes either way)
    assertEquals([direct === 3 * DIRECT_IO_ALIGN || direct === 0, out.stats.bufferedBytes], [
      true,
      a.length - direct,
    ]);
    // chunks: unaligned start in memory (fallback), then more appends at unaligned file offsets
    const b = pattern(5 * DIRECT_IO_ALIGN + 7, 2);
    buf.set(b, 1);
    f = await out.create("b.bin");
    await f.write(buf.subarray(1, 1 + 2 * DIRECT_IO_ALIGN));
    await f.write(buf.subarray(1 + 2 * DIRECT_IO_ALIGN, 1 + b.length));
    await f.close();
    assertEquals(await Deno.readFile(`${dir}/b.bin`), b);
    // after a buffered part, aligned writes at aligned offsets go direct again
    const c = pattern(4 * DIRECT_IO_ALIGN, 3);
    buf.set(c);
    f = await denoOutput(dir).create("c.bin");
    await f.write(buf.subarray(0, 10));
    await f.write(buf.subarray(10, DIRECT_IO_ALIGN));
    await f.write(buf.subarray(DIRECT_IO_ALIGN, 4 * DIRECT_IO_ALIGN));
    await f.close();
    assertEquals(await Deno.readFile(`${dir}/c.bin`), c);
    // directIO: false writes everything through the page cache
    const plain = denoOutput(dir, { directIO: false });
    f = await plain.create("d.bin");
    await f.write(buf.subarray(0, 2 * DIRECT_IO_ALIGN));
    await f.close();
    assertEquals(plain.stats, { directBytes: 0, bufferedBytes: 2 * DIRECT_IO_ALIGN });
    assertEquals(await Deno.readFile(`${dir}/d.bin`), c.subarray(0, 2 * DIRECT_IO_ALIGN));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("denoOutput: direct I/O is used where the file system has it (ext4, xfs, btrfs)", async () => {
  await Deno.mkdir("dist", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "dist", prefix: "direct-io-test-" });
  try {
    const out = denoOutput(dir);
    const buf = new Uint8Array(alignedBuffer(1 << 16, false)).fill(9);
    const f = await out.create("x.bin");
    await f.write(buf);
    await f.close();
    const fsType = await fileSystemOf(dir);
    if (fsType === "ext2/ext3" || fsType === "xfs" || fsType === "btrfs") {
      assertEquals(out.stats, { directBytes: 1 << 16, bufferedBytes: 0 }, `on ${fsType}`);
    } else {
      assertEquals(out.stats.directBytes + out.stats.bufferedBytes, 1 << 16, `on ${fsType}`);
    }
    assertEquals(await Deno.readFile(`${dir}/x.bin`), buf);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function fileSystemOf(path: string): Promise<string> {
  try {
    const p = await new Deno.Command("stat", { args: ["-f", "-c", "%T", path], stdout: "piped" }).output();
    return new TextDecoder().decode(p.stdout).trim();
  } catch {
    return "unknown";
  }
}
