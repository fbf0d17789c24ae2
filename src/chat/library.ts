/**
 * What a prebuilt MLC model library (`*.wasm`) says about itself, and whether a converted
 * directory fits it: the library embeds its metadata (model type, quantization, context window
 * and the parameter list it loads by name) as a JSON string, which MLC's runtime reads through
 * the library's `_metadata` function (mlc-llm python/mlc_llm/compiler_pass/attach_metadata.py).
 * Reading it from the bytes lets every mismatch be named before anything touches the GPU.
 *
 * @module
 */

/** One parameter the library loads (a symbolic dimension is a string such as "vocab_size"). */
export interface LibraryParam {
  /** Parameter name, as in tensor-cache.json. */
  name: string;
  /** Shape; strings are symbolic dimensions. */
  shape: (number | string)[];
  /** Element type. */
  dtype: string;
  /** Preprocessing steps the runtime applies on load (MLC's metadata; usually empty). */
  preprocs?: unknown[];
}

/** The metadata of a model library. */
export interface LibraryMetadata {
  /** e.g. "llama". */
  model_type: string;
  /** e.g. "q4f32_1". */
  quantization: string;
  /** Context window the library was compiled for. */
  context_window_size?: number;
  /** Parameters, in load order. */
  params: LibraryParam[];
}

/**
 * Finds and parses the metadata JSON embedded in a model library's bytes.
 *
 * @example
 * ```ts
 * import { readLibraryMetadata } from "./library.ts";
 * const json = '{"model_type": "llama", "quantization": "q4f32_1", "params": []}';
 * const bytes = new TextEncoder().encode(`\0\0asm${json}\0rest`);
 * if (readLibraryMetadata(bytes).quantization !== "q4f32_1") throw new Error();
 * ```
 */
export function readLibraryMetadata(bytes: Uint8Array): LibraryMetadata {
  const key = new TextEncoder().encode('{"model_type": ');
  let at = -1;
  outer: for (
    let i = bytes.indexOf(key[0]);
    i >= 0 && i + key.length <= bytes.length;
    i = bytes.indexOf(key[0], i + 1)
  ) {
    for (let j = 1; j < key.length; j++) if (bytes[i + j] !== key[j]) continue outer;
    at = i;
    break;
  }
  if (at < 0) throw new Error("not an MLC model library: no model metadata found in it");
  const end = jsonEnd(bytes, at);
  const text = new TextDecoder().decode(bytes.subarray(at, end));
  let meta: LibraryMetadata;
  try {
    meta = JSON.parse(text);
  } catch {
    throw new Error("not an MLC model library: its model metadata is not valid JSON");
  }
  if (typeof meta.quantization !== "string" || !Array.isArray(meta.params)) {
    throw new Error("not an MLC model library: its metadata has no quantization or parameter list");
  }
  return meta;
}

/** Where the JSON object starting at `at` ends (balanced braces outside strings), or the end of `bytes`. */
function jsonEnd(bytes: Uint8Array, at: number): number {
  let depth = 0;
  let inString = false;
  for (let i = at; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) return i + 1;
  }
  return bytes.length;
}

/** A record of tensor-cache.json, as far as the check needs. */
export interface CacheParam {
  /** Name. */
  name: string;
  /** Shape. */
  shape: number[];
  /** Element type. */
  dtype: string;
  /** Bytes. */
  nbytes: number;
}

const tooBig = (others: string[]): string =>
  others.length === 0
    ? ""
    : `, and so ${others.length === 1 ? "is" : "are"} ${others.slice(0, 3).join(", ")}${
      others.length > 3 ? ` and ${others.length - 3} more` : ""
    }`;

/** The metadata fields of the `v0_2_30` libraries (MLC's attach_metadata of that era), which web-llm 0.2.30 runs. */
const V0_2_30_FIELDS = new Set([
  "model_type",
  "quantization",
  "context_window_size",
  "sliding_window_size",
  "attention_sink_size",
  "prefill_chunk_size",
  "tensor_parallel_shards",
  "kv_cache_bytes",
  "params",
  "kv_cache",
  "memory_usage",
]);

/**
 * Whether a library is of a later MLC era than the runtime (web-llm 0.2.30): its metadata
 * carries fields MLC added after the `v0_2_30` libraries (e.g. `pipeline_parallel_stages`,
 * mid-2024), whose runtime calls 0.2.30 does not make. Undefined when it fits (or cannot tell).
 *
 * @example
 * ```ts
 * import { libraryEraProblem } from "./library.ts";
 * const meta = { model_type: "llama", quantization: "q4f16_1", params: [], pipeline_parallel_stages: 1 };
 * const p = libraryEraProblem(meta);
 * if (!p?.includes("pipeline_parallel_stages")) throw new Error(p);
 * ```
 */
