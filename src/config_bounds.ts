/**
 * Sane bounds of a config.json, checked before anything is planned: the sizes a model is built
 * from (layers, heads, hidden and intermediate sizes, vocabulary, windows) must be integers
 * within what a real model could have, so that `num_hidden_layers: 1e9` is refused at once
 * instead of planning a billion layers, and a refusal names the field the user wrote
 * (`num_attention_heads: 0`, not a derived `head_dim`). Also: the gen_config overrides, the
 * layer count against the checkpoint's tensors, and `vocab_size` against the embedding.
 *
 * @module
 */
import { PyFloat } from "./pyjson.ts";

/** What values a field may hold. */
export interface FieldBound {
  /** Smallest ordinary value. */
  min: number;
  /** Largest value a real model could have. */
  max: number;
  /** Sentinel values MLC or HF give a meaning (`0`: derive it, `-1`: none). */
  sentinels?: readonly number[];
}

const I32 = 2 ** 31 - 1;
const COUNT = (max: number): FieldBound => ({ min: 1, max });
const OPTIONAL = (max: number): FieldBound => ({ min: 1, max, sentinels: [0, -1] });

/**
 * The bounds, by config.json field name (the names of every supported architecture). Maxima are
 * generous: a few times the largest published model's value.
 */
export const CONFIG_BOUNDS: Readonly<Record<string, FieldBound>> = {
  // layers
  num_hidden_layers: COUNT(1024),
  n_layer: COUNT(1024),
  n_layers: COUNT(1024),
  num_layers: COUNT(1024),
  // widths
  hidden_size: COUNT(131_072),
  n_embd: COUNT(131_072),
  d_model: COUNT(131_072),
  intermediate_size: COUNT(1 << 20),
  moe_intermediate_size: OPTIONAL(1 << 20),
  shared_expert_intermediate_size: OPTIONAL(1 << 20),
  n_inner: OPTIONAL(1 << 20),
  ffn_hidden_size: OPTIONAL(1 << 20),
  // heads
  num_attention_heads: COUNT(4096),
  n_head: COUNT(4096),
  num_heads: COUNT(4096),
  num_key_value_heads: OPTIONAL(4096),
  n_head_kv: OPTIONAL(4096),
  num_kv_heads: OPTIONAL(4096),
  multi_query_group_num: OPTIONAL(4096),
  head_dim: OPTIONAL(16_384),
  head_size: OPTIONAL(16_384),
  kv_channels: OPTIONAL(16_384),
  // vocabulary
  vocab_size: COUNT(1 << 24),
  padded_vocab_size: COUNT(1 << 24),
  // experts
  num_experts: OPTIONAL(16_384),
  num_local_experts: OPTIONAL(16_384),
  n_routed_experts: OPTIONAL(16_384),
  num_experts_per_tok: OPTIONAL(16_384),
  // windows and runtime sizes (int32 in MLC's runtime)
  max_position_embeddings: OPTIONAL(I32),
  n_positions: OPTIONAL(I32),
  max_sequence_length: OPTIONAL(I32),
  seq_length: OPTIONAL(I32),
  context_window_size: OPTIONAL(I32),
  prefill_chunk_size: OPTIONAL(I32),
  sliding_window_size: OPTIONAL(I32),
  attention_sink_size: { min: 0, max: I32, sentinels: [-1] },
  tensor_parallel_shards: COUNT(1024),
  pipeline_parallel_stages: COUNT(1024),
  max_batch_size: COUNT(1 << 20),
};

/** Fields that count layers, in the order they are looked for. */
export const LAYER_FIELDS: readonly string[] = ["num_hidden_layers", "n_layer", "n_layers", "num_layers"];

/** Error for a config value out of bounds; names the field. */
export class ConfigBoundsError extends Error {
  /** The field, as written (`text_config.num_hidden_layers` for a nested one). */
  readonly field: string;
  /** Creates the error. */
  constructor(field: string, message: string) {
    super(message);
    this.name = "ConfigBoundsError";
    this.field = field;
  }
}

