/**
 * A file of a Hub repository read by HTTP range requests straight into the caller's buffers:
 * sequential reads continue one response (16 MiB windows, doubled up to 256 MiB while the reads
 * stay sequential; gaps up to 1 MiB are read through), a dropped connection is
 * resumed at the byte reached, the CDN address a redirect gave is reused until it expires.
 *
 * @module
 */
import type { RandomAccessFile } from "../io/types.ts";
import { type HubClient, HubError, type RepoFile } from "./client.ts";
import { gitBlobSha1, type Sha256, sha256 } from "./_hash.ts";

/** Bytes one range request asks for when the reads are sequential. */
export const RANGE_WINDOW = 16 << 20;
/** The largest window: reads that keep going on where the last window ended double it up to this. */
const MAX_WINDOW = 256 << 20;

/** A file whose bytes do not match the Hub's listing (size or hash). */
export class IntegrityError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "IntegrityError";
  }
}

/** Where a file is. */
export interface HubFileRef {
  /** The client. */
  readonly client: HubClient;
  /** `owner/name`. */
  readonly repo: string;
  /** Commit sha. */
  readonly sha: string;
  /** The file as listed. */
  readonly file: RepoFile;
  /** Name for messages (`HF://owner/name/model.safetensors`). */
  readonly label: string;
}

/** Counts of HTTP traffic. */
export interface HttpStats {
  /** Requests that returned data. */
  requests: number;
  /** Body bytes received. */
  bytes: number;
  /** Connections resumed after a drop. */
  resumes: number;
  /** LFS files whose sha256 was checked while they were read (read whole, in order). */
  verified?: string[];
}

const RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;
/** Gaps read through rather than asked for again (about what a round trip would have carried). */
const SKIP_MAX = 1 << 20;

/** A {@link RandomAccessFile} over HTTP range requests. */
export class HttpRangeFile implements RandomAccessFile {
  /** Size (from the tree listing; every response is checked against it). */
  readonly size: number;
  readonly #ref: HubFileRef;
  readonly #stats: HttpStats;
  readonly #window: number;
  #nextWindow: number;
  #lastEnd = -1;
  #cdn?: string;
  #reader?: ReadableStreamDefaultReader<Uint8Array>;
  #pos = 0;
  #end = 0;
  #pending: Uint8Array = new Uint8Array();
  #queue: Promise<unknown> = Promise.resolve();
  #hash?: Sha256;
  #hashedTo = 0;

  /**
   * Opens nothing yet: the first read sends the first request. With `hash` (and an LFS sha256
   * in the listing), the bytes read in order from byte 0 are hashed as they pass; when the
   * whole file has been read that way its sha256 is checked (an {@link IntegrityError} naming
   * the file otherwise). A read that jumps ahead (by more than 1 MiB) stops the hash for this file.
   */
  constructor(ref: HubFileRef, stats: HttpStats, window = RANGE_WINDOW, hash = true) {
    this.#ref = ref;
    this.size = ref.file.size;
    this.#stats = stats;
    this.#window = this.#nextWindow = window;
    if (hash && ref.file.sha256) this.#hash = sha256();
  }

  /** Whether the file's sha256 has been checked (it was read whole, in order). */
  get verified(): boolean {
    return this.#hash === undefined && this.#hashedTo === this.size && this.size > 0;
  }

  /** Fills `into` with the bytes at `offset`, resuming dropped connections (concurrent calls queue). */
  readAt(offset: number, into: Uint8Array): Promise<void> {
    const r = this.#queue.then(() => this.#readAt(offset, into));
    this.#queue = r.catch(() => {});
    return r;
  }

