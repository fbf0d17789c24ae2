/**
 * A TinyLlama-1.1B-shaped Llama for the chat tests: the real shapes that MLC's prebuilt
 * `TinyLlama-1.1B-Chat-v0.4-q4f32_1-ctx1k-webgpu.wasm` expects (22 layers, hidden 2048,
 * vocabulary 32000), deterministic random bf16 weights (uniform, xorshift32: about 20 times faster
 * than the Gaussian generator of src/testing/ for these 1.1 billion values), and a word-level `tokenizer.json` of
 * 32000 tokens (so that every token id the random model produces decodes to a known string).
 *
 * @module
 */
import { encodeSafetensorsHeader } from "../src/safetensors.ts";
import { type GenTensor, llamaHfTensors, TINYLLAMA_1_1B_CONFIG } from "../src/testing/checkpoint_gen.ts";

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

/**
 * bf16 values of a tensor: uniform in [-0.035, 0.035) (standard deviation 0.02), norm weights
 * (1-D `*norm*`) in [0.9, 1.1); xorshift32 seeded by `seed` and the tensor's index.
 */
function bf16Data(t: GenTensor, index: number, seed: number): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Uint16Array(n);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const [lo, span] = t.shape.length === 1 && t.name.includes("norm") ? [0.9, 0.2] : [-0.035, 0.07];
  let x = (seed * 2654435761 + index * 40503 + 1) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    f[0] = lo + (x / 4294967296) * span;
    out[i] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16;
  }
  return new Uint8Array(out.buffer);
}

/** Writes the TinyLlama-shaped checkpoint (about 2.2 GB of bf16) and its tokenizer into `dir`. */
export async function writeChatModel(dir: string, seed = 7): Promise<void> {
  const cfg = { ...TINYLLAMA_1_1B_CONFIG, bos_token_id: 1, eos_token_id: 2 };
  const tensors = llamaHfTensors(cfg).sort((a, b) => (a.name < b.name ? -1 : 1));
  const size = (t: GenTensor) => t.shape.reduce((a, b) => a * b, 2);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(cfg, null, 2));
  const header = encodeSafetensorsHeader(
    tensors.map((t) => ({ name: t.name, stDtype: "BF16", shape: t.shape, nbytes: size(t) })),
    { format: "pt" },
  );
  const f = await Deno.open(`${dir}/model.safetensors`, { write: true, create: true, truncate: true });
  try {
    const all = async (b: Uint8Array) => {
      for (let o = 0; o < b.length;) o += await f.write(b.subarray(o));
    };
    await all(header);
    for (const [i, t] of tensors.entries()) await all(bf16Data(t, i, seed));
  } finally {
    f.close();
  }
  await Deno.writeTextFile(`${dir}/tokenizer.json`, chatModelTokenizerJson());
  await Deno.writeTextFile(
    `${dir}/tokenizer_config.json`,
    JSON.stringify({ bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>" }),
  );
}
