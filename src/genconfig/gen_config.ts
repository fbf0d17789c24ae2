/**
 * `gen_config` as a pure library function: reads the model directory through a
 * {@link SourceStore}, writes `mlc-chat-config.json` and the tokenizer files through an
 * {@link OutputStore}, byte-identical to MLC LLM's `mlc_llm gen_config`.
 *
 * @module
 */
import { ConfigError } from "../arch/config.ts";
import { checkConfigBounds, overrideProblem } from "../config_bounds.ts";
import { ARCHITECTURES, detectArchitecture } from "../arch/registry.ts";
import type { Architecture } from "../arch/types.ts";
import { dumpPyJson, parsePyJson } from "../pyjson.ts";
import { getQuantization } from "../quant/schemes.ts";
import { locateConfig } from "../model.ts";
import {
  applySystemDefaults,
  assembleChatConfig,
  buildModelConfig,
  fillFromFile,
  type ModelConfigOverrides,
  newDraft,
} from "./_chat_config.ts";
import { type GenConfigOutput, type GenConfigSource, joinPath } from "./_io.ts";
import type { GenConfigLog } from "./_log.ts";
import { hfTokenizerLength, processTokenizerFiles, type SentencePieceConverter } from "./_tokenizer_files.ts";
import { detectConvTemplate } from "./auto_template.ts";
import { getConvTemplate } from "./conv_templates.ts";
import { nestsDeeperThan } from "../json_depth.ts";

/** Deepest nesting of config.json / tokenizer_config.json / generation_config.json read here. */
const MAX_JSON_DEPTH = 64;

/** Options of {@link genConfig} (the CLI flags of `mlc_llm gen_config`). */
export interface GenConfigOptions {
  /** Where the model directory is read from. */
  source: GenConfigSource;
  /** Where the files are written (a flat output directory). */
  output: GenConfigOutput;
  /** Path of the model's config.json, or of the directory holding it. */
  config: string;
  /** Output directory path, only used in log messages. */
  outputDir?: string;
  /** `--quantization`, e.g. `q4f16_1`. */
  quantization: string;
  /** `--conv-template`: a registered name, or `auto`. */
  convTemplate: string;
  /** `--model-type` (default `auto`: config.json's `model_type`). */
  modelType?: string;
  /** `--context-window-size` etc.; `max_batch_size` defaults to 128 as in MLC. */
  overrides?: ModelConfigOverrides;
  /** Receives MLC's log messages. */
  log?: GenConfigLog;
  /** SentencePiece `tokenizer.model` -> `tokenizer.json` converter (used when there is no tokenizer.json). */
  convertSentencePiece?: SentencePieceConverter;
}

/** What {@link genConfig} produced. */
export interface GenConfigResult {
  /** The config object (as dumped). */
  config: Record<string, unknown>;
  /** The exact text of mlc-chat-config.json. */
  text: string;
  /** Files written to the output, in order (mlc-chat-config.json last). */
  files: string[];
  /** The conversation template used (resolved when `auto`). */
  convTemplate: string;
}

/** Error for bad input to gen_config, naming the file and the fix. */
export class GenConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "GenConfigError";
  }
}

/** MODELS keys whose `model_task` is `embedding`, with their `embedding_metadata`. */
const EMBEDDING_MODELS: Readonly<Record<string, Record<string, unknown>>> = {
  "qwen3-embedding": { model_type: "decoder", pooling_strategy: "last", normalize: true },
  "bert": { model_type: "encoder", pooling_strategy: "cls", normalize: true },
  "bert-bge": { model_type: "encoder", pooling_strategy: "cls", normalize: true },
};

