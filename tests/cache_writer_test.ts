import { assertEquals, assertRejects } from "./_assert.ts";
import { createHash } from "node:crypto";
import { type ShardHasher, TensorCacheWriter } from "../src/cache_writer.ts";
import { cacheJsonText } from "../src/cache_json.ts";
import { layoutShards, SHARD_CAP } from "../src/shard_layout.ts";
import { f32BitsToBf16Storage } from "../src/dtype.ts";
import { memoryOutput } from "../src/io/memory.ts";
import { BatchMd5, LaneMd5 } from "../src/pipeline/hashing.ts";
import { PipelineMemory } from "../src/pipeline/memory.ts";
import { QuantWorkerPool } from "../src/pipeline/pool.ts";

const MiB = 1 << 20;

Deno.test("layoutShards: out-of-band tensors take the next index before the pending shard", () => {
  // A (1 MiB), B (250 MiB), C (1 MiB): shard 0 = [B], shard 1 = [A, C]
  assertEquals(layoutShards([MiB, 250 * MiB, MiB]), {
    placement: [[1, 0], [0, 0], [1, MiB]],
    shardSizes: [250 * MiB, 2 * MiB],
    outOfBand: [true, false],
  });
});

Deno.test("layoutShards: thresholds use >= (exactly the cap flushes; exactly half the cap is out of band)", () => {
  const cap = 100;
  // pending 60 + 40 = 100 >= cap, 2*40 < cap: flush then append
  assertEquals(layoutShards([60, 40], cap), {
    placement: [[0, 0], [1, 0]],
    shardSizes: [60, 40],
    outOfBand: [false, false],
  });
  // pending 60 + 39 < cap: append
  assertEquals(layoutShards([60, 39], cap), {
    placement: [[0, 0], [0, 60]],
    shardSizes: [99],
    outOfBand: [false],
  });
  // pending 60 + 50 >= cap and 2*50 >= cap: out of band
  assertEquals(layoutShards([60, 50, 10], cap), {
    placement: [[1, 0], [0, 0], [1, 60]],
    shardSizes: [50, 70],
    outOfBand: [true, false],
  });
  // a big tensor that still fits is appended (17 on pending 10 with cap 30: 27 < 30)
  assertEquals(layoutShards([10, 17], 30), {
    placement: [[0, 0], [0, 10]],
    shardSizes: [27],
    outOfBand: [false],
  });
  // a lone tensor >= cap on an empty pending shard goes out of band
  assertEquals(layoutShards([200], cap), { placement: [[0, 0]], shardSizes: [200], outOfBand: [true] });
  assertEquals(SHARD_CAP, 33554432);
});

Deno.test("f32-to-bf16 storage: RNE in range, truncation from 0x7F7F0000", () => {
  const cases: [number, number][] = [
    [0x3f800000, 0x3f80],
    [0x3dcccccd, 0x3dcd],
    [0x3f808000, 0x3f80],
    [0x3f818000, 0x3f82],
    [0x7f7fffff, 0x7f7f], // 3.4e38 clips instead of rounding to inf
    [0x7f800000, 0x7f80],
    [0x7fc00000, 0x7fc0],
    [0x00000001, 0x0000],
    [0xff7f8000, 0xff7f],
  ];
  for (const [u, b] of cases) assertEquals(f32BitsToBf16Storage(u), b, `0x${u.toString(16)}`);
});

