/**
 * The streaming conversion pipeline: source reader -> architecture mapping -> quantizer
 * (executor) -> cache writer. Big tensors go in row chunks through buffers allocated once, so
 * peak memory does not grow with model size.
 *
 * The parts live in `src/pipeline/`: the executor that runs chunk jobs (kernel workers on one
 * shared memory with the shard buffers, the WASM kernels on this thread, or any backend; see
 * `EXECUTORS`), the chunk scheduler that keeps its slots busy and applies results in order, the
 * three per-parameter paths (in place, cast, quantized; `convertParam`), and md5 of committed
 * shards (`LaneMd5`, `BatchMd5`). This module only puts them together.
 *
 * @module
 */
import type { TensorCache } from "./cache_json.ts";
import { type ShardHasher, TensorCacheWriter } from "./cache_writer.ts";
import type { Checkpoint } from "./checkpoint.ts";
import type { OutputStore } from "./io/types.ts";
import type { ConversionPlan } from "./plan.ts";
import type { QuantBackend, TieRounding } from "./quant/backend.ts";
import { NonFiniteError, type NonFiniteTensor } from "./quant/nonfinite.ts";
import { SHARD_CAP } from "./shard_layout.ts";
import { GrowableBuffers } from "./pipeline/buffers.ts";
import { createExecutor, type Executor, type Timing } from "./pipeline/executors.ts";
import { BatchMd5, LaneMd5 } from "./pipeline/hashing.ts";
import { convertParam, type ParamContext } from "./pipeline/params.ts";
import { Md5WorkerPool } from "./pipeline/pool.ts";
import { ChunkScheduler } from "./pipeline/scheduler.ts";
import {
  chunkBounds,
  DEFAULT_CHUNK_BYTES,
  LOCAL_SHARD_BUFFERS,
  WORKER_SHARD_BUFFERS,
} from "./pipeline/sizes.ts";

/** Progress after each parameter. */
export interface ConvertProgress {
  /** Parameters done. */
  done: number;
  /** Parameters in total. */
  total: number;
  /** Name of the parameter just finished. */
  name: string;
  /** Source bytes read so far. */
  bytesRead: number;
  /** Source bytes in total. */
  bytesTotal: number;
  /** Seconds since the start. */
  seconds: number;
}

/** Options of {@link convertWeight}. */
export interface ConvertOptions {
  /** The plan (must have no problems). */
  plan: ConversionPlan;
  /** The checkpoint the plan was made from. */
  checkpoint: Checkpoint;
  /** Compute backend. */
  backend: QuantBackend;
  /** Where shards and cache JSON go. */
  output: OutputStore;
  /** Tie rule for `round` (default `even`). */
  tie?: TieRounding;
  /** Source bytes per chunk (default 8 MiB). */
  chunkBytes?: number;
  /**
   * Threads (default 1): with more than one, md5 of shards runs in workers, and with the
   * `cpu` backend `threads` workers cast and quantize.
   */
  threads?: number;
  /**
   * Whether the executor may read source rows itself, straight into kernel memory, where the
   * checkpoint's store has local paths for its files (`SourceStore.localPath`; default true;
   * false: this thread reads every byte through the store).
   */
  directReads?: boolean;
  /**
   * Convert tensors with NaN or infinite source values (default false: the conversion ends
   * with a {@link NonFiniteError} naming them, before the cache JSON is written; MLC LLM converts
   * them silently).
   */
  allowNonFinite?: boolean;
  /** Called after each parameter. */
  onProgress?: (p: ConvertProgress) => void;
}

/** Where the time went, in thread-seconds (work in workers overlaps). */
export interface ConvertStats {
  /** Threads used for quantization (1: this thread). */
  threads: number;
  /** Reading source data (into kernel memory or chunk buffers). */
  readSeconds: number;
  /** Cast and quantization (kernels, copies of their outputs). */
  quantizeSeconds: number;
  /** md5 of shards. */
  md5Seconds: number;
  /** Shard file writes. */
  writeSeconds: number;
  /** Waiting for a free shard buffer (wall seconds this thread stood still for md5 and writes). */
  waitSeconds: number;
  /** Parameters whose outputs the kernel workers wrote in place, into the shard buffers. */
  paramsInPlace: number;
}

/** Result of a conversion. */
export interface ConvertResult {
  /** The cache JSON content. */
  cache: TensorCache;
  /** Source bytes read. */
  bytesRead: number;
  /** Wall-clock seconds. */
  seconds: number;
  /** Time shares. */
  stats: ConvertStats;
  /** Tensors with NaN or infinite source values (converted: `allowNonFinite` was set). */
  nonFinite: NonFiniteTensor[];
}

/**
 * Reads of this thread, one at a time (chunk fills may overlap; handles seek, then read), and
 * the checkpoint's local paths where direct reads are allowed.
 */
function serialReads(ckpt: Checkpoint, direct: boolean): Pick<Checkpoint, "read" | "localPath"> {
  let chain: Promise<unknown> = Promise.resolve();
  return {
    read: (name, start, into) => {
      const r = chain.then(() => ckpt.read(name, start, into));
      chain = r.catch(() => {});
      return r;
    },
    localPath: direct && ckpt.localPath ? (file) => ckpt.localPath!(file) : undefined,
  };
}

