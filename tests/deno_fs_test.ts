import { assertEquals } from "./_assert.ts";
import { denoOutput, DIRECT_IO_ALIGN } from "../src/io/deno_fs.ts";
import { alignedBuffer } from "../src/io/aligned.ts";
import { IoWorker } from "../src/io/_io_worker.ts";

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return out;
}

async function fileSystemOf(path: string): Promise<string> {
  try {
    const p = await new Deno.Command("stat", { args: ["-f", "-c", "%T", path], stdout: "piped" }).output();
    return new TextDecoder().decode(p.stdout).trim();
  } catch {
    return "unknown";
  }
}

/** Whether direct I/O is expected to work in `dir` (ext4, xfs, btrfs). */
async function hasDirectIO(dir: string): Promise<boolean> {
  return ["ext2/ext3", "xfs", "btrfs"].includes(await fileSystemOf(dir));
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  await Deno.mkdir("dist", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "dist", prefix: "direct-io-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("alignedBuffer: whole 64 KiB pages, shared or not", () => {
  const a = alignedBuffer(100_000, false), s = alignedBuffer(1, true);
  assertEquals([a.byteLength, a instanceof ArrayBuffer], [131072, true]);
  assertEquals([s.byteLength, s instanceof SharedArrayBuffer], [65536, true]);
});

Deno.test("denoOutput: shared memory goes direct where aligned (the tail buffered), same bytes", async () => {
  await withDir(async (dir) => {
    const direct = await hasDirectIO(dir);
    const out = denoOutput(dir);
    try {
      const buf = new Uint8Array(alignedBuffer(1 << 20, true));
      // 3 pages and 100 bytes: one aligned direct write plus a buffered tail
      const a = pattern(3 * DIRECT_IO_ALIGN + 100, 1);
      buf.set(a);
      let f = await out.create("a.bin");
      await f.write(buf.subarray(0, a.length));
      await f.close();
      assertEquals(await Deno.readFile(`${dir}/a.bin`), a);
      const d = direct ? 3 * DIRECT_IO_ALIGN : 0;
      assertEquals(out.stats, { directBytes: d, bufferedBytes: a.length - d });
      // an unaligned start in memory: buffered; then aligned pieces at aligned offsets: direct
      const b = pattern(5 * DIRECT_IO_ALIGN, 2);
      buf.set(b.subarray(0, 10), 1);
      buf.set(b.subarray(10), DIRECT_IO_ALIGN + 10);
      f = await out.create("b.bin");
      await f.write(buf.subarray(1, 11));
      await f.write(buf.subarray(DIRECT_IO_ALIGN + 10, 2 * DIRECT_IO_ALIGN)); // (file offset 10)
      await f.write(buf.subarray(2 * DIRECT_IO_ALIGN, 6 * DIRECT_IO_ALIGN));
      await f.close();
      assertEquals(await Deno.readFile(`${dir}/b.bin`), b);
      assertEquals(out.stats.directBytes - d, direct ? 4 * DIRECT_IO_ALIGN : 0);
      // ordinary (unshared) memory is written here, through the page cache
      const before = { ...out.stats };
      f = await out.create("c.bin");
      await f.write(b.subarray(0, 2 * DIRECT_IO_ALIGN));
      await f.close();
      assertEquals(out.stats, {
        directBytes: before.directBytes,
        bufferedBytes: before.bufferedBytes + 2 * DIRECT_IO_ALIGN,
      });
      assertEquals(await Deno.readFile(`${dir}/c.bin`), b.subarray(0, 2 * DIRECT_IO_ALIGN));
    } finally {
      await out.close();
    }
  });
});

Deno.test("denoOutput: directIO false writes shared memory through the page cache (I/O worker started ahead)", async () => {
  await withDir(async (dir) => {
    const out = denoOutput(dir, { directIO: false });
    try {
      out.prepare();
      out.prepare(); // (once)
      const buf = new Uint8Array(alignedBuffer(1 << 16, true)).fill(9);
      const f = await out.create("x.bin");
      await f.write(buf);
      await f.close();
      assertEquals(out.stats, { directBytes: 0, bufferedBytes: 1 << 16 });
      assertEquals(await Deno.readFile(`${dir}/x.bin`), buf);
    } finally {
      await out.close();
    }
  });
});

Deno.test("IoWorker: started but never used, it stops by itself when idle", async () => {
  const io = new IoWorker(50);
  io.start();
  assertEquals(io.running, true);
  await new Promise((r) => setTimeout(r, 300));
  assertEquals(io.running, false);
  await io.close();
});

Deno.test("denoOutput: shared memory at an address direct I/O refuses is written buffered, same bytes", async () => {
  await withDir(async (dir) => {
    const out = denoOutput(dir);
    try {
      // a plain SharedArrayBuffer starts 16 bytes past a page boundary in V8 (not guaranteed)
      const sab = new SharedArrayBuffer(3 * DIRECT_IO_ALIGN);
      const data = pattern(sab.byteLength, 4);
      new Uint8Array(sab).set(data);
      const f = await out.create("p.bin");
      await f.write(new Uint8Array(sab));
      await f.close();
      assertEquals(await Deno.readFile(`${dir}/p.bin`), data);
      assertEquals(out.stats.directBytes + out.stats.bufferedBytes, data.length);
      assertEquals(out.stats.directBytes === 0 || out.stats.directBytes === data.length, true);
    } finally {
      await out.close();
    }
  });
});
