// The parallel pipeline (--device cpu with worker threads) and the single-thread paths give
// the same bytes as the reference backend on generated checkpoints: bf16, f16 and f32
// sources, single file and sharded, NK and KN schemes, f16 and f32 model dtypes, int3 and
// int4, direct reads by the workers and reads by the main thread, several shards with
// out-of-band tensors.
import { planTinyLlama } from "./_tiny.ts";
import { assertEquals } from "./_assert.ts";
import { type ConvertResult, convertWeight } from "../src/convert.ts";
import { ReferenceBackend } from "../src/quant/reference.ts";
import { WasmBackend } from "../src/kernels/wasm.ts";
import { memoryOutput } from "../src/io/memory.ts";
import {
  type GenDType,
  llamaHfTensors,
  TINY_LLAMA_CONFIG,
  writeCheckpoint,
} from "../src/testing/checkpoint_gen.ts";
import type { QuantBackend } from "../src/quant/backend.ts";

interface Run {
  backend: () => QuantBackend;
  threads: number;
  directReads: boolean;
  chunkBytes?: number;
}

async function convertAll(
  cfg: Record<string, unknown>,
  dtype: GenDType,
  shards: number,
  quant: string,
  runs: Run[],
): Promise<{ files: Map<string, Uint8Array>; res: ConvertResult; params: number }[]> {
  const dir = await Deno.makeTempDir();
  try {
    await writeCheckpoint(dir, cfg, llamaHfTensors(cfg), { dtype, shards, seed: 11 });
    const results = [];
    for (const run of runs) {
      const { ckpt, plan } = await planTinyLlama(dir, cfg, quant, shards);
      const out = memoryOutput();
      const backend = run.backend();
      let params = 0;
      const res = await convertWeight({
        plan,
        checkpoint: ckpt,
        backend,
        output: out,
        threads: run.threads,
        directReads: run.directReads,
        chunkBytes: run.chunkBytes,
        onProgress: (p) => params = p.total,
      });
      await backend.close();
      ckpt.close();
      results.push({ files: out.files, res, params });
    }
    return results;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function assertSameFiles(a: Map<string, Uint8Array>, b: Map<string, Uint8Array>, label: string): void {
  assertEquals([...a.keys()].sort(), [...b.keys()].sort(), `${label}: file names`);
  for (const [name, data] of a) {
    const other = b.get(name)!;
    assertEquals(data.length, other.length, `${label}: ${name} size`);
    const i = data.findIndex((x, j) => x !== other[j]);
    assertEquals(i, -1, `${label}: ${name} differs at byte ${i}`);
  }
}

const RUNS: Run[] = [
  { backend: () => new ReferenceBackend(), threads: 1, directReads: false },
  // small chunks: rows straddle the q/k/v and gate/up sources, many jobs in flight
  { backend: () => new WasmBackend(), threads: 2, directReads: true, chunkBytes: 1000 },
  { backend: () => new WasmBackend(), threads: 2, directReads: false, chunkBytes: 3000 },
  { backend: () => new WasmBackend(), threads: 1, directReads: false, chunkBytes: 1000 },
  { backend: () => new WasmBackend(), threads: 1, directReads: true, chunkBytes: 1500 },
  { backend: () => new ReferenceBackend(), threads: 2, directReads: true, chunkBytes: 2000 },
];

const CASES: [GenDType, number, string][] = [
  ["BF16", 1, "q4f16_1"],
  ["BF16", 3, "q4f16_1"],
  ["F16", 2, "q4f16_1"],
  ["F32", 1, "q4f16_1"],
  ["F32", 2, "q4f32_1"],
  ["BF16", 2, "q4f32_1"],
  ["F16", 1, "q3f16_1"],
  ["BF16", 2, "q3f16_1"],
  ["BF16", 2, "q4f16_0"], // KN layout
  ["F32", 1, "q3f16_0"], // KN, int3
  ["BF16", 1, "q0f16"],
  ["F16", 2, "q0f32"],
];

for (const [dtype, shards, quant] of CASES) {
  Deno.test(`cpu threads 2 == reference: ${dtype} source, ${shards} file(s), ${quant}`, async () => {
    const [ref, ...others] = await convertAll({ ...TINY_LLAMA_CONFIG }, dtype, shards, quant, RUNS);
    assertEquals(ref.files.has("tensor-cache.json"), true);
    others.forEach((o, i) => assertSameFiles(ref.files, o.files, `run ${i + 1}`));
    assertEquals(others[0].res.stats.threads, 2);
    assertEquals(others[2].res.stats.threads, 1);
    assertEquals(others[4].res.stats.threads, 1);
    // kernel workers write in place unless an output is float32 (stored as bf16) or KN
    const all = others[0].params;
    const inPlace = others.map((o) => o.res.stats.paramsInPlace);
    const f32 = quant === "q4f32_1" || quant === "q0f32";
    const kn = quant.endsWith("_0");
    assertEquals(inPlace[2] + inPlace[3] + inPlace[4], 0, "one thread or reference: never in place");
    assertEquals(inPlace[0], inPlace[1]);
    if (f32) assertEquals(inPlace[0], 0);
    else if (kn) assertEquals(inPlace[0] > 0 && inPlace[0] < all, true, `${inPlace[0]} of ${all}`);
    else assertEquals(inPlace[0], all);
  });
}

Deno.test("cpu threads 2 == reference: several 32 MiB shards, out-of-band tensors (f32 -> q0f16)", async () => {
  // embed_tokens and lm_head are 16384 x 1024 -> 32 MiB of f16 each: shards of their own
  const cfg = {
    ...TINY_LLAMA_CONFIG,
    hidden_size: 1024,
    intermediate_size: 2048,
    num_attention_heads: 8,
    num_key_value_heads: 8,
    num_hidden_layers: 2,
    vocab_size: 16384,
  };
  const [ref, par] = await convertAll(cfg, "F32", 2, "q0f16", [
    { backend: () => new ReferenceBackend(), threads: 1, directReads: false },
    { backend: () => new WasmBackend(), threads: 2, directReads: true },
  ]);
  const cache = JSON.parse(new TextDecoder().decode(ref.files.get("tensor-cache.json")!));
  const sizes = cache.records.map((s: { nbytes: number }) => s.nbytes);
  assertEquals(sizes.filter((n: number) => n === 16384 * 1024 * 2).length, 2, JSON.stringify(sizes));
  assertEquals(cache.records.length >= 4, true, JSON.stringify(sizes));
  assertSameFiles(ref.files, par.files, "parallel");
});

Deno.test("cpu threads 2: a source file cut short after planning fails the conversion, naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cfg = TINY_LLAMA_CONFIG;
    await writeCheckpoint(dir, cfg, llamaHfTensors(cfg), { dtype: "BF16", shards: 1, seed: 3 });
    const { ckpt, plan } = await planTinyLlama(dir, cfg, "q4f16_1", 1);
    const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".safetensors"))!.name;
    const size = Deno.statSync(`${dir}/${file}`).size;
    await Deno.truncate(`${dir}/${file}`, size - 1000); // (the tensors at the end are missing)
    const backend = new WasmBackend();
    let error = "";
    try {
      await convertWeight({
        plan,
        checkpoint: ckpt,
        backend,
        output: memoryOutput(),
        threads: 2,
        directReads: true,
        chunkBytes: 2000,
      });
    } catch (e) {
      error = (e as Error).message;
    } finally {
      await backend.close();
      ckpt.close();
    }
    assertEquals(error.includes(`${dir}/${file}: unexpected end of file at`), true, error);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
