/**
 * A Hugging Face checkpoint as MLC's loader sees it: the tensor order (`torch_to_path`),
 * which file holds each tensor, and row-range reads into caller buffers.
 *
 * @module
 */
import type { DType } from "./dtype.ts";
import type { RandomAccessFile, SourceStore } from "./io/types.ts";
import {
  readSafetensorsHeader,
  type SafetensorsEntry,
  SafetensorsError,
  SUPPORTED_SOURCE_DTYPES,
} from "./safetensors.ts";

/** One source tensor. */
export interface SourceTensor {
  /** HF name. */
  readonly name: string;
  /** File path (as given to the store). */
  readonly file: string;
  /** Safetensors dtype string. */
  readonly stDtype: string;
  /** Converted dtype, or undefined when not supported (F64, I64, ...). */
  readonly dtype: DType | undefined;
  /** Shape. */
  readonly shape: readonly number[];
  /** Absolute data offset in the file. */
  readonly offset: number;
  /** Byte length. */
  readonly nbytes: number;
}

/** An opened checkpoint. */
export interface Checkpoint {
  /** Where it was read from (for messages). */
  readonly location: string;
  /** Tensor names in loader order (weight_map JSON order, or data-offset order). */
  readonly order: readonly string[];
  /** Tensors by name. */
  readonly tensors: ReadonlyMap<string, SourceTensor>;
  /** Every tensor of each file, including ones not listed in an index (for stats). */
  readonly fileTensors: ReadonlyMap<string, readonly SourceTensor[]>;
  /** Reads `into.length` bytes of tensor `name` starting at byte `start` of its data. */
  read(name: string, start: number, into: Uint8Array): Promise<void>;
  /** Closes all files. */
  close(): void;
}

/** The format found by `--source-format auto`. */
export type SourceFormat = "huggingface-safetensor" | "huggingface-torch";

function join(dir: string, name: string): string {
  if (dir === "" || dir === ".") return name;
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : p.slice(0, i);
}

/**
 * Detects the weight files in `dir` as MLC's `detect_weight` does (torch first, then
 * safetensors) and returns the path to load: an index JSON or a single safetensors file.
 *
 * @example
 * ```ts
 * import { detectSource } from "./checkpoint.ts";
 * import { memorySource } from "./io/memory.ts";
 * const s = await detectSource(memorySource({ "m/model.safetensors": new Uint8Array(8) }), "m");
 * s.path; // "m/model.safetensors"
 * ```
 */
export async function detectSource(
  store: SourceStore,
  dir: string,
  format: "auto" | SourceFormat = "auto",
): Promise<{ path: string; format: SourceFormat; warnings: string[] }> {
  const warnings: string[] = [];
  const torch = (await store.exists(join(dir, "pytorch_model.bin.index.json")))
    ? join(dir, "pytorch_model.bin.index.json")
    : (await store.exists(join(dir, "pytorch_model.bin")))
    ? join(dir, "pytorch_model.bin")
    : undefined;
  const st = (await store.exists(join(dir, "model.safetensors.index.json")))
    ? join(dir, "model.safetensors.index.json")
    : (await store.exists(join(dir, "model.safetensors")))
    ? join(dir, "model.safetensors")
    : undefined;
  if (format === "huggingface-torch" || (format === "auto" && torch && !st)) {
    throw new Error(
      `${
        torch ?? join(dir, "pytorch_model.bin")
      }: PyTorch pickle checkpoints are not supported (reading them safely needs a pickle VM). ` +
        "Convert them to safetensors first, e.g. with transformers' save_pretrained(safe_serialization=True).",
    );
  }
  if (!st) {
    throw new Error(
      `No weights found in ${dir}: expected model.safetensors.index.json or model.safetensors` +
        (format === "auto" ? "" : ` for --source-format ${format}`),
    );
  }
  if (torch && format === "auto") {
    warnings.push(
      `${dir} holds both PyTorch and safetensors weights; MLC would pick the PyTorch files, we read the safetensors ones`,
    );
  }
  return { path: st, format: "huggingface-safetensor", warnings };
}