Deno.test("TensorCacheWriter: shards, offsets, md5, float32 stored as bf16 and the -b16 side files", async () => {
  const out = memoryOutput();
  const w = new TensorCacheWriter(out, 64);
  await w.add("a", [4], "float16", new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  await w.add("big", [10], "uint32", new Uint8Array(40).fill(9)); // 8 + 40 >= 64? no: appended
  await w.add("f", [2], "float32", new Uint8Array(new Float32Array([1, 0.1]).buffer)); // 4 bytes on disk
  await w.add("huge", [16], "uint32", new Uint8Array(64).fill(1)); // 52 + 64 >= 64 and 128 >= 64: own shard
  const cache = await w.finish(100);
  assertEquals(
    cache.records.map((s) => [s.dataPath, s.nbytes, s.records.map((r) => [r.name, r.byteOffset])]),
    [
      ["params_shard_0.bin", 64, [["huge", 0]]],
      ["params_shard_1.bin", 52, [["a", 0], ["big", 8], ["f", 48]]],
    ],
  );
  const shard1 = out.files.get("params_shard_1.bin")!;
  assertEquals([...shard1.subarray(48)], [0x80, 0x3f, 0xcd, 0x3d]);
  assertEquals(cache.records[1].md5sum, createHash("md5").update(shard1).digest("hex"));
  assertEquals(cache.metadata, { ParamSize: 4, ParamBytes: 8 + 40 + 8 + 64, BitsPerParam: 120 * 8 / 100 });
  assertEquals([...out.files.keys()].sort(), [
    "ndarray-cache-b16.json",
    "ndarray-cache.json",
    "params_shard_0.bin",
    "params_shard_1.bin",
    "tensor-cache-b16.json",
    "tensor-cache.json",
  ]);
  const b16 = JSON.parse(new TextDecoder().decode(out.files.get("tensor-cache-b16.json")));
  assertEquals(b16.records[1].records[2].dtype, "bfloat16");
  assertEquals(b16.records[1].records[2].format, "raw");
  assertEquals(b16.records[1].records[0].format, "f32-to-bf16");
});

Deno.test("cacheJsonText: exact Python json.dump(indent=4) text without trailing newline", () => {
  const text = cacheJsonText({
    metadata: { ParamSize: 1, ParamBytes: 8, BitsPerParam: 4.571428571428571 },
    records: [{
      dataPath: "params_shard_0.bin",
      format: "raw-shard",
      nbytes: 8,
      records: [{
        name: "a.q_weight",
        shape: [1, 2],
        dtype: "uint32",
        format: "f32-to-bf16",
        nbytes: 8,
        byteOffset: 0,
      }],
      md5sum: "0123",
    }],
  });
  assertEquals(
    text,
    `{
    "metadata": {
        "ParamSize": 1,
        "ParamBytes": 8.0,
        "BitsPerParam": 4.571428571428571
    },
    "records": [
        {
            "dataPath": "params_shard_0.bin",
            "format": "raw-shard",
            "nbytes": 8,
            "records": [
                {
                    "name": "a.q_weight",
                    "shape": [
                        1,
                        2
                    ],
                    "dtype": "uint32",
                    "format": "f32-to-bf16",
                    "nbytes": 8,
                    "byteOffset": 0
                }
            ],
            "md5sum": "0123"
        }
    ]
}`,
  );
});

Deno.test("TensorCacheWriter: with expectedShards, the last shards are hashed at commit, not held for a batch", async () => {
  // a hasher that only records: hash k (shard k handed over), urge k (asked to start it now)
  const run = async (expectedShards?: number) => {
    const log: string[] = [];
    const order: Uint8Array[] = [];
    const pending: { buf: Uint8Array; resolve: (h: string) => void }[] = [];
    const hasher: ShardHasher = {
      shared: false,
      hash(buf) {
        log.push(`hash ${order.length}`);
        order.push(buf);
        return new Promise((resolve) => pending.push({ buf, resolve }));
      },
      urge(buf) {
        const i = pending.findIndex((p) => p.buf === buf);
        if (i < 0) return;
        log.push(`urge ${order.lastIndexOf(buf)}`);
        pending.splice(i, 1)[0].resolve("0".repeat(32));
      },
    };
    const w = new TensorCacheWriter(memoryOutput(), 1000, { hasher, buffers: 8, expectedShards });
    for (let i = 0; i < 12; i++) await w.add(`t${i}`, [200], "float16", new Uint8Array(400)); // 2 per shard
    await w.finish(1);
    return log;
  };
  // 6 shards: once at most one is to come (shard 4 committed), each commit starts its hash
  assertEquals(
    (await run(6)).join(", "),
    "hash 0, hash 1, hash 2, hash 3, hash 4, urge 4, hash 5, urge 5, " +
      "urge 0, urge 1, urge 2, urge 3",
  );
  // without: the hasher decides (here: nothing starts before the writer finishes)
  assertEquals(
    (await run()).join(", "),
    "hash 0, hash 1, hash 2, hash 3, hash 4, hash 5, " +
      "urge 0, urge 1, urge 2, urge 3, urge 4, urge 5",
  );
});

Deno.test("TensorCacheWriter: regions reserved in place are written and hashed only once filled", async () => {
  const data = (n: number, seed: number) =>
    Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed * 13) & 0xff);
  // t0 and t2 in place (t2 out of band: 600 >= half the cap), t1 and t3 written, 1000-byte shards
  const tensors: [string, number][] = [["t0", 200], ["t1", 200], ["t2", 300], ["t3", 100], ["t4", 200]];
  const plain = memoryOutput();
  const ref = new TensorCacheWriter(plain, 1000);
  for (const [i, [name, n]] of tensors.entries()) await ref.add(name, [n], "float16", data(2 * n, i));
  const refCache = await ref.finish(1);

  const out = memoryOutput();
  const w = new TensorCacheWriter(out, 1000, { hasher: new BatchMd5(), buffers: 5 });
  assertEquals(w.reservable([200], "float16"), true);
  assertEquals([w.reservable([200], "float32"), w.reservable([501], "float16")], [false, false]);
  const later: (() => void)[] = [];
  for (const [i, [name, n]] of tensors.entries()) {
    const sink = await w.begin(name, [n], "float16");
    if (i === 0 || i === 2) {
      let filled!: () => void;
      const view = sink.reserve!(2 * n, new Promise<void>((resolve) => filled = resolve));
      later.push(() => {
        view.set(data(2 * n, i));
        filled();
      });
    } else await sink.write(data(2 * n, i));
    await sink.end();
  }
  const finished = w.finish(1);
  await new Promise((r) => setTimeout(r, 20));
  // shard 0 = [t2] and shard 1 = [t0, t1] wait for their regions; shard 2 = [t3, t4] has none
  assertEquals([...out.files.keys()], ["params_shard_2.bin"]);
  for (const fill of later) fill();
  assertEquals(await finished, refCache);
  assertEquals(out.files, plain.files);
});

