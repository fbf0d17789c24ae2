/**
 * The tensors of real Hugging Face checkpoints, per architecture, in the checkpoint's
 * `state_dict` order (the order `save_pretrained` fills its shard files in), plus an
 * in-memory header-only checkpoint for plans. Written from the HF modeling code, not from
 * our architecture files, so tests comparing the two are meaningful.
 *
 * @module
 */
import type { Checkpoint, SourceTensor } from "../checkpoint.ts";
import { type DType, itemSize } from "../dtype.ts";
import type { GenTensor } from "./checkpoint_gen.ts";
import { DENSE_HF_LAYOUTS } from "./hf_layouts_dense.ts";
import { MOE_HF_LAYOUTS } from "./hf_layouts_moe.ts";
import { MM_HF_LAYOUTS } from "./hf_layouts_mm.ts";

const n = (cfg: Record<string, unknown>, k: string, def?: number): number => {
  const v = cfg[k];
  if (v === null || v === undefined) {
    if (def === undefined) throw new Error(`config.json has no ${k}`);
    return def;
  }
  return Number(v);
};

type Layout = (cfg: Record<string, unknown>) => GenTensor[];

function llamaLike(
  cfg: Record<string, unknown>,
  o: { qkvBias?: boolean; oBias?: boolean; qkNorm?: boolean; extraNorms?: string[]; head?: boolean },
): GenTensor[] {
  const h = n(cfg, "hidden_size");
  const inter = n(cfg, "intermediate_size");
  const nq = n(cfg, "num_attention_heads");
  const nkv = n(cfg, "num_key_value_heads", nq);
  const d = n(cfg, "head_dim", Math.floor(h / nq));
  const v = n(cfg, "vocab_size");
  const out: GenTensor[] = [{ name: "model.embed_tokens.weight", shape: [v, h] }];
  for (let i = 0; i < n(cfg, "num_hidden_layers"); i++) {
    const p = `model.layers.${i}`;
    out.push({ name: `${p}.self_attn.q_proj.weight`, shape: [nq * d, h] });
    if (o.qkvBias) out.push({ name: `${p}.self_attn.q_proj.bias`, shape: [nq * d] });
    out.push({ name: `${p}.self_attn.k_proj.weight`, shape: [nkv * d, h] });
    if (o.qkvBias) out.push({ name: `${p}.self_attn.k_proj.bias`, shape: [nkv * d] });
    out.push({ name: `${p}.self_attn.v_proj.weight`, shape: [nkv * d, h] });
    if (o.qkvBias) out.push({ name: `${p}.self_attn.v_proj.bias`, shape: [nkv * d] });
    out.push({ name: `${p}.self_attn.o_proj.weight`, shape: [h, nq * d] });
    if (o.oBias) out.push({ name: `${p}.self_attn.o_proj.bias`, shape: [h] });
    if (o.qkNorm) {
      out.push({ name: `${p}.self_attn.q_norm.weight`, shape: [d] }, {
        name: `${p}.self_attn.k_norm.weight`,
        shape: [d],
      });
    }
    out.push(
      { name: `${p}.mlp.gate_proj.weight`, shape: [inter, h] },
      { name: `${p}.mlp.up_proj.weight`, shape: [inter, h] },
      { name: `${p}.mlp.down_proj.weight`, shape: [h, inter] },
      { name: `${p}.input_layernorm.weight`, shape: [h] },
      { name: `${p}.post_attention_layernorm.weight`, shape: [h] },
      ...(o.extraNorms ?? []).map((x) => ({ name: `${p}.${x}.weight`, shape: [h] })),
    );
  }
  out.push({ name: "model.norm.weight", shape: [h] });
  if (o.head ?? !cfg.tie_word_embeddings) out.push({ name: "lm_head.weight", shape: [v, h] });
  return out;
}

