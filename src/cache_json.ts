/**
 * The tensor cache JSON (`tensor-cache.json`): its records, and its text exactly as
 * `tvmjs.dump_tensor_cache` writes it with Python's `json.dump(indent=4)`.
 *
 * @module
 */
import { dumpPyJson, PyFloat } from "./pyjson.ts";

/** A tensor record of the cache JSON. */
export interface CacheRecord {
  /** Parameter name. */
  name: string;
  /** Shape. */
  shape: number[];
  /** Dtype string. */
  dtype: string;
  /** Always `f32-to-bf16`. */
  format: string;
  /** Bytes on disk. */
  nbytes: number;
  /** Offset in the shard. */
  byteOffset: number;
}

/** A shard entry of the cache JSON. */
export interface ShardRecord {
  /** `params_shard_N.bin`. */
  dataPath: string;
  /** Always `raw-shard`. */
  format: "raw-shard";
  /** File size. */
  nbytes: number;
  /** Tensor records. */
  records: CacheRecord[];
  /** Lowercase hex md5 of the file. */
  md5sum: string;
}

/** Metadata block (`convert_weight._metadata_callback`). */
export interface CacheMetadata {
  /** Number of parameters written. */
  ParamSize: number;
  /** Sum of numel x itemsize (float32 counts 4). */
  ParamBytes: number;
  /** ParamBytes x 8 / total source parameters. */
  BitsPerParam: number;
}

/** The whole cache JSON. */
export interface TensorCache {
  /** Metadata. */
  metadata: CacheMetadata;
  /** Shards in commit order. */
  records: ShardRecord[];
}

/** Names of the JSON files the writer produces. */
export interface CacheFileNames {
  /** Main cache JSON names (same content). */
  main: string[];
  /** `-b16` side-file names. */
  b16: string[];
}

/** `tensor-cache.json` (current MLC / WebLLM) plus `ndarray-cache.json` (older runtimes). */
export const DEFAULT_CACHE_FILES: CacheFileNames = {
  main: ["tensor-cache.json", "ndarray-cache.json"],
  b16: ["tensor-cache-b16.json", "ndarray-cache-b16.json"],
};

/**
 * The cache JSON text exactly as Python's `json.dump(indent=4)` writes it (no trailing
 * newline). With `b16`, float32 records become `bfloat16` / `raw` (the `-b16` side file).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cacheJsonText } from "./cache_json.ts";
 * const text = cacheJsonText({ metadata: { ParamSize: 0, ParamBytes: 0, BitsPerParam: 0 }, records: [] });
 * assert.equal(
 *   text,
 *   '{\n    "metadata": {\n        "ParamSize": 0,\n        "ParamBytes": 0.0,\n' +
 *     '        "BitsPerParam": 0.0\n    },\n    "records": []\n}',
 * );
 * ```
 */
export function cacheJsonText(cache: TensorCache, b16 = false): string {
  return dumpPyJson({
    metadata: {
      ParamSize: cache.metadata.ParamSize,
      ParamBytes: new PyFloat(cache.metadata.ParamBytes),
      BitsPerParam: new PyFloat(cache.metadata.BitsPerParam),
    },
    records: cache.records.map((s) => ({
      dataPath: s.dataPath,
      format: s.format,
      nbytes: s.nbytes,
      records: s.records.map((r) =>
        b16 && r.dtype === "float32" ? { ...r, dtype: "bfloat16", format: "raw" } : { ...r }
      ),
      md5sum: s.md5sum,
    })),
  }, 4);
}
