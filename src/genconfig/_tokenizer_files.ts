/**
 * Tokenizer files (MLC gen_config steps 3.1-3.5): copy the known files in MLC's order, convert
 * a SentencePiece `tokenizer.model` when there is no `tokenizer.json`, detect
 * `tokenizer_info`, check for duplicated added tokens, and count the HF vocabulary.
 *
 * @module
 */
import { type GenConfigOutput, type GenConfigSource, joinPath, readBytes, writeBytes } from "./_io.ts";
import { detectTokenizerInfo, type TokenizerInfo, tokenizerInfoRepr } from "./_tokenizer_info.ts";
import type { GenConfigLog } from "./_log.ts";
import { nestsDeeperThan } from "../json_depth.ts";

/** The files MLC copies, in its order (`TOKENIZER_FILES`). */
export const TOKENIZER_FILES: readonly string[] = [
  "tokenizer.model",
  "tokenizer.json",
  "vocab.json",
  "merges.txt",
  "added_tokens.json",
  "tokenizer_config.json",
];

/** Converts a SentencePiece model to HF `tokenizer.json` text. */
export type SentencePieceConverter = (model: Uint8Array) => string | Promise<string>;

/** Result of the tokenizer steps. */
export interface TokenizerStepResult {
  /** `tokenizer_files` of the config, in the order they were added. */
  files: string[];
  /** Detected `tokenizer_info`. */
  info: TokenizerInfo;
  /** Parsed SOURCE `tokenizer.json` (null when the source has none). */
  sourceTokenizer: Record<string, unknown> | null;
}

/** Error for a tokenizer file that cannot be used. */
export class TokenizerFileError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "TokenizerFileError";
  }
}

/**
 * Deepest JSON nesting a tokenizer file may have: serde_json's recursion limit, with which the
 * tokenizers library (MLC's runtime tokenizer) reads tokenizer.json. Real files nest under 10.
 */
export const MAX_TOKENIZER_JSON_DEPTH = 128;

function checkDepth(text: string, path: string): void {
  if (nestsDeeperThan(text, MAX_TOKENIZER_JSON_DEPTH)) {
    throw new TokenizerFileError(
      `${path} nests JSON deeper than ${MAX_TOKENIZER_JSON_DEPTH} levels, which the tokenizers library ` +
        `refuses to load (serde_json's recursion limit). Fix: re-download it from the model repository, or delete it.`,
    );
  }
}

function parseTokenizerJson(text: string, path: string): Record<string, unknown> {
  checkDepth(text, path);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new TokenizerFileError(
      `${path} is not valid JSON (${(e as Error).message}). Fix: re-download tokenizer.json from the ` +
        `model repository (a Git LFS pointer or a truncated download looks like this), or delete it to ` +
        `use tokenizer.model instead.`,
    );
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new TokenizerFileError(`${path} must hold a JSON object. Fix: re-download tokenizer.json.`);
  }
  return v as Record<string, unknown>;
}

/** Throws a {@link TokenizerFileError} unless `bytes` are UTF-8 JSON holding an object. */
function checkJsonObject(bytes: Uint8Array, path: string): void {
  let v: unknown;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    v = JSON.parse(text);
  } catch (e) {
    throw new TokenizerFileError(
      `${path} is not valid JSON (${
        (e as Error).message.slice(0, 200)
      }). Fix: re-download it from the model ` +
        `repository (a Git LFS pointer or a truncated download looks like this), or delete it.`,
    );
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new TokenizerFileError(`${path} must hold a JSON object. Fix: re-download it, or delete it.`);
  }
  checkDepth(text, path);
}

/**
 * Runs MLC's tokenizer steps: copy, RWKV/sentencepiece/tiktoken handling, `tokenizer_info`
 * detection on the output `tokenizer.json`, and the duplicate added-token check on the
 * source one (which throws, like MLC, after the files were copied).
 *
 * @example
 * ```ts
 * import { memorySource, memoryOutput } from "@mlc-deno/convert";
 * import { processTokenizerFiles } from "./_tokenizer_files.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const r = await processTokenizerFiles(
 *   memorySource({ "m/tokenizer.json": '{"decoder":{"type":"ByteLevel"}}' }), memoryOutput(), "m", "out",
 *   () => {},
 * );
 * deepStrictEqual(r.files, ["tokenizer.json"]);
 * ```
 */