function phiMsftLike(cfg: Record<string, unknown>, mixformer: boolean): GenTensor[] {
  const h = n(cfg, "n_embd", 2560);
  const inner = n(cfg, "n_inner", 4 * h) || 4 * h;
  const nq = n(cfg, "n_head", 32);
  const nkv = n(cfg, "n_head_kv", nq) || nq;
  const d = h / nq;
  const v = n(cfg, "vocab_size", 51200);
  const layers = n(cfg, "n_layer", 32);
  const qkv = (nq + 2 * nkv) * d;
  const block = (p: string): GenTensor[] => [
    { name: `${p}.ln.weight`, shape: [h] },
    { name: `${p}.ln.bias`, shape: [h] },
    { name: `${p}.mixer.Wqkv.weight`, shape: [qkv, h] },
    { name: `${p}.mixer.Wqkv.bias`, shape: [qkv] },
    { name: `${p}.mixer.out_proj.weight`, shape: [h, nq * d] },
    { name: `${p}.mixer.out_proj.bias`, shape: [h] },
    { name: `${p}.mlp.fc1.weight`, shape: [inner, h] },
    { name: `${p}.mlp.fc1.bias`, shape: [inner] },
    { name: `${p}.mlp.fc2.weight`, shape: [h, inner] },
    { name: `${p}.mlp.fc2.bias`, shape: [h] },
  ];
  const head = (p: string): GenTensor[] => [
    { name: `${p}.ln.weight`, shape: [h] },
    { name: `${p}.ln.bias`, shape: [h] },
    { name: `${p}.linear.weight`, shape: [v, h] },
    { name: `${p}.linear.bias`, shape: [v] },
  ];
  const out: GenTensor[] = [{
    name: mixformer ? "layers.0.wte.weight" : "transformer.embd.wte.weight",
    shape: [v, h],
  }];
  for (let i = 0; i < layers; i++) out.push(...block(mixformer ? `layers.${i + 1}` : `transformer.h.${i}`));
  out.push(...head(mixformer ? `layers.${layers + 1}` : "lm_head"));
  return out;
}

