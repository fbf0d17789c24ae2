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
 * Resolves CONFIG (a model directory or its `config.json`) to the config path and directory
 * from its text alone: the guess the permission-scoped CLI makes before it may read anything
 * (which paths to ask for). Reading, {@link locateConfig} decides by MLC's rule; both agree
 * unless a directory's name ends in `.json` or a config file's does not.
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
 * Locates CONFIG as MLC's `detect_config` does (mlc_llm/support/auto_config.py): a file (of
 * any name) is the config, else the `config.json` of the directory; the model directory is the
 * config's. The one rule of convert_weight, gen_config and verify.
 *
 * @example
 * ```ts
 * import { locateConfig, memorySource } from "@mlc-deno/convert";
 * import { deepStrictEqual, rejects } from "node:assert/strict";
 * const store = memorySource({ "m/config.json": "{}", "m/other": "{}" });
 * deepStrictEqual(await locateConfig(store, "m/"), { configPath: "m/config.json", dir: "m" });
 * deepStrictEqual(await locateConfig(store, "m/other"), { configPath: "m/other", dir: "m" });
 * await rejects(locateConfig(store, "n"), /neither n nor n\/config.json is a file/);
 * ```
 */
export async function locateConfig(
  store: SourceStore,
  config: string,
): Promise<{ configPath: string; dir: string }> {
  const c = config.replace(/\/+$/, "") || "/";
  if (await store.exists(c)) {
    const i = c.lastIndexOf("/");
    return { configPath: c, dir: i < 0 ? "." : c.slice(0, i) || "/" };
  }
  const inDir = c === "." ? "config.json" : `${c === "/" ? "" : c}/config.json`;
  if (await store.exists(inDir)) return { configPath: inDir, dir: c };
  throw new Error(
    `Cannot find config.json: neither ${c} nor ${inDir} is a file. Fix: pass the model directory ` +
      `(the one with config.json) or the path of its config.json.`,
  );
}

/**
 * Reads and parses config.json (found by {@link locateConfig}), detects the architecture and
 * parses the model config.
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
  const { configPath, dir } = await locateConfig(store, config);
  const text = await store.readTextFile(configPath);
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
