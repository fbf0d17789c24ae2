/**
 * SentencePiece `tokenizer.model` → Hugging Face `tokenizer.json`, as transformers'
 * `convert_slow_tokenizer` does it (`LlamaConverter`, `GemmaConverter`, the generic `SpmConverter`).
 * MLC's `gen_config` needs Python transformers for this step; this is a dependency-free port.
 *
 * @module
 */

import { float32, ProtoError, type ProtoField, readFields, WIRE } from "./_protobuf.ts";

/** SentencePiece piece types (`ModelProto.SentencePiece.Type`). */
export const PIECE_TYPE = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

/** SentencePiece model types (`TrainerSpec.ModelType`). */
export const MODEL_TYPE = { UNIGRAM: 1, BPE: 2, WORD: 3, CHAR: 4 } as const;

const MODEL_TYPE_NAMES: Record<number, string> = { 1: "UNIGRAM", 2: "BPE", 3: "WORD", 4: "CHAR" };

/** One vocabulary entry. */
export interface SentencePiece {
  /** The piece text (whitespace is `▁`). */
  piece: string;
  /** The float32 score (log probability for Unigram, negated merge rank for BPE). */
  score: number;
  /** {@link PIECE_TYPE} value; 1 (NORMAL) when absent. */
  type: number;
}

/** The fields of a SentencePiece `ModelProto` that the conversion uses (proto defaults applied). */
export interface SentencePieceModel {
  /** The vocabulary, in id order. */
  pieces: SentencePiece[];
  /** `trainer_spec.model_type` ({@link MODEL_TYPE}; default UNIGRAM). */
  modelType: number;
  /** `trainer_spec.vocab_size` (default 8000). */
  vocabSize: number;
  /** `trainer_spec.byte_fallback` (default false). */
  byteFallback: boolean;
  /** `trainer_spec.split_digits` (default false). */
  splitDigits: boolean;
  /** `trainer_spec.unk_id` (default 0). */
  unkId: number;
  /** `trainer_spec.bos_id` (default 1; -1 = none). */
  bosId: number;
  /** `trainer_spec.eos_id` (default 2; -1 = none). */
  eosId: number;
  /** `trainer_spec.pad_id` (default -1 = none). */
  padId: number;
  /** `trainer_spec.unk_piece` (default `<unk>`). */
  unkPiece: string;
  /** `normalizer_spec.name` (e.g. `identity`, `nmt_nfkc`; default empty). */
  normalizerName: string;
  /** `normalizer_spec.precompiled_charsmap` (empty when none). */
  precompiledCharsmap: Uint8Array;
  /** `normalizer_spec.add_dummy_prefix` (default true). */
  addDummyPrefix: boolean;
  /** `normalizer_spec.remove_extra_whitespaces` (default true). */
  removeExtraWhitespaces: boolean;
  /** `normalizer_spec.escape_whitespaces` (default true). */
  escapeWhitespaces: boolean;
}

/** Raised for input that is not a SentencePiece model, or one that cannot be converted. */
export class SentencePieceError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "SentencePieceError";
  }
}

/** `trainer_spec` varint fields we keep: field number -> setter. */
const TRAINER_VARINTS: Record<number, (m: SentencePieceModel, f: ProtoField) => void> = {
  3: (m, f) => m.modelType = f.int32,
  4: (m, f) => m.vocabSize = f.int32,
  25: (m, f) => m.splitDigits = f.varint !== 0,
  35: (m, f) => m.byteFallback = f.varint !== 0,
  40: (m, f) => m.unkId = f.int32,
  41: (m, f) => m.bosId = f.int32,
  42: (m, f) => m.eosId = f.int32,
  43: (m, f) => m.padId = f.int32,
};

const utf8 = new TextDecoder("utf-8", { fatal: true });

function text(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new SentencePieceError(`not a SentencePiece model: ${what} is not valid UTF-8`);
  }
}

