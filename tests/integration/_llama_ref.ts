/**
 * An independent reference forward pass (float64 arithmetic) of a Llama converted at q4f32_1,
 * read straight from our output files (tensor-cache.json + shards): MLC's fused names
 * (qkv_proj = [q; k; v], gate_up_proj = [gate; up]; mlc-llm python/mlc_llm/model/llama/llama_model.py),
 * q4f32_1 codes dequantized as (code - 7) * scale in groups of 32, 8 codes per uint32 word, low
 * bits first (mlc-llm python/mlc_llm/quantization/group_quantization.py), RMSNorm, rotate-half
 * RoPE (theta 10000), grouped-query causal attention, SiLU-gated MLP; with a KV cache so that
 * decoding steps cost one token each.
 *
 * @module
 */

interface Record_ {
  name: string;
  shape: number[];
  dtype: string;
  format: string;
  nbytes: number;
  byteOffset: number;
}

/** float32 records stored as "f32-to-bf16" (the top 16 bits of each value; MLC's tensor cache format). */
function bf16ToF32(buf: ArrayBuffer): Float32Array {
  const h = new Uint16Array(buf);
  const u = new Uint32Array(h.length);
  for (let i = 0; i < h.length; i++) u[i] = h[i] << 16;
  return new Float32Array(u.buffer);
}

/** The model's tensors, by name (little-endian views of the shard bytes). */
export async function loadTensors(
  dir: string,
): Promise<Map<string, { shape: number[]; data: Uint32Array | Float32Array }>> {
  const cache = JSON.parse(await Deno.readTextFile(`${dir}/tensor-cache.json`));
  const out = new Map<string, { shape: number[]; data: Uint32Array | Float32Array }>();
  for (const s of cache.records as { dataPath: string; records: Record_[] }[]) {
    const bytes = await Deno.readFile(`${dir}/${s.dataPath}`);
    for (const r of s.records) {
      const buf = bytes.slice(r.byteOffset, r.byteOffset + r.nbytes).buffer;
      out.set(r.name, {
        shape: r.shape,
        data: r.dtype === "uint32"
          ? new Uint32Array(buf)
          : r.format === "f32-to-bf16"
          ? bf16ToF32(buf)
          : new Float32Array(buf),
      });
    }
  }
  return out;
}

/** Config of the reference pass. */
export interface RefConfig {
  hidden: number;
  heads: number;
  kvHeads: number;
  layers: number;
  vocab: number;
  eps: number;
  theta: number;
}

type Tensors = Awaited<ReturnType<typeof loadTensors>>;

/** Row `r` of a q4f32_1 weight `name`, dequantized into `row` (length k). */
function dequantRow(t: Tensors, name: string, r: number, row: Float64Array): void {
  const w = t.get(`${name}.q_weight`)!.data as Uint32Array;
  const s = t.get(`${name}.q_scale`)!.data as Float32Array;
  const k = row.length;
  const wpr = k / 8;
  const gpr = k / 32;
  for (let j = 0; j < wpr; j++) {
    const word = w[r * wpr + j];
    const scale = s[r * gpr + (j >> 2)];
    for (let i = 0; i < 8; i++) row[j * 8 + i] = (((word >>> (i * 4)) & 15) - 7) * scale;
  }
}

/** y[t] = W x[t] for every t (each row dequantized once). */
function matmul(t: Tensors, name: string, xs: Float64Array[]): Float64Array[] {
  const rows = t.get(`${name}.q_weight`)!.shape[0];
  const k = xs[0].length;
  const row = new Float64Array(k);
  const ys = xs.map(() => new Float64Array(rows));
  for (let r = 0; r < rows; r++) {
    dequantRow(t, name, r, row);
    for (let b = 0; b < xs.length; b++) {
      const x = xs[b];
      let acc = 0;
      for (let j = 0; j < k; j++) acc += row[j] * x[j];
      ys[b][r] = acc;
    }
  }
  return ys;
}

function rmsNorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * inv * w[i]);
}

function rope(v: Float64Array, off: number, d: number, pos: number, theta: number): void {
  const half = d / 2;
  for (let i = 0; i < half; i++) {
    const a = pos / Math.pow(theta, (2 * i) / d);
    const c = Math.cos(a), s = Math.sin(a);
    const x0 = v[off + i], x1 = v[off + i + half];
    v[off + i] = x0 * c - x1 * s;
    v[off + i + half] = x1 * c + x0 * s;
  }
}

/** A reference model with its KV cache. */
export class LlamaRef {
  #k: Float64Array[][];
  #v: Float64Array[][];
  constructor(readonly tensors: Tensors, readonly config: RefConfig) {
    const c = config;
    this.#k = Array.from({ length: c.layers }, () => []);
    this.#v = Array.from({ length: c.layers }, () => []);
  }

  /** Feeds `ids` after what was fed before; returns the logits after the last one. */
  forward(ids: number[]): Float64Array {
    const { tensors: t, config: c } = this;
    const d = c.hidden / c.heads;
    const pos0 = this.#k[0].length;
    let xs = ids.map((id) => {
      const row = new Float64Array(c.hidden);
      dequantRow(t, "model.embed_tokens", id, row);
      return row;
    });
    for (let l = 0; l < c.layers; l++) {
      const p = `model.layers.${l}`;
      const normed = xs.map((x) =>
        rmsNorm(x, t.get(`${p}.input_layernorm.weight`)!.data as Float32Array, c.eps)
      );
      const qkv = matmul(t, `${p}.self_attn.qkv_proj`, normed);
      const attn = qkv.map((v, b) => {
        const pos = pos0 + b;
        for (let h = 0; h < c.heads + c.kvHeads; h++) rope(v, h * d, d, pos, c.theta);
        this.#k[l].push(v.slice(c.hidden, c.hidden + c.kvHeads * d));
        this.#v[l].push(v.slice(c.hidden + c.kvHeads * d));
        return v;
      }).map((v, b) => {
        const n = pos0 + b + 1;
        const o = new Float64Array(c.hidden);
        for (let h = 0; h < c.heads; h++) {
          const kv = Math.floor(h / (c.heads / c.kvHeads)) * d;
          const sc = new Float64Array(n);
          let max = -Infinity;
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let i = 0; i < d; i++) s += v[h * d + i] * this.#k[l][j][kv + i];
            sc[j] = s / Math.sqrt(d);
            max = Math.max(max, sc[j]);
          }
          let sum = 0;
          for (let j = 0; j < n; j++) sum += sc[j] = Math.exp(sc[j] - max);
          for (let j = 0; j < n; j++) {
            for (let i = 0; i < d; i++) o[h * d + i] += (sc[j] / sum) * this.#v[l][j][kv + i];
          }
        }
        return o;
      });
      const proj = matmul(t, `${p}.self_attn.o_proj`, attn);
      xs = xs.map((x, b) => x.map((v, i) => v + proj[b][i]));
      const n2 = xs.map((x) =>
        rmsNorm(x, t.get(`${p}.post_attention_layernorm.weight`)!.data as Float32Array, c.eps)
      );
      const gu = matmul(t, `${p}.mlp.gate_up_proj`, n2);
      const inter = gu[0].length / 2;
      const act = gu.map((g) => {
        const a = new Float64Array(inter);
        for (let i = 0; i < inter; i++) a[i] = (g[i] / (1 + Math.exp(-g[i]))) * g[inter + i];
        return a;
      });
      const down = matmul(t, `${p}.mlp.down_proj`, act);
      xs = xs.map((x, b) => x.map((v, i) => v + down[b][i]));
    }
    const last = rmsNorm(xs[xs.length - 1], t.get("model.norm.weight")!.data as Float32Array, c.eps);
    return matmul(t, "lm_head", [last])[0];
  }
}

/** Index of the largest value (the first on ties). */
export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}
