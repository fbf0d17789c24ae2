/**
 * A Hugging Face checkpoint as MLC's loader sees it: the tensor order (`torch_to_path`),
 * which file holds each tensor, and row-range reads into caller buffers.
 *
 * @module
 */
import type { DType } from "./dtype.ts";
import { readStrided } from "./formats/strided.ts";
import { formatOfFile, SOURCE_FORMATS, type SourceFormat, type WeightFile } from "./formats/registry.ts";
import type { RandomAccessFile, SourceStore } from "./io/types.ts";
import { SafetensorsError, SUPPORTED_SOURCE_DTYPES } from "./safetensors.ts";
import { echo, listOf } from "./text.ts";
import { nestsDeeperThan } from "./json_depth.ts";

/** Deepest nesting of an index JSON (real ones nest 2 deep: `{"weight_map": {...}}`). */
const MAX_INDEX_DEPTH = 16;

export type { SourceFormat } from "./formats/registry.ts";

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
  /** Absolute data offset in the file (of element `[0, ..., 0]`). */
  readonly offset: number;
  /** Byte length (of the elements, in row-major order). */
  readonly nbytes: number;
  /**
   * Element strides of a non-contiguous view (a PyTorch file may hold a transposed or sliced
   * tensor as such); absent when the data is contiguous. `read` honours them.
   */
  readonly strides?: readonly number[];
  /**
   * The dtype MLC's loader computes in when it differs from `dtype` (PyTorch files: bfloat16
   * is widened to float32 before the map functions run).
   */
  readonly loaderDtype?: DType;
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
  /** What MLC's loader would warn about while reading the files (e.g. skipped `None` keys). */
  readonly warnings?: readonly string[];
  /** Reads `into.length` bytes of tensor `name` starting at byte `start` of its data. */
  read(name: string, start: number, into: Uint8Array): Promise<void>;
  /**
   * A local path of tensor file `file` (a `SourceTensor.file`) that threads may read directly,
   * when the store has one (see `SourceStore.localPath`).
   */
  localPath?(file: string): string | undefined;
  /** Closes all files. */
  close(): void;
}

function join(dir: string, name: string): string {
  if (dir === "" || dir === ".") return name;
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : p.slice(0, i);
}

/**
 * Detects the weight files in `dir` as MLC's `detect_weight` does: the formats of
 * {@link SOURCE_FORMATS} in order (PyTorch first, then safetensors), each by its index JSON
 * and then its single file; with `auto` the first found wins. Returns the path to load.
 *
 * @example
 * ```ts
 * import { detectSource } from "./checkpoint.ts";
 * import { memorySource } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * const s = await detectSource(memorySource({ "m/model.safetensors": new Uint8Array(8) }), "m");
 * deepStrictEqual(s.path, "m/model.safetensors");
 * ```
 */
export async function detectSource(
  store: SourceStore,
  dir: string,
  format: "auto" | SourceFormat = "auto",
): Promise<{ path: string; format: SourceFormat; warnings: string[] }> {
  const found: { path: string; format: SourceFormat }[] = [];
  for (const f of SOURCE_FORMATS) {
    if (format !== "auto" && f.name !== format) continue;
    for (const name of f.detect) {
      if (await store.exists(join(dir, name))) {
        found.push({ path: join(dir, name), format: f.name });
        break;
      }
    }
  }
  if (!found.length) {
    const expected = SOURCE_FORMATS.filter((f) => format === "auto" || f.name === format)
      .flatMap((f) => f.detect);
    throw new Error(
      `No weights found in ${dir}: expected ${expected.join(", ")}` +
        (format === "auto" ? "" : ` for --source-format ${format}`),
    );
  }
  const warnings = found.length > 1
    ? [
      `${dir} holds both ${found.map((f) => f.format).join(" and ")} weights; reading ${found[0].path} as ` +
      `MLC's auto detection does (--source-format ${found[1].format} reads the other)`,
    ]
    : [];
  return { ...found[0], warnings };
}

/**
 * Opens a checkpoint from an index JSON (`model.safetensors.index.json`,
 * `pytorch_model.bin.index.json`) or a single weight file (`.safetensors`, or a PyTorch file
 * such as `pytorch_model.bin`), reading only headers (and a PyTorch file's pickle, which is
 * interpreted, never executed). Each file is read by its format in {@link SOURCE_FORMATS}.
 *
 * @example
 * ```ts ignore
 * import { openCheckpoint } from "@mlc-deno/convert";
 * import { denoSource } from "@mlc-deno/convert";
 * const ckpt = await openCheckpoint(denoSource(), "model/model.safetensors.index.json");
 * console.log(ckpt.order.length);
 * ```
 */