function parsePiece(bytes: Uint8Array, index: number): SentencePiece {
  const out: SentencePiece = { piece: "", score: 0, type: PIECE_TYPE.NORMAL };
  let seen = false;
  for (const f of readFields(bytes)) {
    if (f.num === 1 && f.wire === WIRE.LEN) {
      out.piece = text(f.bytes, `piece #${index}`);
      seen = true;
    } else if (f.num === 2 && f.wire === WIRE.I32) out.score = float32(f.bytes);
    else if (f.num === 3 && f.wire === WIRE.VARINT) out.type = f.int32;
  }
  if (!seen) throw new SentencePieceError(`not a SentencePiece model: piece #${index} has no text`);
  if (out.type < 1 || out.type > 6) {
    throw new SentencePieceError(`not a SentencePiece model: piece #${index} has unknown type ${out.type}`);
  }
  return out;
}

function looksLikeText(model: Uint8Array): string | null {
  let i = 0;
  while (
    i < model.length && (model[i] === 0x20 || model[i] === 0x0a || model[i] === 0x0d || model[i] === 9)
  ) i++;
  if (model[i] === 0x7b) return "it looks like JSON (a tokenizer.json or config file?)";
  return null;
}

/**
 * Parses a SentencePiece `tokenizer.model` (a serialized `sentencepiece.ModelProto`).
 *
 * @throws {SentencePieceError} when the bytes are not a SentencePiece model.
 * @example
 * ```ts ignore
 * import { parseSentencePieceModel } from "./sentencepiece.ts";
 * const m = parseSentencePieceModel(await Deno.readFile("tokenizer.model"));
 * console.log(m.modelType, m.pieces.length, m.pieces[m.unkId].piece);
 * ```
 */
export function parseSentencePieceModel(model: Uint8Array): SentencePieceModel {
  const out: SentencePieceModel = {
    pieces: [],
    modelType: MODEL_TYPE.UNIGRAM,
    vocabSize: 8000,
    byteFallback: false,
    splitDigits: false,
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    unkPiece: "<unk>",
    normalizerName: "",
    precompiledCharsmap: new Uint8Array(0),
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
  };
  const hint = looksLikeText(model);
  if (hint) throw new SentencePieceError(`not a SentencePiece model: ${hint}`);
  let trainerSeen = false;
  try {
    for (const f of readFields(model)) {
      if (f.num === 1) {
        if (f.wire !== WIRE.LEN) throw new SentencePieceError("not a SentencePiece model: bad pieces field");
        out.pieces.push(parsePiece(f.bytes, out.pieces.length));
      } else if (f.num === 2 && f.wire === WIRE.LEN) {
        trainerSeen = true;
        for (const t of readFields(f.bytes)) {
          if (t.wire === WIRE.VARINT) {
            TRAINER_VARINTS[t.num]?.(out, t);
          } else if (t.wire === WIRE.LEN && t.num === 45) out.unkPiece = text(t.bytes, "unk_piece");
        }
      } else if (f.num === 3 && f.wire === WIRE.LEN) {
        for (const n of readFields(f.bytes)) {
          if (n.wire === WIRE.LEN && n.num === 1) out.normalizerName = text(n.bytes, "normalizer name");
          else if (n.wire === WIRE.LEN && n.num === 2) out.precompiledCharsmap = n.bytes.slice();
          else if (n.wire === WIRE.VARINT && n.num === 3) out.addDummyPrefix = n.varint !== 0;
          else if (n.wire === WIRE.VARINT && n.num === 4) out.removeExtraWhitespaces = n.varint !== 0;
          else if (n.wire === WIRE.VARINT && n.num === 5) out.escapeWhitespaces = n.varint !== 0;
        }
      }
    }
  } catch (e) {
    if (e instanceof ProtoError) throw new SentencePieceError(`not a SentencePiece model: ${e.message}`);
    throw e;
  }
  if (out.pieces.length === 0) throw new SentencePieceError("not a SentencePiece model: it has no pieces");
  if (!trainerSeen) throw new SentencePieceError("not a SentencePiece model: it has no trainer_spec");
  return out;
}

/** Which transformers converter to follow. */
export type SentencePieceFlavor = "llama" | "gemma" | "spm" | "auto";

