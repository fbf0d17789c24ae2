/**
 * The chunk scheduler: keeps an executor's slots busy with chunk jobs and runs what depends on
 * their results in order.
 *
 * A job submitted with an `apply` step (its outputs go to the writer on this thread) holds its
 * slot until its result is applied, in submission order, between other ordered steps (tensor
 * starts and ends, progress). A job without one (its outputs placed in the shard buffers by the
 * kernel) frees its slot as soon as it is done, in any order, so that a job held up behind md5
 * in one worker does not stop the other workers' slots from being refilled.
 *
 * @module
 */
import type { ChunkJob, ChunkOut, Executor } from "./executors.ts";

/** What a scheduler tells its owner. */
export interface SchedulerHooks {
  /** Once, the first time every slot has a job (a good moment to start what later work needs). */
  onFull?(): void;
  /** Awaited before each job runs, when it returns a promise (e.g. to yield to the event loop). */
  beforeRun?(): Promise<void> | undefined;
  /** Each job's result, as it completes (in any order). */
  onDone?(job: ChunkJob, out: ChunkOut): void;
}

interface Step {
  ready: Promise<ChunkOut | undefined>;
  apply: (o: ChunkOut | undefined) => Promise<void>;
}

/**
 * Runs chunk jobs in an executor's slots, results applied in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChunkScheduler } from "./scheduler.ts";
 * import type { ChunkJob, ChunkOut, Executor } from "./executors.ts";
 * // an executor with two slots whose jobs finish in reverse order
 * const exec: Executor = {
 *   slots: 2, threads: 2, directReads: false,
 *   run: (job) => new Promise<ChunkOut>((resolve) =>
 *     setTimeout(() => resolve({ out: new Uint8Array([job.rows]), scales: new Uint8Array(), nonFinite: 0 }), 10 - job.rows)),
 *   close() {},
 * };
 * const job = (rows: number) => ({ rows } as ChunkJob);
 * const s = new ChunkScheduler(exec);
 * const seen: number[] = [];
 * s.ordered(() => void seen.push(0));
 * for (const n of [1, 2, 3]) await s.submit(job(n), (o) => void seen.push(o.out[0]));
 * s.ordered(() => void seen.push(9));
 * await s.finish();
 * assert.deepEqual(seen, [0, 1, 2, 3, 9]);
 * ```
 */
export class ChunkScheduler {
  readonly #exec: Executor;
  readonly #hooks: SchedulerHooks;
  readonly #fifo: Step[] = [];
  readonly #free: number[];
  readonly #unordered = new Set<Promise<unknown>>();
  #slotFreed: (() => void) | undefined;
  #unorderedError: unknown;
  #full = false;

  /** Schedules on `exec`'s slots. */
  constructor(exec: Executor, hooks: SchedulerHooks = {}) {
    this.#exec = exec;
    this.#hooks = hooks;
    this.#free = Array.from({ length: exec.slots }, (_, i) => i);
  }

  /** Runs `step` once the steps and results submitted before it are applied. */
  ordered(step: () => Promise<void> | void): void {
    this.#fifo.push({ ready: Promise.resolve(undefined), apply: async () => await step() });
  }

  /**
   * Runs `job` in a free slot (waiting for one, applying results meanwhile). Its result goes to
   * `apply` in submission order; without `apply`, its slot is free again as soon as it is done.
   * Resolves once the job runs, with its completion (`done`, which the caller observes when it
   * has no `apply`); awaiting it never waits for the job itself.
   */
  async submit(
    job: ChunkJob,
    apply?: (o: ChunkOut) => Promise<void> | void,
  ): Promise<{ done: Promise<unknown> }> {
    while (!this.#free.length) {
      // every slot has a job: a good moment for what blocks this thread, which now only waits
      if (!this.#full) {
        this.#full = true;
        this.#hooks.onFull?.();
      }
      if (this.#fifo.length) await this.#applyNext();
      else await new Promise<void>((resolve) => this.#slotFreed = resolve);
    }
    if (this.#unorderedError) throw this.#unorderedError; // (stop at the first failed job)
    await this.#hooks.beforeRun?.();
    const slot = this.#free.shift()!;
    const done = this.#exec.run(job, slot);
    done.then((o) => this.#hooks.onDone?.(job, o), () => {});
    done.catch(() => {}); // (observed when applied, or by the caller)
    if (apply) {
      this.#fifo.push({
        ready: done,
        apply: async (o) => {
          await apply(o!);
          this.#free.push(slot);
        },
      });
      return { done };
    }
    this.#unordered.add(done);
    const release = () => {
      this.#unordered.delete(done);
      this.#free.push(slot);
      this.#slotFreed?.();
      this.#slotFreed = undefined;
    };
    done.then(release, (e) => {
      this.#unorderedError ??= e;
      release();
    });
    return { done };
  }

  /** Applies every step submitted so far. */
  async drain(): Promise<void> {
    while (this.#fifo.length) await this.#applyNext();
  }

  /** Applies every step and waits for every job (throws the first failure). */
  async finish(): Promise<void> {
    await this.drain();
    await Promise.all(this.#unordered);
  }

  /** Waits for what is still in flight, failed or not (before the executor stops). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#fifo.map((e) => e.ready), ...this.#unordered]);
  }

  async #applyNext(): Promise<void> {
    const e = this.#fifo.shift()!;
    await e.apply(await e.ready);
  }
}
