/**
 * Opening a model for conversion: locate config.json, detect the architecture, parse the
 * config as MLC does, and open the weights (headers only).
 *
 * @module
 */
import { ConfigError, type ConfigLog, fromDict, type ModelConfig } from "./arch/config.ts";
import type { Architecture } from "./arch/types.ts";
import { checkConfigBounds } from "./config_bounds.ts";
import { detectArchitecture } from "./arch/registry.ts";
import { type Checkpoint, detectSource, openCheckpoint, type SourceFormat } from "./checkpoint.ts";
import type { SourceStore } from "./io/types.ts";
import { parsePyJson } from "./pyjson.ts";
import { isNotFound } from "./io/not_found.ts";
import { nestsDeeperThan } from "./json_depth.ts";

/** Deepest nesting of config.json (real ones: 4 or 5, e.g. text_config.rope_scaling lists). */
const MAX_CONFIG_DEPTH = 64;

/** An opened model. */
export interface OpenedModel {
  /** Path of config.json. */
  configPath: string;
  /** Model directory. */
  dir: string;
  /** config.json as parsed (int/float kept). */
  hfConfig: Record<string, unknown>;
  /** The architecture. */
  arch: Architecture;
  /** Parsed model config. */
  config: ModelConfig;
  /** Log lines produced while parsing. */
  logs: string[];
  /** Warnings (source detection). */
  warnings: string[];
}

/**
 * Resolves CONFIG (a model directory or its `config.json`) to the config path and directory.
 *
 * @example
 * ```ts
 * import { resolveConfigPath } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(resolveConfigPath("models/x/config.json"), { configPath: "models/x/config.json", dir: "models/x" });
 * ```
 */
export function resolveConfigPath(config: string): { configPath: string; dir: string } {
  const c = config.replace(/\/+$/, "") || "/";
  if (c.endsWith(".json")) {
    const i = c.lastIndexOf("/");
    return { configPath: c, dir: i < 0 ? "." : c.slice(0, i) || "/" };
  }
  return { configPath: `${c}/config.json`, dir: c };
}

/**
 * Reads and parses config.json, detects the architecture and parses the model config.
 *
 * @example
 * ```ts
 * import { loadModelConfig } from "@mlc-deno/convert";
 * import { memorySource } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * const store = memorySource({ "m/config.json": JSON.stringify({ model_type: "llama",
 *   hidden_size: 8, intermediate_size: 16, num_attention_heads: 2, num_hidden_layers: 1,
 *   rms_norm_eps: 1e-5, vocab_size: 10, max_position_embeddings: 64 }) });
 * deepStrictEqual((await loadModelConfig(store, "m")).config.context_window_size, 64);
 * ```
 */
export async function loadModelConfig(
  store: SourceStore,
  config: string,
  modelType = "auto",
): Promise<OpenedModel> {
  const { configPath, dir } = resolveConfigPath(config);
  let text: string;
  try {
    text = await store.readTextFile(configPath);
  } catch (e) {
    if (isNotFound(e)) {
      throw new Error(
        `${configPath}: not found. CONFIG must be a model directory holding config.json, or that file.`,
      );
    }
    throw e;
  }
  let hfConfig: Record<string, unknown>;
  if (nestsDeeperThan(text, MAX_CONFIG_DEPTH)) {
    throw new Error(
      `${configPath}: nests JSON deeper than ${MAX_CONFIG_DEPTH} levels (a model config nests under 10)`,
    );
  }
  try {
    const v = parsePyJson(text);
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new SyntaxError("not a JSON object");
    hfConfig = v as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${configPath}: invalid JSON (${(e as Error).message})`);
  }
  const arch = detectArchitecture(modelType, hfConfig);
  checkConfigBounds(hfConfig, configPath); // (before anything is derived from them)
  const logs: string[] = [];
  const log: ConfigLog = (level, m) => logs.push(level === "warning" ? `Warning: ${m}` : m);
  let cfg: ModelConfig;
  try {
    cfg = fromDict(arch.configClass, hfConfig, log);
  } catch (e) {
    if (e instanceof ConfigError) throw new Error(`${configPath}: ${e.message}`);
    throw e;
  }
  return { configPath, dir, hfConfig, arch, config: cfg, logs, warnings: [] };
}

/**
 * Opens the weights for `--source` (`auto` = the config's directory; or a directory, an index
 * JSON or a weight file: `.safetensors`, or PyTorch `.bin` / `.pt` / `.pth`) with `--source-format`.
 *
 * @example
 * ```ts ignore
 * import { openWeights } from "@mlc-deno/convert";
 * const { checkpoint } = await openWeights(store, "models/x", "auto", "auto");
 * ```
 */
export async function openWeights(
  store: SourceStore,
  dir: string,
  source = "auto",
  format: "auto" | SourceFormat = "auto",
): Promise<{ checkpoint: Checkpoint; warnings: string[] }> {
  const src = source === "auto" ? dir : source.replace(/\/+$/, "");
  if (/\.(json|safetensors|bin|pt|pth)$/.test(src)) {
    const checkpoint = await openCheckpoint(store, src);
    return { checkpoint, warnings: [...checkpoint.warnings ?? []] };
  }
  const found = await detectSource(store, src, format);
  const checkpoint = await openCheckpoint(store, found.path);
  return { checkpoint, warnings: [...found.warnings, ...checkpoint.warnings ?? []] };
}