/** HF checkpoint layouts by MLC registry key (`phi-msft` follows config.json's model_type). */
export const HF_LAYOUTS: Readonly<Record<string, Layout>> = {
  llama: (cfg) => llamaLike(cfg, {}),
  mistral: (cfg) => llamaLike(cfg, { head: true }),
  qwen2: (cfg) => llamaLike(cfg, { qkvBias: true }),
  qwen3: (cfg) =>
    llamaLike(cfg, { qkvBias: !!cfg.attention_bias, oBias: !!cfg.attention_bias, qkNorm: true }),
  gemma: (cfg) => llamaLike(cfg, { head: false }),
  gemma2: (cfg) =>
    llamaLike(cfg, { head: false, extraNorms: ["pre_feedforward_layernorm", "post_feedforward_layernorm"] }),
  phi3: (cfg) => {
    const h = n(cfg, "hidden_size");
    const inter = n(cfg, "intermediate_size");
    const nq = n(cfg, "num_attention_heads");
    const nkv = n(cfg, "num_key_value_heads", nq);
    const d = h / nq;
    const v = n(cfg, "vocab_size");
    const out: GenTensor[] = [{ name: "model.embed_tokens.weight", shape: [v, h] }];
    for (let i = 0; i < n(cfg, "num_hidden_layers"); i++) {
      const p = `model.layers.${i}`;
      out.push(
        { name: `${p}.self_attn.o_proj.weight`, shape: [h, nq * d] },
        { name: `${p}.self_attn.qkv_proj.weight`, shape: [(nq + 2 * nkv) * d, h] },
        { name: `${p}.mlp.gate_up_proj.weight`, shape: [2 * inter, h] },
        { name: `${p}.mlp.down_proj.weight`, shape: [h, inter] },
        { name: `${p}.input_layernorm.weight`, shape: [h] },
        { name: `${p}.post_attention_layernorm.weight`, shape: [h] },
      );
    }
    out.push({ name: "model.norm.weight", shape: [h] });
    if (!cfg.tie_word_embeddings) out.push({ name: "lm_head.weight", shape: [v, h] });
    return out;
  },
  phi: (cfg) => {
    const h = n(cfg, "hidden_size", 2048);
    const inter = n(cfg, "intermediate_size", 4 * h) || 4 * h;
    const nq = n(cfg, "num_attention_heads", 32);
    const nkv = n(cfg, "num_key_value_heads", nq) || nq;
    const d = h / nq;
    const v = n(cfg, "vocab_size", 51200);
    const out: GenTensor[] = [{ name: "model.embed_tokens.weight", shape: [v, h] }];
    for (let i = 0; i < n(cfg, "num_hidden_layers", 24); i++) {
      const p = `model.layers.${i}`;
      out.push(
        { name: `${p}.self_attn.q_proj.weight`, shape: [nq * d, h] },
        { name: `${p}.self_attn.q_proj.bias`, shape: [nq * d] },
        { name: `${p}.self_attn.k_proj.weight`, shape: [nkv * d, h] },
        { name: `${p}.self_attn.k_proj.bias`, shape: [nkv * d] },
        { name: `${p}.self_attn.v_proj.weight`, shape: [nkv * d, h] },
        { name: `${p}.self_attn.v_proj.bias`, shape: [nkv * d] },
        { name: `${p}.self_attn.dense.weight`, shape: [h, nq * d] },
        { name: `${p}.self_attn.dense.bias`, shape: [h] },
        { name: `${p}.mlp.fc1.weight`, shape: [inter, h] },
        { name: `${p}.mlp.fc1.bias`, shape: [inter] },
        { name: `${p}.mlp.fc2.weight`, shape: [h, inter] },
        { name: `${p}.mlp.fc2.bias`, shape: [h] },
        { name: `${p}.input_layernorm.weight`, shape: [h] },
        { name: `${p}.input_layernorm.bias`, shape: [h] },
      );
    }
    out.push(
      { name: "model.final_layernorm.weight", shape: [h] },
      { name: "model.final_layernorm.bias", shape: [h] },
      { name: "lm_head.weight", shape: [v, h] },
      { name: "lm_head.bias", shape: [v] },
    );
    return out;
  },
  "phi-msft": (cfg) => phiMsftLike(cfg, cfg.model_type === "mixformer-sequential"),
  gpt_neox: (cfg) => {
    const h = n(cfg, "hidden_size");
    const inter = n(cfg, "intermediate_size");
    const v = n(cfg, "vocab_size");
    const out: GenTensor[] = [{ name: "gpt_neox.embed_in.weight", shape: [v, h] }];
    for (let i = 0; i < n(cfg, "num_hidden_layers"); i++) {
      const p = `gpt_neox.layers.${i}`;
      out.push(
        { name: `${p}.input_layernorm.weight`, shape: [h] },
        { name: `${p}.input_layernorm.bias`, shape: [h] },
        { name: `${p}.post_attention_layernorm.weight`, shape: [h] },
        { name: `${p}.post_attention_layernorm.bias`, shape: [h] },
        { name: `${p}.attention.query_key_value.weight`, shape: [3 * h, h] },
        { name: `${p}.attention.query_key_value.bias`, shape: [3 * h] },
        { name: `${p}.attention.dense.weight`, shape: [h, h] },
        { name: `${p}.attention.dense.bias`, shape: [h] },
        { name: `${p}.mlp.dense_h_to_4h.weight`, shape: [inter, h] },
        { name: `${p}.mlp.dense_h_to_4h.bias`, shape: [inter] },
        { name: `${p}.mlp.dense_4h_to_h.weight`, shape: [h, inter] },
        { name: `${p}.mlp.dense_4h_to_h.bias`, shape: [h] },
      );
    }
    out.push(
      { name: "gpt_neox.final_layer_norm.weight", shape: [h] },
      { name: "gpt_neox.final_layer_norm.bias", shape: [h] },
      { name: "embed_out.weight", shape: [v, h] },
    );
    return out;
  },
  gpt2: (cfg) => {
    const h = n(cfg, "n_embd");
    const inter = n(cfg, "n_inner", 4 * h) === -1 ? 4 * h : n(cfg, "n_inner", 4 * h);
    const c = n(cfg, "n_positions");
    const v = n(cfg, "vocab_size");
    const out: GenTensor[] = [{ name: "wte.weight", shape: [v, h] }, { name: "wpe.weight", shape: [c, h] }];
    for (let i = 0; i < n(cfg, "n_layer"); i++) {
      const p = `h.${i}`;
      out.push(
        { name: `${p}.ln_1.weight`, shape: [h] },
        { name: `${p}.ln_1.bias`, shape: [h] },
        { name: `${p}.attn.c_attn.weight`, shape: [h, 3 * h] },
        { name: `${p}.attn.c_attn.bias`, shape: [3 * h] },
        { name: `${p}.attn.c_proj.weight`, shape: [h, h] },
        { name: `${p}.attn.c_proj.bias`, shape: [h] },
        { name: `${p}.ln_2.weight`, shape: [h] },
        { name: `${p}.ln_2.bias`, shape: [h] },
        { name: `${p}.mlp.c_fc.weight`, shape: [h, inter] },
        { name: `${p}.mlp.c_fc.bias`, shape: [inter] },
        { name: `${p}.mlp.c_proj.weight`, shape: [inter, h] },
        { name: `${p}.mlp.c_proj.bias`, shape: [h] },
      );
    }
    out.push({ name: "ln_f.weight", shape: [h] }, { name: "ln_f.bias", shape: [h] });
    return out;
  },
  ...DENSE_HF_LAYOUTS,
  ...MOE_HF_LAYOUTS,
  ...MM_HF_LAYOUTS,
};

/**
 * The HF tensors of a checkpoint for `arch` (a registry key) and a config.json object, in
 * `state_dict` order.
 *
 * @example
 * ```ts
 * import { hfTensors } from "./hf_layouts.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(hfTensors("gpt2", { n_embd: 4, n_layer: 1, n_head: 2, n_positions: 8, vocab_size: 10 })[2].name, "h.0.ln_1.weight");
 * ```
 */
export function hfTensors(arch: string, cfg: Record<string, unknown>): GenTensor[] {
  const layout = HF_LAYOUTS[arch];
  if (!layout) throw new Error(`no HF layout for ${arch}`);
  return layout(cfg);
}

