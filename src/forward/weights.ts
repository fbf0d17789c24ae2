/**
 * The weights of a converted directory as the reference forward pass reads them: records of
 * `tensor-cache.json` decoded to float32 (float32 records are stored as bf16, TVM's
 * `f32-to-bf16`), and group-quantized matrices (`q_weight` + `q_scale`, NK or KN) dequantized a
 * block of rows at a time, so memory stays bounded by a block (a KN matrix: by the matrix).
 *
 * @module
 */
import type { CacheRecord } from "../cache_json.ts";
import type { RandomAccessFile, SourceStore } from "../io/types.ts";
import { f16Value } from "../quant/reference.ts";
import type { GroupQuantScheme } from "../quant/schemes.ts";
import { groupConstants } from "../quant/schemes.ts";
import { readTensorCache } from "../verify.ts";
import { dequantizeReference } from "../verify_kernels.ts";

/** Rows of a matrix dequantized at a time. */
const BLOCK_ROWS = 64;

interface Located {
  record: CacheRecord;
  file: string;
}

/** A `rows x cols` weight whose rows come as float32 values, a block at a time. */
export interface Matrix {
  /** Output features. */
  readonly rows: number;
  /** Input features. */
  readonly cols: number;
  /** Calls `use(r0, values)` for consecutive blocks; `values` holds rows r0.. as `n x cols` (reused). */
  blocks(use: (r0: number, values: Float32Array) => void): Promise<void>;
  /** Row `r` (an embedding lookup). */
  row(r: number): Promise<Float32Array>;
}

/** Decodes stored bytes of `dtype` to float32 (float32 records are stored as bf16). */
export function decodeRecord(bytes: Uint8Array, dtype: string, count: number): Float32Array {
  const out = new Float32Array(count);
  if (dtype === "float16") {
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
    for (let i = 0; i < count; i++) out[i] = f16Value(h[i]);
  } else if (dtype === "bfloat16" || dtype === "float32") {
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u[i] = h[i] << 16;
  } else throw new Error(`cannot decode ${dtype} values`);
  return out;
}

const count = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A {@link Matrix} over `read(r0, n)`, which gives rows r0.. as float32 values. */
function blockMatrix(
  rows: number,
  cols: number,
  read: (r0: number, n: number) => Promise<Float32Array>,
): Matrix {
  return {
    rows,
    cols,
    row: (i) => read(i, 1),
    blocks: async (use) => {
      for (let r0 = 0; r0 < rows; r0 += BLOCK_ROWS) use(r0, await read(r0, Math.min(BLOCK_ROWS, rows - r0)));
    },
  };
}

/** The records of a converted directory, read on demand through a {@link SourceStore}. */
export class ModelWeights {
  #files = new Map<string, RandomAccessFile>();
  private constructor(
    readonly store: SourceStore,
    readonly dir: string,
    readonly records: ReadonlyMap<string, Located>,
    readonly scheme: GroupQuantScheme | undefined,
  ) {}

  /**
   * Opens `dir` (its tensor cache); `scheme` is the group quantization of its `q_weight`
   * records (none for `q0*` conversions).
   */
  static async open(store: SourceStore, dir: string, scheme?: GroupQuantScheme): Promise<ModelWeights> {
    const { cache } = await readTensorCache(store, dir);
    const records = new Map<string, Located>();
    for (const s of cache.records) {
      for (const r of s.records) records.set(r.name, { record: r, file: `${dir}/${s.dataPath}` });
    }
    return new ModelWeights(store, dir, records, scheme);
  }

  /** Whether the parameter `base` (e.g. `model.layers.0.self_attn.c_attn`) has a `.bias` / `.weight`. */
  has(name: string): boolean {
    return this.records.has(name);
  }