export async function processTokenizerFiles(
  src: GenConfigSource,
  out: GenConfigOutput,
  sourceDir: string,
  outputDir: string,
  log: GenConfigLog,
  convertSentencePiece?: SentencePieceConverter,
): Promise<TokenizerStepResult> {
  const io: TokenizerIo = { src, out, sourceDir, outputDir, log };
  // 3.1 plain copy
  const { files, sourceTokenizer, tokenizerText } = await copyTokenizerFiles(io);
  let outputTokenizerText = tokenizerText;
  const listing = src.listDir ? await src.listDir(sourceDir) : [];
  // 3.2 RWKV world vocab: not generated (no RWKV architecture in this tool).
  for (const name of listing) {
    if (/^rwkv_vocab_v\d{8}\.(json|txt)/.test(name)) {
      log(
        "warning",
        `Found RWKV vocab file: ${
          joinPath(sourceDir, name)
        }. Generating tokenizer_model is not supported; skipping`,
      );
    }
  }
  // 3.3 sentencepiece -> tokenizer.json
  if (sourceTokenizer === null) {
    const converted = await sentencePieceStep(io, convertSentencePiece);
    if (converted !== null) {
      outputTokenizerText = converted;
      files.push("tokenizer.json");
    }
    // 3.3 bis: tiktoken -> HF files needs the model's own Python tokenizer code.
    if (listing.some((n) => n.endsWith(".tiktoken"))) tiktokenWarning(log);
  }
  // 3.4 tokenizer info, from the OUTPUT tokenizer.json
  const outTokenizer = outputTokenizerText === null
    ? null
    : sourceTokenizer ?? parseTokenizerJson(outputTokenizerText, joinPath(outputDir, "tokenizer.json"));
  const info = detectTokenizerInfo(outTokenizer, (m) => log("warning", m));
  log("info", `Detected tokenizer info: ${tokenizerInfoRepr(info)}`);
  // 3.5 duplicated added tokens in the SOURCE tokenizer.json
  if (sourceTokenizer) checkAddedTokens(sourceTokenizer, joinPath(sourceDir, "tokenizer.json"));
  return { files, info, sourceTokenizer };
}

/** Where the tokenizer step reads and writes. */
interface TokenizerIo {
  src: GenConfigSource;
  out: GenConfigOutput;
  sourceDir: string;
  outputDir: string;
  log: GenConfigLog;
}

/** 3.1: copies the tokenizer files there are (checking JSON ones: never copy a broken one silently). */
async function copyTokenizerFiles(
  { src, out, sourceDir, outputDir, log }: TokenizerIo,
): Promise<
  { files: string[]; sourceTokenizer: Record<string, unknown> | null; tokenizerText: string | null }
> {
  const files: string[] = [];
  let tokenizerText: string | null = null;
  let sourceTokenizer: Record<string, unknown> | null = null;
  for (const name of TOKENIZER_FILES) {
    const path = joinPath(sourceDir, name);
    if (!(await src.exists(path))) {
      log("info", `Not found tokenizer config: ${path}`);
      continue;
    }
    let bytes: Uint8Array;
    try {
      bytes = await readBytes(src, path);
    } catch (e) {
      throw new TokenizerFileError(
        `Cannot read ${path}: ${(e as Error).message}. Fix: check the file's permissions, or remove it.`,
      );
    }
    if (name === "tokenizer.json") {
      tokenizerText = new TextDecoder().decode(bytes);
      sourceTokenizer = parseTokenizerJson(tokenizerText, path);
    } else if (name.endsWith(".json")) checkJsonObject(bytes, path);
    log("info", `Found tokenizer config: ${path}. Copying to ${joinPath(outputDir, name)}`);
    await writeBytes(out, name, bytes);
    files.push(name);
  }
  return { files, sourceTokenizer, tokenizerText };
}

