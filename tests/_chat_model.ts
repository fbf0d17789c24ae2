/**
 * A TinyLlama-1.1B-shaped Llama for the chat tests: the real shapes that MLC's prebuilt
 * `TinyLlama-1.1B-Chat-v0.4-q4f32_1-ctx1k-webgpu.wasm` expects (22 layers, hidden 2048,
 * vocabulary 32000), deterministic random bf16 weights, and a word-level `tokenizer.json` of
 * 32000 tokens (so that every token id the random model produces decodes to a known string).
 *
 * @module
 */
import { llamaHfTensors, TINYLLAMA_1_1B_CONFIG, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";

/** The token string of id `i` in the word-level vocabulary (`<unk>`, `<s>`, `</s>`, then `w3`...). */
export function chatModelToken(i: number): string {
  return i === 0 ? "<unk>" : i === 1 ? "<s>" : i === 2 ? "</s>" : `w${i}`;
}

/** A word-level tokenizer.json (HF tokenizers format) with the model's 32000 ids. */
export function chatModelTokenizerJson(): string {
  const vocab: Record<string, number> = {};
  for (let i = 0; i < 32000; i++) vocab[chatModelToken(i)] = i;
  return JSON.stringify({
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [0, 1, 2].map((id) => ({
      id,
      content: chatModelToken(id),
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: "Whitespace" },
    post_processor: null,
    decoder: { type: "WordPiece", prefix: "##", cleanup: false },
    model: { type: "WordLevel", vocab, unk_token: "<unk>" },
  });
}

/** Writes the TinyLlama-shaped checkpoint (about 2.2 GB of bf16) and its tokenizer into `dir`. */
export async function writeChatModel(dir: string, seed = 7): Promise<void> {
  const cfg = { ...TINYLLAMA_1_1B_CONFIG, bos_token_id: 1, eos_token_id: 2 };
  await writeCheckpoint(dir, cfg, llamaHfTensors(cfg), { dtype: "BF16", seed });
  await Deno.writeTextFile(`${dir}/tokenizer.json`, chatModelTokenizerJson());
  await Deno.writeTextFile(
    `${dir}/tokenizer_config.json`,
    JSON.stringify({ bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>" }),
  );
}
