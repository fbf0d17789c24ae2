/**
 * Injected I/O: the pipeline reads and writes only through these interfaces, so it works on
 * files, in-memory buffers or any other store (a store with local files may let threads read
 * them directly: {@link SourceStore.localPath}).
 *
 * @module
 */

/** A file opened for random-access reads. */
export interface RandomAccessFile {
  /** Size in bytes. */
  readonly size: number;
  /** Fills `into` with the bytes at `offset` (throws on a short read). */
  readAt(offset: number, into: Uint8Array): Promise<void>;
  /** Releases the handle. */
  close(): void;
}

/** Read side: where checkpoints come from. Paths use `/`. */
export interface SourceStore {
  /** Reads a whole (small) text file such as config.json. */
  readTextFile(path: string): Promise<string>;
  /** Opens a file for random-access reads. */
  open(path: string): Promise<RandomAccessFile>;
  /** Whether a regular file exists at `path`. */
  exists(path: string): Promise<boolean>;
  /**
   * Optional: a local file-system path of `path` that any thread of this program may open and
   * read itself (direct reads into kernel memory, by the conversion's workers), when the store
   * has one; else undefined (reads go through {@link SourceStore.open}).
   */
  localPath?(path: string): string | undefined;
}

/** A file being written sequentially. */
export interface FileSink {
  /** Appends bytes (the caller may reuse `chunk` once the promise resolves). */
  write(chunk: Uint8Array): Promise<void>;
  /** Finishes the file. */
  close(): Promise<void>;
}

/** Write side: a flat output directory. */
export interface OutputStore {
  /** Creates (or truncates) a file. */
  create(name: string): Promise<FileSink>;
  /** Writes a whole text file. */
  writeTextFile(name: string, text: string): Promise<void>;
  /**
   * Optional: starts what later writes need (e.g. a writer thread) now, at a moment the caller
   * chooses, instead of at the first write.
   */
  prepare?(): void;
}
