/**
 * {@link ReferenceModel}: the reference forward pass over a converted directory, with its KV
 * cache, so that a prefill and then one decode step at a time cost what they should.
 *
 * @module
 */
import type { SourceStore } from "../io/types.ts";
import { getQuantization, type GroupQuantScheme } from "../quant/schemes.ts";
import {
  FORWARD_ARCHS,
  type ForwardArch,
  type ForwardConfig,
  forwardConfig,
  matmul,
  rmsNorm,
  rope,
  silu,
} from "./decoder.ts";
import { ModelWeights } from "./weights.ts";

/** A decoder over a converted directory, with its KV cache. */
export class ReferenceModel {
  #k: Float32Array[][];
  #v: Float32Array[][];
  readonly #arch: ForwardArch;

  private constructor(readonly weights: ModelWeights, readonly config: ForwardConfig) {
    this.#arch = FORWARD_ARCHS[config.modelType];
    this.#k = Array.from({ length: config.layers }, () => []);
    this.#v = Array.from({ length: config.layers }, () => []);
  }

  /**
   * Opens a converted directory (its `mlc-chat-config.json` and tensor cache).
   *
   * @example
   * ```ts ignore
   * import { denoSource } from "@mlc-deno/convert";
   * import { ReferenceModel } from "./model.ts";
   * const m = await ReferenceModel.open(denoSource(), "dist/tinyllama-q4f32_1");
   * const logits = await m.forward([1, 100, 200]);
   * m.close();
   * ```
   */
  static async open(store: SourceStore, dir: string): Promise<ReferenceModel> {
    const path = `${dir}/mlc-chat-config.json`;
    let chat: Record<string, unknown>;
    try {
      chat = JSON.parse(await store.readTextFile(path));
    } catch (e) {
      throw new Error(`${path}: ${e instanceof Error ? e.message : e}`);
    }
    const config = forwardConfig(chat);
    const q = getQuantization(String(chat.quantization));
    if (q.kind !== "group-quant" && q.kind !== "no-quant") {
      throw new Error(`the reference forward pass does not cover ${q.kind} (${q.name}) conversions`);
    }
    const weights = await ModelWeights.open(
      store,
      dir,
      q.kind === "group-quant" ? q as GroupQuantScheme : undefined,
    );
    return new ReferenceModel(weights, config);
  }

  /** Rows of the embedding (the token ids the pass accepts). */
  get vocab(): number {
    return this.weights.matrix("model.embed_tokens", this.config.hidden).rows;
  }

  /** Tokens fed so far. */
  get position(): number {
    return this.#k[0]?.length ?? 0;
  }

