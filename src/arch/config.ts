/**
 * Emulation of MLC's `ConfigBase` dataclasses: known fields become attributes, other
 * config.json keys go to `kwargs`, then a per-class `postInit` derives values. The emitted
 * `model_config` is the fields in declaration order.
 *
 * @module
 */
import { num, PyFloat } from "../pyjson.ts";

/** Marker for a dataclass field without a default (required in config.json). */
export const REQUIRED: unique symbol = Symbol("required");

/** A dataclass field: name and default (or {@link REQUIRED}). */
export type ConfigField = readonly [name: string, defaultValue: unknown];

/** Logger for the messages MLC prints while parsing (`info` / `warning`). */
export type ConfigLog = (level: "info" | "warning", message: string) => void;

/** A parsed model config: fields in declaration order (`kwargs` kept apart). */
export type ModelConfig = Record<string, unknown>;

/** A config dataclass of MLC (e.g. `LlamaConfig`). */
export interface ConfigClass {
  /** Python class name, used in messages. */
  readonly className: string;
  /** Fields in declaration order. */
  readonly fields: readonly ConfigField[];
  /**
   * A `from_dict` classmethod override: rewrites the source dict before the fields are split
   * (ministral3 merges its `text_config` into the top level).
   */
  readonly prepare?: (src: Record<string, unknown>) => Record<string, unknown>;
  /** `__post_init__`: may read and pop `kwargs`, mutate `cfg`, log, throw. */
  postInit(cfg: ModelConfig, kwargs: Record<string, unknown>, log: ConfigLog): void;
}

/** Error for a config.json that MLC would reject. */
export class ConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * `ConfigBase.from_dict`: split `src` into fields and kwargs, apply defaults, run postInit.
 *
 * @example
 * ```ts
 * import { fromDict, REQUIRED } from "./config.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const cls = { className: "C", fields: [["a", REQUIRED], ["b", 2]] as const, postInit() {} };
 * deepStrictEqual(fromDict(cls, { a: 1, extra: 3 }), { a: 1, b: 2 });
 * ```
 */
export function fromDict(
  cls: ConfigClass,
  source: Record<string, unknown>,
  log: ConfigLog = () => {},
): ModelConfig {
  const src = cls.prepare ? cls.prepare(source) : source;
  const cfg: ModelConfig = {};
  const kwargs: Record<string, unknown> = {};
  const names = new Set(cls.fields.map(([n]) => n));
  for (const [k, v] of Object.entries(src)) if (!names.has(k)) kwargs[k] = v;
  const missing: string[] = [];
  for (const [name, def] of cls.fields) {
    if (Object.hasOwn(src, name)) cfg[name] = src[name];
    else if (def === REQUIRED) missing.push(name);
    else cfg[name] = typeof def === "object" && def !== null ? structuredClone(def) : def;
  }
  if (missing.length) {
    throw new ConfigError(
      `${cls.className} is missing required field(s) in config.json: ${missing.join(", ")}`,
    );
  }
  cls.postInit(cfg, kwargs, log);
  return cfg;
}

/**
 * Reads an integer field of a parsed config (accepts ints and integral floats).
 *
 * @example
 * ```ts
 * import { intField } from "./config.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(intField({ hidden_size: 64 }, "hidden_size"), 64);
 * ```
 */
export function intField(cfg: ModelConfig, name: string): number {
  const v = num(cfg[name]);
  if (v === undefined || !Number.isFinite(v)) {
    throw new ConfigError(`config field "${name}" must be a number, got ${JSON.stringify(cfg[name])}`);
  }
  return v;
}

/**
 * Shared window rule STD-CWS part 1: context_window_size from kwargs when 0.
 *
 * @example
 * ```ts
 * import { resolveContextWindow } from "./config.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const cfg: Record<string, unknown> = { context_window_size: 0 };
 * resolveContextWindow(cfg, { max_position_embeddings: 4096 }, () => {});
 * deepStrictEqual(cfg.context_window_size, 4096);
 * ```
 */
export function resolveContextWindow(
  cfg: ModelConfig,
  kwargs: Record<string, unknown>,
  log: ConfigLog,
  keys: readonly string[] = ["max_position_embeddings", "max_sequence_length"],
): void {
  if (num(cfg.context_window_size) !== 0) return;
  for (const k of keys) {
    if (Object.hasOwn(kwargs, k)) {
      cfg.context_window_size = kwargs[k];
      delete kwargs[k];
      log(
        "info",
        `context_window_size not found in config.json. Falling back to ${k} (${
          String(cfg.context_window_size)
        })`,
      );
      return;
    }
  }
  throw new ConfigError(
    "Unable to determine the maximum sequence length, because none of `context_window_size`, " +
      keys.map((k) => `\`${k}\``).join(" or ").replace(/^/, "") + " is provided in `config.json`.",
  );
}

/**
 * Shared window rule STD-CWS part 2: prefill_chunk_size default and clamp.
 *
 * @example
 * ```ts
 * import { resolvePrefill } from "./config.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const cfg: Record<string, unknown> = { context_window_size: 4096, prefill_chunk_size: 0 };
 * resolvePrefill(cfg, () => {});
 * deepStrictEqual(cfg.prefill_chunk_size, 4096);
 * ```
 */