  async #bytes(name: string, offset = 0, n?: number): Promise<Uint8Array> {
    const loc = this.records.get(name);
    if (!loc) throw new Error(`${this.dir}: no tensor ${name} in the tensor cache`);
    let f = this.#files.get(loc.file);
    if (!f) this.#files.set(loc.file, f = await this.store.open(loc.file));
    const out = new Uint8Array(n ?? loc.record.nbytes - offset);
    await f.readAt(loc.record.byteOffset + offset, out);
    return out;
  }

  /** A 1-D record (a norm weight, a bias) as float32 values. */
  async vector(name: string): Promise<Float32Array> {
    const r = this.records.get(name)?.record;
    if (!r) throw new Error(`${this.dir}: no tensor ${name} in the tensor cache`);
    return decodeRecord(await this.#bytes(name), r.dtype, count(r.shape));
  }

  /**
   * The matrix `base` (`base.weight`, or `base.q_weight` + `base.q_scale`) with `cols` input
   * features (a quantized record's last group may be partial: its width alone does not say).
   */
  matrix(base: string, cols: number): Matrix {
    if (this.records.has(`${base}.weight`)) return this.#plain(`${base}.weight`, cols);
    if (this.records.has(`${base}.q_weight`)) return this.#quantized(base, cols);
    throw new Error(`${this.dir}: no tensor ${base}.weight or ${base}.q_weight in the tensor cache`);
  }

  #plain(name: string, cols: number): Matrix {
    const r = this.records.get(name)!.record;
    if (r.shape.length !== 2 || r.shape[1] !== cols) {
      throw new Error(`${name}: expected a matrix of ${cols} columns, got shape [${r.shape}]`);
    }
    const rows = r.shape[0];
    const item = r.nbytes / count(r.shape);
    return blockMatrix(
      rows,
      cols,
      async (r0, n) =>
        decodeRecord(await this.#bytes(name, r0 * cols * item, n * cols * item), r.dtype, n * cols),
    );
  }

  #quantized(base: string, cols: number): Matrix {
    const s = this.scheme;
    if (!s) throw new Error(`${base}.q_weight: the directory's quantization is not a group quantization`);
    const w = this.records.get(`${base}.q_weight`)!.record;
    const modelDtype = this.records.get(`${base}.q_scale`)?.record.dtype;
    if (modelDtype !== "float16" && modelDtype !== "bfloat16" && modelDtype !== "float32") {
      throw new Error(`${base}.q_scale: missing or of an unexpected dtype (${modelDtype})`);
    }
    // NK: q_weight [n, words], q_scale [n, groups]; KN (the transposed layout of some schemes'
    // Linear weights): q_weight [words, n], q_scale [groups, n]
    const kn = w.shape[0] !== this.records.get(`${base}.q_scale`)!.record.shape[0];
    const rows = kn ? w.shape[1] : w.shape[0];
    const wpr = kn ? w.shape[0] : w.shape[1];
    const groups = wpr / groupConstants(s).wordsPerGroup;
    if (groups !== Math.ceil(cols / s.groupSize)) {
      throw new Error(`${base}.q_weight: ${groups} groups a row do not hold ${cols} columns (${s.name})`);
    }
    const params = { bits: s.bits, groupSize: s.groupSize, modelDtype, k: cols } as const;
    const read = kn ? this.#knReader(base, rows, wpr, groups) : this.#nkReader(base, wpr, groups);
    const dequant = async (r0: number, n: number) => {
      const { words, scaleBytes } = await read(r0, n);
      const scales = modelDtype === "float32"
        ? decodeRecord(scaleBytes, "float32", n * groups)
        : new Uint16Array(scaleBytes.buffer, scaleBytes.byteOffset, n * groups);
      return Float32Array.from(dequantizeReference({ words, scales, rows: n, ...params }));
    };
    return blockMatrix(rows, cols, dequant);
  }

  #nkReader(base: string, wpr: number, groups: number) {
    const scaleItem = this.records.get(`${base}.q_scale`)!.record.nbytes / count(
      this.records.get(`${base}.q_scale`)!.record.shape,
    );
    return async (r0: number, n: number) => ({
      words: new Uint32Array((await this.#bytes(`${base}.q_weight`, r0 * wpr * 4, n * wpr * 4)).buffer),
      scaleBytes: await this.#bytes(`${base}.q_scale`, r0 * groups * scaleItem, n * groups * scaleItem),
    });
  }

  /** KN records hold the transposed matrix: read whole once, hand out rows of its transpose. */
  #knReader(base: string, rows: number, wpr: number, groups: number) {
    let whole: Promise<{ w: Uint32Array; s: Uint16Array }> | undefined;
    const load = async () => ({
      w: new Uint32Array((await this.#bytes(`${base}.q_weight`)).buffer),
      s: new Uint16Array((await this.#bytes(`${base}.q_scale`)).buffer),
    });
    return async (r0: number, n: number) => {
      const { w, s } = await (whole ??= load());
      const words = new Uint32Array(n * wpr);
      const scales = new Uint16Array(n * groups);
      for (let r = 0; r < n; r++) {
        for (let j = 0; j < wpr; j++) words[r * wpr + j] = w[j * rows + r0 + r];
        for (let g = 0; g < groups; g++) scales[r * groups + g] = s[g * rows + r0 + r];
      }
      return { words, scaleBytes: new Uint8Array(scales.buffer) };
    };
  }

  /** Closes the shard files. */
  close(): void {
    for (const f of this.#files.values()) f.close();
    this.#files.clear();
  }
}
