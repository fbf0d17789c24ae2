import { assertEquals, assertRejects } from "./_assert.ts";
import { createHash } from "node:crypto";
import { WasmKernels } from "../src/kernels/wasm.ts";
import { md5InPlace, md5Streams, md5StreamState } from "../src/kernels/md5.ts";
import { TensorCacheWriter } from "../src/cache_writer.ts";
import { memoryOutput } from "../src/io/memory.ts";
import { BatchMd5, LaneMd5, MD5_LANES } from "../src/pipeline/hashing.ts";
import { PipelineMemory } from "../src/pipeline/memory.ts";
import { Md5WorkerPool, QuantWorkerPool } from "../src/pipeline/pool.ts";

const K = WasmKernels.createSync();

/** `p`, or a rejection after 20 s (a hash that never settles fails the test instead of hanging it). */
function within<T>(p: Promise<T>, ms = 20_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) =>
    timer = setTimeout(() => reject(new Error(`not settled in ${ms} ms`)), ms)
  );
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
const nodeMd5 = (d: Uint8Array): string => createHash("md5").update(d).digest("hex");

/** Deterministic bytes (xorshift32). */
function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

Deno.test("md5: RFC 1321 test suite", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const suite: [string, string][] = [
    ["", "d41d8cd98f00b204e9800998ecf8427e"],
    ["a", "0cc175b9c0f1b6a831c399e269772661"],
    ["abc", "900150983cd24fb0d6963f7d28e17f72"],
    ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
    ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
    ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"],
    [
      "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
      "57edf4a22be3c955ac49da2e2107b67a",
    ],
  ];
  for (const [s, hex] of suite) assertEquals(K.md5(enc(s)), hex, JSON.stringify(s));
  assertEquals(K.md5Many(suite.map(([s]) => enc(s))), suite.map(([, hex]) => hex));
});

const LENGTHS = [0, 1, 2, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4095, 4096, 65537];

Deno.test("md5: scalar equals node:crypto on lengths around the padding boundaries", () => {
  for (const n of LENGTHS) {
    const d = randomBytes(n, n + 7);
    assertEquals(K.md5(d), nodeMd5(d), `length ${n}`);
  }
});

Deno.test("md5: multi-MiB buffers (several slices), scalar and four lanes", () => {
  const sizes = [3 * (1 << 20) + 17, (5 << 20) - 64, (2 << 20) + 55, 1 << 22];
  const ds = sizes.map((n, i) => randomBytes(n, 1000 + i));
  assertEquals(K.md5(ds[0]), nodeMd5(ds[0]));
  assertEquals(K.md5Many(ds), ds.map(nodeMd5));
});

Deno.test("md5 in place: streams where they lie in memory, ragged lengths, one to six at once", () => {
  // LENGTHS laid out one after another at odd offsets in the kernels' memory
  const at: number[] = [];
  let end = K.reserve(0) + 256 + 3; // (above 192 bytes of scratch)
  for (const n of LENGTHS) {
    at.push(end);
    end += n + 5;
  }
  const base = K.reserve(end - K.reserve(0));
  const ds = LENGTHS.map((n, i) => randomBytes(n, 300 + i));
  ds.forEach((d, i) => new Uint8Array(K.exports.memory.buffer, at[i], d.length).set(d));
  for (let take = 1; take <= 6; take++) {
    for (let first = 0; first + take <= LENGTHS.length; first += take) {
      const idx = Array.from({ length: take }, (_, j) => first + j);
      const got = md5InPlace(K.exports, base, idx.map((i) => at[i]), idx.map((i) => LENGTHS[i]));
      assertEquals(got, idx.map((i) => nodeMd5(ds[i])), `lengths ${idx.map((i) => LENGTHS[i])}`);
    }
  }
  // the data is untouched
  ds.forEach((d, i) =>
    assertEquals(nodeMd5(new Uint8Array(K.exports.memory.buffer, at[i], d.length)), nodeMd5(d))
  );
});