export async function openCheckpoint(store: SourceStore, path: string): Promise<Checkpoint> {
  const handles = new Map<string, RandomAccessFile>();
  const headers = new Map<string, WeightFile>();
  const openFile = async (p: string) => {
    if (handles.has(p)) return;
    if (!(await store.exists(p))) throw new SafetensorsError(p, "file not found");
    handles.set(p, await store.open(p));
    headers.set(p, await formatOfFile(p).read(handles.get(p)!, p));
  };
  try {
    let fileOf: Map<string, string>;
    if (path.endsWith(".json")) {
      fileOf = await readIndex(store, path);
      for (const f of new Set(fileOf.values())) await openFile(f);
    } else {
      await openFile(path);
      // the file's own order (pickled order; safetensors: data-offset order, as the index
      // MLC's detector writes for a lone model.safetensors)
      fileOf = new Map(headers.get(path)!.order.map((name) => [name, path]));
    }
    const order = [...fileOf.keys()];
    const { tensors, fileTensors } = sourceTensors(headers, fileOf);
    const missing = order.filter((n) => !tensors.has(n));
    if (missing.length) {
      throw new SafetensorsError(
        path,
        `the index lists tensors that are not in their files: ${
          listOf(missing.map((n) => `${n} (in ${fileOf.get(n)})`))
        }`,
      );
    }
    return {
      location: path,
      order,
      tensors,
      fileTensors,
      warnings: [...headers.values()].flatMap((h) => h.warnings),
      async read(name, start, into) {
        const t = tensors.get(name);
        if (!t) throw new Error(`tensor ${name} is not in the checkpoint`);
        if (start + into.length > t.nbytes) throw new Error(`read past the end of tensor ${name}`);
        const h = handles.get(t.file)!;
        if (!t.strides) return await h.readAt(t.offset + start, into);
        const item = t.nbytes / t.shape.reduce((a, b) => a * b, 1);
        await readStrided(h, { offset: t.offset, shape: t.shape, strides: t.strides, item }, start, into);
      },
      localPath: store.localPath && ((file) => store.localPath!(file)),
      close() {
        for (const h of handles.values()) h.close();
      },
    };
  } catch (e) {
    for (const h of handles.values()) h.close();
    throw e;
  }
}

/** An index JSON's weight map, in its order: tensor name -> file path (beside the index). */
async function readIndex(store: SourceStore, path: string): Promise<Map<string, string>> {
  let index: { weight_map?: Record<string, unknown> };
  try {
    const text = await store.readTextFile(path);
    if (nestsDeeperThan(text, MAX_INDEX_DEPTH)) {
      throw new SafetensorsError(path, `nests JSON deeper than ${MAX_INDEX_DEPTH} levels (an index nests 2)`);
    }
    index = JSON.parse(text);
  } catch (e) {
    if (e instanceof SafetensorsError) throw e;
    throw new SafetensorsError(path, `not a valid index JSON (${(e as Error).message})`);
  }
  if (
    !index || typeof index.weight_map !== "object" || index.weight_map === null ||
    Array.isArray(index.weight_map)
  ) {
    throw new SafetensorsError(path, `has no "weight_map" object`);
  }
  const dir = dirname(path);
  const fileOf = new Map<string, string>();
  for (const [name, f] of Object.entries(index.weight_map)) {
    if (typeof f !== "string") {
      throw new SafetensorsError(path, `weight_map["${echo(name)}"] is not a file name`);
    }
    if (f.includes("..") || f.startsWith("/")) {
      throw new SafetensorsError(
        path,
        `weight_map["${echo(name)}"] points outside the model directory: ${echo(f)}`,
      );
    }
    fileOf.set(name, join(dir, f));
  }
  return fileOf;
}

/**
 * The source tensors of every file (in file order), and by name those the weight map assigns
 * to the file they are in.
 */
function sourceTensors(
  headers: ReadonlyMap<string, WeightFile>,
  fileOf: ReadonlyMap<string, string>,
): { tensors: Map<string, SourceTensor>; fileTensors: Map<string, SourceTensor[]> } {
  const tensors = new Map<string, SourceTensor>();
  const fileTensors = new Map<string, SourceTensor[]>();
  for (const [file, { entries }] of headers) {
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
        ...(e.strides ? { strides: e.strides } : {}),
        ...(e.loaderDtype ? { loaderDtype: e.loaderDtype } : {}),
      };
      list.push(t);
      if (fileOf.get(e.name) === file) tensors.set(e.name, t);
    }
    fileTensors.set(file, list);
  }
  return { tensors, fileTensors };
}
