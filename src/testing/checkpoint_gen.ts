/**
 * Deterministic tiny checkpoint generator (tests, demo, benchmark) and a sparse checkpoint
 * writer (real dimensions, header only, file extended to full size: no disk cost).
 *
 * @module
 */
import { encodeSafetensorsHeader } from "../safetensors.ts";
import { GEN_ITEM_BYTES, type GenDType, type GenTensor, tensorData } from "../gen_tensors.ts";

export { GEN_ITEM_BYTES, type GenDType, type GenTensor, llamaHfTensors, tensorData } from "../gen_tensors.ts";
export { Rng } from "../rng.ts";

const ITEM = GEN_ITEM_BYTES;

/** Options of {@link writeCheckpoint}. */
export interface WriteCheckpointOptions {
  /** Source dtype (default BF16). */
  dtype?: GenDType;
  /** Seed (default 0). */
  seed?: number;
  /** Number of files; > 1 writes an HF-style sharded checkpoint with a sorted index. */
  shards?: number;
  /** Header only, file extended to full size (all-zero data, sparse on disk). */
  sparse?: boolean;
  /** Per-tensor dtype override. */
  dtypeOf?: (name: string) => GenDType | undefined;
}

/**
 * Writes `config.json` and safetensors weights into `dir` like `save_pretrained`: names
 * sorted, one file or `shards` files with `model.safetensors.index.json` (sorted keys).
 *
 * @example
 * ```ts ignore
 * import { writeCheckpoint } from "./checkpoint_gen.ts";
 * await writeCheckpoint("/tmp/m", { model_type: "llama" }, [{ name: "w", shape: [2] }]);
 * ```
 */
export async function writeCheckpoint(
  dir: string,
  config: Record<string, unknown> | string,
  tensors: GenTensor[],
  opts: WriteCheckpointOptions = {},
): Promise<void> {
  const dtype = opts.dtype ?? "BF16";
  const seed = opts.seed ?? 0;
  const nfiles = opts.shards ?? 1;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/config.json`,
    typeof config === "string" ? config : JSON.stringify(config, null, 2),
  );
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const dt = (t: GenTensor) => opts.dtypeOf?.(t.name) ?? dtype;
  const size = (t: GenTensor) => t.shape.reduce((a, b) => a * b, 1) * ITEM[dt(t)];
  // split in order into nfiles groups of similar byte size
  const total = sorted.reduce((a, t) => a + size(t), 0);
  const groups: GenTensor[][] = Array.from({ length: nfiles }, () => []);
  let acc = 0;
  for (const t of sorted) {
    const g = Math.min(nfiles - 1, Math.floor(acc / (total / nfiles)));
    groups[g].push(t);
    acc += size(t);
  }
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < nfiles; i++) {
    const fname = nfiles === 1
      ? "model.safetensors"
      : `model-${String(i + 1).padStart(5, "0")}-of-${String(nfiles).padStart(5, "0")}.safetensors`;
    const g = groups[i];
    const header = encodeSafetensorsHeader(
      g.map((t) => ({ name: t.name, stDtype: dt(t), shape: t.shape, nbytes: size(t) })),
      { format: "pt" },
    );
    const f = await Deno.open(`${dir}/${fname}`, { write: true, create: true, truncate: true });
    try {
      await f.write(header);
      if (opts.sparse) await f.truncate(header.length + g.reduce((a, t) => a + size(t), 0));
      else {
        for (const t of g) {
          const data = tensorData(t, dt(t), seed);
          let o = 0;
          while (o < data.length) o += await f.write(data.subarray(o));
        }
      }
    } finally {
      f.close();
    }
    for (const t of g) weightMap[t.name] = fname;
  }
  if (nfiles > 1) {
    await Deno.writeTextFile(
      `${dir}/model.safetensors.index.json`,
      JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
    );
  }
}

/** A tiny Llama config.json (2 layers, GQA, ragged intermediate size for partial groups). */
export const TINY_LLAMA_CONFIG: Readonly<Record<string, unknown>> = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_size: 64,
  intermediate_size: 176,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  rms_norm_eps: 1e-5,
  vocab_size: 256,
  max_position_embeddings: 2048,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
};

/** TinyLlama-1.1B's config.json (for the benchmark's generated checkpoint). */
export const TINYLLAMA_1_1B_CONFIG: Readonly<Record<string, unknown>> = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_size: 2048,
  intermediate_size: 5632,
  num_attention_heads: 32,
  num_key_value_heads: 4,
  num_hidden_layers: 22,
  rms_norm_eps: 1e-5,
  vocab_size: 32000,
  max_position_embeddings: 2048,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
};
