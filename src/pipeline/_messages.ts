/**
 * Messages between the pipeline's pools and their workers (typed on both sides; the worker
 * bodies only use the types, which are erased).
 *
 * @module
 */
import type { FileRange } from "../io/direct_read.ts";
import type { KernelJob } from "../kernels/job.ts";
import type { Md5LanePiece } from "../kernels/md5.ts";
import type { WorkerRegion } from "./memory.ts";

/** md5 requests (kernel workers and md5 workers). */
export type Md5Request =
  /**
   * Hashes `lengths[i]` bytes at `offsets[i]` of each shared buffer `bufs[i]` together, or
   * without `bufs` of the worker's own memory, in place (multi-buffer md5).
   */
  | { type: "md5"; id: number; offsets: number[]; lengths: number[]; bufs?: SharedArrayBuffer[] }
  /** Hashes a piece of a long stream. */
  | { type: "update"; id: number; stream: number; buf: SharedArrayBuffer; offset: number; length: number }
  /** Finishes a stream. */
  | { type: "digest"; id: number; stream: number }
  /** Hashes the next piece of several streams whose states travel with the message, in place. */
  | { type: "lanes"; id: number; pieces: Md5LanePiece[] };

/** A chunk job for a kernel worker. */
export interface JobRequest {
  /** Message type. */
  type: "job";
  /** Job id (the answer carries it back). */
  id: number;
  /** Slot whose buffer holds the input (without `reads`) and receives outputs not in place. */
  slot: number;
  /** The kernel job (`partRows` from the part size with `reads`). */
  job: KernelJob;
  /** Direct file reads of the chunk's source bytes, concatenated; absent: the input is in the slot. */
  reads?: FileRange[];
  /** Offset of the outputs in the slot buffer (words, then scales 16-aligned). */
  outAt: number;
}

/** Messages to a kernel worker. */
export type QuantWorkerRequest =
  | {
    type: "init";
    module: WebAssembly.Module;
    memory: WebAssembly.Memory;
    region: WorkerRegion;
    slots: SharedArrayBuffer[];
  }
  | JobRequest
  | Md5Request
  | { type: "close" };

/** Messages to an md5 worker. */
export type Md5WorkerRequest = { type: "init"; module: WebAssembly.Module; pages: number } | Md5Request | {
  type: "close";
};

/** A job's answer: per-job timings and the non-finite count. */
export interface JobTimes {
  /** Milliseconds reading (or copying in) the source. */
  readMs: number;
  /** Milliseconds in the kernel and copying out. */
  computeMs: number;
  /** NaN and infinite values among the job's source elements. */
  nonFinite: number;
}

/** Answers of the workers (to requests with an id). */
export type WorkerAnswer =
  | ({ id: number } & JobTimes)
  | { id: number; ms: number; hex?: string | string[]; lanes?: { state: number[]; hex?: string }[] }
  | { id: number; error: string };

/** A request without its id (the pool adds it). */
export type Unnumbered<T> = T extends { id: number } ? Omit<T, "id"> : never;