Deno.test("md5: four streams of different lengths together, and more streams than lanes", () => {
  for (const group of [[0, 1, 55, 56], [63, 64, 65, 1000], [70000, 64, 130, 1], [4096, 4096, 4096, 4096]]) {
    const ds = group.map((n, i) => randomBytes(n, 31 * n + i));
    assertEquals(K.md5Many(ds), ds.map(nodeMd5), `lengths ${group}`);
  }
  const ds = LENGTHS.map((n) => randomBytes(n * 3, n + 99));
  assertEquals(K.md5Many(ds), ds.map(nodeMd5));
  for (const count of [2, 3, 5]) {
    const part = ds.slice(-count);
    assertEquals(K.md5Many(part), part.map(nodeMd5), `${count} streams`);
  }
});

Deno.test("md5: small slices (lanes finish at different rounds, idle lanes)", () => {
  const ds = [200000, 640, 64 * 37 + 5, 0, 99999, 128].map((n, i) => randomBytes(n, i + 5));
  for (const slice of [64, 128, 4096]) {
    const k = WasmKernels.createSync();
    assertEquals(md5Streams(k.exports, k.reserve(0), ds, slice), ds.map(nodeMd5), `slice ${slice}`);
  }
});

Deno.test("md5: the four-lane kernel equals the scalar kernel per lane", () => {
  const k = WasmKernels.createSync();
  const base = k.reserve(64 + 4 * 4096 + 16);
  const mem = () => new Uint8Array(k.exports.memory.buffer);
  const ps = [0, 1, 2, 3].map((i) => base + 64 + i * 4096);
  ps.forEach((p, i) => mem().set(randomBytes(4096, 77 + i), p));
  const init = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  const st = new Uint32Array(k.exports.memory.buffer, base, 16);
  for (let l = 0; l < 4; l++) st.set(init.map((v) => (v + l * 0x01010101) >>> 0), 4 * l);
  const start = st.slice();
  k.exports.md5_blocks_x4(base, ps[0], ps[1], ps[2], ps[3], 64);
  const x4 = new Uint32Array(k.exports.memory.buffer, base, 16).slice();
  for (let l = 0; l < 4; l++) {
    const s = new Uint32Array(k.exports.memory.buffer, base, 4);
    s.set(start.subarray(4 * l, 4 * l + 4));
    k.exports.md5_blocks(base, ps[l], 64);
    assertEquals([...new Uint32Array(k.exports.memory.buffer, base, 4)], [...x4.subarray(4 * l, 4 * l + 4)]);
  }
});

Deno.test("md5: the writer with batched multi-buffer hashing (this thread, worker) gives the same cache", async () => {
  const cap = 2000;
  // in-band tensors of many sizes (shards of different lengths), out-of-band ones in between
  const some = [10, 300, 700, 20, 999, 64, 128, 500, 1, 2, 450, 451, 600, 55, 56, 900, 3000, 33, 7];
  const sizes = [...some, ...some.reverse(), ...some.map((n) => n % 500)];
  const write = async (opts: ConstructorParameters<typeof TensorCacheWriter>[2]) => {
    const out = memoryOutput();
    const w = new TensorCacheWriter(out, cap, opts);
    for (const [i, n] of sizes.entries()) await w.add(`t${i}`, [n], "float16", randomBytes(2 * n, i + 1));
    const cache = await w.finish(1);
    return { cache, files: out.files };
  };
  const plain = await write({});
  const shards = plain.cache.records;
  assertEquals(shards.length, 19);
  for (const s of shards) assertEquals(s.md5sum, nodeMd5(plain.files.get(s.dataPath)!));
  const local = await write({ hasher: new BatchMd5(), buffers: MD5_LANES + 1 });
  assertEquals(local.cache, plain.cache);
  assertEquals(local.files, plain.files);
  const pool = new Md5WorkerPool(1);
  try {
    for (const buffers of [2, MD5_LANES + 1]) {
      const inWorker = await write({ hasher: new BatchMd5(pool.md5), buffers });
      assertEquals(inWorker.cache, plain.cache);
      assertEquals(inWorker.files, plain.files);
    }
  } finally {
    await pool.close();
  }
});