/** Options of {@link sentencePieceToTokenizerJson}. */
export interface SentencePieceConvertOptions {
  /**
   * `llama`: `LlamaConverter` + `LlamaTokenizerFast` (Llama, Mistral, ...; legacy mode, the default).
   * `gemma`: `GemmaConverter` + `GemmaTokenizerFast`.
   * `spm`: the generic `SpmConverter` (Metaspace pre-tokenizer, precompiled charsmap; T5-style Unigram).
   * `auto` (default): `gemma` when ids 0..2 are `<pad>`, `<eos>`, `<bos>`; else `llama` for BPE
   * models and byte-fallback Unigram models; else `spm`.
   */
  flavor?: SentencePieceFlavor;
  /**
   * LlamaTokenizer's `add_prefix_space` (tokenizer_config.json; default true, as in transformers): the
   * `Prepend ▁` normalizer (legacy) or the Metaspace prepend scheme (non-legacy), and the decoder's `Strip`.
   */
  addPrefixSpace?: boolean;
  /**
   * LlamaTokenizer's `legacy` (tokenizer_config.json; default true, as transformers when it is unset).
   * `false`: no normalizer, a `Metaspace` pre-tokenizer with `prepend_scheme: "first"`, `split: false`.
   */
  legacy?: boolean;
  /** `add_bos_token` of the Llama/Gemma fast tokenizer's post-processor (default true). */
  addBosToken?: boolean;
  /** `add_eos_token` of the Llama/Gemma fast tokenizer's post-processor (default false). */
  addEosToken?: boolean;
}

/**
 * Resolves `auto` to the flavor that {@link sentencePieceToTokenizerJson} will use.
 *
 * @example
 * ```ts ignore
 * import { detectSentencePieceFlavor, parseSentencePieceModel } from "./sentencepiece.ts";
 * const m = parseSentencePieceModel(await Deno.readFile("tokenizer.model"));
 * console.log(detectSentencePieceFlavor(m)); // "llama" for a Llama/Mistral tokenizer.model
 * ```
 */
export function detectSentencePieceFlavor(model: SentencePieceModel): Exclude<SentencePieceFlavor, "auto"> {
  const p = model.pieces;
  if (p.length > 2 && p[0].piece === "<pad>" && p[1].piece === "<eos>" && p[2].piece === "<bos>") {
    return "gemma";
  }
  if (model.modelType === MODEL_TYPE.BPE || model.byteFallback) return "llama";
  return "spm";
}

/** A JSON number that must be written as a float (`0.0`, `-3.0`), as serde_json writes an f64. */
class F64 {
  constructor(readonly value: number) {}
}

/** JSON values; a Map is an object whose keys keep insertion order (even integer-like ones). */
type Json = null | boolean | number | string | F64 | Json[] | Map<string, Json> | { [k: string]: Json };

function floatText(x: number): string {
  if (!Number.isFinite(x)) throw new SentencePieceError(`non-finite score ${x}`);
  if (Object.is(x, -0)) return "-0.0";
  const s = String(x);
  return /[.e]/.test(s) ? s.replace("e+", "e") : `${s}.0`;
}

/** serde_json's pretty layout (2-space indent, `": "`, empty containers as `[]`/`{}`). */
function writeJson(v: Json, indent: string, out: string[]): void {
  if (v === null) out.push("null");
  else if (v instanceof F64) out.push(floatText(v.value));
  else if (typeof v === "number" || typeof v === "boolean") out.push(String(v));
  else if (typeof v === "string") out.push(JSON.stringify(v));
  else {
    const isArray = Array.isArray(v);
    const entries: [string | null, Json][] = isArray
      ? v.map((x) => [null, x])
      : v instanceof Map
      ? [...v]
      : Object.entries(v);
    const [open, close] = isArray ? ["[", "]"] : ["{", "}"];
    if (entries.length === 0) return void out.push(open + close);
    const inner = indent + "  ";
    out.push(open);
    entries.forEach(([k, x], i) => {
      out.push((i ? ",\n" : "\n") + inner + (k === null ? "" : JSON.stringify(k) + ": "));
      writeJson(x, inner, out);
    });
    out.push("\n" + indent + close);
  }
}

/**
 * transformers' `generate_merges(vocab, vocab_scores)`: every split of every piece into two pieces
 * of `vocab` is a merge; within a piece they are ordered by the ids of the halves; then all merges
 * are stably sorted by (score, len(left), len(right)) descending. Lengths are in code points.
 */
