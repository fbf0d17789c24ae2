// Issue 3: the Qwen2 set is reproduced by a real conversion (not only a plan) of a synthetic
// checkpoint with the real dimensions (all-zero data), through the cpu (WASM) backend.
import { assertEquals } from "./_assert.ts";
import { fromDict } from "../src/arch/config.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import { convertWeight } from "../src/convert.ts";
import { WasmBackend } from "../src/kernels/wasm.ts";
import { planConversion } from "../src/plan.ts";
import { parsePyJson } from "../src/pyjson.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { hfTensors, syntheticCheckpoint } from "../src/testing/hf_layouts.ts";
import { assertCacheMatches, discardOutput, FIXTURES, readFixtureCache } from "./_fixtures.ts";

Deno.test("qwen2-0.5b-medchat q4f16_1: a real conversion reproduces the cache (records, shards, metadata)", async () => {
  const set = "qwen2-0.5b-medchat-q4f16_1";
  const text = await Deno.readTextFile(`${FIXTURES}${set}/hf-config.json`);
  const arch = ARCHITECTURES.qwen2;
  const checkpoint = syntheticCheckpoint([{
    file: "model.safetensors",
    tensors: hfTensors("qwen2", JSON.parse(text)),
  }]);
  const plan = planConversion({
    arch,
    config: fromDict(arch.configClass, parsePyJson(text) as Record<string, unknown>),
    scheme: getQuantization("q4f16_1"),
    checkpoint,
  });
  const out = discardOutput();
  const { cache } = await convertWeight({ plan, checkpoint, backend: new WasmBackend(), output: out });
  assertCacheMatches(cache, await readFixtureCache(set));
  for (const s of cache.records) assertEquals(out.sizes.get(s.dataPath), s.nbytes);
  assertEquals(out.texts.get("tensor-cache.json"), out.texts.get("ndarray-cache.json"));
});