  async #readAt(offset: number, into: Uint8Array): Promise<void> {
    if (offset < 0 || offset + into.length > this.size) {
      throw new Error(
        `${this.#ref.label}: read past end of file (offset ${offset}, ${into.length} bytes, size ${this.size})`,
      );
    }
    let done = 0;
    let failures = 0;
    let doneAtFailure = 0;
    while (done < into.length) {
      const at = offset + done;
      if (done > doneAtFailure) failures = 0; // (progress since the last drop: count afresh)
      try {
        if (this.#reader && at > this.#pos && at < this.#end && this.#worthSkipping(at)) {
          await this.#skip(at - this.#pos);
        } else if (!this.#reader || this.#pos !== at) await this.#open(at, into.length - done);
        done += await this.#pull(into.subarray(done));
      } catch (e) {
        this.#drop();
        if (e instanceof HubError || e instanceof IntegrityError || e instanceof Deno.errors.NotCapable) {
          throw e;
        }
        if (++failures >= this.#ref.client.retries) {
          throw new HubError(
            `${this.#ref.label}: the connection failed ${failures} times at byte ${at}: ${
              (e as Error).message
            }`,
            0,
          );
        }
        doneAtFailure = done;
        this.#stats.resumes++;
        await this.#ref.client.backoff(failures);
      }
    }
  }

  /** Ends the response in flight. */
  close(): void {
    this.#drop();
  }