function generateMerges(vocab: Map<string, number>, vocabScores: [string, number][]): [string, string][] {
  const scores = new Map<string, number>(); // Python dict(vocab_scores): last value, first position
  for (const [p, s] of vocabScores) scores.set(p, s);
  const merges: { l: string; r: string; score: number; ll: number; lr: number }[] = [];
  for (const [merge, score] of scores) {
    const cps = Array.from(merge);
    const local: typeof merges = [];
    for (let i = 1; i < cps.length; i++) {
      const l = cps.slice(0, i).join("");
      const r = cps.slice(i).join("");
      if (vocab.has(l) && vocab.has(r)) local.push({ l, r, score, ll: i, lr: cps.length - i });
    }
    local.sort((a, b) => (vocab.get(a.l)! - vocab.get(b.l)!) || (vocab.get(a.r)! - vocab.get(b.r)!));
    merges.push(...local);
  }
  merges.sort((a, b) => (b.score - a.score) || (b.ll - a.ll) || (b.lr - a.lr));
  return merges.map((m) => [m.l, m.r]);
}

const addedToken = (id: number, content: string, special: boolean): Json => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special,
});

const strPattern = (s: string): Json => ({ String: s });

function templateProcessing(bos: [string, number] | null, eos: [string, number] | null): Json {
  const sp = (id: string, t: number): Json => ({ SpecialToken: { id, type_id: t } });
  const seq = (id: string, t: number): Json => ({ Sequence: { id, type_id: t } });
  const single: Json[] = [];
  const pair: Json[] = [];
  if (bos) single.push(sp(bos[0], 0));
  single.push(seq("A", 0));
  if (eos) single.push(sp(eos[0], 0));
  pair.push(...single);
  if (bos) pair.push(sp(bos[0], 1));
  pair.push(seq("B", 1));
  if (eos) pair.push(sp(eos[0], 1));
  const special: Record<string, Json> = {};
  for (const t of [bos, eos]) if (t) special[t[0]] = { id: t[0], ids: [t[1]], tokens: [t[0]] };
  return { type: "TemplateProcessing", single, pair, special_tokens: special };
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Per-flavor choices, as the transformers converter classes make them. */
interface FlavorRules {
  /** Replace ids 0..2 by these names with score 0.0 (`vocab()` override); null keeps the proto. */
  firstThree: (m: SentencePieceModel) => string[] | null;
  unkId: (m: SentencePieceModel) => number;
  byteFallback: boolean;
  /** GemmaConverter's fix for old Gemma vocabularies: `<0x09>` is renamed `\t` when there is no `\t`. */
  tabFix: boolean;
  /** Piece names that are special even when USER_DEFINED. */
  extraSpecial: Set<string>;
  /** The fast tokenizer's special tokens (unk/bos/eos/pad), by id. */
  specialIds: (m: SentencePieceModel) => number[];
  normalizer: (m: SentencePieceModel, o: SentencePieceConvertOptions) => Json;
  preTokenizer: (m: SentencePieceModel, o: SentencePieceConvertOptions) => Json;
  decoder: (m: SentencePieceModel, o: SentencePieceConvertOptions) => Json;
  postProcessor: boolean;
}

const BYTE_DECODERS: Json[] = [
  { type: "Replace", pattern: strPattern("▁"), content: " " },
  { type: "ByteFallback" },
  { type: "Fuse" },
];

const FLAVORS: Record<Exclude<SentencePieceFlavor, "auto">, FlavorRules> = {
  llama: {
    firstThree: (m) => m.pieces.slice(0, 3).map((p) => p.piece),
    unkId: () => 0,
    byteFallback: true,
    tabFix: false,
    extraSpecial: new Set(),
    specialIds: (m) => [m.unkId, m.bosId, m.eosId],
    normalizer: (_m, o) =>
      o.legacy ?? true
        ? {
          type: "Sequence",
          normalizers: [
            ...(o.addPrefixSpace ?? true ? [{ type: "Prepend", prepend: "▁" } as Json] : []),
            { type: "Replace", pattern: strPattern(" "), content: "▁" },
          ],
        }
        : null,
    preTokenizer: (_m, o) =>
      o.legacy ?? true ? null : {
        type: "Metaspace",
        replacement: "▁",
        prepend_scheme: o.addPrefixSpace ?? true ? "first" : "never",
        split: false,
      },
    decoder: (_m, o) => ({
      type: "Sequence",
      decoders: [
        ...BYTE_DECODERS,
        ...(o.addPrefixSpace ?? true ? [{ type: "Strip", content: " ", start: 1, stop: 0 }] : []),
      ],
    }),
    postProcessor: true,
  },
  gemma: {
    firstThree: () => ["<pad>", "<eos>", "<bos>"],
    unkId: () => 3,
    byteFallback: true,
    tabFix: true,
    extraSpecial: new Set(["<start_of_turn>", "<end_of_turn>"]),
    specialIds: (m) => [m.padId, m.bosId, m.eosId, m.unkId],
    normalizer: () => ({ type: "Replace", pattern: strPattern(" "), content: "▁" }),
    preTokenizer: () => ({
      type: "Split",
      pattern: strPattern(" "),
      behavior: "MergedWithPrevious",
      invert: false,
    }),
    decoder: () => ({ type: "Sequence", decoders: BYTE_DECODERS }),
    postProcessor: true,
  },
  spm: {
    firstThree: () => null,
    unkId: (m) => m.unkId,
    byteFallback: false,
    tabFix: false,
    extraSpecial: new Set(),
    specialIds: (m) => [m.unkId, m.bosId, m.eosId, m.padId],
    normalizer: (m) => ({
      type: "Sequence",
      normalizers: [
        ...(m.precompiledCharsmap.length
          ? [{ type: "Precompiled", precompiled_charsmap: base64(m.precompiledCharsmap) } as Json]
          : []),
        { type: "Strip", strip_left: false, strip_right: true },
        { type: "Replace", pattern: { Regex: " {2,}" }, content: "▁" },
      ],
    }),
    preTokenizer: () => ({ type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true }),
    decoder: () => ({ type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true }),
    postProcessor: false,
  },
};

/**
 * Builds the `tokenizer.json` content as a plain object, for a parsed model (the same content as
 * {@link sentencePieceToTokenizerJson}; a plain object lists integer-like vocab keys such as "0" first).
 *
 * @example
 * ```ts ignore
 * import { parseSentencePieceModel, sentencePieceToTokenizer } from "./sentencepiece.ts";
 * const tok = sentencePieceToTokenizer(parseSentencePieceModel(await Deno.readFile("tokenizer.model")));
 * console.log((tok.model as { type: string }).type); // "BPE" or "Unigram"
 * ```
 */
export function sentencePieceToTokenizer(
  model: SentencePieceModel,
  opts: SentencePieceConvertOptions = {},
): Record<string, unknown> {
  const out: string[] = [];
  writeJson(convert(model, opts), "", out);
  return JSON.parse(out.join(""));
}

function convert(m: SentencePieceModel, opts: SentencePieceConvertOptions): Json {
  if (m.modelType !== MODEL_TYPE.UNIGRAM && m.modelType !== MODEL_TYPE.BPE) {
    const name = MODEL_TYPE_NAMES[m.modelType] ?? `#${m.modelType}`;
    throw new SentencePieceError(
      `SentencePiece model type ${name} is not supported: only UNIGRAM and BPE models convert to ` +
        `tokenizer.json (transformers refuses the others too)`,
    );
  }
  const flavor = !opts.flavor || opts.flavor === "auto" ? detectSentencePieceFlavor(m) : opts.flavor;
  const rules = FLAVORS[flavor];
  if (!rules) throw new SentencePieceError(`unknown SentencePiece flavor "${flavor}"`);
  const { vocabScores, tabFix } = vocabScoresOf(m, rules);
  const tokenAt = (id: number): [string, number] | null =>
    id >= 0 && id < vocabScores.length ? [vocabScores[id][0], id] : null;
  const post = rules.postProcessor
    ? templateProcessing(
      opts.addBosToken ?? true ? tokenAt(m.bosId) : null,
      opts.addEosToken ?? false ? tokenAt(m.eosId) : null,
    )
    : null;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokensOf(m, rules, vocabScores),
    normalizer: rules.normalizer(m, opts),
    pre_tokenizer: rules.preTokenizer(m, opts),
    post_processor: post,
    decoder: rules.decoder(m, opts),
    model: m.modelType === MODEL_TYPE.UNIGRAM
      ? {
        type: "Unigram",
        unk_id: rules.unkId(m),
        vocab: vocabScores.map(([p, s]) => [p, new F64(s)]),
        byte_fallback: rules.byteFallback,
      }
      : bpeModel(m, rules, vocabScores, tabFix),
  };
}

