/**
 * Deterministic tiny checkpoint generator (tests, demo, benchmark) and a sparse checkpoint
 * writer (real dimensions, header only, file extended to full size: no disk cost).
 *
 * @module
 */
import { encodeSafetensorsHeader } from "../safetensors.ts";
import { fnv1a, Rng } from "../_rng.ts";

/** A tensor to generate. */
export interface GenTensor {
  /** HF name. */
  name: string;
  /** Shape. */
  shape: number[];
}

/** Safetensors dtype of generated data. */
export type GenDType = "F16" | "BF16" | "F32";

const ITEM: Record<GenDType, number> = { F16: 2, BF16: 2, F32: 4 };

export { Rng } from "../_rng.ts";

/**
 * Deterministic values for a tensor: Gaussian * 0.02 (norm weights `*norm*` / `*ln*`:
 * around 1), seeded by name and `seed`, encoded in `dtype`.
 *
 * @example
 * ```ts
 * import { tensorData } from "./checkpoint_gen.ts";
 * tensorData({ name: "w", shape: [4] }, "F16", 1).length; // 8
 * ```
 */
export function tensorData(t: GenTensor, dtype: GenDType, seed: number): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const rng = new Rng(fnv1a(t.name) ^ seed);
  const out = new Uint8Array(n * ITEM[dtype]);
  const dv = new DataView(out.buffer);
  const isNorm = /norm|(^|\.)ln/.test(t.name) && t.shape.length === 1;
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const f16 = new Float16Array(1);
  const u16 = new Uint16Array(f16.buffer);
  for (let i = 0; i < n; i++) {
    const v = isNorm ? 1 + rng.gauss() * 0.1 : rng.gauss() * 0.02;
    if (dtype === "F32") dv.setFloat32(i * 4, v, true);
    else if (dtype === "F16") {
      f16[0] = v;
      dv.setUint16(i * 2, u16[0], true);
    } else {
      f32[0] = v;
      const b = u32[0];
      dv.setUint16(i * 2, ((b + ((b >>> 16) & 1) + 0x7fff) >>> 16) & 0xffff, true);
    }
  }
  return out;
}

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

/**
 * HF tensor names and shapes of a `LlamaForCausalLM` checkpoint for a config.json object.
 *
 * @example
 * ```ts
 * import { llamaHfTensors } from "./checkpoint_gen.ts";
 * llamaHfTensors({ hidden_size: 8, intermediate_size: 16, num_attention_heads: 2,
 *   num_hidden_layers: 1, vocab_size: 10 }).length; // 12
 * ```
 */
export function llamaHfTensors(cfg: Record<string, unknown>): GenTensor[] {
  const h = cfg.hidden_size as number;
  const inter = cfg.intermediate_size as number;
  const nq = cfg.num_attention_heads as number;
  const nkv = (cfg.num_key_value_heads as number | undefined) ?? nq;
  const d = (cfg.head_dim as number | undefined) ?? h / nq;
  const v = cfg.vocab_size as number;
  const out: GenTensor[] = [{ name: "model.embed_tokens.weight", shape: [v, h] }];
  for (let i = 0; i < (cfg.num_hidden_layers as number); i++) {
    const p = `model.layers.${i}`;
    out.push(
      { name: `${p}.self_attn.q_proj.weight`, shape: [nq * d, h] },
      { name: `${p}.self_attn.k_proj.weight`, shape: [nkv * d, h] },
      { name: `${p}.self_attn.v_proj.weight`, shape: [nkv * d, h] },
      { name: `${p}.self_attn.o_proj.weight`, shape: [h, nq * d] },
      { name: `${p}.mlp.gate_proj.weight`, shape: [inter, h] },
      { name: `${p}.mlp.up_proj.weight`, shape: [inter, h] },
      { name: `${p}.mlp.down_proj.weight`, shape: [h, inter] },
      { name: `${p}.input_layernorm.weight`, shape: [h] },
      { name: `${p}.post_attention_layernorm.weight`, shape: [h] },
    );
  }
  out.push({ name: "model.norm.weight", shape: [h] });
  if (!cfg.tie_word_embeddings) out.push({ name: "lm_head.weight", shape: [v, h] });
  return out;
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
