// Reproduces the real MLC Llama outputs in tests/fixtures/real-mlc (copied from ../shared) from sparse checkpoints
// with the real dimensions (header written, file extended to full size: no disk cost).
import { assertEquals } from "./_assert.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import { fromDict } from "../src/arch/config.ts";
import { openCheckpoint } from "../src/checkpoint.ts";
import { convertWeight } from "../src/convert.ts";
import { denoOutput, denoSource } from "../src/io/deno_fs.ts";
import { planConversion } from "../src/plan.ts";
import { parsePyJson } from "../src/pyjson.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { ReferenceBackend } from "../src/quant/reference.ts";
import { llamaHfTensors, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";
import { WasmBackend } from "../src/kernels/wasm.ts";
import { assertCacheMatches, discardOutput, FIXTURES, planAsCache, readFixtureCache } from "./_fixtures.ts";

async function hfConfig(set: string): Promise<Record<string, unknown>> {
  return parsePyJson(await Deno.readTextFile(`${FIXTURES}${set}/hf-config.json`)) as Record<string, unknown>;
}

// Meta-Llama-3-8B-Instruct's 4-file split (its model.safetensors.index.json): file 1 holds the
// embedding and layers 0-8, file 2 layers 9-19 and layer 20's gate/attention, file 3 the rest of
// layer 20, layers 21-30 and layer 31's gate/up/attention, file 4 lm_head, model.norm and the
// rest of layer 31.
function llama3File(name: string): number {
  if (name === "lm_head.weight" || name === "model.norm.weight") return 4;
  if (name === "model.embed_tokens.weight") return 1;
  const m = /^model\.layers\.(\d+)\.(.*)$/.exec(name)!;
  const l = Number(m[1]);
  const rest = m[2];
  if (l <= 8) return 1;
  if (l <= 19) return 2;
  if (l === 20) return /gate_proj|self_attn/.test(rest) ? 2 : 3;
  if (l <= 30) return 3;
  return /gate_proj|up_proj|self_attn/.test(rest) ? 3 : 4;
}

async function writeLlama3(dir: string, cfg: Record<string, unknown>): Promise<void> {
  // one sparse file per group, with the real index
  const tensors = llamaHfTensors(
    Object.fromEntries(Object.entries(cfg).map(([k, v]) => [k, typeof v === "object" && v ? Number(v) : v])),
  );
  const groups = new Map<number, typeof tensors>();
  for (const t of tensors) {
    const f = llama3File(t.name);
    groups.set(f, [...(groups.get(f) ?? []), t]);
  }
  const weightMap: Record<string, string> = {};
  for (const [f, ts] of groups) {
    const sub = `${dir}/_f${f}`;
    await writeCheckpoint(sub, {}, ts, { sparse: true, dtype: "BF16" });
    const fname = `model-0000${f}-of-00004.safetensors`;
    await Deno.rename(`${sub}/model.safetensors`, `${dir}/${fname}`);
    await Deno.remove(sub, { recursive: true });
    for (const t of ts) weightMap[t.name] = fname;
  }
  const sorted = Object.fromEntries(Object.keys(weightMap).sort().map((k) => [k, weightMap[k]]));
  await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, JSON.stringify({ weight_map: sorted }));
}

Deno.test("llama3-8b-instruct q4f16_1: plan and a real conversion (sparse 16 GB checkpoint) reproduce every record, shard and metadata", async () => {
  const cfg = await hfConfig("llama3-8b-instruct-q4f16_1");
  const dir = await Deno.makeTempDir();
  try {
    await writeLlama3(dir, cfg);
    const ckpt = await openCheckpoint(denoSource(), `${dir}/model.safetensors.index.json`);
    const arch = ARCHITECTURES.llama;
    const plan = planConversion({
      arch,
      config: fromDict(arch.configClass, cfg),
      scheme: getQuantization("q4f16_1"),
      checkpoint: ckpt,
    });
    assertEquals(plan.problems, []);
    assertEquals(plan.totalParamNum, 8030261248);
    const expected = await readFixtureCache("llama3-8b-instruct-q4f16_1", "ndarray-cache.unpartitioned.json");
    assertCacheMatches(planAsCache(plan), expected);
    // the first shard is lm_head.q_weight alone (out of band)
    assertEquals(plan.outputs[0].name, "lm_head.q_weight");
    assertEquals(plan.shardSizes[0], 262668288);
    // the real thing: read the 16 GB (sparse) files, quantize, hash; shards are not kept on disk.
    // Kernel workers (the CLI's path): the words larger than a shard (lm_head, embed_tokens, each
    // layer's gate_up_proj) are streamed in place, a piece at a time, and their scales beside them
    // (committing the pending shard where they must)
    const out = discardOutput();
    const { cache } = await convertWeight({
      plan,
      checkpoint: ckpt,
      backend: new WasmBackend(),
      output: out,
      threads: 2,
    });
    ckpt.close();
    assertCacheMatches(cache, expected);
    for (const s of cache.records) assertEquals(out.sizes.get(s.dataPath), s.nbytes);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("smollm2-135m-instruct q0f16: a real conversion of a sparse checkpoint reproduces the cache", async () => {
  const cfg = await hfConfig("smollm2-135m-instruct-q0f16");
  const dir = await Deno.makeTempDir();
  try {
    const plainCfg = Object.fromEntries(
      Object.entries(cfg).map((
        [k, v],
      ) => [k, typeof v === "object" && v !== null && !Array.isArray(v) ? Number(v) : v]),
    );
    await writeCheckpoint(`${dir}/m`, plainCfg, llamaHfTensors(plainCfg), { sparse: true, dtype: "BF16" });
    const ckpt = await openCheckpoint(denoSource(), `${dir}/m/model.safetensors`);
    const arch = ARCHITECTURES.llama;
    const plan = planConversion({
      arch,
      config: fromDict(arch.configClass, cfg),
      scheme: getQuantization("q0f16"),
      checkpoint: ckpt,
    });
    assertEquals(plan.problems, []);
    const expected = await readFixtureCache("smollm2-135m-instruct-q0f16");
    assertCacheMatches(planAsCache(plan), expected);
    await Deno.mkdir(`${dir}/out`);
    const output = denoOutput(`${dir}/out`);
    const result = await convertWeight({ plan, checkpoint: ckpt, backend: new ReferenceBackend(), output });
    await output.close();
    ckpt.close();
    assertCacheMatches(result.cache, expected);
    // all-zero source: md5 of each shard is the md5 of its zeros
    const written = JSON.parse(await Deno.readTextFile(`${dir}/out/tensor-cache.json`));
    assertCacheMatches(written, expected);
    assertEquals(
      await Deno.readTextFile(`${dir}/out/tensor-cache.json`),
      await Deno.readTextFile(`${dir}/out/ndarray-cache.json`),
    );
    for (const s of written.records) {
      assertEquals((await Deno.stat(`${dir}/out/${s.dataPath}`)).size, s.nbytes);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