/** Yields to the event loop (a message round trip is a cheap macrotask; setTimeout(0) takes milliseconds). */
class EventLoopYield {
  readonly #channel = new MessageChannel();
  /** Resolves on the next turn of the event loop. */
  yield(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#channel.port1.onmessage = () => resolve();
      this.#channel.port2.postMessage(0);
    });
  }
  /** Closes the channel. */
  close(): void {
    this.#channel.port1.close();
    this.#channel.port2.close();
  }
}

/** The writer for `exec`: shard buffers in its shared memory (if any), md5 in its threads (or `md5`). */
function writerFor(opts: ConvertOptions, exec: Executor, hasher: ShardHasher): TensorCacheWriter {
  return new TensorCacheWriter(opts.output, SHARD_CAP, {
    hasher,
    // (workers: shards in md5 lanes, one committed and one filling; else a batch and one filling)
    buffers: exec.memory ? WORKER_SHARD_BUFFERS : LOCAL_SHARD_BUFFERS,
    shardBuffers: exec.memory?.shardBuffers,
    layout: opts.plan.layout,
  });
}

/** Progress reports, one per parameter, in order. */
function progressOf(
  opts: ConvertOptions,
  t0: number,
): { bytesRead: number; paramDone(name: string, bytes: number): void } {
  let done = 0;
  const p = {
    bytesRead: 0,
    paramDone(name: string, bytes: number): void {
      p.bytesRead += bytes;
      done++;
      opts.onProgress?.({
        done,
        total: opts.plan.params.length,
        name,
        bytesRead: p.bytesRead,
        bytesTotal: opts.plan.sourceBytes,
        seconds: (performance.now() - t0) / 1000,
      });
    },
  };
  return p;
}

/**
 * Runs the conversion described by `plan`, writing the tensor cache to `output`.
 *
 * @example
 * ```ts ignore
 * import { convertWeight } from "@mlc-deno/convert";
 * const result = await convertWeight({ plan, checkpoint, backend, output, threads: 2 });
 * console.log(result.cache.metadata, result.stats);
 * ```
 */
export async function convertWeight(opts: ConvertOptions): Promise<ConvertResult> {
  const { plan } = opts;
  if (plan.problems.length) throw new Error(`cannot convert:\n${plan.problems.join("\n")}`);
  const threads = Math.max(1, Math.floor(opts.threads ?? 1));
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const timing: Timing = { readMs: 0, computeMs: 0 };
  const bounds = chunkBounds(plan, chunkBytes);
  const exec = createExecutor({ backend: opts.backend, threads, chunkBytes, bounds, timing });
  // committed shards are hashed MD5_LANES at a time (multi-buffer md5): in lanes by the
  // executor's threads between chunk jobs, where they lie; or in batches in an md5 worker, or here
  const md5Pool = !exec.md5 && threads > 1 ? new Md5WorkerPool(1) : undefined;
  const hasher: ShardHasher & { ms: number } = exec.md5?.inPlace
    ? new LaneMd5(exec.md5)
    : new BatchMd5(exec.md5 ?? md5Pool?.md5);
  const writer = writerFor(opts, exec, hasher);
  const loop = new EventLoopYield();
  const nonFinite = new Map<string, number>(); // (NaN/Inf source values per parameter)
  const sched = new ChunkScheduler(exec, {
    // every slot has a job: start the output's writer thread (starting a worker blocks this
    // thread, which now only waits)
    onFull: () => opts.output.prepare?.(),
    // a busy thread never returns to the event loop by itself: let background shard writes
    // progress between chunks
    beforeRun: () => exec.slots === 1 && writer.writing ? loop.yield() : undefined,
    onDone: (job, o) =>
      o.nonFinite && nonFinite.set(job.param, (nonFinite.get(job.param) ?? 0) + o.nonFinite),
  });
  const ctx: ParamContext = {
    checkpoint: serialReads(opts.checkpoint, opts.directReads !== false),
    scheme: plan.scheme,
    tie: opts.tie ?? "even",
    chunkBytes,
    exec,
    sched,
    writer,
    bufs: new GrowableBuffers(),
  };
  const t0 = performance.now();
  const progress = progressOf(opts, t0);
  let paramsInPlace = 0;
  try {
    for (const pp of plan.params) {
      if (await convertParam(ctx, pp) === "in place") paramsInPlace++;
      const bytes = pp.sources.reduce((a, s) => a + s.nbytes, 0);
      sched.ordered(() => progress.paramDone(pp.param.name, bytes));
    }
    await sched.finish();
    const nonFiniteTensors = plan.params.filter((pp) => nonFinite.has(pp.param.name))
      .map((pp) => ({ name: pp.param.name, count: nonFinite.get(pp.param.name)! }));
    if (nonFiniteTensors.length && !opts.allowNonFinite) throw new NonFiniteError(nonFiniteTensors);
    const cache = await writer.finish(plan.totalParamNum);
    const ws = writer.stats;
    return {
      cache,
      bytesRead: progress.bytesRead,
      nonFinite: nonFiniteTensors,
      seconds: (performance.now() - t0) / 1000,
      stats: {
        threads: exec.threads,
        readSeconds: timing.readMs / 1000,
        quantizeSeconds: timing.computeMs / 1000,
        md5Seconds: (ws.md5Ms + hasher.ms) / 1000,
        writeSeconds: ws.writeMs / 1000,
        waitSeconds: ws.waitMs / 1000,
        paramsInPlace,
      },
    };
  } finally {
    // settle what is still in flight (after an error) before stopping the workers
    await sched.settle();
    await exec.close();
    await md5Pool?.close();
    loop.close();
  }
}
