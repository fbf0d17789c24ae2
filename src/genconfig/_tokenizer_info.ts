/**
 * `tokenizer_info` detection, as MLC's C++ `Tokenizer::DetectTokenizerInfo`
 * (`cpp/tokenizers/tokenizers.cc`) does on the OUTPUT `tokenizer.json`.
 *
 * @module
 */

/** The `tokenizer_info` object of mlc-chat-config.json (key order = output order). */
export interface TokenizerInfo {
  /** `byte_fallback` (SentencePiece-style) or `byte_level` (GPT-2 style). */
  token_postproc_method: "byte_fallback" | "byte_level";
  /** Whether encoding prepends `▁` (a `Prepend ▁` normalizer). */
  prepend_space_in_encode: boolean;
  /** Whether decoding strips one leading space (a `Strip(" ", 1, 0)` decoder). */
  strip_space_in_decode: boolean;
}

/** A parsed JSON object. */
export type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Elements of a `Sequence` component (`key` = `decoders`/`normalizers`), or the component itself. */
function parts(component: Json, key: string): unknown[] {
  if (component.type === "Sequence") {
    const list = component[key];
    return Array.isArray(list) ? list : [];
  }
  return [component];
}

function typeOf(v: unknown, where: string): string {
  if (!isObj(v) || typeof v.type !== "string") {
    throw new Error(`tokenizer.json: ${where} entry without a "type" (MLC aborts on this too)`);
  }
  return v.type;
}

/**
 * Detects the tokenizer info from a parsed `tokenizer.json` (or `null` when there is none:
 * the defaults). Warnings are passed to `warn` with MLC's texts.
 *
 * @example
 * ```ts
 * import { detectTokenizerInfo } from "./_tokenizer_info.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(detectTokenizerInfo({ decoder: { type: "ByteLevel" } }), { token_postproc_method: "byte_level", prepend_space_in_encode: false, strip_space_in_decode: false });
 * ```
 */
export function detectTokenizerInfo(
  tokenizerJson: Json | null,
  warn: (message: string) => void = () => {},
): TokenizerInfo {
  const info: TokenizerInfo = {
    token_postproc_method: "byte_fallback",
    prepend_space_in_encode: false,
    strip_space_in_decode: false,
  };
  if (tokenizerJson === null) {
    warn(
      "Tokenizer info is not detected as tokenizer.json is not found. The default tokenizer info will be used.",
    );
    return info;
  }
  const decoder = tokenizerJson.decoder;
  if (!isObj(decoder)) {
    warn("Decoder field is not found in tokenizer.json. Use ByteFallback as default.");
  } else {
    let found = false;
    for (const d of parts(decoder, "decoders")) {
      const t = typeOf(d, "decoder");
      if (t === "ByteLevel") {
        info.token_postproc_method = "byte_level";
        found = true;
      } else if (t === "ByteFallback") {
        info.token_postproc_method = "byte_fallback";
        found = true;
      }
    }
    if (!found) {
      warn(
        "Neither ByteLevel nor ByteFallback decoder is detected in tokenizer.json. Use ByteFallback as default.",
      );
    }
  }
  const normalizer = tokenizerJson.normalizer;
  if (isObj(normalizer)) {
    for (const n of parts(normalizer, "normalizers")) {
      if (typeOf(n, "normalizer") === "Prepend" && (n as Json).prepend === "\u2581") {
        info.prepend_space_in_encode = true;
        break;
      }
    }
  }
  if (isObj(decoder)) {
    for (const d of parts(decoder, "decoders")) {
      const o = d as Json;
      if (typeOf(d, "decoder") === "Strip" && o.content === " " && o.start === 1 && o.stop === 0) {
        info.strip_space_in_decode = true;
        break;
      }
    }
  }
  return info;
}

/**
 * Python `str()` of the info dict, as in MLC's `Detected tokenizer info: {...}` log line.
 *
 * @example
 * ```ts
 * import { detectTokenizerInfo, tokenizerInfoRepr } from "./_tokenizer_info.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(tokenizerInfoRepr(detectTokenizerInfo(null)).startsWith("{'token_postproc_method': 'byte_fallback'"), true);
 * ```
 */
export function tokenizerInfoRepr(info: TokenizerInfo): string {
  const b = (x: boolean) => (x ? "True" : "False");
  return `{'token_postproc_method': '${info.token_postproc_method}', 'prepend_space_in_encode': ${
    b(info.prepend_space_in_encode)
  }, 'strip_space_in_decode': ${b(info.strip_space_in_decode)}}`;
}
