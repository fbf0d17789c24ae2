// The conversion pipeline's parts on their own: the chunk scheduler (results applied in
// submission order, slots of in-place jobs freed as they finish, the first failure stops it),
// the choice of executor, the one kernel-job runner (part by part, equal to the fused kernel
// over the whole chunk), direct reads as a store capability (`SourceStore.localPath`), the
// peak-memory estimate's constants, KN words written transposed in blocks, and the plan (MLC's loading order, every problem at once).
import { assertEquals, assertRejects } from "./_assert.ts";
import { ChunkScheduler } from "../src/pipeline/scheduler.ts";
import { type ChunkJob, type ChunkOut, createExecutor, type Executor } from "../src/pipeline/executors.ts";
import { estimatePeakMemory, scalesBeside } from "../src/pipeline/sizes.ts";
import { ReferenceBackend } from "../src/quant/reference.ts";
import { WasmBackend, WasmKernels } from "../src/kernels/wasm.ts";
import { type KernelJob, kernelJobBytes, runKernelJob } from "../src/kernels/job.ts";
import { kernelTieFlags } from "../src/quant/backend.ts";
import { closeFiles, readRanges } from "../src/io/direct_read.ts";
import { denoSource } from "../src/io/deno_fs.ts";
import { memoryOutput, memorySource } from "../src/io/memory.ts";
import { TensorCacheWriter } from "../src/cache_writer.ts";
import { GrowableBuffers } from "../src/pipeline/buffers.ts";
import { writeTransposed } from "../src/pipeline/params.ts";
import { scopedSource } from "../src/io/scope.ts";
import { type ConversionPlan, planConversion } from "../src/plan.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import type { Checkpoint, SourceTensor } from "../src/checkpoint.ts";
import type { Architecture, ArchParam } from "../src/arch/types.ts";
import type { ModelConfig } from "../src/arch/config.ts";
import { unsupportedDtypeReason } from "../src/safetensors.ts";

const out = (v: number): ChunkOut => ({ out: new Uint8Array([v]), scales: new Uint8Array(), nonFinite: v });

/** An executor whose jobs (`rows` = a value) finish after `delay(value)` ms, or fail for 99. */
function fakeExecutor(slots: number, delay: (v: number) => number, log: string[]): Executor {
  return {
    slots,
    threads: slots,
    directReads: false,
    run: (job, slot) =>
      new Promise<ChunkOut>((resolve, reject) => {
        log.push(`start ${job.rows} in ${slot}`);
        setTimeout(
          () => job.rows === 99 ? reject(new Error("job 99 failed")) : resolve(out(job.rows)),
          delay(job.rows),
        );
      }),
    close() {},
  };
}
const job = (rows: number) => ({ rows, param: `p${rows}` }) as ChunkJob;

Deno.test("scheduler: results and ordered steps applied in submission order, whatever order jobs finish in", async () => {
  const log: string[] = [];
  // two slots; later jobs finish first
  const s = new ChunkScheduler(fakeExecutor(2, (v) => 40 - 10 * v, log), {
    onDone: (j, o) => log.push(`done ${j.param} ${o.nonFinite}`),
  });
  const applied: number[] = [];
  s.ordered(() => void applied.push(0));
  for (const v of [1, 2, 3]) await s.submit(job(v), (o) => void applied.push(o.out[0]));
  s.ordered(() => void applied.push(9));
  await s.finish();
  assertEquals(applied, [0, 1, 2, 3, 9]);
  // job 3 waited for a slot: slot 0 is free once job 1's result is applied
  assertEquals(log.filter((l) => l.startsWith("start")), ["start 1 in 0", "start 2 in 1", "start 3 in 0"]);
  assertEquals(log.filter((l) => l.startsWith("done")).sort(), ["done p1 1", "done p2 2", "done p3 3"]);
});

Deno.test("scheduler: a job without an apply step frees its slot when done; onFull once; a failure stops it", async () => {
  const log: string[] = [];
  let full = 0;
  // slot 0 holds a slow job; the fast ones cycle through slot 1
  const s = new ChunkScheduler(fakeExecutor(2, (v) => v === 1 ? 60 : 5, log), { onFull: () => full++ });
  const dones = [];
  for (const v of [1, 2, 3, 4]) dones.push((await s.submit(job(v))).done);
  await s.finish();
  assertEquals(log, ["start 1 in 0", "start 2 in 1", "start 3 in 1", "start 4 in 1"]);
  assertEquals(full, 1);
  assertEquals((await Promise.all(dones)).map((o) => (o as ChunkOut).out[0]), [1, 2, 3, 4]);

  const f = new ChunkScheduler(fakeExecutor(1, () => 1, []));
  await f.submit(job(99));
  await assertRejects(() => f.submit(job(2)), /job 99 failed/);
  await f.settle();
});

