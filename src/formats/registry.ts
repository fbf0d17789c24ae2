/**
 * The source formats `convert_weight` reads, as MLC LLM's `support/auto_weight.py` knows them:
 * the files each format is detected by (in MLC's order: PyTorch first, then safetensors), and
 * the reader of each weight file. The checkpoint opener (`checkpoint.ts`) consults this
 * registry, so the rest of the pipeline sees one kind of source tensor whatever the format.
 *
 * @module
 */
import type { DType } from "../dtype.ts";
import type { RandomAccessFile } from "../io/types.ts";
import { readSafetensorsHeader } from "../safetensors.ts";
import { readTorchCheckpoint } from "./torch.ts";

/** A source format name, as MLC's `--source-format` spells it. */
export type SourceFormat = "huggingface-torch" | "huggingface-safetensor";

/** One tensor of a weight file, as a range of the file. */
export interface WeightFileEntry {
  /** Tensor name. */
  readonly name: string;
  /** Dtype, by its safetensors name (`F16`, `BF16`, `F32`, ...). */
  readonly stDtype: string;
  /** Shape. */
  readonly shape: readonly number[];
  /** Absolute file offset of element `[0, ..., 0]`. */
  readonly offset: number;
  /** Bytes of the tensor's elements. */
  readonly nbytes: number;
  /** Element strides of a non-contiguous view (absent: contiguous). */
  readonly strides?: readonly number[];
  /**
   * The dtype MLC's loader hands its map functions when it differs from the stored one
   * (PyTorch files: bfloat16 is widened to float32, `loader/utils.py` `load_torch_shard`).
   */
  readonly loaderDtype?: DType;
}

/** A weight file's tensors. */
export interface WeightFile {
  /** The tensors. */
  readonly entries: readonly WeightFileEntry[];
  /**
   * Names in the order MLC's loader walks the file when it is the only one (no index): the
   * pickled state-dict order of a PyTorch file; the data-offset order of a safetensors file
   * (the index MLC's detector writes for a lone `model.safetensors`, safetensors >= 0.6).
   */
  readonly order: readonly string[];
  /** Things MLC's loader would warn about (a PyTorch key holding `None` is skipped). */
  readonly warnings: readonly string[];
}

/** A source format: how it is detected and how its files are read. */
export interface SourceFormatSpec {
  /** The `--source-format` name. */
  readonly name: SourceFormat;
  /** Files that identify it in a directory, checked in order (the index first). */
  readonly detect: readonly string[];
  /** Reads one weight file's tensor table (never the tensor data). */
  read(file: RandomAccessFile, path: string): Promise<WeightFile>;
}

async function readTorchFile(file: RandomAccessFile, path: string): Promise<WeightFile> {
  const t = await readTorchCheckpoint(file, path);
  return {
    entries: t.entries.map((e) => e.stDtype === "BF16" ? { ...e, loaderDtype: "float32" as const } : e),
    order: t.entries.map((e) => e.name),
    warnings: t.skipped.map((k) => `${path}: Encountered None param, skipping it: ${k}`),
  };
}

async function readSafetensorsFile(file: RandomAccessFile, path: string): Promise<WeightFile> {
  const h = await readSafetensorsHeader(file, path);
  const order = [...h.entries].sort((a, b) => a.offset - b.offset || (a.name < b.name ? -1 : 1)).map((e) =>
    e.name
  );
  return { entries: h.entries, order, warnings: [] };
}

/**
 * The formats in MLC's detection order (`CHECK_FORMAT_METHODS`): with `--source-format auto`
 * the first one found wins, so PyTorch files win over safetensors ones in the same directory.
 */
export const SOURCE_FORMATS: readonly SourceFormatSpec[] = [
  {
    name: "huggingface-torch",
    detect: ["pytorch_model.bin.index.json", "pytorch_model.bin"],
    read: readTorchFile,
  },
  {
    name: "huggingface-safetensor",
    detect: ["model.safetensors.index.json", "model.safetensors"],
    read: readSafetensorsFile,
  },
];

/**
 * The format of one weight file, chosen as MLC's loader does (`_load_file`): `.safetensors`
 * files are safetensors, anything else is read as a PyTorch file.
 *
 * @example
 * ```ts
 * import { formatOfFile } from "./registry.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(formatOfFile("m/pytorch_model-00001-of-00002.bin").name, "huggingface-torch");
 * deepStrictEqual(formatOfFile("m/model.safetensors").name, "huggingface-safetensor");
 * ```
 */
export function formatOfFile(path: string): SourceFormatSpec {
  const name: SourceFormat = path.endsWith(".safetensors") ? "huggingface-safetensor" : "huggingface-torch";
  return SOURCE_FORMATS.find((f) => f.name === name)!;
}