/** A config value as the user wrote it (short). */
function shown(v: unknown): string {
  if (v instanceof PyFloat) return v.toString();
  const s = typeof v === "number" ? String(v) : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}...` : s;
}

/**
 * Why `v` is not a valid value of `bound` (undefined when it is). `null` is valid (absent).
 *
 * @example
 * ```ts
 * import { boundProblem, CONFIG_BOUNDS } from "./config_bounds.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(boundProblem(0, CONFIG_BOUNDS.num_attention_heads), "must be a positive integer (at most 4,096), got 0");
 * deepStrictEqual(boundProblem(32, CONFIG_BOUNDS.num_attention_heads), undefined);
 * ```
 */
export function boundProblem(v: unknown, bound: FieldBound): string | undefined {
  if (v === null) return undefined;
  const n = v instanceof PyFloat ? v.value : v;
  const what = bound.min === 0 ? "a non-negative integer" : "a positive integer";
  const sentinels = bound.sentinels?.length ? ` or ${bound.sentinels.join(" or ")}` : "";
  const problem = `must be ${what} (at most ${bound.max.toLocaleString("en-US")})${sentinels}, got ${
    shown(v)
  }`;
  if (typeof n !== "number" || !Number.isInteger(n)) return problem;
  if (bound.sentinels?.includes(n)) return undefined;
  return n < bound.min || n > bound.max ? problem : undefined;
}

/**
 * Checks the bounded fields of a parsed config.json (and of its `text_config`): throws a
 * {@link ConfigBoundsError} naming the first field out of bounds. `where` prefixes the message
 * (the file).
 *
 * @example
 * ```ts
 * import { checkConfigBounds } from "./config_bounds.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * checkConfigBounds({ num_hidden_layers: 2, hidden_size: 64 }, "config.json"); // fine
 * try {
 *   checkConfigBounds({ num_hidden_layers: 1e9 }, "config.json");
 * } catch (e) {
 * deepStrictEqual(  (e as Error).message, "config.json: num_hidden_layers must be a positive integer (at most 1,024), got 1000000000");
 * }
 * ```
 */
export function checkConfigBounds(config: Record<string, unknown>, where: string): void {
  const check = (obj: Record<string, unknown>, prefix: string) => {
    for (const [field, bound] of Object.entries(CONFIG_BOUNDS)) {
      if (!Object.hasOwn(obj, field)) continue;
      const p = boundProblem(obj[field], bound);
      if (p) throw new ConfigBoundsError(prefix + field, `${where}: ${prefix}${field} ${p}`);
    }
  };
  check(config, "");
  for (const key of ["text_config", "vision_config"]) {
    const nested = config[key];
    if (nested && typeof nested === "object" && !Array.isArray(nested)) {
      check(nested as Record<string, unknown>, `${key}.`);
    }
  }
}

/**
 * The highest layer index in tensor names (`model.layers.17.mlp...`, `h.3.attn...`,
 * `blocks.0...`), or -1 when no name has one.
 *
 * @example
 * ```ts
 * import { highestLayerIndex } from "./config_bounds.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(highestLayerIndex(["model.layers.0.w", "model.layers.11.w", "lm_head.weight"]), 11);
 * ```
 */
export function highestLayerIndex(names: Iterable<string>): number {
  const re = /(?:^|\.)(?:layers|layer|h|blocks)\.(\d{1,9})\./;
  let hi = -1;
  for (const n of names) {
    const m = re.exec(n);
    if (m) hi = Math.max(hi, Number(m[1]));
  }
  return hi;
}

/**
 * The checkpoint-size check: a config that asks for more layers than the checkpoint's tensors
 * hold does not belong to these weights. Returns the problem (undefined when consistent, or
 * when the names carry no layer index).
 *
 * @example
 * ```ts
 * import { layerCountProblem } from "./config_bounds.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(layerCountProblem({ num_hidden_layers: 1000 }, ["model.layers.0.w", "model.layers.1.w"]), "num_hidden_layers is 1000, but the checkpoint's tensors hold 2 layers (0-1): config.json does not belong to these weights (or the weight files are incomplete)");
 * ```
 */
export function layerCountProblem(
  config: Record<string, unknown>,
  names: Iterable<string>,
): string | undefined {
  const field = LAYER_FIELDS.find((f) => typeof config[f] === "number" || config[f] instanceof PyFloat);
  if (!field) return undefined;
  const want = Number(config[field]);
  const hi = highestLayerIndex(names);
  if (hi < 0 || want <= hi + 1) return undefined;
  return `${field} is ${want}, but the checkpoint's tensors hold ${
    hi + 1
  } layers (0-${hi}): config.json does ` +
    `not belong to these weights (or the weight files are incomplete)`;
}

/**
 * Checks the gen_config overrides (`--context-window-size` ...): returns the first problem
 * as `[field, message]`, undefined when all are fine.
 *
 * @example
 * ```ts
 * import { overrideProblem } from "./config_bounds.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(overrideProblem({ context_window_size: -5 }), ["context_window_size", "must be a positive integer (at most 2,147,483,647) or -1, got -5"]);
 * ```
 */
export function overrideProblem(overrides: object): [string, string] | undefined {
  for (const [field, v] of Object.entries(overrides)) {
    if (v === undefined || typeof v === "boolean") continue;
    const bound = CONFIG_BOUNDS[field];
    if (!bound) continue;
    // an override is a value, not "derive it": -1 only where MLC means "none" (windows)
    const sentinels = ["sliding_window_size", "context_window_size", "attention_sink_size"].includes(field)
      ? [-1]
      : [];
    const p = boundProblem(v, { ...bound, sentinels });
    if (p) return [field, p];
  }
  return undefined;
}

/** What {@link vocabWarnings} reads of a planned parameter. */
export interface VocabParam {
  /** The declared parameter (name, shape with symbolic dims). */
  readonly param: { readonly name: string; readonly shape: readonly (number | string)[] };
  /** The resolved shape. */
  readonly shape: readonly number[];
}

/**
 * `vocab_size` against the tensors whose shape has the symbolic `vocab_size` dimension (the
 * embedding, the head): MLC LLM converts a disagreement silently (the dimension is symbolic);
 * we warn, naming both numbers. Returns the warnings (one per parameter that disagrees).
 *
 * @example
 * ```ts
 * import { vocabWarnings } from "./config_bounds.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const emb = { param: { name: "model.embed_tokens.weight", shape: ["vocab_size", 64] }, shape: [256, 64] };
 * deepStrictEqual(vocabWarnings([emb], { vocab_size: 300 }).length, 1);
 * ```
 */
export function vocabWarnings(params: readonly VocabParam[], config: Record<string, unknown>): string[] {
  const v = Number(config.vocab_size);
  if (!Number.isInteger(v) || v <= 0) return [];
  const out: string[] = [];
  for (const p of params) {
    const i = p.param.shape.indexOf("vocab_size");
    if (i < 0 || p.shape[i] === v) continue;
    out.push(
      `vocab_size is ${v} in config.json, but ${p.param.name} has ${
        p.shape[i]
      } rows: converted as it is (MLC LLM ` +
        `does the same, the dimension is symbolic), but mlc-chat-config.json will disagree with the weights` +
        (p.shape[i] < v ? ` and token ids from ${p.shape[i]} on would read past them` : ""),
    );
  }
  return out;
}