Deno.test("TensorCacheWriter: the last shard (expectedShards) is hashed while it fills, along its filled prefix", async () => {
  const log: string[] = [];
  const bytesOf = (b: Uint8Array) => createHash("md5").update(b).digest("hex");
  let last: Uint8Array | undefined;
  const hasher: ShardHasher = {
    shared: true,
    hash: (buf, len) => {
      log.push(`hash ${len}`);
      return Promise.resolve(bytesOf(buf.subarray(0, len)));
    },
    urge: () => {},
    stream: () => {
      const md5 = createHash("md5");
      return {
        update: (piece, len) => {
          last ??= piece; // (the first piece starts the shard)
          log.push(`update ${piece.byteOffset - last.byteOffset}+${len}`);
          md5.update(piece.subarray(0, len));
          return Promise.resolve();
        },
        digest: () => Promise.resolve(md5.digest("hex")),
      };
    },
  };
  // cap 4096 (pieces of at least 256 bytes): shard 0 = [a], shard 1 (the last) = [b]
  const out = memoryOutput();
  const w = new TensorCacheWriter(out, 4096, { hasher, buffers: 3, expectedShards: 2 });
  await w.add("a", [1500], "float16", new Uint8Array(3000).fill(1));
  const b = await w.begin("b", [900], "float16"); // (in band: 1800 bytes < cap / 2)
  const fills = [0, 1, 2].map(() => Promise.withResolvers<void>());
  const regions = fills.map((f) => b.reserve!(600, f.promise));
  await b.end();
  const settle = () => new Promise((r) => setTimeout(r, 0));
  regions.forEach((r, i) => r.fill(10 + i));
  fills[0].resolve();
  await settle();
  assertEquals(log, ["hash 3000", "update 0+600"]);
  fills[2].resolve(); // (region 1 still empty: the prefix stays)
  await settle();
  assertEquals(log, ["hash 3000", "update 0+600"]);
  fills[1].resolve();
  await settle();
  assertEquals(log, ["hash 3000", "update 0+600", "update 600+1200"]);
  const cache = await w.finish(2400);
  assertEquals(log, ["hash 3000", "update 0+600", "update 600+1200", "update 1800+0"]);
  const data = out.files.get("params_shard_1.bin")!;
  assertEquals(
    data,
    new Uint8Array([
      ...new Uint8Array(600).fill(10),
      ...new Uint8Array(600).fill(11),
      ...new Uint8Array(600).fill(12),
    ]),
  );
  assertEquals(cache.records.map((s) => s.md5sum), [bytesOf(new Uint8Array(3000).fill(1)), bytesOf(data)]);
});

