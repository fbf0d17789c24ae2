// End-to-end conversions of tiny generated Llama checkpoints (bf16, f16, f32; single file and
// sharded) through the library API, checked against independently computed values.
import { planTinyLlama } from "./_tiny.ts";
import { assertEquals, assertOk } from "./_assert.ts";
import { createHash } from "node:crypto";
import { convertWeight } from "../src/convert.ts";
import { castReference, groupQuantizeReference, ReferenceBackend } from "../src/quant/reference.ts";
import { memoryOutput } from "../src/io/memory.ts";
import {
  type GenDType,
  llamaHfTensors,
  tensorData,
  TINY_LLAMA_CONFIG,
  writeCheckpoint,
} from "../src/testing/checkpoint_gen.ts";

const cfg = { ...TINY_LLAMA_CONFIG } as Record<string, unknown>;

async function convert(dtype: GenDType, shards: number, quant: string, seed = 7) {
  const dir = await Deno.makeTempDir();
  try {
    await writeCheckpoint(dir, cfg, llamaHfTensors(cfg), { dtype, shards, seed });
    const { ckpt, plan } = await planTinyLlama(dir, cfg, quant, shards);
    const out = memoryOutput();
    const res = await convertWeight({
      plan,
      checkpoint: ckpt,
      backend: new ReferenceBackend(),
      output: out,
      chunkBytes: 1000,
    });
    ckpt.close();
    return { plan, out, res };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function tensorOf(
  out: ReturnType<typeof memoryOutput>,
  cache: { records: { dataPath: string; records: { name: string; byteOffset: number; nbytes: number }[] }[] },
  name: string,
): Uint8Array {
  for (const s of cache.records) {
    for (const r of s.records) {
      if (r.name === name) return out.files.get(s.dataPath)!.subarray(r.byteOffset, r.byteOffset + r.nbytes);
    }
  }
  throw new Error(`no ${name}`);
}

Deno.test("tiny llama bf16 -> q4f16_1: qkv_proj is quantize(cast(concat(q, k, v))) row by row", async () => {
  const { out, res } = await convert("BF16", 1, "q4f16_1");
  const cache = res.cache;
  const h = 64, d = 16;
  const parts = ["q_proj", "k_proj", "v_proj"].map((n, i) =>
    tensorData({ name: `model.layers.1.self_attn.${n}.weight`, shape: [(i === 0 ? 4 : 2) * d, h] }, "BF16", 7)
  );
  const rows = 128;
  const cat = new Uint8Array(rows * h * 2);
  let o = 0;
  for (const p of parts) {
    cat.set(p, o);
    o += p.length;
  }
  const f16 = new Uint8Array(cat.length);
  castReference(cat, "bfloat16", f16, "float16", rows * h);
  const words = new Uint32Array(rows * 8);
  const scales = new Uint16Array(rows * 2);
  groupQuantizeReference({
    input: new Uint16Array(f16.buffer),
    rows,
    k: h,
    words,
    scales,
    bits: 4,
    groupSize: 32,
    modelDtype: "float16",
    tie: "even",
  });
  assertEquals(
    tensorOf(out, cache, "model.layers.1.self_attn.qkv_proj.q_weight"),
    new Uint8Array(words.buffer),
  );
  assertEquals(
    tensorOf(out, cache, "model.layers.1.self_attn.qkv_proj.q_scale"),
    new Uint8Array(scales.buffer),
  );
  // a norm is the plain cast
  const norm = tensorData({ name: "model.norm.weight", shape: [h] }, "BF16", 7);
  const normF16 = new Uint8Array(h * 2);
  castReference(norm, "bfloat16", normF16, "float16", h);
  assertEquals(tensorOf(out, cache, "model.norm.weight"), normF16);
  // down_proj has K = 176: 6 groups (last one ragged), 24 words per row
  const rec = cache.records[0].records.find((r) => r.name === "model.layers.0.mlp.down_proj.q_weight")!;
  assertEquals(rec.shape, [64, 24]);
  // emission order: lm_head first (sorted names), layers 0 then 1, model.norm last
  assertEquals(cache.records[0].records.slice(0, 4).map((r) => r.name), [
    "lm_head.q_weight",
    "lm_head.q_scale",
    "model.embed_tokens.q_weight",
    "model.embed_tokens.q_scale",
  ]);
  assertEquals(cache.records[0].records.at(-1)!.name, "model.norm.weight");
  const md5 = createHash("md5").update(out.files.get("params_shard_0.bin")!).digest("hex");
  assertEquals(cache.records[0].md5sum, md5);
});

Deno.test("sharded and single-file checkpoints of the same tensors give the same bytes", async () => {
  const a = await convert("BF16", 1, "q4f16_1");
  const b = await convert("BF16", 3, "q4f16_1");
  // order differs only through file grouping; the tiny model's sorted split keeps lm_head first
  const names = (c: typeof a.res.cache) => c.records.flatMap((s) => s.records.map((r) => r.name));
  assertEquals(names(b.res.cache).length, names(a.res.cache).length);
  for (const n of names(a.res.cache)) {
    assertEquals(tensorOf(b.out, b.res.cache, n), tensorOf(a.out, a.res.cache, n), n);
  }
});

Deno.test("f16, bf16 and f32 sources; q0f16 / q0bf16 / q0f32 / q4f32_1 / q4f16_0 outputs", async () => {
  for (const dtype of ["F16", "F32"] as const) {
    const { res } = await convert(dtype, 1, "q4f16_1");
    assertEquals(res.cache.metadata.ParamSize, 25);
  }
  const q0 = await convert("BF16", 1, "q0bf16");
  // bf16 -> bf16 is the identity: the embedding is the source bytes
  const emb = tensorData({ name: "model.embed_tokens.weight", shape: [256, 64] }, "BF16", 7);
  assertEquals(tensorOf(q0.out, q0.res.cache, "model.embed_tokens.weight"), emb);
  assertEquals(q0.res.cache.metadata.BitsPerParam, 16);
  const f32 = await convert("BF16", 1, "q0f32");
  // float32 is stored as bf16 on disk (bf16 source round-trips exactly), counted 4 bytes/param
  assertEquals(tensorOf(f32.out, f32.res.cache, "model.embed_tokens.weight"), emb);
  assertEquals(f32.res.cache.metadata.BitsPerParam, 32);
  assertOk(f32.out.files.has("tensor-cache-b16.json"));
  const q4f32 = await convert("BF16", 1, "q4f32_1");
  assertEquals(q4f32.res.cache.records[0].records[1].dtype, "float32");
  // KN layout: q_weight (S, N) and q_scale (G, N) for Linear, embedding untransposed
  const kn = await convert("BF16", 1, "q4f16_0");
  const recs = kn.res.cache.records.flatMap((s) => s.records);
  assertEquals(recs.find((r) => r.name === "lm_head.q_weight")!.shape, [8, 256]);
  assertEquals(recs.find((r) => r.name === "lm_head.q_scale")!.shape, [2, 256]);
  assertEquals(recs.find((r) => r.name === "model.embed_tokens.q_weight")!.shape, [256, 8]);
  const nk = await convert("BF16", 1, "q4f16_1");
  const wNK = new Uint32Array(tensorOf(nk.out, nk.res.cache, "lm_head.q_weight").slice().buffer);
  const wKN = new Uint32Array(tensorOf(kn.out, kn.res.cache, "lm_head.q_weight").slice().buffer);
  for (let n = 0; n < 256; n += 37) {
    for (let s = 0; s < 8; s++) assertEquals(wKN[s * 256 + n], wNK[n * 8 + s]);
  }
});

Deno.test("q4f16_2 keeps embedding and lm_head in f16; q3f16_1 packs 10 codes per word", async () => {
  const q2 = await convert("BF16", 1, "q4f16_2");
  const recs = q2.res.cache.records.flatMap((s) => s.records);
  assertEquals(recs.find((r) => r.name === "lm_head.weight")!.dtype, "float16");
  assertEquals(recs.find((r) => r.name === "model.embed_tokens.weight")!.shape, [256, 64]);
  const q3 = await convert("BF16", 1, "q3f16_1");
  const r3 = q3.res.cache.records.flatMap((s) => s.records);
  // K = 64 -> ceil(64/40) = 2 groups, 8 words
  assertEquals(r3.find((r) => r.name === "lm_head.q_weight")!.shape, [256, 8]);
  assertEquals(r3.find((r) => r.name === "lm_head.q_scale")!.shape, [256, 2]);
});