Deno.test("md5 streams: pieces of any size (padding boundaries, slices) equal node:crypto of the whole", () => {
  const data = randomBytes(3 * (1 << 20) + 77, 11);
  const cuts: number[][] = [
    [0],
    [1, 62, 63, 64, 65, 127, 128, 129],
    [1 << 20, (1 << 20) + 1, 3 * (1 << 20)],
    [55, 56, 57, 119, 120, 121],
  ];
  for (const c of cuts) {
    const st = md5StreamState();
    let at = 0;
    for (const end of [...c, data.length]) {
      K.md5StreamUpdate(st, data.subarray(at, end));
      at = end;
    }
    assertEquals(K.md5StreamDigest(st), nodeMd5(data), `cuts ${c}`);
  }
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128]) {
    const st = md5StreamState();
    for (let i = 0; i < n; i++) K.md5StreamUpdate(st, data.subarray(i, i + 1)); // byte by byte
    assertEquals(K.md5StreamDigest(st), nodeMd5(data.subarray(0, n)), `${n} single bytes`);
  }
});

Deno.test("md5 streams in a worker: interleaved streams hashed in order, with batches between", async () => {
  const pool = new Md5WorkerPool(1);
  try {
    const a = randomBytes(200_000, 21), b = randomBytes(150_001, 22);
    const share = (d: Uint8Array) => {
      const s = new Uint8Array(new SharedArrayBuffer(d.length + 5), 5); // (at an offset)
      s.set(d);
      return s;
    };
    const hasher = new BatchMd5(pool.md5);
    const sa = hasher.stream(), sb = hasher.stream();
    const updates: Promise<void>[] = [];
    for (let at = 0; at < 200_000; at += 70_000) {
      updates.push(sa.update(share(a.subarray(at, at + 70_000)), Math.min(70_000, 200_000 - at)));
      if (at < 150_001) {
        updates.push(sb.update(share(b.subarray(at, at + 70_000)), Math.min(70_000, 150_001 - at)));
      }
    }
    const batch = pool.md5.hashMany([share(a.subarray(0, 1000))]);
    await Promise.all(updates);
    assertEquals(await Promise.all([sa.digest(), sb.digest(), batch]), [nodeMd5(a), nodeMd5(b), [
      nodeMd5(a.subarray(0, 1000)),
    ]]);
  } finally {
    await pool.close();
  }
});

Deno.test("md5 worker pool: close waits for the workers to acknowledge and exit; later calls reject", async () => {
  const pool = new Md5WorkerPool(2);
  const s = new Uint8Array(new SharedArrayBuffer(3));
  s.set([0x61, 0x62, 0x63]);
  assertEquals(await pool.md5.hashMany([s]), ["900150983cd24fb0d6963f7d28e17f72"]);
  await pool.close();
  let error = "";
  await pool.md5.hashMany([s]).catch((e) => error = (e as Error).message);
  assertEquals(error, "pool closed");
});