Deno.test("TensorCacheWriter: follows a layout (same bytes as by the rule) and refuses tensors that differ from it", async () => {
  // t1 out of band (shard 0), t0 + t2 in shard 1, t3 commits it and shares shard 2 with t4
  const sizes = [400, 700, 500, 300, 100];
  const layout = layoutShards(sizes, 1000);
  assertEquals(layout.placement, [[1, 0], [0, 0], [1, 400], [2, 0], [2, 300]]);
  const write = async (w: TensorCacheWriter, sz: number[]) => {
    for (const [i, n] of sz.entries()) {
      await w.add(`t${i}`, [n / 2], "float16", new Uint8Array(n).fill(i + 1));
    }
    return await w.finish(1);
  };
  const byRule = memoryOutput(), byLayout = memoryOutput();
  const ruleCache = await write(new TensorCacheWriter(byRule, 1000), sizes);
  assertEquals(await write(new TensorCacheWriter(byLayout, 1000, { layout }), sizes), ruleCache);
  assertEquals(byLayout.files, byRule.files);
  // tensors of other sizes than the layout's: refused, naming the shard or tensor
  await assertRejects(
    () => write(new TensorCacheWriter(memoryOutput(), 1000, { layout }), [400, 700, 600, 300, 100]),
    /the pending shard 1 holds 1000 bytes, the layout's 900/,
  );
  await assertRejects(
    () => write(new TensorCacheWriter(memoryOutput(), 1000, { layout }), [400, 600]),
    /tensor 1 has 600 bytes, the layout's shard 0 holds 700/,
  );
});

Deno.test("TensorCacheWriter: a scale streams into the pending shard buffer beside its out-of-band weight", async () => {
  const data = (n: number, seed: number) =>
    Uint8Array.from({ length: n }, (_, i) => (i * 5 + seed * 11) & 0xff);
  // w (1500 bytes: out of band, streamed a buffer at a time, shard 0), s (200) then t (400) in shard 1; 1000-byte shards
  const tensors: [string, number][] = [["w", 1500], ["s", 200], ["t", 400], ["u", 600], ["v", 450], [
    "y",
    1200,
  ], ["z", 700]];
  const plain = memoryOutput();
  const ref = new TensorCacheWriter(plain, 1000);
  for (const [i, [name, n]] of tensors.entries()) await ref.add(name, [n / 2], "float16", data(n, i));
  const refCache = await ref.finish(1);

  const layout = layoutShards(tensors.map(([, n]) => n), 1000);
  const shared = [0, 1, 2].map(() => new Uint8Array(new SharedArrayBuffer(1000)));
  const out = memoryOutput();
  const w = new TensorCacheWriter(out, 1000, { hasher: new BatchMd5(), shardBuffers: shared, layout });
  assertEquals(w.canBeginBeside([100], "float16"), false); // (nothing open)
  const ws = await w.begin("w", [750], "float16");
  assertEquals(w.canBeginBeside([100], "float32"), false);
  assertEquals(w.canBeginBeside([100], "float16"), true);
  const ss = await w.begin("s", [100], "float16");
  assertEquals(w.canBeginBeside([50], "float16"), false); // (one beside at most)
  await assertRejects(() => w.begin("t", [50], "float16"), /previous tensor not ended/);
  await ss.write(data(200, 1).subarray(0, 120));
  // the scale's first bytes are in the pending shard buffer while the weight has no data yet
  const pending = shared.find((b) => b[0] === data(200, 1)[0] && b[119] === data(200, 1)[119]);
  assertEquals(pending !== undefined, true);
  await ws.write(data(1500, 0).subarray(0, 1200));
  await ss.write(data(200, 1).subarray(120));
  await ws.write(data(1500, 0).subarray(1200));
  await ws.end();
  await assertRejects(() => w.begin("t", [50], "float16"), /previous tensor not ended/);
  await ss.end();
  await w.add("t", [200], "float16", data(400, 2));
  // u (600, out of band, shard 2) then v (450), which commits the pending shard [s, t] (shard 3,
  // after u's although committed first) and begins the next one, beside u
  const us = await w.begin("u", [300], "float16");
  assertEquals(w.canBeginBeside([225], "float16"), true);
  const vs = await w.begin("v", [225], "float16");
  await vs.write(data(450, 4));
  await us.write(data(600, 3));
  await us.end();
  await vs.end();
  // y (1200) out of band, then z (700) in a shard of its own too: written beside y as it comes
  const ys = await w.begin("y", [600], "float16");
  assertEquals(w.canBeginBeside([350], "float16"), true);
  const zs = await w.begin("z", [350], "float16");
  await zs.write(data(700, 6));
  await assertRejects(() => zs.end(), /z: ends before the tensor it began beside/);
  await ys.write(data(1200, 5));
  await ys.end();
  await zs.end();
  assertEquals(await w.finish(1), refCache);
  assertEquals(out.files, plain.files);
});