/** 3.3: tokenizer.model -> tokenizer.json (written; its text), or null (none, or the conversion failed: logged). */
async function sentencePieceStep(
  { src, out, sourceDir, outputDir, log }: TokenizerIo,
  convert: SentencePieceConverter | undefined,
): Promise<string | null> {
  const spPath = joinPath(sourceDir, "tokenizer.model");
  if (!(await src.exists(spPath))) return null;
  log(
    "info",
    "The model has `tokenizer.model` but not `tokenizer.json`. It is always recommended to prefer JSON instead. " +
      "Attempting to convert it to `tokenizer.json`",
  );
  try {
    if (!convert) throw new Error("no SentencePiece converter is available");
    const text = await convert(await readBytes(src, spPath));
    await out.writeTextFile("tokenizer.json", text);
    log("info", `Successfully converted \`tokenizer.model\` to: ${joinPath(outputDir, "tokenizer.json")}`);
    return text;
  } catch (e) {
    log(
      "warning",
      `Converting to \`tokenizer.json\` Failed with the exception below. Skipping the conversion.\n${
        (e as Error).message
      }`,
    );
    return null;
  }
}

function tiktokenWarning(log: GenConfigLog): void {
  log(
    "info",
    "The model has tiktoken files but not `tokenizer.json`. Attempting to convert from tiktoken files",
  );
  log(
    "warning",
    "Failed with the exception below. Skipping\nConverting tiktoken files needs the model's remote Python " +
      "tokenizer code (special-token table); provide a tokenizer.json instead.",
  );
}

/** 3.5: MLC refuses a source tokenizer.json whose added_tokens repeat a content. */
function checkAddedTokens(tokenizer: Record<string, unknown>, path: string): void {
  if (!Array.isArray(tokenizer.added_tokens)) return;
  const seen = new Set<string>();
  for (const t of tokenizer.added_tokens as { content?: unknown }[]) {
    const c = String(t?.content);
    if (seen.has(c)) {
      throw new TokenizerFileError(
        `Failed with incorrect tokenizer.json which has duplicated token ${c}. This affects correctness of ` +
          `huggingface tokenizer during runtime, please check your tokenizer.json to remove duplication ` +
          `manually. (file: ${path})`,
      );
    }
    seen.add(c);
  }
}

/**
 * Approximates `len(AutoTokenizer.from_pretrained(src))` of HF transformers: the number of
 * distinct token strings in the model vocabulary, the `added_tokens` of `tokenizer.json` and
 * the `added_tokens_decoder` of `tokenizer_config.json`. This is the one value of the config
 * that depends on HF library semantics.
 *
 * @example
 * ```ts
 * import { hfTokenizerLength } from "./_tokenizer_files.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(hfTokenizerLength({ model: { vocab: { a: 0, b: 1 } }, added_tokens: [{ content: "<s>" }] }), 3);
 * ```
 */
export function hfTokenizerLength(
  tokenizerJson: Record<string, unknown>,
  tokenizerConfig?: Record<string, unknown> | null,
): number {
  const tokens = new Set<string>();
  const model = tokenizerJson.model as Record<string, unknown> | undefined;
  const vocab = model?.vocab;
  if (Array.isArray(vocab)) {
    for (const entry of vocab) tokens.add(String(Array.isArray(entry) ? entry[0] : entry));
  } else if (vocab && typeof vocab === "object") {
    for (const k of Object.keys(vocab)) tokens.add(k);
  }
  if (Array.isArray(tokenizerJson.added_tokens)) {
    for (const t of tokenizerJson.added_tokens as { content?: unknown }[]) tokens.add(String(t?.content));
  }
  const decoder = tokenizerConfig?.added_tokens_decoder;
  if (decoder && typeof decoder === "object") {
    for (const t of Object.values(decoder as Record<string, { content?: unknown }>)) {
      if (t && typeof t.content === "string") tokens.add(t.content);
    }
  }
  return tokens.size;
}
