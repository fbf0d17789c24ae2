/**
 * A zip {@link OutputStore} for browsers without the File System Access API's folder picker: a
 * stored (uncompressed) zip, streamed into a byte sink (e.g. a file in the origin private file
 * system, which is then downloaded from disk) as files are written, or kept as `Blob` pieces
 * when no sink is given. Entries carry data descriptors (CRC and sizes after the data), so
 * nothing is held back but the files opened while another one streams. No zip64: at most 4 GiB.
 *
 * @module
 */
import { crc32 } from "../crc32.ts";
import type { FileSink, OutputStore } from "../io/types.ts";

/** Where a zip streams (e.g. a `FileSystemWritableFileStream`). */
export interface ByteSink {
  /** Appends bytes (not reused by the zip after the promise resolves). */
  write(chunk: Uint8Array<ArrayBuffer>): Promise<void>;
  /** Ends the zip. */
  close(): Promise<void>;
}

/** An {@link OutputStore} whose files become one zip. */
export interface ZipOutput extends OutputStore {
  /** Names of the files in the zip so far, in order. */
  readonly names: string[];
  /**
   * Writes the central directory and closes the sink; returns the zip as a `Blob` when it was
   * kept in memory (no sink given).
   */
  finish(): Promise<Blob | undefined>;
}

interface Entry {
  name: Uint8Array<ArrayBuffer>;
  crc: number;
  size: number;
  offset: number;
  closed: boolean;
  started: boolean;
  /** Chunks written while an earlier file was streaming. */
  held: Blob[];
}

const LIMIT = 0xffffffff;
const DOS_DATE = (1 << 5) | 1; // 1980-01-01 (fixed: the zip's bytes depend only on the files)
const FLAGS = 0x0808; // data descriptor follows; UTF-8 names

function bytes(size: number, fill: (v: DataView) => void): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer));
  return b;
}

/** The fields local and central headers share (from "version needed" on). */
function common(v: DataView, at: number, e: Entry, sizes: boolean): void {
  v.setUint16(at, 20, true);
  v.setUint16(at + 2, FLAGS, true);
  v.setUint16(at + 4, 0, true); // stored
  v.setUint16(at + 8, DOS_DATE, true);
  if (sizes) {
    v.setUint32(at + 10, e.crc, true);
    v.setUint32(at + 14, e.size, true);
    v.setUint32(at + 18, e.size, true);
  }
  v.setUint16(at + 22, e.name.length, true);
}

/**
 * Creates a zip output streaming into `sink` (or into memory).
 *
 * @example
 * ```ts
 * import { zipOutput } from "./zip.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const out = zipOutput();
 * await out.writeTextFile("a.txt", "hi");
 * deepStrictEqual((await out.finish())!.size, 30 + 5 + 2 + 16 + 46 + 5 + 22);
 * ```
 */
export function zipOutput(sink?: ByteSink): ZipOutput {
  return new ZipStream(sink);
}

/** The streamed zip: entries in order, each streamed while it is the head, later ones held until then. */
class ZipStream implements ZipOutput {
  readonly #parts: Blob[] = [];
  readonly #sink: ByteSink | undefined;
  readonly #out: ByteSink;
  readonly #entries: Entry[] = [];
  #head = 0; // the entry streaming now (earlier ones are complete)
  #offset = 0;
  #chain: Promise<void> = Promise.resolve();

  constructor(sink?: ByteSink) {
    this.#sink = sink;
    this.#out = sink ?? {
      write: (c) => Promise.resolve(void this.#parts.push(new Blob([c]))),
      close: () => Promise.resolve(),
    };
  }

  get names(): string[] {
    return this.#entries.map((e) => new TextDecoder().decode(e.name));
  }

  async #emit(b: Uint8Array<ArrayBuffer>): Promise<void> {
    if (this.#offset + b.length > LIMIT) {
      throw new Error("the zip would exceed 4 GiB (no zip64): write to a folder");
    }
    await this.#out.write(b);
    this.#offset += b.length;
  }

  async #start(e: Entry): Promise<void> {
    if (e.started) return;
    e.started = true;
    e.offset = this.#offset;
    await this.#emit(bytes(30, (v) => (v.setUint32(0, 0x04034b50, true), common(v, 4, e, false))));
    await this.#emit(e.name);
    for (const b of e.held.splice(0)) await this.#emit(new Uint8Array(await b.arrayBuffer()));
  }

  #end(e: Entry): Promise<void> {
    return this.#emit(bytes(16, (v) => {
      v.setUint32(0, 0x08074b50, true);
      v.setUint32(4, e.crc, true);
      v.setUint32(8, e.size, true);
      v.setUint32(12, e.size, true);
    }));
  }

  /** Runs `f` after every step before it: the bytes go out in order. */
  #serial(f: () => Promise<void>): Promise<void> {
    const r = this.#chain.then(f);
    this.#chain = r.catch(() => {});
    return r;
  }

  /** Finishes the head while it is closed, starting the next one. */
  async #advance(): Promise<void> {
    const entries = this.#entries;
    while (this.#head < entries.length && entries[this.#head].closed) {
      await this.#end(entries[this.#head]);
      if (++this.#head < entries.length) await this.#start(entries[this.#head]);
    }
  }

  create(name: string): Promise<FileSink> {
    const e: Entry = {
      name: new TextEncoder().encode(name),
      crc: 0,
      size: 0,
      offset: 0,
      closed: false,
      started: false,
      held: [],
    };
    const i = this.#entries.push(e) - 1;
    return this.#serial(async () => {
      if (i === this.#head) await this.#start(e);
    }).then(() => ({
      write: (chunk: Uint8Array) => {
        const copy = new Uint8Array(chunk);
        e.crc = crc32(e.crc, copy);
        e.size += copy.length;
        return this.#serial(async () => {
          if (i === this.#head) await this.#emit(copy);
          else e.held.push(new Blob([copy]));
        });
      },
      close: () => {
        e.closed = true;
        return this.#serial(() => this.#advance());
      },
    }));
  }

  async writeTextFile(name: string, text: string): Promise<void> {
    const s = await this.create(name);
    await s.write(new TextEncoder().encode(text));
    await s.close();
  }

  async finish(): Promise<Blob | undefined> {
    await this.#serial(async () => {
      const open = this.#entries.find((e) => !e.closed);
      if (open) throw new Error(`zip: ${new TextDecoder().decode(open.name)} was never closed`);
      await this.#centralDirectory();
      await this.#out.close();
    });
    return this.#sink ? undefined : new Blob(this.#parts, { type: "application/zip" });
  }

  async #centralDirectory(): Promise<void> {
    const cdAt = this.#offset;
    for (const e of this.#entries) {
      await this.#emit(bytes(46, (v) => {
        v.setUint32(0, 0x02014b50, true);
        v.setUint16(4, 20, true);
        common(v, 6, e, true);
        v.setUint32(42, e.offset, true);
      }));
      await this.#emit(e.name);
    }
    const cdSize = this.#offset - cdAt;
    const n = this.#entries.length;
    await this.#emit(bytes(22, (v) => {
      v.setUint32(0, 0x06054b50, true);
      v.setUint16(8, n, true);
      v.setUint16(10, n, true);
      v.setUint32(12, cdSize, true);
      v.setUint32(16, cdAt, true);
    }));
  }
}