Deno.test("TensorCacheWriter: words larger than a shard are streamed in place, a piece of whole rows at a time, with their scales beside", async () => {
  const MiB = 1 << 20;
  const data = (n: number, seed: number) =>
    Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed * 13) & 0xff);
  // n: 700,000 bytes in the pending shard; w: 2000 rows of 1536 bytes (out of band, 3 MB);
  // s: its 384,000 bytes of scales, which commit the pending shard [n] (beside w) and begin the
  // next one; then t, in band
  const rows = 2000, rowBytes = 1536;
  const tensors: [string, number[], "uint32" | "float16"][] = [
    ["n", [350_000], "float16"],
    ["w", [rows, rowBytes / 4], "uint32"],
    ["s", [rows, 96], "float16"],
    ["t", [1000], "float16"],
  ];
  const bytes = (shape: number[], dtype: string) =>
    shape.reduce((a, b) => a * b, 1) * (dtype === "uint32" ? 4 : 2);
  const plain = memoryOutput();
  const ref = new TensorCacheWriter(plain, MiB);
  for (const [i, [name, shape, dtype]] of tensors.entries()) {
    await ref.add(name, shape, dtype, data(bytes(shape, dtype), i));
  }
  const refCache = await ref.finish(1);

  const memory = new PipelineMemory({ workers: 2, workBytes: 4096, shardBuffers: 4, shardBytes: MiB });
  const pool = new QuantWorkerPool(memory, { slotsPerWorker: 1, slotBytes: 1024 });
  try {
    const layout = layoutShards(tensors.map(([, shape, dtype]) => bytes(shape, dtype)), MiB);
    const out = memoryOutput();
    const w = new TensorCacheWriter(out, MiB, {
      hasher: new LaneMd5(pool.md5),
      shardBuffers: memory.shardBuffers,
      layout,
    });
    await w.add("n", [350_000], "float16", data(700_000, 0));
    // pieces of 680 rows (1,044,480 bytes: whole rows, a multiple of 4096)
    assertEquals(w.inPlacePieceBytes([rows, 384], "uint32"), 680 * rowBytes);
    assertEquals([w.inPlacePieceBytes([100, 384], "uint32"), w.inPlacePieceBytes([rows, 384], "float32")], [
      0,
      0,
    ]);
    const ws = await w.begin("w", [rows, 384], "uint32");
    assertEquals(ws.reserve, undefined);
    const ss = await w.begin("s", [rows, 96], "float16");
    // chunks of 100 rows, cut where pieces end (680 = 6 * 100 + 80); filled in reverse order
    const fills: (() => void)[] = [];
    const wordData = data(rows * rowBytes, 1), scaleData = data(rows * 192, 2);
    for (let p = 0; p < rows; p += 680) {
      for (let r = p; r < Math.min(p + 680, rows); r += 100) {
        const n = Math.min(100, p + 680 - r, rows - r);
        const done = Promise.withResolvers<void>();
        const words = await ws.reservePiece!(n * rowBytes, done.promise);
        const scales = ss.reserve!(n * 192, done.promise);
        fills.push(() => {
          words.set(wordData.subarray(r * rowBytes, (r + n) * rowBytes));
          scales.set(scaleData.subarray(r * 192, (r + n) * 192));
          done.resolve();
        });
        if (fills.length === 3) fills.splice(0).reverse().forEach((f) => f());
      }
    }
    await assertRejects(
      () => ws.reservePiece!(680 * rowBytes + 1, Promise.resolve()),
      /a region of 1044481 bytes, a piece holds 1044480/,
    );
    fills.reverse().forEach((f) => f());
    await ws.end();
    await ss.end();
    await w.add("t", [1000], "float16", data(2000, 3));
    assertEquals(await w.finish(1), refCache);
    assertEquals(out.files, plain.files);
  } finally {
    await pool.close();
  }
});
