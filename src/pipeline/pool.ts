/**
 * Worker pools of the parallel pipeline: kernel workers (each with its own instance of the
 * kernels module, all on one {@link PipelineMemory} that also holds the shard buffers) that
 * quantize into the shard buffers (or shared slot buffers) and hash finished shards (several
 * at once, multi-buffer md5, where they lie) between chunk jobs, each job going to the least
 * loaded worker; and plain md5 workers for backends without kernel workers.
 *
 * @module
 */
import { closeFiles, readRanges } from "../io/direct_read.ts";
import { kernelJobBytes, kernelJobLayout, runKernelJob } from "../kernels/job.ts";
import {
  md5Blocks,
  md5Digest,
  md5Drive,
  md5InPlace,
  type Md5LanePiece,
  md5Lanes,
  md5Streams,
  md5StreamState,
  md5Update,
} from "../kernels/md5.ts";
import { kernelsMinPages, kernelsModule } from "../kernels/wasm.ts";
import { shutDown, startWorker } from "../worker_start.ts";
import type {
  JobRequest,
  JobTimes,
  Md5Request,
  Md5WorkerRequest,
  QuantWorkerRequest,
  Unnumbered,
  WorkerAnswer,
} from "./_messages.ts";
import { md5Message, md5WorkerMain, quantWorkerMain } from "./_workers.ts";
import type { Md5Piece, Md5Service } from "./hashing.ts";
import type { PipelineMemory } from "./memory.ts";

export type { JobTimes } from "./_messages.ts";

interface Pending {
  resolve: (v: WorkerAnswer) => void;
  reject: (e: Error) => void;
  worker: number;
  load: number;
}

/**
 * Workers answering `{ id, ... }` messages (or `{ id, error }`), with the outstanding work of
 * each (in estimated bytes) for choosing the least loaded one.
 */
class WorkerGroup<Request extends { type: string }> {
  readonly #workers: Worker[];
  readonly #pending = new Map<number, Pending>();
  readonly #load: number[];
  #nextId = 0;
  #error: Error | undefined;
  /** Milliseconds of md5 reported by the workers. */
  md5Ms = 0;

  constructor(workers: Worker[], what: string) {
    this.#workers = workers;
    this.#load = workers.map(() => 0);
    for (const w of workers) {
      w.onmessage = (e: MessageEvent<WorkerAnswer>) => {
        const a = e.data;
        const p = this.#pending.get(a.id);
        if (!p) return;
        this.#pending.delete(a.id);
        this.#load[p.worker] -= p.load;
        if ("error" in a) {
          p.reject(new Error(`${what} worker: ${a.error}`));
          return;
        }
        if ("ms" in a) this.md5Ms += a.ms; // (md5 answers)
        p.resolve(a);
      };
      w.onerror = (e) => {
        e.preventDefault();
        this.#fail(new Error(`${what} worker failed: ${e.message}`));
      };
    }
  }

  /** The worker with the least outstanding work. */
  leastLoaded(): number {
    let best = 0;
    for (let i = 1; i < this.#load.length; i++) if (this.#load[i] < this.#load[best]) best = i;
    return best;
  }

  #fail(e: Error): void {
    this.#error ??= e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  /** Posts `msg` (numbered) to worker `worker`, counting `load` until it is answered. */
  post(worker: number, msg: Unnumbered<Request>, load: number): Promise<WorkerAnswer> {
    if (this.#error) return Promise.reject(this.#error);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, worker, load });
      this.#load[worker] += load;
      this.#workers[worker].postMessage({ ...msg, id });
    });
  }

  /** Posts a message that has no answer (`init`) to every worker. */
  broadcast(msg: (worker: number) => Request): void {
    this.#workers.forEach((w, i) => w.postMessage(msg(i)));
  }

  async close(): Promise<void> {
    this.#fail(new Error("pool closed"));
    await shutDown(this.#workers);
  }
}

// self-contained functions the md5 messages of a worker call (their sources are prepended)
const MD5_HELPERS = [
  md5Blocks,
  md5Drive,
  md5Streams,
  md5InPlace,
  md5Lanes,
  md5StreamState,
  md5Update,
  md5Digest,
  md5Message,
];
// and those of chunk jobs
const QUANT_HELPERS = [...MD5_HELPERS, kernelJobBytes, kernelJobLayout, runKernelJob, readRanges, closeFiles];

/**
 * md5 messages to a worker group (both pools' {@link Md5Service}): each on the least loaded
 * worker, a stream on the worker of its first piece. Views of `memory` (the workers' own) go as
 * offsets and are hashed where they lie.
 */
class GroupMd5 implements Md5Service {
  readonly #group: WorkerGroup<Md5Request | { type: "init" | "close" }>;
  readonly #memory: SharedArrayBuffer | undefined;
  readonly #streamWorker = new Map<number, number>();

  constructor(group: WorkerGroup<Md5Request | { type: "init" | "close" }>, memory?: SharedArrayBuffer) {
    this.#group = group;
    this.#memory = memory;
  }

  get ms(): number {
    return this.#group.md5Ms;
  }