export function libraryEraProblem(meta: LibraryMetadata): string | undefined {
  const later = Object.keys(meta).filter((k) => !V0_2_30_FIELDS.has(k));
  if (later.length === 0) return undefined;
  return `the library is newer than the v0_2_30 libraries web-llm 0.2.30 runs (its metadata has ${
    later.join(", ")
  }): use a library from binary-mlc-llm-libs web-llm-models/v0_2_30, or run it with a matching web-llm`;
}

const GPU_ITEM: Record<string, number> = {
  float32: 4,
  uint32: 4,
  int32: 4,
  float16: 2,
  bfloat16: 2,
  int8: 1,
  uint8: 1,
};

/**
 * Bytes of a record's buffer on the GPU: the decoded dtype, not the stored bytes (float32 is
 * stored as bf16, `f32-to-bf16`, and decoded back to 4 bytes an element when loaded).
 */
function gpuBytes(r: CacheParam): number {
  const item = GPU_ITEM[r.dtype];
  return item === undefined ? r.nbytes : r.shape.reduce((a, b) => a * b, 1) * item;
}

/**
 * The problems that keep a library from running a converted directory: quantization, missing
 * or extra parameters, shape or dtype differences (symbolic dimensions match any size), and a
 * tensor larger than the adapter's `maxStorageBufferBindingSize` (`bindingLimit`). Empty when
 * it fits.
 *
 * @example
 * ```ts
 * import { libraryProblems } from "./library.ts";
 * const meta = { model_type: "llama", quantization: "q4f32_1", params: [{ name: "w", shape: ["n", 2], dtype: "float32" }] };
 * const ok = libraryProblems(meta, "q4f32_1", [{ name: "w", shape: [5, 2], dtype: "float32", nbytes: 40 }], 1 << 27);
 * if (ok.length !== 0) throw new Error(ok.join());
 * ```
 */
export function libraryProblems(
  meta: LibraryMetadata,
  quantization: string | undefined,
  records: readonly CacheParam[],
  bindingLimit?: number,
): string[] {
  const problems: string[] = [];
  const era = libraryEraProblem(meta);
  if (era) problems.push(era);
  if (quantization && quantization !== meta.quantization) {
    problems.push(`the library is for ${meta.quantization}, the model is ${quantization}`);
  }
  const have = new Map(records.map((r) => [r.name, r]));
  const missing = meta.params.filter((p) => !have.has(p.name)).map((p) => p.name);
  if (missing.length) {
    problems.push(
      `the model lacks ${missing.length} parameter(s) the library loads: ${missing.slice(0, 5).join(", ")}` +
        (missing.length > 5 ? ", ..." : ""),
    );
  }
  const wanted = new Set(meta.params.map((p) => p.name));
  const extra = records.filter((r) => !wanted.has(r.name)).map((r) => r.name);
  if (extra.length) {
    problems.push(
      `the library does not load ${extra.length} parameter(s) of the model: ${extra.slice(0, 5).join(", ")}` +
        (extra.length > 5 ? ", ..." : ""),
    );
  }
  for (const p of meta.params) {
    const r = have.get(p.name);
    if (!r) continue;
    const fits = r.shape.length === p.shape.length &&
      p.shape.every((d, i) => typeof d === "string" || d === r.shape[i]);
    if (!fits || r.dtype !== p.dtype) {
      problems.push(
        `${p.name}: the library expects ${p.dtype}[${p.shape.join(", ")}], the model has ${r.dtype}[${
          r.shape.join(", ")
        }]`,
      );
    }
  }
  if (bindingLimit !== undefined) {
    const big = records.map((r) => ({ name: r.name, bytes: gpuBytes(r) })).filter((r) =>
      r.bytes > bindingLimit
    )
      .sort((a, b) => b.bytes - a.bytes);
    if (big.length) {
      problems.push(
        `${big[0].name} is ${
          big[0].bytes
        } bytes on the GPU, more than this adapter's maxStorageBufferBindingSize ` +
          `(${bindingLimit} bytes)${tooBig(big.slice(1).map((b) => b.name))}: ` +
          "the runtime would compute with it as zeros; use a quantization that keeps every tensor under the limit",
      );
    }
  }
  return problems;
}