async function readJsonObject(
  src: GenConfigSource,
  path: string,
  fix: string,
): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await src.readTextFile(path);
  } catch (e) {
    throw new GenConfigError(`Cannot read ${path}: ${(e as Error).message}. Fix: ${fix}`);
  }
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    throw new GenConfigError(
      `${path} nests JSON deeper than ${MAX_JSON_DEPTH} levels (real ones nest under 10). Fix: ${fix}`,
    );
  }
  let v: unknown;
  try {
    v = parsePyJson(text);
  } catch (e) {
    throw new GenConfigError(`${path} is not valid JSON (${(e as Error).message}). Fix: ${fix}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new GenConfigError(`${path} must hold a JSON object. Fix: ${fix}`);
  }
  return v as Record<string, unknown>;
}

function pickArchitecture(modelType: string, hf: Record<string, unknown>, configPath: string): Architecture {
  const mt = hf.model_type ?? (hf.model_config as Record<string, unknown> | undefined)?.model_type;
  if (modelType === "auto" && typeof mt !== "string") {
    throw new GenConfigError(
      `'model_type' not found in: ${configPath}. Fix: pass --model-type (one of: ` +
        `${Object.keys(ARCHITECTURES).join(", ")}).`,
    );
  }
  try {
    return detectArchitecture(modelType, hf);
  } catch (e) {
    throw new GenConfigError(
      `${configPath}: ${(e as Error).message}. Fix: pass --model-type with a supported type if the ` +
        `model is compatible with one of them.`,
    );
  }
}

/**
 * Runs `mlc_llm gen_config`: writes `mlc-chat-config.json` (via a temporary name and a rename
 * when the output store can rename) and copies (or converts) the tokenizer files.
 *
 * @example
 * ```ts ignore
 * import { genConfig } from "@mlc-deno/convert";
 * import { memorySource, memoryOutput } from "@mlc-deno/convert";
 * const out = memoryOutput();
 * const r = await genConfig({
 *   source: memorySource({ "m/config.json": configText, "m/tokenizer.json": tokJson }),
 *   output: out, config: "m", quantization: "q4f16_1", convTemplate: "llama-3",
 * });
 * r.config.conv_template; // the full llama-3 template object
 * ```
 */
export async function genConfig(opts: GenConfigOptions): Promise<GenConfigResult> {
  const log: GenConfigLog = opts.log ?? (() => {});
  const src = opts.source;
  const outDir = opts.outputDir ?? ".";
  const { configPath, sourceDir, hf, arch } = await readModel(opts, log);
  const templateName = opts.convTemplate === "auto"
    ? await autoTemplateName(src, sourceDir, log)
    : opts.convTemplate;
  const convTemplate = getConvTemplate(templateName);
  const modelConfig = modelConfigOf(arch, hf, opts.overrides, configPath, log);
  const draft = await draftFromFiles(src, sourceDir, configPath, hf, log);
  const tok = await processTokenizerFiles(
    src,
    opts.output,
    sourceDir,
    outDir,
    log,
    opts.convertSentencePiece,
  );
  applySystemDefaults(draft, log);
  const embedding = EMBEDDING_MODELS[arch.name];
  if (embedding && draft.get("embedding_metadata") == null) draft.set("embedding_metadata", embedding);
  const config = assembleChatConfig({
    modelType: arch.name,
    quantization: opts.quantization,
    modelConfig,
    activeVocabSize: await activeVocabSize(src, sourceDir, modelConfig, tok.sourceTokenizer, log),
    tokenizerFiles: tok.files,
    tokenizerInfo: tok.info,
    convTemplate,
    modelTask: embedding ? "embedding" : "chat",
    draft,
  });
  const text = dumpPyJson(config, 2);
  const target = "mlc-chat-config.json";
  log("info", `Dumping configuration file to: ${joinPath(outDir, target)}`);
  await writeRenamed(opts.output, target, text);
  return { config, text, files: [...new Set([...tok.files, target])], convTemplate: templateName };
}

/** The quantization check, config.json (found, read, bounded), the overrides check and the architecture. */
async function readModel(
  opts: GenConfigOptions,
  log: GenConfigLog,
): Promise<{ configPath: string; sourceDir: string; hf: Record<string, unknown>; arch: Architecture }> {
  try {
    getQuantization(opts.quantization);
  } catch (e) {
    throw new GenConfigError(`${(e as Error).message}. Fix: pass one of them with --quantization.`);
  }
  const { configPath, dir } = await locateConfig(opts.source, opts.config).catch((e: Error) => {
    throw new GenConfigError(e.message);
  });
  log("info", `Found model configuration: ${configPath}`);
  const hf = await readJsonObject(
    opts.source,
    configPath,
    "re-download config.json from the model repository.",
  );
  checkConfigBounds(hf, configPath);
  const badOverride = overrideProblem(opts.overrides ?? {});
  if (badOverride) throw new GenConfigError(`override ${badOverride[0]} ${badOverride[1]}`);
  const arch = pickArchitecture(opts.modelType ?? "auto", hf, configPath);
  log("info", `Found model type: ${arch.name}. Use \`--model-type\` to override.`);
  return { configPath, sourceDir: dir, hf, arch };
}