type Rules = (typeof FLAVORS)[keyof typeof FLAVORS];

/** vocab_scores as the converter's vocab() returns it (the flavor's first three, Gemma's tab fix). */
function vocabScoresOf(
  m: SentencePieceModel,
  rules: Rules,
): { vocabScores: [string, number][]; tabFix: boolean } {
  const vocabScores: [string, number][] = m.pieces.map((p) => [p.piece, p.score]);
  const first = rules.firstThree(m);
  if (first) first.forEach((name, i) => i < vocabScores.length && (vocabScores[i] = [name, 0]));
  let tabFix = false;
  if (rules.tabFix && !vocabScores.some(([p]) => p === "\t")) {
    const i = vocabScores.findIndex(([p]) => p === "<0x09>");
    if (i >= 0) [vocabScores[i], tabFix] = [["\t", 0], true];
  }
  return { vocabScores, tabFix };
}

/** The BPE model: vocab (a Map: plain objects would move integer-like pieces first) and merges. */
function bpeModel(
  m: SentencePieceModel,
  rules: Rules,
  vocabScores: [string, number][],
  tabFix: boolean,
): Json {
  // The extractor's vocab: the proto's pieces (plus "\t" -> id of <0x09> for Gemma).
  const spVocab = new Map<string, number>();
  m.pieces.forEach((p, i) => spVocab.set(p.piece, i));
  if (tabFix && !spVocab.has("\t")) spVocab.set("\t", spVocab.get("<0x09>")!);
  const merges = generateMerges(spVocab, vocabScores);
  const vocab = new Map<string, Json>();
  vocabScores.forEach(([p], i) => vocab.set(p, i));
  return {
    type: "BPE",
    dropout: null,
    unk_token: m.unkPiece,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: true,
    byte_fallback: rules.byteFallback,
    ignore_merges: false,
    vocab,
    merges,
  };
}

