/**
 * Worker pools of the parallel pipeline: quantization workers (each with its own instance of
 * the kernels module, posted once) that write into shared slot buffers allocated once, and md5
 * workers that hash finished shards while quantization goes on.
 *
 * @module
 */
import { kernelsModule } from "../kernels/wasm.ts";
import { md5WorkerMain, quantWorkerMain, startWorker } from "./_workers.ts";

/** A chunk job as a worker receives it (dtype codes of the kernels' ABI). */
export interface WorkerJob {
  /** Job id (answers carry it back). */
  id: number;
  /** Slot whose buffer receives the output (and holds the input when `reads` is absent). */
  slot: number;
  /** Fused cast + quantize, or cast only. */
  kind: "quant" | "cast";
  /** Source dtype code. */
  srcDtype: number;
  /** Bytes per source element. */
  srcSize: number;
  /** Model dtype code. */
  modelDtype: number;
  /** Rows and elements per row. */
  rows: number;
  /** Elements per row. */
  k: number;
  /** Quantization bits. */
  bits: number;
  /** Group size. */
  groupSize: number;
  /** 0 ties-to-even, 1 ties-away. */
  tie: number;
  /** Output bytes (words then scales at `scalesAt`, or the cast elements). */
  outBytes: number;
  /** Offset of the scales in the output. */
  scalesAt: number;
  /** Offset of the output in the slot buffer. */
  outAt: number;
  /** Direct file reads `[path, offset, length]`, concatenated; absent: input is in the slot. */
  reads?: [string, number, number][];
}

/** Messages to a quantization worker. */
export type WorkerMessage =
  | { type: "init"; module: WebAssembly.Module; slots: SharedArrayBuffer[] }
  | { type: "job"; job: WorkerJob }
  | { type: "close" };

/** Per-job timings a worker reports. */
export interface JobTimes {
  /** Milliseconds reading (or copying in) the source. */
  readMs: number;
  /** Milliseconds in the kernel and copying out. */
  computeMs: number;
}

interface Pending<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
}

/** `threads` quantization workers sharing `slotsPerWorker` slot buffers each. */
export class QuantWorkerPool {
  /** Slot buffers (slot i belongs to worker i % threads). */
  readonly slots: SharedArrayBuffer[];
  readonly #workers: Worker[];
  readonly #pending = new Map<number, Pending<JobTimes>>();
  #nextId = 0;
  #error: Error | undefined;

  /** Starts the workers; each slot holds `slotBytes` bytes. */
  constructor(threads: number, slotsPerWorker: number, slotBytes: number) {
    this.slots = Array.from({ length: threads * slotsPerWorker }, () => new SharedArrayBuffer(slotBytes));
    const module = kernelsModule();
    this.#workers = Array.from({ length: threads }, () => {
      const w = startWorker(quantWorkerMain);
      w.onmessage = (e: MessageEvent<{ id: number; error?: string } & JobTimes>) => {
        const p = this.#pending.get(e.data.id);
        if (!p) return;
        this.#pending.delete(e.data.id);
        if (e.data.error) p.reject(new Error(`quantization worker: ${e.data.error}`));
        else p.resolve(e.data);
      };
      w.onerror = (e) => {
        e.preventDefault();
        this.#fail(new Error(`quantization worker failed: ${e.message}`));
      };
      w.postMessage({ type: "init", module, slots: this.slots } satisfies WorkerMessage);
      return w;
    });
  }

  #fail(e: Error): void {
    this.#error ??= e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  /** Runs a job on the worker owning `job.slot`. */
  run(job: Omit<WorkerJob, "id">): Promise<JobTimes> {
    if (this.#error) return Promise.reject(this.#error);
    const id = this.#nextId++;
    return new Promise<JobTimes>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#workers[job.slot % this.#workers.length].postMessage(
        { type: "job", job: { ...job, id } } satisfies WorkerMessage,
      );
    });
  }

  /** Stops the workers. */
  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#fail(new Error("pool closed"));
  }
}

/** md5 of shared buffers in `n` workers (round robin). */
export class Md5WorkerPool {
  readonly #workers: Worker[];
  readonly #pending = new Map<number, Pending<string>>();
  #nextId = 0;
  #turn = 0;
  /** Total milliseconds spent hashing (in the workers). */
  ms = 0;

  /** Starts `n` md5 workers. */
  constructor(n: number) {
    this.#workers = Array.from({ length: n }, () => {
      const w = startWorker(md5WorkerMain);
      w.onmessage = (e: MessageEvent<{ id: number; hex: string; ms: number; error?: string }>) => {
        const p = this.#pending.get(e.data.id);
        this.#pending.delete(e.data.id);
        if (e.data.error) {
          p?.reject(new Error(`md5 worker: ${e.data.error}`));
          return;
        }
        this.ms += e.data.ms;
        p?.resolve(e.data.hex);
      };
      w.onerror = (e) => {
        e.preventDefault();
        this.#fail(new Error(`md5 worker failed: ${e.message}`));
      };
      return w;
    });
  }

  #error: Error | undefined;

  #fail(e: Error): void {
    this.#error ??= e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  /** Lowercase hex md5 of the first `length` bytes of `buf`. */
  hash(buf: SharedArrayBuffer, length: number): Promise<string> {
    if (this.#error) return Promise.reject(this.#error);
    const id = this.#nextId++;
    return new Promise<string>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#workers[this.#turn++ % this.#workers.length].postMessage({ id, buf, length });
    });
  }

  /** Stops the workers. */
  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#fail(new Error("pool closed"));
  }
}