export function resolvePrefill(cfg: ModelConfig, log: ConfigLog, cap = 8192): void {
  const ctx = num(cfg.context_window_size)!;
  const p = num(cfg.prefill_chunk_size)!;
  if (p === 0) {
    cfg.prefill_chunk_size = Math.min(ctx, cap);
    log("info", `prefill_chunk_size defaults to ${cfg.prefill_chunk_size}`);
  } else if (p > ctx) {
    const v = Math.min(ctx, cap);
    log("info", `Overriding prefill_chunk_size from ${p} to ${v}`);
    cfg.prefill_chunk_size = v;
  }
}

/**
 * `position_embedding_base`: 0 -> kwargs `rope_theta` (popped) else 10000.
 *
 * @example
 * ```ts
 * import { resolveRopeBase } from "./config.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const cfg: Record<string, unknown> = { position_embedding_base: 0 };
 * resolveRopeBase(cfg, { rope_theta: 500000 });
 * deepStrictEqual(cfg.position_embedding_base, 500000);
 * ```
 */
export function resolveRopeBase(cfg: ModelConfig, kwargs: Record<string, unknown>): void {
  if (num(cfg.position_embedding_base) !== 0) return;
  if (Object.hasOwn(kwargs, "rope_theta")) {
    cfg.position_embedding_base = kwargs.rope_theta;
    delete kwargs.rope_theta;
  } else {
    cfg.position_embedding_base = 10000;
  }
}

export { PyFloat };

/**
 * `cls.from_dict(src)` of a nested config, as `dataclasses.asdict` shows it: the fields, then
 * `kwargs` (the keys that are not fields, after `__post_init__`).
 *
 * @example
 * ```ts
 * import { nestedFromDict, REQUIRED } from "./config.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const cls = { className: "C", fields: [["a", REQUIRED]] as const, postInit() {} };
 * deepStrictEqual(nestedFromDict(cls, { a: 1, extra: 3 }), { a: 1, kwargs: { extra: 3 } });
 * ```
 */
export function nestedFromDict(
  cls: ConfigClass,
  src: Record<string, unknown>,
  log: ConfigLog = () => {},
): ModelConfig {
  let kw: Record<string, unknown> = {};
  const postInit: ConfigClass["postInit"] = (c, k, l) => {
    cls.postInit(c, k, l);
    kw = k;
  };
  const cfg = fromDict({ ...cls, postInit }, src, log);
  return { ...cfg, kwargs: kw };
}

/**
 * `head_dim`: `hidden // heads` when 0, then MLC's `assert head_dim * heads == hidden`.
 *
 * @example
 * ```ts
 * import { resolveHeadDim } from "./config.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const cfg: Record<string, unknown> = { hidden_size: 64, num_attention_heads: 4, head_dim: 0 };
 * resolveHeadDim(cfg);
 * deepStrictEqual(cfg.head_dim, 16);
 * ```
 */
export function resolveHeadDim(
  cfg: ModelConfig,
  hidden = "hidden_size",
  heads = "num_attention_heads",
): void {
  const h = intField(cfg, hidden);
  const nq = intField(cfg, heads);
  if (num(cfg.head_dim) === 0) cfg.head_dim = Math.floor(h / nq);
  if (intField(cfg, "head_dim") * nq !== h) {
    throw new ConfigError(`head_dim * ${heads} must equal ${hidden}`);
  }
}

/** Options of {@link standardPostInit}. */
export interface StandardPostInitOptions {
  /** Prefill chunk cap (8192; internlm2 keeps 2048). */
  cap?: number;
  /** kwargs keys tried for the context window (default max_position_embeddings, max_sequence_length). */
  keys?: readonly string[];
  /** Hidden-size field (default `hidden_size`). */
  hidden?: string;
  /** Head-count field (default `num_attention_heads`). */
  heads?: string;
}

/**
 * The `__post_init__` most of these config classes share, in MLC's order: context window from
 * kwargs (STD-CWS), `head_dim` (derived, asserted), prefill chunk default and clamp.
 *
 * @example
 * ```ts
 * import { standardPostInit } from "./config.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const cfg: Record<string, unknown> = { hidden_size: 64, num_attention_heads: 4, head_dim: 0,
 *   context_window_size: 0, prefill_chunk_size: 0 };
 * standardPostInit(cfg, { max_position_embeddings: 4096 }, () => {});
 * deepStrictEqual([cfg.context_window_size, cfg.head_dim, cfg.prefill_chunk_size], [4096, 16, 4096]);
 * ```
 */
export function standardPostInit(
  cfg: ModelConfig,
  kwargs: Record<string, unknown>,
  log: ConfigLog,
  opts: StandardPostInitOptions = {},
): void {
  resolveContextWindow(cfg, kwargs, log, opts.keys);
  resolveHeadDim(cfg, opts.hidden, opts.heads);
  resolvePrefill(cfg, log, opts.cap);
}

/**
 * `num_key_value_heads` defaulting to `num_attention_heads` when 0 (or null), then MLC's
 * `assert num_attention_heads % num_key_value_heads == 0`.
 *
 * @example
 * ```ts
 * import { resolveKvHeads } from "./config.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const cfg: Record<string, unknown> = { num_attention_heads: 8, num_key_value_heads: 0 };
 * resolveKvHeads(cfg);
 * deepStrictEqual(cfg.num_key_value_heads, 8);
 * ```
 */
export function resolveKvHeads(cfg: ModelConfig): void {
  if (cfg.num_key_value_heads === null || num(cfg.num_key_value_heads) === 0) {
    cfg.num_key_value_heads = cfg.num_attention_heads;
  }
  if (intField(cfg, "num_attention_heads") % intField(cfg, "num_key_value_heads") !== 0) {
    throw new ConfigError("num_attention_heads must be a multiple of num_key_value_heads");
  }
}