/**
 * Opens a checkpoint from an index JSON (`model.safetensors.index.json`) or a single
 * `.safetensors` file, reading only headers.
 *
 * @example
 * ```ts ignore
 * import { openCheckpoint } from "./checkpoint.ts";
 * import { denoSource } from "./io/deno_fs.ts";
 * const ckpt = await openCheckpoint(denoSource(), "model/model.safetensors.index.json");
 * console.log(ckpt.order.length);
 * ```
 */
export async function openCheckpoint(store: SourceStore, path: string): Promise<Checkpoint> {
  const handles = new Map<string, RandomAccessFile>();
  const headers = new Map<string, readonly SafetensorsEntry[]>();
  const openFile = async (p: string) => {
    let h = handles.get(p);
    if (!h) {
      if (!(await store.exists(p))) throw new SafetensorsError(p, "file not found");
      h = await store.open(p);
      handles.set(p, h);
      headers.set(p, (await readSafetensorsHeader(h, p)).entries);
    }
    return h;
  };
  const order: string[] = [];
  const fileOf = new Map<string, string>();
  try {
    if (path.endsWith(".json")) {
      let index: { weight_map?: Record<string, unknown> };
      try {
        index = JSON.parse(await store.readTextFile(path));
      } catch (e) {
        throw new SafetensorsError(path, `not a valid index JSON (${(e as Error).message})`);
      }
      if (
        !index || typeof index.weight_map !== "object" || index.weight_map === null ||
        Array.isArray(index.weight_map)
      ) {
        throw new SafetensorsError(path, `has no "weight_map" object`);
      }
      const dir = dirname(path);
      for (const [name, f] of Object.entries(index.weight_map)) {
        if (typeof f !== "string") {
          throw new SafetensorsError(path, `weight_map["${name}"] is not a file name`);
        }
        if (f.includes("..") || f.startsWith("/")) {
          throw new SafetensorsError(path, `weight_map["${name}"] points outside the model directory: ${f}`);
        }
        order.push(name);
        fileOf.set(name, join(dir, f));
      }
      for (const f of new Set(fileOf.values())) await openFile(f);
    } else {
      await openFile(path);
      // data-offset order, as the index MLC's detector writes (safetensors >= 0.6)
      const entries = [...headers.get(path)!].sort((a, b) =>
        a.offset - b.offset || (a.name < b.name ? -1 : 1)
      );
      for (const e of entries) {
        order.push(e.name);
        fileOf.set(e.name, path);
      }
    }
    const tensors = new Map<string, SourceTensor>();
    const fileTensors = new Map<string, SourceTensor[]>();
    for (const [file, entries] of headers) {
      const list: SourceTensor[] = [];
      for (const e of entries) {
        const t: SourceTensor = {
          name: e.name,
          file,
          stDtype: e.stDtype,
          dtype: SUPPORTED_SOURCE_DTYPES[e.stDtype],
          shape: e.shape,
          offset: e.offset,
          nbytes: e.nbytes,
        };
        list.push(t);
        if (fileOf.get(e.name) === file) tensors.set(e.name, t);
      }
      fileTensors.set(file, list);
    }
    const missing = order.filter((n) => !tensors.has(n));
    if (missing.length) {
      throw new SafetensorsError(
        path,
        `the index lists tensors that are not in their files: ${
          missing.map((n) => `${n} (in ${fileOf.get(n)})`).join(", ")
        }`,
      );
    }
    return {
      location: path,
      order,
      tensors,
      fileTensors,
      async read(name, start, into) {
        const t = tensors.get(name);
        if (!t) throw new Error(`tensor ${name} is not in the checkpoint`);
        if (start + into.length > t.nbytes) throw new Error(`read past the end of tensor ${name}`);
        await handles.get(t.file)!.readAt(t.offset + start, into);
      },
      close() {
        for (const h of handles.values()) h.close();
      },
    };
  } catch (e) {
    for (const h of handles.values()) h.close();
    throw e;
  }
}