Deno.test("executors: kernel workers for WASM kernels and threads > 1, the kernels here, else the backend here", async () => {
  const ctx = { threads: 2, chunkBytes: 1 << 20, bounds: { input: 4096, output: 8192, row: 256 } };
  const timing = { readMs: 0, computeMs: 0 };
  const ref = createExecutor({ ...ctx, backend: new ReferenceBackend(), timing });
  assertEquals([ref.slots, ref.threads, ref.directReads, ref.memory, ref.md5], [
    1,
    1,
    false,
    undefined,
    undefined,
  ]);
  const wasm = new WasmBackend();
  const local = createExecutor({ ...ctx, threads: 1, backend: wasm, timing });
  assertEquals([local.slots, local.threads, local.directReads, local.memory], [1, 1, true, undefined]);
  const workers = createExecutor({ ...ctx, backend: wasm, timing });
  try {
    // 3 slots per worker; 5 shard buffers (one filling, one committed and being filled, three in
    // md5 lanes) in the memory, hashed there (md5 lanes)
    assertEquals([workers.slots, workers.threads, workers.directReads, workers.md5!.inPlace], [
      6,
      2,
      true,
      true,
    ]);
    assertEquals(workers.memory!.shardBuffers.length, 5);
    assertEquals(workers.memory!.shardBuffers.every((b) => b.buffer === workers.memory!.buffer), true);
    assertEquals(workers.md5 !== undefined, true);
  } finally {
    await workers.close();
    await wasm.close();
  }
});

/** Deterministic bf16 bits: normal values of both signs and a few ties. */
function bf16Data(n: number, seed: number): Uint16Array {
  const a = new Uint16Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    a[i] = ((x >>> 16) & 0x8000) | (0x3c00 + ((x >>> 8) & 0x7ff));
  }
  return a;
}

Deno.test("kernel job runner: part by part equals the fused kernel over the whole chunk (NK and output_transpose)", () => {
  const k = WasmKernels.createSync();
  const rows = 7, K = 96;
  const src = bf16Data(rows * K, 5);
  const srcBytes = new Uint8Array(src.buffer);
  for (const outputTranspose of [false, true]) {
    for (const modelDtype of ["float16", "bfloat16"] as const) {
      const words = new Uint32Array(rows * 3 * 4), scales = new Uint16Array(rows * 3);
      k.castGroupQuantize(srcBytes, "bfloat16", {
        rows,
        k: K,
        words,
        scales,
        bits: 4,
        groupSize: 32,
        modelDtype,
        tie: "even",
        outputTranspose,
      });
      const job: KernelJob = {
        kind: "quant",
        srcDtype: 1,
        srcSize: 2,
        modelDtype: modelDtype === "float16" ? 0 : 1,
        rows,
        k: K,
        bits: 4,
        groupSize: 32,
        tie: kernelTieFlags({ tie: "even", outputTranspose }),
        outBytes: words.byteLength,
        scaleBytes: scales.byteLength,
        partRows: 3,
      };
      const base = k.reserve(kernelJobBytes(job));
      const fills: number[][] = [];
      const r = runKernelJob(k.exports, base, job, (row0, n, at) => {
        fills.push([row0, n]);
        new Uint8Array(k.exports.memory.buffer, at, n * K * 2).set(
          srcBytes.subarray(row0 * K * 2, (row0 + n) * K * 2),
        );
      });
      const mem = k.exports.memory.buffer;
      assertEquals(fills, [[0, 3], [3, 3], [6, 1]]);
      assertEquals(r.nonFinite, 0);
      assertEquals(new Uint8Array(mem, r.words, job.outBytes), new Uint8Array(words.buffer));
      assertEquals(new Uint8Array(mem, r.scales, job.scaleBytes), new Uint8Array(scales.buffer));
    }
  }
});

