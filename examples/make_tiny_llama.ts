// Regenerates the bundled demo model examples/tiny-llama (deterministic): a 2-layer Llama with
// random bf16 weights and a small SentencePiece BPE tokenizer (1400 pieces, byte fallback, trained
// by tests/fixtures/sentencepiece/make_fixtures.py).
// deno run --allow-read=tests --allow-write=examples examples/make_tiny_llama.ts
import { llamaHfTensors, TINY_LLAMA_CONFIG, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";

const dir = new URL("./tiny-llama", import.meta.url).pathname;
const config = { ...TINY_LLAMA_CONFIG, vocab_size: 1400, bos_token_id: 1, eos_token_id: 2 };
await writeCheckpoint(dir, config, llamaHfTensors(config), { dtype: "BF16", seed: 42 });
await Deno.copyFile(
  new URL("../tests/fixtures/sentencepiece/llama_bpe.model", import.meta.url),
  `${dir}/tokenizer.model`,
);
await Deno.writeTextFile(
  `${dir}/tokenizer_config.json`,
  JSON.stringify(
    {
      add_bos_token: true,
      add_eos_token: false,
      bos_token: "<s>",
      eos_token: "</s>",
      unk_token: "<unk>",
      legacy: false,
    },
    null,
    2,
  ),
);