/** One file of a synthetic checkpoint. */
export interface SyntheticFile {
  /** File name (as in weight_map). */
  file: string;
  /** Its tensors, in data order. */
  tensors: readonly GenTensor[];
}

/**
 * An in-memory checkpoint: tensor order = the sorted weight_map (as HF writes its index;
 * for one single-dtype file this is also the data-offset order). Header only unless `data`
 * gives a tensor's bytes; other tensors read as zeros.
 *
 * @example
 * ```ts
 * import { syntheticCheckpoint } from "./hf_layouts.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const c = syntheticCheckpoint([{ file: "a.safetensors", tensors: [{ name: "w", shape: [2, 3] }] }]);
 * deepStrictEqual(c.tensors.get("w")!.nbytes, 12); // bf16
 * ```
 */
export function syntheticCheckpoint(
  files: readonly SyntheticFile[],
  opts: {
    dtype?: DType;
    dtypeOf?: (name: string) => DType | undefined;
    /** Tensor bytes (little-endian, in the tensor's dtype); missing tensors read as zeros. */
    data?: ReadonlyMap<string, Uint8Array>;
  } = {},
): Checkpoint {
  const stOf: Record<string, string> = { float16: "F16", bfloat16: "BF16", float32: "F32", uint32: "U32" };
  const tensors = new Map<string, SourceTensor>();
  const fileTensors = new Map<string, SourceTensor[]>();
  for (const f of files) {
    let offset = 0;
    const list: SourceTensor[] = [];
    for (const t of f.tensors) {
      const dtype = opts.dtypeOf?.(t.name) ?? opts.dtype ?? "bfloat16";
      const nbytes = t.shape.reduce((a, b) => a * b, 1) * itemSize(dtype);
      const st: SourceTensor = {
        name: t.name,
        file: f.file,
        stDtype: stOf[dtype],
        dtype,
        shape: [...t.shape],
        offset,
        nbytes,
      };
      offset += nbytes;
      list.push(st);
      tensors.set(t.name, st);
    }
    fileTensors.set(f.file, list);
  }
  const order = [...tensors.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    location: files.length === 1 ? files[0].file : "model.safetensors.index.json",
    order,
    tensors,
    fileTensors,
    read(name, start, into) {
      const t = tensors.get(name);
      if (!t) return Promise.reject(new Error(`tensor ${name} is not in the checkpoint`));
      if (start + into.length > t.nbytes) {
        return Promise.reject(new Error(`read past the end of tensor ${name}`));
      }
      const d = opts.data?.get(name);
      if (d) {
        if (d.length !== t.nbytes) {
          return Promise.reject(new Error(`data of ${name}: ${d.length} bytes, expected ${t.nbytes}`));
        }
        into.set(d.subarray(start, start + into.length));
      } else into.fill(0);
      return Promise.resolve();
    },
    close() {},
  };
}

/**
 * Splits `tensors` (state_dict order) into HF shard files at the given indices, naming them
 * `model-0000k-of-0000n.safetensors`.
 *
 * @example
 * ```ts
 * import { splitFiles } from "./hf_layouts.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(splitFiles([{ name: "a", shape: [1] }, { name: "b", shape: [1] }], [1]).map((f) => f.file), ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]);
 * ```
 */
export function splitFiles(tensors: readonly GenTensor[], cuts: readonly number[]): SyntheticFile[] {
  const bounds = [0, ...cuts, tensors.length];
  const total = bounds.length - 1;
  const pad = (x: number) => String(x).padStart(5, "0");
  return Array.from({ length: total }, (_, k) => ({
    file: total === 1 ? "model.safetensors" : `model-${pad(k + 1)}-of-${pad(total)}.safetensors`,
    tensors: tensors.slice(bounds[k], bounds[k + 1]),
  }));
}

/**
 * Where `save_pretrained` cuts a checkpoint into files (huggingface_hub
 * `split_state_dict_into_shards`): tensors in state_dict order, a new file whenever the next
 * tensor would push the current one over `maxShardSize` bytes (default `"5GB"` = 5e9).
 *
 * @example
 * ```ts
 * import { saveSplitCuts } from "./hf_layouts.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(saveSplitCuts([{ name: "a", shape: [3] }, { name: "b", shape: [3] }], 2, 10), [1]);
 * ```
 */
export function saveSplitCuts(
  tensors: readonly GenTensor[],
  itemBytes: number,
  maxShardSize = 5e9,
): number[] {
  const cuts: number[] = [];
  let size = 0;
  tensors.forEach((t, i) => {
    const b = t.shape.reduce((a, x) => a * x, 1) * itemBytes;
    if (size > 0 && size + b > maxShardSize) {
      cuts.push(i);
      size = 0;
    }
    size += b;
  });
  return cuts;
}