Deno.test("direct reads: a capability of the store (denoSource; scopedSource only for files it checked)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/w.bin`;
    await Deno.writeFile(path, new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    assertEquals(denoSource().localPath?.(path), path);
    assertEquals(memorySource({ [path]: new Uint8Array(1) }).localPath, undefined);
    const scoped = scopedSource(denoSource(), [dir]);
    assertEquals(scoped.localPath?.(path), undefined); // (not checked yet)
    (await scoped.open(path)).close();
    assertEquals(scoped.localPath?.(path), path);
    assertEquals(scoped.localPath?.(`${dir}/../other.bin`), undefined);
    // ranges concatenated, read from `from` on
    const files = new Map();
    const into = new Uint8Array(4);
    readRanges(files, [[path, 8, 2], [path, 1, 3]], 1, into);
    closeFiles(files);
    assertEquals([...into], [9, 1, 2, 3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("peak estimate: counted with the pipeline's shard buffers (SHARD_CAP) and chunk size", () => {
  const MiB = 1 << 20;
  // runtime 64 MiB, 5 shard buffers of 32 MiB, 3 chunks of 8 MiB, I/O worker 10 MiB
  assertEquals(estimatePeakMemory({ params: [] }), (64 + 5 * 32 + 3 * 8 + 10) * MiB);
  // 5 shard buffers; per kernel worker 16 MiB and a chunk
  assertEquals(estimatePeakMemory({ params: [] }, 8 * MiB, 2), (64 + 5 * 32 + 2 * (16 + 8) + 10) * MiB);
});

Deno.test("peak estimate: scales streamed beside out-of-band words, and words streamed in place, are not held", () => {
  // Llama-3.2-3B's embedding, q4f16_1: 197 MB of words (out of band), 24.6 MB of scales
  const param = (name: string, shape: number[], outputs: [string, number[], string][], quant?: "NK") =>
    ({
      param: { name },
      shape,
      quant,
      sources: [],
      outputs: outputs.map(([n, oshape, dtype]) => ({
        name: n,
        shape: oshape,
        nbytes: oshape[0] * oshape[1] * (dtype === "float16" ? 2 : 4),
        dtype,
      })),
    }) as unknown as ConversionPlan["params"][number];
  const embed = param("embed", [128256, 3072], [["embed.q_weight", [128256, 384], "uint32"], [
    "embed.q_scale",
    [128256, 96],
    "float16",
  ]], "NK");
  const norm = param("norm", [2560, 4096], [["norm.weight", [2560, 4096], "float16"]]); // (20 MiB)
  // 64 MiB of words (out of band) and 14 MiB of scales, or float32 scales
  const mlpOf = (dtype: string) =>
    param("mlp", [16384, 4096], [["mlp.q_weight", [16384, 1024], "uint32"], [
      "mlp.q_scale",
      [16384, 448],
      dtype,
    ]], "NK");
  const mlp = mlpOf("float16"), mlp32 = mlpOf("float32");
  // first: the scale appends to the empty pending shard; after 20 MiB in the pending shard the
  // embedding's scale is out of band too (a shard of its own), also streamed
  assertEquals([...scalesBeside({ params: [embed, norm] })], ["embed.q_weight"]);
  assertEquals([...scalesBeside({ params: [norm, embed] })], ["embed.q_weight"]);
  // after 20 MiB, 14 MiB of scales commit the pending shard: also beside (committed first)
  const mlpFirst = { params: [mlp, norm] }, mlpAfter = { params: [norm, mlp] };
  assertEquals([[...scalesBeside(mlpFirst)], [...scalesBeside(mlpAfter)]], [["mlp.q_weight"], [
    "mlp.q_weight",
  ]]);
  assertEquals(estimatePeakMemory(mlpAfter, 8 << 20, 2), estimatePeakMemory(mlpFirst, 8 << 20, 2));
  // nothing of the embedding is counted wherever it lands (words in place, scales beside)
  assertEquals(
    estimatePeakMemory({ params: [norm, embed] }, 8 << 20, 2),
    estimatePeakMemory({ params: [] }, 8 << 20, 2),
  );
  // float32 scales (stored as bf16) are not begun beside: held whole (28 MiB), and each chunk's
  // (1024 rows: 1.75 MiB) comes back through the slots (3 a worker)
  assertEquals([...scalesBeside({ params: [mlp32] })], []);
  assertEquals(
    estimatePeakMemory({ params: [mlp32] }, 8 << 20, 2) - estimatePeakMemory({ params: [] }, 8 << 20, 2),
    (28 << 20) + 2 * 3 * (1.75 * (1 << 20)),
  );
});

/** A checkpoint of headers only (the plan reads no data). */
function fakeCheckpoint(files: Record<string, [string, string, number[]][]>): Checkpoint {
  const tensors = new Map<string, SourceTensor>();
  const fileTensors = new Map<string, SourceTensor[]>();
  const order: string[] = [];
  for (const [file, ts] of Object.entries(files)) {
    let offset = 0;
    const list: SourceTensor[] = [];
    for (const [name, stDtype, shape] of ts) {
      const nbytes = shape.reduce((a, b) => a * b, 1) * 2;
      const t = {
        name,
        file,
        stDtype,
        dtype: stDtype === "F16" ? "float16" as const : undefined,
        shape,
        offset,
        nbytes,
      };
      offset += nbytes;
      tensors.set(name, t);
      list.push(t);
      order.push(name);
    }
    fileTensors.set(file, list);
  }
  return { location: "dir", order, tensors, fileTensors, read: () => Promise.resolve(), close() {} };
}

function fakeArch(params: ArchParam[]): Architecture {
  return {
    name: "fake",
    hfModelTypes: ["fake"],
    configClass: {} as Architecture["configClass"],
    quantKinds: ["no-quant", "group-quant"],
    params: () => params,
  };
}

Deno.test("plan: MLC's loading order (files by first appearance, first-seen parameter), BitsPerParam's count", () => {
  const checkpoint = fakeCheckpoint({
    "a.safetensors": [["b.weight", "F16", [4, 8]], ["a.weight", "F16", [4, 8]]],
    "b.safetensors": [["c.weight", "F16", [4, 8]], ["extra", "F16", [2]]],
  });
  const arch = fakeArch([
    { name: "x", shape: [8, 8], sources: ["a.weight", "c.weight"] },
    { name: "y", shape: [4, 8], sources: ["b.weight"] },
  ]);
  const plan = planConversion({
    arch,
    config: {} as ModelConfig,
    scheme: getQuantization("q0f16"),
    checkpoint,
  });
  assertEquals(plan.problems, []);
  assertEquals(plan.warnings, ["Unused extern parameters: extra"]);
  assertEquals(plan.params.map((p) => p.param.name), ["y", "x"]);
  assertEquals(plan.outputs.map((o) => [o.name, o.shape, o.shard, o.byteOffset]), [
    ["y", [4, 8], 0, 0],
    ["x", [8, 8], 0, 64],
  ]);
  assertEquals(plan.shardSizes, [192]);
  // y loads a.safetensors (64 elements), x also needs b.safetensors (34 more)
  assertEquals(plan.totalParamNum, 98);
  assertEquals(plan.sourceBytes, 3 * 64);
});

Deno.test("plan: every problem at once (missing sources, unsupported dtype, wrong shape)", () => {
  const checkpoint = fakeCheckpoint({
    "m.safetensors": [["ok", "F16", [4, 8]], ["int", "I8", [4, 8]], ["wide", "F16", [4, 9]]],
  });
  const arch = fakeArch([
    { name: "p", shape: [4, 8], sources: ["ok"] },
    { name: "q", shape: [4, 8], sources: ["int"] },
    { name: "r", shape: [4, 8], sources: ["wide"] },
    { name: "s", shape: [4, 8], sources: ["gone", "also.gone"] },
  ]);
  const plan = planConversion({
    arch,
    config: {} as ModelConfig,
    scheme: getQuantization("q0f16"),
    checkpoint,
  });
  assertEquals(plan.problems, [
    "The following extern parameters do not exist in the weight files (dir): gone, also.gone",
    `Tensor int in m.safetensors has dtype I8, ${unsupportedDtypeReason("I8")}`,
    "Parameter r has shape [4, 9], but expected [4, 8] (built from wide [4, 9])",
  ]);
  assertEquals(plan.params.map((p) => p.param.name), ["p"]);
});

Deno.test("KN layouts: words written transposed a block of output rows at a time equal the whole transpose", async () => {
  // 5 rows x 7 words, blocks of 40 bytes: 2 output rows a block (the last one alone)
  const rows = 5, cols = 7;
  const words = Uint32Array.from({ length: rows * cols }, (_, i) => 0x01000000 * (i % 5) + i);
  const whole = new Uint32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) whole[c * rows + r] = words[r * cols + c];
  const out = memoryOutput(), writer = new TensorCacheWriter(out, 1 << 20);
  const writes: number[] = [];
  const ctx = {
    writer: {
      begin: async (...a: Parameters<TensorCacheWriter["begin"]>) => {
        const sink = await writer.begin(...a);
        return { ...sink, write: (b: Uint8Array) => (writes.push(b.length), sink.write(b)) };
      },
    } as unknown as TensorCacheWriter,
    bufs: new GrowableBuffers(),
  };
  await writeTransposed(
    ctx,
    { name: "q_weight", shape: [cols, rows], dtype: "uint32" },
    new Uint8Array(words.buffer),
    rows,
    cols,
    4,
    40,
  );
  await writer.finish(1);
  assertEquals(writes, [40, 40, 40, 20]);
  assertEquals([...new Uint32Array(out.files.get("params_shard_0.bin")!.slice().buffer)], [...whole]);
});
