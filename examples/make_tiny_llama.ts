// Regenerates the bundled demo checkpoint examples/tiny-llama (deterministic).
// deno run --allow-write=examples examples/make_tiny_llama.ts
import { llamaHfTensors, TINY_LLAMA_CONFIG, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";

const dir = new URL("./tiny-llama", import.meta.url).pathname;
await writeCheckpoint(
  dir,
  TINY_LLAMA_CONFIG as Record<string, unknown>,
  llamaHfTensors({ ...TINY_LLAMA_CONFIG }),
  {
    dtype: "BF16",
    seed: 42,
  },
);