  // (a byte of single-stream md5 costs about three of four-lane md5 or of quantization input)
  async hashMany(datas: readonly Uint8Array[]): Promise<string[]> {
    const load = datas.reduce((a, d) => a + d.length, 0);
    const lengths = datas.map((d) => d.length), offsets = datas.map((d) => d.byteOffset);
    const msg: Unnumbered<Md5Request> = this.#memory && datas.every((d) => d.buffer === this.#memory)
      ? { type: "md5", offsets, lengths }
      : { type: "md5", bufs: datas.map((d) => d.buffer as SharedArrayBuffer), offsets, lengths };
    return hexOf(await this.#group.post(this.#group.leastLoaded(), msg, load)) as string[];
  }

  get inPlace(): boolean {
    return this.#memory !== undefined;
  }

  async hashLanes(pieces: readonly Md5Piece[]): Promise<{ state: number[]; hex?: string }[]> {
    const memory = this.#memory;
    if (!memory || pieces.some((p) => p.data.buffer !== memory)) {
      throw new Error("md5 lanes: pieces must lie in the workers' memory");
    }
    const msg: Md5LanePiece[] = pieces.map((p) => ({
      state: p.state,
      before: p.before,
      ptr: p.data.byteOffset,
      length: p.data.length,
      final: p.final,
    }));
    const load = pieces.reduce((a, p) => a + p.data.length, 0);
    const answer = await this.#group.post(this.#group.leastLoaded(), { type: "lanes", pieces: msg }, load);
    if (!("lanes" in answer) || !answer.lanes) throw new Error("md5 lanes: no states in the answer");
    return answer.lanes;
  }

  async streamUpdate(stream: number, data: Uint8Array): Promise<void> {
    let w = this.#streamWorker.get(stream);
    if (w === undefined) this.#streamWorker.set(stream, w = this.#group.leastLoaded());
    const buf = data.buffer as SharedArrayBuffer;
    await this.#group.post(
      w,
      { type: "update", stream, buf, offset: data.byteOffset, length: data.length },
      3 * data.length,
    );
  }

  async streamDigest(stream: number): Promise<string> {
    const w = this.#streamWorker.get(stream) ?? 0;
    this.#streamWorker.delete(stream);
    return hexOf(await this.#group.post(w, { type: "digest", stream }, 0)) as string;
  }
}

/** The hex digest(s) of an md5 answer. */
function hexOf(a: WorkerAnswer): string | string[] | undefined {
  return "hex" in a ? a.hex : undefined;
}

/** Slot buffers of a {@link QuantWorkerPool}. */
export interface QuantPoolOptions {
  /** Slot buffers per worker (inputs filled on the caller's side, ordered outputs). */
  slotsPerWorker: number;
  /** Bytes per slot buffer. */
  slotBytes: number;
}

/**
 * Kernel workers on a {@link PipelineMemory} (one per worker region): chunk jobs (each on the
 * least loaded worker; slot buffers are shared by all) and md5 ({@link QuantWorkerPool.md5}) in
 * the same threads. Outputs placed in a shard buffer are written there by the kernel and
 * shards are hashed where they lie (no copies).
 */
export class QuantWorkerPool {
  /** Slot buffers (a job's input and output; any worker may use any slot). */
  readonly slots: SharedArrayBuffer[];
  /** The workers' shared memory. */
  readonly memory: PipelineMemory;
  /** md5 in the same workers (views of the memory hashed in place). */
  readonly md5: Md5Service;
  readonly #group: WorkerGroup<QuantWorkerRequest>;

  /** Starts a worker for each region of `memory`. */
  constructor(memory: PipelineMemory, opts: QuantPoolOptions) {
    this.memory = memory;
    const threads = memory.regions.length;
    this.slots = Array.from(
      { length: threads * opts.slotsPerWorker },
      () => new SharedArrayBuffer(opts.slotBytes),
    );
    const workers = memory.regions.map(() => startWorker(quantWorkerMain, QUANT_HELPERS));
    this.#group = new WorkerGroup(workers, "quantization");
    const module = kernelsModule(true);
    this.#group.broadcast((i) => ({
      type: "init",
      module,
      memory: memory.memory,
      region: memory.regions[i],
      slots: this.slots,
    }));
    this.md5 = new GroupMd5(
      this.#group as WorkerGroup<Md5Request | { type: "init" | "close" }>,
      memory.buffer,
    );
  }

  /** Runs a job on the least loaded worker. */
  async run(job: Unnumbered<JobRequest>): Promise<JobTimes> {
    const load = job.job.rows * job.job.k * job.job.srcSize;
    return (await this.#group.post(this.#group.leastLoaded(), job, load)) as JobTimes;
  }

  /** Stops the workers (after the jobs they have; see `shutDown`). */
  close(): Promise<void> {
    return this.#group.close();
  }
}

/** md5 of shared buffers in `n` workers ({@link Md5WorkerPool.md5}), several buffers per call at once. */
export class Md5WorkerPool {
  /** md5 in these workers. */
  readonly md5: Md5Service;
  readonly #group: WorkerGroup<Md5WorkerRequest>;

  /** Starts `n` md5 workers (each with its own instance of the kernels). */
  constructor(n: number) {
    const module = kernelsModule();
    // (the worker calls md5Message and its helpers, whose sources are prepended)
    const workers = Array.from({ length: n }, () => startWorker(md5WorkerMain, MD5_HELPERS));
    this.#group = new WorkerGroup<Md5WorkerRequest>(workers, "md5");
    this.#group.broadcast(() => ({ type: "init", module, pages: kernelsMinPages() }));
    this.md5 = new GroupMd5(this.#group);
  }

  /** Stops the workers (after the jobs they have). */
  close(): Promise<void> {
    return this.#group.close();
  }
}