  /** Forgets what was fed. */
  reset(): void {
    for (const l of this.#k) l.length = 0;
    for (const l of this.#v) l.length = 0;
  }

  /** Feeds `ids` after what was fed before; returns the logits after the last one. */
  async forward(ids: readonly number[]): Promise<Float32Array> {
    const c = this.config;
    if (this.position + ids.length > c.maxPositions) {
      throw new Error(
        `${this.position + ids.length} positions: more than the ${c.maxPositions} the pass covers`,
      );
    }
    const embed = this.weights.matrix("model.embed_tokens", c.hidden);
    let xs: Float32Array[] = [];
    for (const id of ids) {
      // one read at a time: a store's file handle need not take concurrent reads
      if (!Number.isInteger(id) || id < 0 || id >= embed.rows) {
        throw new Error(`token id ${id} is out of range (vocabulary of ${embed.rows})`);
      }
      xs.push(await embed.row(id));
    }
    for (let l = 0; l < c.layers; l++) xs = await this.#layer(l, xs);
    const w = this.weights;
    const last = rmsNorm(xs[xs.length - 1], await w.vector("model.norm.weight"), c.eps);
    const head = w.has("lm_head.weight") || w.has("lm_head.q_weight") ? w.matrix("lm_head", c.hidden) : embed;
    return (await matmul(head, [last]))[0];
  }

  async #layer(l: number, xs: Float32Array[]): Promise<Float32Array[]> {
    const { weights: w, config: c } = this;
    const p = `model.layers.${l}`;
    const inNorm = await w.vector(`${p}.input_layernorm.weight`);
    const attn = await this.#attention(l, xs.map((x) => rmsNorm(x, inNorm, c.eps)));
    const o = await this.#mm(`${p}.self_attn.o_proj`, attn);
    xs = xs.map((x, b) => x.map((v, i) => v + o[b][i]));
    const post = await w.vector(`${p}.post_attention_layernorm.weight`);
    const gu = await this.#mm(`${p}.mlp.gate_up_proj`, xs.map((x) => rmsNorm(x, post, c.eps)));
    const act = gu.map((g) => {
      const n = g.length / 2;
      return new Float32Array(n).map((_, i) => silu(g[i]) * g[n + i]);
    });
    const down = await this.#mm(`${p}.mlp.down_proj`, act);
    return xs.map((x, b) => x.map((v, i) => v + down[b][i]));
  }

  /** `base`'s matrix (and its bias, when the directory has one) applied to every input. */
  async #mm(base: string, xs: Float32Array[]): Promise<Float32Array[]> {
    const w = this.weights;
    const bias = w.has(`${base}.bias`) ? await w.vector(`${base}.bias`) : undefined;
    return await matmul(w.matrix(base, xs[0].length), xs, bias);
  }

  /** Attention of the new positions over the cache (and themselves), before o_proj. */
  async #attention(l: number, normed: Float32Array[]): Promise<Float32Array[]> {
    const { weights: w, config: c } = this;
    const base = `model.layers.${l}.${this.#arch.qkv}`;
    const qkv = await this.#mm(base, normed);
    const d = c.headDim, qn = c.heads * d, kn = c.kvHeads * d;
    const norms = this.#arch.qkNorm
      ? [
        await w.vector(`model.layers.${l}.self_attn.q_norm.weight`),
        await w.vector(`model.layers.${l}.self_attn.k_norm.weight`),
      ]
      : undefined;
    return qkv.map((v) => {
      const pos = this.#k[l].length;
      let q: Float32Array = v.slice(0, qn), k: Float32Array = v.slice(qn, qn + kn);
      if (norms) [q, k] = [rmsNorm(q, norms[0], c.eps), rmsNorm(k, norms[1], c.eps)];
      for (let h = 0; h < c.heads; h++) rope(q, h * d, pos, c.invFreq);
      for (let h = 0; h < c.kvHeads; h++) rope(k, h * d, pos, c.invFreq);
      this.#k[l].push(k);
      this.#v[l].push(v.slice(qn + kn));
      return this.#attend(l, q);
    });
  }

  /** Softmax(q k^T / sqrt(d)) v over every cached position, per query head (grouped-query). */
  #attend(l: number, q: Float32Array): Float32Array {
    const c = this.config, d = c.headDim, keys = this.#k[l], values = this.#v[l];
    const out = new Float32Array(c.heads * d);
    const scores = new Float64Array(keys.length);
    for (let h = 0; h < c.heads; h++) {
      const kv = Math.floor(h / (c.heads / c.kvHeads)) * d;
      let max = -Infinity;
      for (let j = 0; j < keys.length; j++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += q[h * d + i] * keys[j][kv + i];
        scores[j] = s / Math.sqrt(d);
        max = Math.max(max, scores[j]);
      }
      let sum = 0;
      for (let j = 0; j < keys.length; j++) sum += scores[j] = Math.exp(scores[j] - max);
      for (let i = 0; i < d; i++) {
        let acc = 0;
        for (let j = 0; j < keys.length; j++) acc += scores[j] * values[j][kv + i];
        out[h * d + i] = acc / sum;
      }
    }
    return out;
  }

  /** Closes the shard files. */
  close(): void {
    this.weights.close();
  }
}