/** Added tokens: CONTROL / USER_DEFINED pieces, then the fast tokenizer's special tokens, by id. */
function addedTokensOf(m: SentencePieceModel, rules: Rules, vocabScores: [string, number][]): Json[] {
  const added = new Map<number, boolean>();
  m.pieces.forEach((p, i) => {
    if (p.type === PIECE_TYPE.CONTROL || p.type === PIECE_TYPE.USER_DEFINED) {
      added.set(i, p.type === PIECE_TYPE.CONTROL || rules.extraSpecial.has(vocabScores[i][0]));
    }
  });
  for (const id of rules.specialIds(m)) if (id >= 0 && id < m.pieces.length) added.set(id, true);
  return [...added.keys()].sort((a, b) => a - b).map((id) =>
    addedToken(id, vocabScores[id][0], added.get(id)!)
  );
}

/**
 * Converts a SentencePiece `tokenizer.model` to the text of a Hugging Face `tokenizer.json`, following
 * transformers' converters (see {@link SentencePieceConvertOptions.flavor}). The layout is that of
 * HF tokenizers' pretty JSON (2-space indent, floats with `.0`, merges as pairs, no trailing newline).
 *
 * @throws {SentencePieceError} for input that is not a SentencePiece model, or a WORD/CHAR model.
 * @example
 * ```ts ignore
 * import { sentencePieceToTokenizerJson } from "@mlc-deno/convert";
 * const json = sentencePieceToTokenizerJson(await Deno.readFile("tokenizer.model"), { flavor: "llama" });
 * await Deno.writeTextFile("tokenizer.json", json);
 * ```
 */
export function sentencePieceToTokenizerJson(
  model: Uint8Array,
  opts: SentencePieceConvertOptions = {},
): string {
  const out: string[] = [];
  writeJson(convert(parseSentencePieceModel(model), opts), "", out);
  return out.join("");
}