  #drop(): void {
    this.#reader?.cancel().catch(() => {});
    this.#reader = undefined;
    this.#pending = new Uint8Array();
  }

  async #open(at: number, need: number): Promise<void> {
    this.#drop();
    const { client, repo, sha, file, label } = this.#ref;
    // readahead: a window that continues the previous one is twice as long (up to 256 MiB)
    this.#nextWindow = at === this.#lastEnd ? Math.min(MAX_WINDOW, this.#nextWindow * 2) : this.#window;
    const end = Math.min(this.size, at + Math.max(need, this.#nextWindow));
    const init = { headers: { range: `bytes=${at}-${end - 1}`, "accept-encoding": "identity" } };
    let r;
    try {
      r = await client.request(this.#cdn ?? client.resolveUrl(repo, sha, file.path), init, label);
    } catch (e) {
      // a signed CDN address expires: ask the Hub again
      if (!this.#cdn || !(e instanceof HubError) || e.status < 400 || e.status >= 500) throw e;
      this.#cdn = undefined;
      r = await client.request(client.resolveUrl(repo, sha, file.path), init, label);
    }
    const { res, url } = r;
    if (!url.startsWith(client.endpoint)) this.#cdn = url;
    if (res.status === 206) {
      const m = res.headers.get("content-range")?.match(RANGE);
      // (a server may send less than asked: the rest is asked for next)
      if (!m || Number(m[1]) !== at || Number(m[2]) > end - 1 || Number(m[2]) < at) {
        await res.body?.cancel();
        throw new HubError(
          `${label}: the server answered range ${at}-${end - 1} with ${res.headers.get("content-range")}`,
          206,
        );
      }
      if (m[3] !== "*" && Number(m[3]) !== this.size) {
        await res.body?.cancel();
        throw new IntegrityError(
          `${label}: size mismatch: the Hub lists ${this.size} bytes, the server has ${m[3]}`,
        );
      }
    } else if (at !== 0 || end !== this.size) {
      await res.body?.cancel();
      throw new HubError(`${label}: the server ignored the Range header (HTTP ${res.status})`, res.status);
    } else {
      const len = res.headers.get("content-length");
      if (len !== null && Number(len) !== this.size) {
        await res.body?.cancel();
        throw new IntegrityError(
          `${label}: size mismatch: the Hub lists ${this.size} bytes, the server sent ${len}`,
        );
      }
    }
    if (!res.body) throw new HubError(`${label}: empty response`, res.status);
    this.#stats.requests++;
    this.#reader = res.body.getReader();
    this.#pos = at;
    this.#end = this.#lastEnd = res.status === 206
      ? Number(res.headers.get("content-range")!.match(RANGE)![2]) + 1
      : end;
  }

  /**
   * Whether to read forward to `at` in the response in flight rather than ask again: when the
   * bytes in between are few (less than a round trip would carry). (Reading larger gaps would
   * keep the sha256 going, but a conversion reads most of them again later: for fused
   * parameters such as q|k|v it costs more than half again the traffic.)
   */
  #worthSkipping(at: number): boolean {
    return at - this.#pos <= SKIP_MAX;
  }

  /** The next bytes of the response (at most `max`), consumed. */
  async #take(max: number): Promise<Uint8Array> {
    if (!this.#pending.length) {
      const { value, done } = await this.#reader!.read();
      if (done || !value) throw new Error(`connection closed at byte ${this.#pos} of ${this.#end}`);
      this.#stats.bytes += value.length;
      this.#pending = value;
    }
    const n = Math.min(max, this.#pending.length, this.#end - this.#pos);
    const chunk = this.#pending.subarray(0, n);
    this.#pending = this.#pending.subarray(n);
    this.#hashChunk(this.#pos, chunk);
    this.#pos += n;
    if (this.#pos === this.#end) this.#drop();
    return chunk;
  }

  async #pull(into: Uint8Array): Promise<number> {
    const chunk = await this.#take(into.length);
    into.set(chunk);
    return chunk.length;
  }

  /**
   * Moves forward `n` bytes in the response in flight (they were asked for already; a new
   * request would cost a round trip), hashing them on the way.
   */
  async #skip(n: number): Promise<void> {
    while (n > 0) n -= (await this.#take(n)).length;
  }

  /** Extends the running sha256 with the bytes at `p` when they continue it; checks it at the end. */
  #hashChunk(p: number, chunk: Uint8Array): void {
    const h = this.#hash;
    if (!h || p > this.#hashedTo || p + chunk.length <= this.#hashedTo) return;
    h.update(chunk.subarray(this.#hashedTo - p));
    this.#hashedTo = p + chunk.length;
    if (this.#hashedTo < this.size) return;
    this.#hash = undefined;
    const got = h.digest();
    const { file, label } = this.#ref;
    if (got !== file.sha256) {
      throw new IntegrityError(
        `${label}: sha256 mismatch: the Hub lists ${file.sha256}, the bytes read hash to ${got}`,
      );
    }
    (this.#stats.verified ??= []).push(file.path);
  }
}

/**
 * Checks `data` against the listing: size, then sha256 (LFS files) or the git blob sha1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { verifyBytes } from "./http_file.ts";
 * // the git blob id of an empty file
 * const file = { path: "a", size: 0, oid: "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391" };
 * await verifyBytes(new Uint8Array(), file, "a");
 * await assert.rejects(verifyBytes(new Uint8Array(1), file, "a"), /a: size mismatch: the Hub lists 0 bytes, got 1/);
 * ```
 */
export async function verifyBytes(data: Uint8Array, file: RepoFile, label: string): Promise<void> {
  if (data.length !== file.size) {
    throw new IntegrityError(`${label}: size mismatch: the Hub lists ${file.size} bytes, got ${data.length}`);
  }
  if (file.sha256) {
    const h = sha256();
    h.update(data);
    const got = h.digest();
    if (got !== file.sha256) {
      throw new IntegrityError(
        `${label}: sha256 mismatch: the Hub lists ${file.sha256}, the bytes hash to ${got}`,
      );
    }
  } else {
    const got = await gitBlobSha1(data);
    if (got !== file.oid) {
      throw new IntegrityError(
        `${label}: git blob sha1 mismatch: the Hub lists ${file.oid}, the bytes hash to ${got}`,
      );
    }
  }
}

/** Reads a whole file (resuming dropped connections) and verifies it against the listing. */
export async function fetchVerified(ref: HubFileRef, stats: HttpStats): Promise<Uint8Array> {
  const data = new Uint8Array(ref.file.size);
  if (data.length) {
    const f = new HttpRangeFile(ref, stats, data.length, false);
    try {
      await f.readAt(0, data);
    } finally {
      f.close();
    }
  }
  await verifyBytes(data, ref.file, ref.label);
  return data;
}