/** `--conv-template auto`: the template whose rendering matches tokenizer_config.json's chat_template. */
async function autoTemplateName(src: GenConfigSource, sourceDir: string, log: GenConfigLog): Promise<string> {
  const tcPath = joinPath(sourceDir, "tokenizer_config.json");
  if (!(await src.exists(tcPath))) {
    throw new GenConfigError(
      `--conv-template auto needs ${tcPath} (its chat_template), which does not exist. ` +
        `Fix: pass a template name with --conv-template.`,
    );
  }
  const tc = await readJsonObject(src, tcPath, "re-download tokenizer_config.json.");
  // (an invalid tokenizer.json is reported later by the tokenizer step)
  const tj = await readJsonOrNull(src, joinPath(sourceDir, "tokenizer.json"));
  const r = detectConvTemplate(tc, tj, undefined, tcPath);
  log(
    "info",
    `Detected conversation template: ${r.name} (renders like the chat_template of ${tcPath}` +
      `${r.withoutSystem ? ", without a system prompt" : ""}` +
      `${r.matches.length > 1 ? `; also matching: ${r.matches.slice(1).join(", ")}` : ""})`,
  );
  return r.name;
}

/** A JSON object file, or null when it is absent or not valid JSON. */
async function readJsonOrNull(src: GenConfigSource, path: string): Promise<Record<string, unknown> | null> {
  if (!(await src.exists(path))) return null;
  try {
    return JSON.parse(await src.readTextFile(path));
  } catch {
    return null;
  }
}

/** The model config: pass 1, overrides (max_batch_size 128 by default), pass 2. */
function modelConfigOf(
  arch: Architecture,
  hf: Record<string, unknown>,
  given: ModelConfigOverrides | undefined,
  configPath: string,
  log: GenConfigLog,
): Record<string, unknown> {
  const overrides: ModelConfigOverrides = { max_batch_size: 128, ...given };
  try {
    return buildModelConfig(arch.configClass, hf, overrides, log);
  } catch (e) {
    if (e instanceof ConfigError) {
      throw new GenConfigError(
        `${configPath}: ${e.message}. Fix: correct config.json or pass an override flag.`,
      );
    }
    throw e;
  }
}

/** The generation defaults of generation_config.json, then config.json (MLC's order). */
async function draftFromFiles(
  src: GenConfigSource,
  sourceDir: string,
  configPath: string,
  hf: Record<string, unknown>,
  log: GenConfigLog,
): Promise<ReturnType<typeof newDraft>> {
  const draft = newDraft();
  for (const name of ["generation_config.json", "config.json"]) {
    const path = joinPath(sourceDir, name);
    if (!(await src.exists(path))) {
      log("info", `Not found ${name}: ${path}`);
      continue;
    }
    const values = path === configPath ? hf : await readJsonObject(src, path, `fix or delete ${name}.`);
    fillFromFile(draft, name, values, log);
  }
  return draft;
}

/** active_vocab_size: len(HF tokenizer) of the SOURCE tokenizer.json, when there is one. */
async function activeVocabSize(
  src: GenConfigSource,
  sourceDir: string,
  modelConfig: Record<string, unknown>,
  sourceTokenizer: Parameters<typeof hfTokenizerLength>[0] | null | undefined,
  log: GenConfigLog,
): Promise<unknown> {
  const active: unknown = Object.hasOwn(modelConfig, "active_vocab_size")
    ? modelConfig.active_vocab_size
    : modelConfig.vocab_size;
  if (!sourceTokenizer) return active;
  const tc = await readJsonOrNull(src, joinPath(sourceDir, "tokenizer_config.json"));
  const n = hfTokenizerLength(sourceTokenizer, tc);
  if (n === Number(active)) return active;
  log("info", `Overriding active_vocab_size from ${String(active)} to ${n} using HF tokenizer`);
  return n;
}

/** Writes via a temporary name and a rename when the output store can rename. */
async function writeRenamed(output: GenConfigOutput, target: string, text: string): Promise<void> {
  if (!output.rename) return await output.writeTextFile(target, text);
  const tmp = `.${target}.tmp`;
  await output.writeTextFile(tmp, text);
  await output.rename(tmp, target);
}
