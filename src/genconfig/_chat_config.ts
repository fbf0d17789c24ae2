/**
 * Building `mlc-chat-config.json` (MLC's pydantic `MLCChatConfig`): the model config with the
 * two-pass override rule, the top-level fields in MLC's key order, the generation fields from
 * generation_config.json / config.json and the system defaults.
 *
 * @module
 */
import { type ConfigClass, fromDict, type ModelConfig } from "../arch/config.ts";
import { PyFloat } from "../pyjson.ts";
import type { GenConfigLog } from "./_log.ts";
import { pyStr } from "./pystr.ts";

/** `MLC_CHAT_CONFIG_VERSION`. */
export const MLC_CHAT_CONFIG_VERSION = "0.1.0";

/** CLI overrides of the model config (`ModelConfigOverride`); `undefined` = not given. */
export interface ModelConfigOverrides {
  /** `--context-window-size`. */
  context_window_size?: number;
  /** `--sliding-window-size`. */
  sliding_window_size?: number;
  /** `--prefill-chunk-size`. */
  prefill_chunk_size?: number;
  /** `--attention-sink-size`. */
  attention_sink_size?: number;
  /** `--max-batch-size` (MLC's default 128 is always applied). */
  max_batch_size?: number;
  /** `--tensor-parallel-shards`. */
  tensor_parallel_shards?: number;
  /** `--pipeline-parallel-stages`. */
  pipeline_parallel_stages?: number;
  /** `--disaggregation`. */
  disaggregation?: boolean;
}

/** The override keys in the order MLC applies them. */
export const OVERRIDE_ORDER: readonly (keyof ModelConfigOverrides)[] = [
  "context_window_size",
  "sliding_window_size",
  "prefill_chunk_size",
  "attention_sink_size",
  "max_batch_size",
  "tensor_parallel_shards",
  "pipeline_parallel_stages",
  "disaggregation",
];

/**
 * MLC's model-config flow: `from_dict(config.json)` (pass 1), apply the overrides to
 * `asdict(pass1)` (logging `Overriding ...` or the `Cannot override` warning), then
 * `from_dict` again (pass 2, post-init runs on resolved values). Returns `asdict(pass2)`.
 *
 * @example
 * ```ts
 * import { buildModelConfig } from "./_chat_config.ts";
 * import { llama } from "../arch/llama.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const cfg = buildModelConfig(llama.configClass, {
 *   hidden_size: 64, intermediate_size: 128, num_attention_heads: 4, num_hidden_layers: 2,
 *   rms_norm_eps: 1e-5, vocab_size: 100, max_position_embeddings: 4096,
 * }, { prefill_chunk_size: 8192, max_batch_size: 128 });
 * deepStrictEqual(cfg.prefill_chunk_size, 4096); // pass 2 clamps it to the context window
 * ```
 */
export function buildModelConfig(
  cls: ConfigClass,
  hfConfig: Record<string, unknown>,
  overrides: ModelConfigOverrides,
  log: GenConfigLog = () => {},
): ModelConfig {
  const pass1 = fromDict(cls, hfConfig, log);
  const updated: Record<string, unknown> = { ...pass1 };
  for (const key of OVERRIDE_ORDER) {
    const value = overrides[key];
    if (value === undefined || value === null) continue;
    if (!Object.hasOwn(updated, key)) {
      log("warning", `Warning: Cannot override ${key}, because ${cls.className} does not have this field`);
      continue;
    }
    log("info", `Overriding ${key} from ${pyStr(updated[key])} to ${pyStr(value)}`);
    updated[key] = value;
  }
  return fromDict(cls, updated, log);
}

/** Generation fields that start as None and are filled from files or defaults. */
const GENERATION_FIELDS = [
  "temperature",
  "presence_penalty",
  "frequency_penalty",
  "repetition_penalty",
  "top_p",
  "pad_token_id",
  "bos_token_id",
  "eos_token_id",
] as const;

/** `MLC_CHAT_SYSTEM_DEFAULT`, in application order. */
export const MLC_CHAT_SYSTEM_DEFAULT: readonly (readonly [string, unknown])[] = [
  ["pad_token_id", 0],
  ["bos_token_id", 1],
  ["eos_token_id", 2],
  ["temperature", new PyFloat(1.0)],
  ["presence_penalty", new PyFloat(0.0)],
  ["frequency_penalty", new PyFloat(0.0)],
  ["repetition_penalty", new PyFloat(1.0)],
  ["top_p", new PyFloat(1.0)],
];

/** The chat config fields while it is being built (`undefined` = Python `None` not yet set). */
export type ChatConfigDraft = Map<string, unknown>;

/**
 * Creates the draft with the generation fields (and `embedding_metadata`) unset.
 *
 * @example
 * ```ts
 * import { newDraft } from "./_chat_config.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(newDraft().get("temperature"), undefined); // Python None
 * ```
 */
