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
    // kernel workers place every output in the shard buffers unless one is float32 (stored as
    // bf16); KN outputs are transposed into their place as the chunks come
    const all = others[0].params;
    const inPlace = others.map((o) => o.res.stats.paramsInPlace);
    const f32 = quant === "q4f32_1" || quant === "q0f32" || quant === "q4f32_0";
    assertEquals(inPlace[2] + inPlace[3] + inPlace[4], 0, "one thread or reference: never in place");
    assertEquals(inPlace[0], inPlace[1]);
    assertEquals(inPlace[0], f32 ? 0 : all, `${inPlace[0]} of ${all}`);
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

Deno.test("cpu threads 2: KN words larger than a shard stream in place by column strips (q4f16_0), the same bytes", async () => {
  // lm_head 40960 x 2048: 41.9 MB of KN words (out of band) and 5.2 MB of scales; strips of
  // 200 groups (a piece: 800 output rows of 40960 words) read as one range per source row
  const cfg = {
    ...TINY_LLAMA_CONFIG,
    hidden_size: 2048,
    intermediate_size: 512,
    num_attention_heads: 16,
    num_key_value_heads: 16,
    num_hidden_layers: 1,
    vocab_size: 40960,
    tie_word_embeddings: false,
  };
  const [strips, whole] = await convertAll(cfg, "BF16", 1, "q4f16_0", [
    { backend: () => new WasmBackend(), threads: 2, directReads: true },
    { backend: () => new WasmBackend(), threads: 2, directReads: false }, // (no direct reads: collected whole)
  ]);
  const cache = JSON.parse(new TextDecoder().decode(strips.files.get("tensor-cache.json")!));
  const lmHead = cache.records.find((s: { records: { name: string }[] }) =>
    s.records[0].name === "lm_head.q_weight"
  );
  assertEquals([lmHead.nbytes, lmHead.records[0].shape], [40960 * 256 * 4, [256, 40960]]);
  // the strips path converts lm_head in place; without direct reads it is collected whole
  assertEquals(strips.res.stats.paramsInPlace - whole.res.stats.paramsInPlace, 1);
  assertSameFiles(whole.files, strips.files, "strips");
});

Deno.test("cpu threads 2 == reference: KN outputs transposed into their place at unaligned offsets (q4f16_0)", async () => {
  // hidden 65: each 65-element f16 norm shifts what follows by 2 bytes, so KN words land at
  // offsets that are not multiples of 4 in the shard
  const cfg = { ...TINY_LLAMA_CONFIG, hidden_size: 65, num_attention_heads: 5, num_key_value_heads: 5 };
  const [ref, par] = await convertAll(cfg, "BF16", 1, "q4f16_0", [
    { backend: () => new ReferenceBackend(), threads: 1, directReads: false },
    { backend: () => new WasmBackend(), threads: 2, directReads: true },
  ]);
  const cache = JSON.parse(new TextDecoder().decode(par.files.get("tensor-cache.json")!));
  const offsets = cache.records.flatMap((s: { records: { name: string; byteOffset: number }[] }) =>
    s.records.filter((r) => r.name.endsWith("q_weight")).map((r) => r.byteOffset % 4)
  );
  assertEquals(offsets.some((o: number) => o !== 0), true, JSON.stringify(offsets));
  assertEquals(par.res.stats.paramsInPlace > 0, true);
  assertSameFiles(ref.files, par.files, "unaligned KN");
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