Deno.test("kernel worker pool: shards in its memory are hashed in place, others copied in", async () => {
  const memory = new PipelineMemory({ workers: 2, workBytes: 4096, shardBuffers: 3, shardBytes: 100_000 });
  const pool = new QuantWorkerPool(memory, { slotsPerWorker: 1, slotBytes: 1024 });
  const shardBuffers = memory.shardBuffers;
  try {
    assertEquals(shardBuffers.map((b) => [b.byteOffset % 65536, b.length]), [[0, 131072], [0, 131072], [
      0,
      131072,
    ]]);
    assertEquals(shardBuffers.every((b) => b.buffer === memory.buffer), true);
    // laid out once: the memory ends with the last shard buffer and cannot grow
    const last = shardBuffers[2];
    assertEquals(memory.buffer.byteLength, last.byteOffset + last.length);
    let grew = "";
    try {
      memory.memory.grow(1);
    } catch (e) {
      grew = (e as Error).name;
    }
    assertEquals(grew, "RangeError");
    const ds = [100_000, 65, 99_999].map((n, i) => randomBytes(n, 50 + i));
    ds.forEach((d, i) => shardBuffers[i].set(d));
    const inPlace = pool.md5.hashMany(ds.map((d, i) => shardBuffers[i].subarray(0, d.length)));
    const outside = ds.map((d) => {
      const s = new Uint8Array(new SharedArrayBuffer(d.length + 3), 3);
      s.set(d);
      return s;
    });
    assertEquals(await Promise.all([inPlace, pool.md5.hashMany(outside)]), [
      ds.map(nodeMd5),
      ds.map(nodeMd5),
    ]);
  } finally {
    await pool.close();
  }
});

Deno.test("md5 lanes: shards hashed in quanta as they fill (progress), four lanes at a time, equal node:crypto", async () => {
  const MiB = 1 << 20;
  const memory = new PipelineMemory({ workers: 2, workBytes: 4096, shardBuffers: 6, shardBytes: 20 * MiB });
  const pool = new QuantWorkerPool(memory, { slotsPerWorker: 1, slotBytes: 1024 });
  const [a, b, c, d, e] = memory.shardBuffers;
  const fill = (buf: Uint8Array, n: number, seed: number) => buf.set(randomBytes(n, seed));
  try {
    const lanes = new LaneMd5(pool.md5);
    // a fills in steps (prefixes of any length: whole blocks are hashed, the rest waits)
    fill(a, 20 * MiB, 1);
    lanes.progress(a, 3 * MiB + 5);
    lanes.progress(a, 9 * MiB);
    assertEquals(pool.md5.ms, 0); // (one lane with a quantum's worth: nothing hashed yet)
    fill(b, 8 * MiB + 1, 2);
    fill(e, 17 * MiB + 63, 5);
    lanes.progress(e, 5 * MiB);
    const hb = lanes.hash(b, 8 * MiB + 1);
    const hd = lanes.hash(d, 0);
    lanes.progress(e, 17 * MiB);
    // four lanes have a quantum's worth (a, b, d final, e): a quantum runs without an urge, which
    // ends d (0 bytes) and leaves b one byte short of its end (too little for a quantum)
    assertEquals(await within(hd), nodeMd5(new Uint8Array(0)));
    let bDone = false;
    hb.then(() => bDone = true);
    await new Promise((r) => setTimeout(r, 50));
    assertEquals(bDone, false);
    lanes.urge(b);
    assertEquals(await within(hb), nodeMd5(b.subarray(0, 8 * MiB + 1)));
    const ha = lanes.hash(a, 20 * MiB), he = lanes.hash(e, 17 * MiB + 63);
    fill(c, 65, 3);
    lanes.progress(c, 64);
    const hc = lanes.hash(c, 65);
    for (const buf of [a, c, e]) lanes.urge(buf); // (the writer finishes)
    assertEquals(await within(Promise.all([ha, hc, he])), [
      nodeMd5(a.subarray(0, 20 * MiB)),
      nodeMd5(c.subarray(0, 65)),
      nodeMd5(e.subarray(0, 17 * MiB + 63)),
    ]);
    // a buffer hashed before holds a new shard: a new lane
    fill(b, 1000, 9);
    const again = lanes.hash(b, 1000);
    lanes.urge(b);
    assertEquals(await within(again), nodeMd5(b.subarray(0, 1000)));
    // pieces outside the workers' memory are refused
    await assertRejects(
      () => pool.md5.hashLanes([{ data: new Uint8Array(64), state: [1, 2, 3, 4], before: 0, final: true }]),
      /pieces must lie in the workers' memory/,
    );
  } finally {
    await pool.close();
  }
});