export function newDraft(): ChatConfigDraft {
  const d: ChatConfigDraft = new Map();
  for (const k of GENERATION_FIELDS) d.set(k, undefined);
  d.set("embedding_metadata", undefined);
  return d;
}

/**
 * MLC step 6 for one file: for each key in file order, a still-None attribute takes the raw
 * value (null stays None), logged as `[<file>] Setting <key>: <value>`.
 *
 * @example
 * ```ts
 * import { fillFromFile, newDraft } from "./_chat_config.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const d = newDraft();
 * fillFromFile(d, "config.json", { bos_token_id: 1, hidden_size: 8 });
 * deepStrictEqual(d.get("bos_token_id"), 1);
 * ```
 */
export function fillFromFile(
  draft: ChatConfigDraft,
  fileName: string,
  values: Record<string, unknown>,
  log: GenConfigLog = () => {},
): void {
  for (const [k, v] of Object.entries(values)) {
    if (draft.has(k) && (draft.get(k) === undefined || draft.get(k) === null)) {
      draft.set(k, v);
      log("info", `[${fileName}] Setting ${k}: ${pyStr(v)}`);
    }
  }
}

/**
 * MLC step 10: system defaults for the generation fields that are still None.
 *
 * @example
 * ```ts
 * import { applySystemDefaults, newDraft } from "./_chat_config.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const d = newDraft();
 * applySystemDefaults(d);
 * deepStrictEqual(d.get("eos_token_id"), 2);
 * ```
 */
export function applySystemDefaults(draft: ChatConfigDraft, log: GenConfigLog = () => {}): void {
  for (const [k, v] of MLC_CHAT_SYSTEM_DEFAULT) {
    const cur = draft.get(k);
    if (cur === undefined || cur === null) {
      draft.set(k, v);
      log("info", `[System default] Setting ${k}: ${pyStr(v)}`);
    }
  }
}

/** Everything that goes into the final `MLCChatConfig`. */
export interface ChatConfigParts {
  /** `Model.name`. */
  modelType: string;
  /** Quantization name. */
  quantization: string;
  /** Serialized model config (pass 2). */
  modelConfig: ModelConfig;
  /** `active_vocab_size` (after the tokenizer override). */
  activeVocabSize: unknown;
  /** `tokenizer_files`. */
  tokenizerFiles: string[];
  /** `tokenizer_info`. */
  tokenizerInfo: unknown;
  /** Full conversation template object. */
  convTemplate: unknown;
  /** `model_task`. */
  modelTask: "chat" | "embedding";
  /** Filled generation fields. */
  draft: ChatConfigDraft;
}

/**
 * The final config object with MLC's key order (pydantic `model_dump(by_alias=True)`: every
 * field present, None as null; no `disaggregation`).
 *
 * @example
 * ```ts
 * import { assembleChatConfig, newDraft } from "./_chat_config.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const c = assembleChatConfig({
 *   modelType: "llama", quantization: "q0f16",
 *   modelConfig: { vocab_size: 10, context_window_size: 64, prefill_chunk_size: 64, tensor_parallel_shards: 1 },
 *   activeVocabSize: 10, tokenizerFiles: [], tokenizerInfo: null, convTemplate: null, modelTask: "chat",
 *   draft: newDraft(),
 * });
 * deepStrictEqual(Object.keys(c)[0], "version");
 * ```
 */
export function assembleChatConfig(p: ChatConfigParts): Record<string, unknown> {
  const mc = p.modelConfig;
  const attr = (k: string, dflt: unknown) => (Object.hasOwn(mc, k) ? mc[k] : dflt);
  const gen = (k: string) => p.draft.get(k) ?? null;
  return {
    version: MLC_CHAT_CONFIG_VERSION,
    model_type: p.modelType,
    quantization: p.quantization,
    model_config: mc,
    vocab_size: mc.vocab_size,
    context_window_size: attr("context_window_size", -1),
    sliding_window_size: attr("sliding_window_size", -1),
    prefill_chunk_size: mc.prefill_chunk_size,
    attention_sink_size: attr("attention_sink_size", -1),
    tensor_parallel_shards: mc.tensor_parallel_shards,
    pipeline_parallel_stages: attr("pipeline_parallel_stages", 1),
    active_vocab_size: p.activeVocabSize,
    temperature: gen("temperature"),
    presence_penalty: gen("presence_penalty"),
    frequency_penalty: gen("frequency_penalty"),
    repetition_penalty: gen("repetition_penalty"),
    top_p: gen("top_p"),
    tokenizer_files: p.tokenizerFiles,
    tokenizer_info: p.tokenizerInfo,
    conv_template: p.convTemplate,
    pad_token_id: gen("pad_token_id"),
    bos_token_id: gen("bos_token_id"),
    eos_token_id: gen("eos_token_id"),
    model_task: p.modelTask,
    embedding_metadata: gen("embedding_metadata"),
  };
}
