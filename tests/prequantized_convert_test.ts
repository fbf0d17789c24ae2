// Pre-quantized imports end to end: a tiny AutoAWQ GEMM llama (q4f16_autoawq, --source-format awq)
// and a tiny FP8 block-scale qwen3 (fp8_e4m3fn_bf16_block_scale), built by
// src/testing/prequantized_gen.ts, converted through the library (reference; cpu with 2 workers
// reading the files) and the CLI. MLC's conversion of both is a pure copy, so the expected bytes
// are derived by hand from its source (mlc-ai/mlc-llm at 79d603f0):
// - quantization/awq_quantization.py L191-205 (AWQQuantizeLinear: qweight (K, N/8) uint32,
//   qzeros (K/128, N/8) uint32, scales (K/128, N) float16);
// - model/llama/llama_loader.py::awq L56-102: qkv_proj.{qweight,qzeros,scales} =
//   np.concatenate([q, k, v], axis=1) ("AWQ GEMM would transpose the weight", L67),
//   gate_up_proj.* = [gate, up] axis=1 (L88), the rest 1:1 `.astype(mlc_param.dtype)` (L102):
//   int32 -> uint32 keeps the bits;
// - quantization/block_scale_quantization.py L198-209 (BlockScaleQuantizeLinear: weight (N, K)
//   float8_e4m3fn, weight_scale_inv ((N + b0 - 1) // b0, (K + b1 - 1) // b1) float32), the
//   _Mutator (nn.Linear not final fc / moe gate) and quantization.py L188-200 (bfloat16);
// - model/qwen3/qwen3_loader.py L75-98 (add_weight_and_scale_mapping: the weight and its
//   `_scale_inv` concatenated alike, axis=0, L109), L47-52 ("not fp8 block quantized");
// - loader/huggingface_loader.py _loading_order (emission order: a parameter at its first
//   source tensor in the file's order) and stats.total_param_num (every tensor of a loaded file),
//   interface/convert_weight.py _metadata_callback (ParamBytes counts float32 as 4 bytes);
// - tvm python/tvm/contrib/tvmjs.py dump_tensor_cache (f32-to-bf16: float32 stored as bf16 RNE).
import { assertEquals, assertOk } from "./_assert.ts";
import { main } from "../cli.ts";
import type { Io } from "../src/cli/_common.ts";
import { convertWeight } from "../src/convert.ts";
import { denoSource } from "../src/io/deno_fs.ts";
import { memoryOutput } from "../src/io/memory.ts";
import { WasmBackend } from "../src/kernels/wasm.ts";
import { loadModelConfig, openWeights } from "../src/model.ts";
import { planConversion } from "../src/plan.ts";
import { ReferenceBackend } from "../src/quant/reference.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { mlcKindsTableMarkdown } from "../src/support.ts";
import { MOE_TINY } from "./_moe_tiny.ts";

/** A tiny DeepSeek-V3 (q_lora_rank 48, 4 heads, MLA nope = v = 16, rank 32; layer 1 MoE). */
const DEEPSEEK_V3_TINY = { ...MOE_TINY.deepseek_v3, num_attention_heads: 4, num_key_value_heads: 4 };
import {
  AWQ_LLAMA_CONFIG,
  awqCheckpointTensors,
  awqLlamaTensors,
  awqWord,
  encodeTorchBin,
  f16Bits,
  f8Byte,
  FP8_QWEN3_CONFIG,
  FP8_QWEN3_MOE_CONFIG,
  fp8CheckpointTensors,
  fp8Qwen3MoeTensors,
  fp8Qwen3Tensors,
  type GenTensor,
  writePrequantized,
} from "../src/testing/prequantized_gen.ts";

type Files = Map<string, Uint8Array>;

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir();
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function planDir(dir: string, quant: string) {
  const store = denoSource();
  const model = await loadModelConfig(store, dir);
  const { checkpoint } = await openWeights(store, model.dir, "auto", "auto");
  const plan = planConversion({
    arch: model.arch,
    config: model.config,
    scheme: getQuantization(quant),
    checkpoint,
  });
  return { plan, checkpoint };
}

/**
 * Converts with the reference backend and with 2 cpu workers reading the files in 4 KiB chunks;
 * both must agree.
 */
async function convertDir(dir: string, quant: string): Promise<Files> {
  const results: Files[] = [];
  for (const threads of [1, 2]) {
    const { plan, checkpoint } = await planDir(dir, quant);
    assertEquals(plan.problems, []);
    const output = memoryOutput();
    const backend = threads === 1 ? new ReferenceBackend() : new WasmBackend();
    try {
      // (the second run also copies in chunks of 4 KiB: row ranges of the axis-1 concatenations)
      const chunkBytes = threads > 1 ? 4096 : undefined;
      await convertWeight({
        plan,
        checkpoint,
        backend,
        output,
        threads,
        directReads: threads > 1,
        chunkBytes,
      });
    } finally {
      await backend.close();
      checkpoint.close();
    }
    results.push(output.files);
  }
  assertEquals([...results[1].keys()].sort(), [...results[0].keys()].sort());
  for (const [f, b] of results[0]) assertOk(equal(results[1].get(f)!, b), `cpu workers differ in ${f}`);
  return results[0];
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

interface Rec {
  name: string;
  shape: number[];
  dtype: string;
  format: string;
  nbytes: number;
  byteOffset: number;
}

/** The records of a one-shard cache and a reader of each tensor's stored bytes. */
function readCache(files: Files) {
  const cache = JSON.parse(new TextDecoder().decode(files.get("tensor-cache.json")!));
  assertEquals(cache.records.length, 1);
  const shard = files.get(cache.records[0].dataPath)!;
  const recs: Rec[] = cache.records[0].records;
  const bytes = (name: string) => {
    const r = recs.find((x) => x.name === name)!;
    return shard.slice(r.byteOffset, r.byteOffset + r.nbytes);
  };
  return { cache, recs, bytes };
}

const u32 = (b: Uint8Array) => new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
const u16 = (b: Uint8Array) => new Uint16Array(b.buffer, b.byteOffset, b.length / 2);
const srcOf = (tensors: GenTensor[], name: string) => tensors.find((t) => t.name === name)!.data;

const L = "model.layers.0";

Deno.test("awq llama: MLC's AWQ records in loading order, axis-1 fused words and scales, int32 bits as uint32", async () => {
  await withDir(async (dir) => {
    const tensors = awqLlamaTensors();
    await writePrequantized(dir, AWQ_LLAMA_CONFIG, tensors);
    const files = await convertDir(dir, "q4f16_autoawq");
    const { cache, recs, bytes } = readCache(files);
    // sorted file order: lm_head first; qkv at k_proj.* (k < o < q), gate_up at gate_proj.*
    assertEquals(recs.map((r) => `${r.name} [${r.shape}] ${r.dtype} ${r.format} ${r.nbytes}`), [
      "lm_head.weight [32,128] float16 f32-to-bf16 8192",
      "model.embed_tokens.weight [32,128] float16 f32-to-bf16 8192",
      `${L}.input_layernorm.weight [128] float16 f32-to-bf16 256`,
      `${L}.mlp.down_proj.qweight [256,16] uint32 f32-to-bf16 16384`,
      `${L}.mlp.down_proj.qzeros [2,16] uint32 f32-to-bf16 128`,
      `${L}.mlp.down_proj.scales [2,128] float16 f32-to-bf16 512`,
      `${L}.mlp.gate_up_proj.qweight [128,64] uint32 f32-to-bf16 32768`,
      `${L}.mlp.gate_up_proj.qzeros [1,64] uint32 f32-to-bf16 256`,
      `${L}.mlp.gate_up_proj.scales [1,512] float16 f32-to-bf16 1024`,
      `${L}.post_attention_layernorm.weight [128] float16 f32-to-bf16 256`,
      `${L}.self_attn.qkv_proj.qweight [128,32] uint32 f32-to-bf16 16384`,
      `${L}.self_attn.qkv_proj.qzeros [1,32] uint32 f32-to-bf16 128`,
      `${L}.self_attn.qkv_proj.scales [1,256] float16 f32-to-bf16 512`,
      `${L}.self_attn.o_proj.qweight [128,16] uint32 f32-to-bf16 8192`,
      `${L}.self_attn.o_proj.qzeros [1,16] uint32 f32-to-bf16 64`,
      `${L}.self_attn.o_proj.scales [1,128] float16 f32-to-bf16 256`,
      "model.norm.weight [128] float16 f32-to-bf16 256",
    ]);
    // ParamBytes = sum of the records (no float32); total_param_num counts every tensor of the
    // file: floats 2*32*128 + 3*128 = 8576, q 2048+16+128, k and v 1024+8+64 each, o 2048+16+128,
    // gate and up 4096+32+256 each, down 4096+32+256: 28304 in all
    assertEquals(cache.metadata, { ParamSize: 17, ParamBytes: 93760, BitsPerParam: 93760 * 8 / 28304 });
    const text = new TextDecoder().decode(files.get("tensor-cache.json")!);
    assertOk(text.includes('"ParamBytes": 93760.0,\n        "BitsPerParam": 26.500847936687393'));
    assertEquals(files.has("tensor-cache-b16.json"), false);

    // qkv qweight row r = q row r (16 words, tag 0x81) | k (8 words, 0x82) | v (8 words, 0x83)
    const qkv = u32(bytes(`${L}.self_attn.qkv_proj.qweight`));
    assertEquals([qkv[0], qkv[15], qkv[16], qkv[24], qkv[32 + 16]], [
      0x81000000,
      0x8100000f,
      0x82000000,
      0x83000000,
      0x82000100,
    ]);
    assertEquals(qkv[127 * 32 + 31], 0x83007f07);
    for (let r = 0; r < 128; r++) {
      for (let c = 0; c < 32; c++) {
        const want = c < 16
          ? awqWord(0x81, r, c)
          : c < 24
          ? awqWord(0x82, r, c - 16)
          : awqWord(0x83, r, c - 24);
        if (qkv[r * 32 + c] !== want) throw new Error(`qkv qweight [${r}, ${c}]`);
      }
    }
    // gate_up qzeros: gate (0x15) then up (0x16) along N/8; scales: gate then up along N
    const gz = u32(bytes(`${L}.mlp.gate_up_proj.qzeros`));
    assertEquals([gz[0], gz[31], gz[32], gz[63]], [0x15000000, 0x1500001f, 0x16000000, 0x1600001f]);
    const gs = u16(bytes(`${L}.mlp.gate_up_proj.scales`));
    assertEquals([gs[0], gs[255], gs[256], gs[511]], [f16Bits(5, 0, 0), f16Bits(5, 0, 255), 0x4400, 0x44ff]);
    // unfused: the bytes as they are (down_proj has 2 groups of 128 along K)
    assertEquals(bytes(`${L}.mlp.down_proj.qweight`), srcOf(tensors, `${L}.mlp.down_proj.qweight`));
    assertEquals(u32(bytes(`${L}.mlp.down_proj.qweight`))[255 * 16 + 15], 0x8700ff0f);
    assertEquals(bytes(`${L}.mlp.down_proj.scales`), srcOf(tensors, `${L}.mlp.down_proj.scales`));
    assertEquals(bytes("lm_head.weight"), srcOf(tensors, "lm_head.weight"));
  });
});

Deno.test("fp8 qwen3: float8_e4m3fn weights copied, axis-0 fused with their weight_scale_inv, float32 scales bf16-encoded", async () => {
  await withDir(async (dir) => {
    const tensors = fp8Qwen3Tensors();
    await writePrequantized(dir, FP8_QWEN3_CONFIG, tensors);
    const files = await convertDir(dir, "fp8_e4m3fn_bf16_block_scale");
    const { cache, recs, bytes } = readCache(files);
    // blocks [32, 64]: c_attn (128, 64) -> (4, 1); gate_up (192, 64) -> (6, 1); down (64, 96) -> (2, 2)
    assertEquals(recs.map((r) => `${r.name} [${r.shape}] ${r.dtype} ${r.nbytes}`), [
      "lm_head.weight [32,64] bfloat16 4096",
      "model.embed_tokens.weight [32,64] bfloat16 4096",
      `${L}.input_layernorm.weight [64] bfloat16 128`,
      `${L}.mlp.down_proj.weight [64,96] float8_e4m3fn 6144`,
      `${L}.mlp.down_proj.weight_scale_inv [2,2] float32 8`,
      `${L}.mlp.gate_up_proj.weight [192,64] float8_e4m3fn 12288`,
      `${L}.mlp.gate_up_proj.weight_scale_inv [6,1] float32 12`,
      `${L}.post_attention_layernorm.weight [64] bfloat16 128`,
      `${L}.self_attn.k_norm.weight [32] bfloat16 64`,
      `${L}.self_attn.c_attn.weight [128,64] float8_e4m3fn 8192`,
      `${L}.self_attn.c_attn.weight_scale_inv [4,1] float32 8`,
      `${L}.self_attn.o_proj.weight [64,64] float8_e4m3fn 4096`,
      `${L}.self_attn.o_proj.weight_scale_inv [2,1] float32 4`,
      `${L}.self_attn.q_norm.weight [32] bfloat16 64`,
      "model.norm.weight [64] bfloat16 128",
    ]);
    // ParamBytes counts float32 as 4: 39488; total_param_num: floats 2*32*64 + 3*64 + 2*32 = 4352,
    // q 4096+2, k and v 2048+1 each, o 4096+2, gate and up 6144+3 each, down 6144+4: 35088
    assertEquals(cache.metadata, { ParamSize: 15, ParamBytes: 39488, BitsPerParam: 39488 * 8 / 35088 });
    // the -b16 side file: float32 records as raw bfloat16 (tvmjs.py)
    const b16 = JSON.parse(new TextDecoder().decode(files.get("tensor-cache-b16.json")!));
    const s16 = b16.records[0].records.find((r: Rec) => r.name.endsWith("down_proj.weight_scale_inv"));
    assertEquals([s16.dtype, s16.format], ["bfloat16", "raw"]);

    // c_attn = q rows 0-63, k rows 64-95, v rows 96-127 (axis 0)
    const w = bytes(`${L}.self_attn.c_attn.weight`);
    assertEquals([w[0], w[1], w[64 * 64], w[127 * 64 + 63]], [0x10, 0x93, 0x20, 0x85]);
    for (let r = 0; r < 128; r++) {
      for (let c = 0; c < 64; c++) {
        const want = r < 64 ? f8Byte(1, r, c) : r < 96 ? f8Byte(2, r - 64, c) : f8Byte(3, r - 96, c);
        if (w[r * 64 + c] !== want) throw new Error(`c_attn.weight [${r}, ${c}]`);
      }
    }
    // scale_inv: q's 2 rows then k's and v's; 0x3c088000 is a tie to even (0x3c08), 0x3c098000
    // rounds up to even (0x3c0a)
    assertEquals([...u16(bytes(`${L}.self_attn.c_attn.weight_scale_inv`))], [0x3c08, 0x3c0a, 0x3c10, 0x3c18]);
    // down_proj (tag 7): column 1 is just above the tie
    assertEquals([...u16(bytes(`${L}.mlp.down_proj.weight_scale_inv`))], [0x3c38, 0x3c39, 0x3c3a, 0x3c3a]);
    assertEquals(bytes(`${L}.mlp.down_proj.weight`), srcOf(tensors, `${L}.mlp.down_proj.weight`));
    assertEquals(bytes("lm_head.weight"), srcOf(tensors, "lm_head.weight"));
  });
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), progress: () => {}, isTerminal: false };
  const code = await main(args, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function dirFiles(dir: string): Promise<Files> {
  const files: Files = new Map();
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) files.set(e.name, await Deno.readFile(`${dir}/${e.name}`));
  }
  return files;
}

Deno.test("cli: convert_weight --source-format awq / the fp8 block-scale scheme write the library's bytes; gen_config records the quantization; verify compares the copies", async () => {
  await withDir(async (dir) => {
    const cases = [
      { cfg: AWQ_LLAMA_CONFIG, t: awqLlamaTensors(), q: "q4f16_autoawq", extra: ["--source-format", "awq"] },
      { cfg: FP8_QWEN3_CONFIG, t: fp8Qwen3Tensors(), q: "fp8_e4m3fn_bf16_block_scale", extra: [] },
    ];
    for (const [i, c] of cases.entries()) {
      const model = `${dir}/m${i}`;
      await writePrequantized(model, c.cfg, c.t);
      const r = await cli(["convert_weight", model, "--quantization", c.q, ...c.extra, "-o", `${dir}/o${i}`]);
      assertEquals(r.code, 0, r.err);
      const lib = await convertDir(model, c.q);
      const got = await dirFiles(`${dir}/o${i}`);
      for (const [f, b] of lib) assertOk(got.has(f) && equal(got.get(f)!, b), `${c.q}: ${f}`);
      const g = await cli([
        "gen_config",
        model,
        "--quantization",
        c.q,
        "--conv-template",
        "LM",
        "-o",
        `${dir}/o${i}`,
      ]);
      assertEquals(g.code, 0, g.err);
      const chat = JSON.parse(await Deno.readTextFile(`${dir}/o${i}/mlc-chat-config.json`));
      assertEquals(chat.quantization, c.q);
      if (i === 1) assertEquals(chat.model_config.weight_block_size, [32, 64]);
      // verify: every stored tensor is the source's bytes (the scheme from mlc-chat-config.json)
      const v = await cli(["verify", `${dir}/o${i}`, "--source", model]);
      assertEquals(v.code, 0, v.out + v.err);
      assertOk(v.out.includes(`parameter(s) compared with the source as ${c.q}`), v.out);
    }
    // one flipped bit in the fused qkv words (k_proj's first word of row 0) is found
    const cache = JSON.parse(await Deno.readTextFile(`${dir}/o0/tensor-cache.json`));
    const rec = cache.records[0].records.find((r: Rec) => r.name === `${L}.self_attn.qkv_proj.qweight`);
    const shard = await Deno.readFile(`${dir}/o0/params_shard_0.bin`);
    shard[rec.byteOffset + 16 * 4] ^= 1;
    await Deno.writeFile(`${dir}/o0/params_shard_0.bin`, shard);
    const bad = await cli(["verify", `${dir}/o0`, "--source", `${dir}/m0`]);
    assertEquals(bad.code, 1, bad.out + bad.err);
    assertOk(
      (bad.out + bad.err).includes(`${L}.self_attn.qkv_proj.qweight: stored values differ`),
      bad.out + bad.err,
    );
    // MLC's awq source is a file path (spec quant.md 5.1): --source model.safetensors gives the same bytes
    const f = await cli([
      "convert_weight",
      `${dir}/m0`,
      "--source",
      `${dir}/m0/model.safetensors`,
      "--quantization",
      "q4f16_autoawq",
      "--source-format",
      "awq",
      "-o",
      `${dir}/f0`,
    ]);
    assertEquals(f.code, 0, f.err);
    assertEquals(
      await Deno.readFile(`${dir}/f0/params_shard_0.bin`),
      (await convertDir(`${dir}/m0`, "q4f16_autoawq")).get("params_shard_0.bin"),
    );
    // MLC reads AutoAWQ checkpoints with its awq loader only, and that loader only for AWQ
    const noFlag = await cli([
      "convert_weight",
      `${dir}/m0`,
      "--quantization",
      "q4f16_autoawq",
      "-o",
      `${dir}/x`,
    ]);
    assertEquals(noFlag.code, 2);
    assertOk(
      noFlag.err.includes("q4f16_autoawq imports AutoAWQ checkpoints: pass --source-format awq"),
      noFlag.err,
    );
    const wrong = await cli([
      "convert_weight",
      `${dir}/m0`,
      "--quantization",
      "q4f16_1",
      "--source-format",
      "awq",
      "-o",
      `${dir}/x`,
    ]);
    assertEquals(wrong.code, 2);
    assertOk(wrong.err.includes("--source-format awq reads AutoAWQ checkpoints: it goes with"), wrong.err);
    assertEquals(await Deno.stat(`${dir}/x`).then(() => true, () => false), false);
  });
});

/** Plan problems of a modified checkpoint. */
async function problemsOf(
  cfg: Readonly<Record<string, unknown>>,
  tensors: GenTensor[],
  quant: string,
): Promise<string[]> {
  return await withDir(async (dir) => {
    await writePrequantized(dir, cfg, tensors);
    const { plan, checkpoint } = await planDir(dir, quant);
    checkpoint.close();
    return plan.problems.map((p) => p.replaceAll(dir, "DIR"));
  });
}

Deno.test("malformed AWQ and FP8 checkpoints are refused with the file, the tensor and what is wrong", async () => {
  const awq = awqLlamaTensors();
  const k = `${L}.self_attn.k_proj`;
  // a k_proj.qweight with 9 words a row: the fused qkv would be 33 words wide, not N/8 = 32
  const wide = awq.map((t) =>
    t.name === `${k}.qweight` ? { ...t, shape: [128, 9], data: new Uint8Array(128 * 9 * 4) } : t
  );
  assertEquals(await problemsOf(AWQ_LLAMA_CONFIG, wide, "q4f16_autoawq"), [
    `Parameter ${L}.self_attn.qkv_proj.qweight has shape [128, 33], but expected [128, 32] (built from ` +
    `${L}.self_attn.q_proj.qweight [128, 16], ${k}.qweight [128, 9], ${L}.self_attn.v_proj.qweight [128, 8])`,
  ]);
  // a k_proj.qweight with 64 rows (K / 2): np.concatenate(axis=1) needs equal row counts
  const short = awq.map((t) =>
    t.name === `${k}.qweight` ? { ...t, shape: [64, 8], data: new Uint8Array(64 * 8 * 4) } : t
  );
  assertEquals(await problemsOf(AWQ_LLAMA_CONFIG, short, "q4f16_autoawq"), [
    `Parameter ${L}.self_attn.qkv_proj.qweight: cannot concatenate ${L}.self_attn.q_proj.qweight [128, 16], ` +
    `${k}.qweight [64, 8], ${L}.self_attn.v_proj.qweight [128, 8] along axis 1 (they must be 2-D with the ` +
    "same number of rows)",
  ]);
  // missing scales
  const noScales = awq.filter((t) => t.name !== `${L}.self_attn.o_proj.scales`);
  assertEquals(await problemsOf(AWQ_LLAMA_CONFIG, noScales, "q4f16_autoawq"), [
    "The following extern parameters do not exist in the weight files (DIR/model.safetensors): " +
    `${L}.self_attn.o_proj.scales`,
  ]);
  // a float16 (not AutoAWQ) qweight
  const f16 = awq.map((t) => t.name === `${k}.qweight` ? { ...t, stDtype: "F16", shape: [128, 16] } : t);
  assertEquals(await problemsOf(AWQ_LLAMA_CONFIG, f16, "q4f16_autoawq"), [
    `Tensor ${k}.qweight in DIR/model.safetensors has dtype F16, but q4f16_autoawq copies ` +
    `${L}.self_attn.qkv_proj.qweight (uint32) from I32 tensors: the checkpoint is not quantized the way ` +
    "q4f16_autoawq imports",
  ]);
  // model types without an AWQ loader in MLC
  const qwen3 = await problemsOf(FP8_QWEN3_CONFIG, fp8Qwen3Tensors(), "q4f16_autoawq");
  assertEquals(qwen3, [
    "Model type qwen3 cannot use q4f16_autoawq: MLC has no AWQ loader for qwen3; q4f16_autoawq imports " +
    "AutoAWQ checkpoints for llama, olmo, eagle only",
  ]);

  const fp8 = fp8Qwen3Tensors();
  // no weight_block_size (a config without quantization_config): qwen3_loader.py L47-52
  const { quantization_config: _, ...plain } = FP8_QWEN3_CONFIG;
  const noBlocks = await problemsOf(plain, fp8, "fp8_e4m3fn_bf16_block_scale");
  assertEquals(noBlocks.length, 1);
  assertOk(noBlocks[0].startsWith("The input model is not fp8 block quantized"), noBlocks[0]);
  // a missing weight_scale_inv
  const noInv = fp8.filter((t) => t.name !== `${L}.mlp.down_proj.weight_scale_inv`);
  assertEquals(await problemsOf(FP8_QWEN3_CONFIG, noInv, "fp8_e4m3fn_bf16_block_scale"), [
    "The following extern parameters do not exist in the weight files (DIR/model.safetensors): " +
    `${L}.mlp.down_proj.weight_scale_inv`,
  ]);
  // a scale_inv whose blocks do not match weight_block_size
  const badInv = fp8.map((t) =>
    t.name === `${L}.self_attn.o_proj.weight_scale_inv` ? { ...t, shape: [1, 2], data: new Uint8Array(8) } : t
  );
  assertEquals(await problemsOf(FP8_QWEN3_CONFIG, badInv, "fp8_e4m3fn_bf16_block_scale"), [
    `Parameter ${L}.self_attn.o_proj.weight_scale_inv has shape [1, 2], but expected [2, 1] (built from ` +
    `${L}.self_attn.o_proj.weight_scale_inv [1, 2])`,
  ]);
  // the static-activation variant needs activation_scale per fused module, which HF checkpoints
  // name per projection (MLC maps `<module>.activation_scale` 1:1): missing, as in MLC
  const stat = await problemsOf(FP8_QWEN3_CONFIG, fp8, "fp8_e4m3fn_bf16_block_scale_static_activation");
  assertEquals(stat, [
    "The following extern parameters do not exist in the weight files (DIR/model.safetensors): " +
    `${L}.self_attn.c_attn.activation_scale, ${L}.self_attn.o_proj.activation_scale, ` +
    `${L}.mlp.gate_up_proj.activation_scale, ${L}.mlp.down_proj.activation_scale`,
  ]);
  // block-scale for a model type MLC does not allow it for / has not been wired here
  assertEquals(await problemsOf(AWQ_LLAMA_CONFIG, awq, "fp8_e4m3fn_bf16_block_scale"), [
    "Model type llama cannot use fp8_e4m3fn_bf16_block_scale: MLC does not allow block-scale quantization for " +
    "llama (it does for qwen3, qwen3-embedding, qwen3_moe, deepseek_v3)",
  ]);
  // DeepSeek MLA: qk_nope_head_dim (16) not a multiple of weight_block_size[0] (32), as MLC's
  // _Mutator raises
  const ds = {
    ...DEEPSEEK_V3_TINY,
    quantization_config: {
      activation_scheme: "dynamic",
      fmt: "e4m3",
      quant_method: "fp8",
      weight_block_size: [16, 16],
    },
  };
  const dsProblems = await problemsOf(
    { ...ds, quantization_config: { ...ds.quantization_config, weight_block_size: [32, 16] } },
    fp8CheckpointTensors("deepseek_v3", ds),
    "fp8_e4m3fn_bf16_block_scale",
  );
  assertEquals(dsProblems, [
    "Invalid DeepSeek model config: qk_nope_head_dim must be multiple of weight_block_size[0], and " +
    "v_head_dim must be multiple of weight_block_size[1]. However, qk_nope_head_dim is 16, weight_block_size " +
    "is [32, 16].",
  ]);
});

Deno.test("olmo AWQ (olmo_loader.awq: the same axis-1 fusion, no norm weights) and Qwen3-Embedding FP8 (HF names without model.) plan as MLC maps them", async () => {
  await withDir(async (dir) => {
    // OLMo: AWQ_LLAMA_CONFIG's dimensions; LayerNorm without weights (olmo_model.py L203-213)
    const olmo = { ...AWQ_LLAMA_CONFIG, model_type: "olmo", rope_theta: 10000, clip_qkv: null };
    const tensors = awqLlamaTensors().filter((t) => !t.name.endsWith("norm.weight"));
    await writePrequantized(`${dir}/olmo`, olmo, tensors);
    const files = await convertDir(`${dir}/olmo`, "q4f16_autoawq");
    const { recs, bytes } = readCache(files);
    assertEquals(recs.length, 14);
    assertEquals(
      u32(bytes(`${L}.self_attn.qkv_proj.qzeros`)).slice(14, 26),
      new Uint32Array([
        0x1100000e,
        0x1100000f,
        0x12000000,
        0x12000001,
        0x12000002,
        0x12000003,
        0x12000004,
        0x12000005,
        0x12000006,
        0x12000007,
        0x13000000,
        0x13000001,
      ]),
    );
    // Qwen3-Embedding: qwen3_loader.huggingface_embedding, to_hf strips `model.` from every name,
    // the `_scale_inv` ones included
    const emb = fp8Qwen3Tensors().filter((t) => t.name !== "lm_head.weight")
      .map((t) => ({ ...t, name: t.name.replace(/^model\./, "") }));
    await writePrequantized(`${dir}/emb`, { ...FP8_QWEN3_CONFIG, tie_word_embeddings: true }, emb);
    const store = denoSource();
    const model = await loadModelConfig(store, `${dir}/emb`, "qwen3-embedding");
    const { checkpoint } = await openWeights(store, model.dir, "auto", "auto");
    const plan = planConversion({
      arch: model.arch,
      config: model.config,
      scheme: getQuantization("fp8_e4m3fn_bf16_block_scale"),
      checkpoint,
    });
    checkpoint.close();
    assertEquals(plan.problems, []);
    const inv = plan.params.find((p) => p.param.name === `${L}.self_attn.c_attn.weight_scale_inv`)!;
    assertEquals(inv.sources.map((s) => s.name), [
      "layers.0.self_attn.q_proj.weight_scale_inv",
      "layers.0.self_attn.k_proj.weight_scale_inv",
      "layers.0.self_attn.v_proj.weight_scale_inv",
    ]);
  });
});

Deno.test("MLC kinds table: the AWQ and block-scale columns are ✓ where the import is wired", () => {
  const rows = mlcKindsTableMarkdown().split("\n");
  const row = (k: string) => rows.find((r) => r.startsWith(`| \`${k}\` |`));
  assertEquals(row("llama"), "| `llama` | ✓ | ✓ | MLC only | ✓ | MLC only | – |");
  assertEquals(row("olmo"), "| `olmo` | ✓ | ✓ | MLC only | ✓ | MLC only | – |");
  assertEquals(row("qwen3"), "| `qwen3` | ✓ | ✓ | MLC only | – | – | ✓ |");
  assertEquals(row("qwen3_moe"), "| `qwen3_moe` | ✓ | ✓ | MLC only | – | – | ✓ |");
  assertEquals(row("deepseek_v3"), "| `deepseek_v3` | ✓ | ✓ | MLC only | – | – | ✓ |");
  assertEquals(row("eagle"), "| `eagle` | ✓ | ✓ | MLC only | ✓ | – | – |");
});

Deno.test("fp8 qwen3_moe: experts stacked as qwen3_moe_loader does (gate|up per expert, then np.stack), with their weight_scale_inv stacked alike; the router stays bfloat16", async () => {
  // block_scale_quantization.py BlockScaleQuantizeMixtralExperts: weight (E, N, K) float8_e4m3fn,
  // weight_scale_inv (E, ceil(N/b0), ceil(K/b1)) float32, no bias, no activation scale;
  // qwen3_moe_loader.py combine_expert_gate_up / np.stack through add_weight_and_scale_mapping
  await withDir(async (dir) => {
    const tensors = fp8Qwen3MoeTensors();
    await writePrequantized(dir, FP8_QWEN3_MOE_CONFIG, tensors);
    const files = await convertDir(dir, "fp8_e4m3fn_bf16_block_scale");
    const { recs, bytes } = readCache(files);
    assertEquals(recs.slice(3, 8).map((r) => `${r.name} [${r.shape}] ${r.dtype}`), [
      `${L}.mlp.moe_down_proj.weight [2,64,32] float8_e4m3fn`,
      `${L}.mlp.moe_down_proj.weight_scale_inv [2,2,1] float32`,
      `${L}.mlp.moe_gate_up_proj.weight [2,64,64] float8_e4m3fn`,
      `${L}.mlp.moe_gate_up_proj.weight_scale_inv [2,2,1] float32`,
      `${L}.mlp.gate.weight [2,64] bfloat16`,
    ]);
    // expert e, rows 0-31 gate (tag 0x10 (e + 1) + 5), rows 32-63 up (+ 6)
    const gu = bytes(`${L}.mlp.moe_gate_up_proj.weight`);
    assertEquals([gu[0], gu[32 * 64], gu[64 * 64], gu[(64 + 32) * 64]], [
      f8Byte(0x15, 0, 0),
      f8Byte(0x16, 0, 0),
      f8Byte(0x25, 0, 0),
      0x64, // f8Byte(0x26, 0, 0) = (0x260 % 0x7f)
    ]);
    assertEquals([...u16(bytes(`${L}.mlp.moe_gate_up_proj.weight_scale_inv`))], [
      0x3ca8,
      0x3cb0,
      0x3d28,
      0x3d30,
    ]);
    // down (64, 32) per expert: 2 row blocks; 0x3cb98000 and 0x3d398000 are ties rounding to even
    assertEquals([...u16(bytes(`${L}.mlp.moe_down_proj.weight_scale_inv`))], [
      0x3cb8,
      0x3cba,
      0x3d38,
      0x3d3a,
    ]);
    assertEquals(bytes(`${L}.mlp.gate.weight`), srcOf(tensors, `${L}.mlp.gate.weight`));
  });
});

/** TVM's f32-to-bf16 storage encoding (tvmjs.py _convert_f32_to_bf16, spec quant.md 6.5). */
const bf16Storage = (u: number) =>
  (u & 0x7fffffff) < 0x7f7f0000 ? ((u + ((u >>> 16) & 1) + 0x7fff) >>> 16) & 0xffff : u >>> 16;

Deno.test("fp8 deepseek_v3: MLA w_uk / w_uv and their scale_inv split from kv_b_proj as deepseek_v2_loader does; experts, shared experts and the float32 e_score_correction_bias", async () => {
  // block_scale_quantization.py _Mutator (hasattr(node, "w_uk")): w_uk (H, rank, nope) and
  // w_uv (H, v, rank) float8_e4m3fn, w_uk_scale_inv (H, rank // b1, nope // b0), w_uv_scale_inv
  // (H, v // b0, rank // b1) float32; deepseek_v2_loader.py: kv_b_proj (and its scale_inv with
  // the dims divided by the blocks) reshaped to (Nkv, nope + v, rank), split at nope on axis 1,
  // w_uk transposed (0, 2, 1); kv_b_proj itself stays a BlockScaleQuantizeLinear
  const cfg = {
    ...DEEPSEEK_V3_TINY,
    quantization_config: {
      activation_scheme: "dynamic",
      fmt: "e4m3",
      quant_method: "fp8",
      weight_block_size: [16, 16],
    },
  };
  await withDir(async (dir) => {
    const tensors = fp8CheckpointTensors("deepseek_v3", cfg);
    await writePrequantized(dir, cfg, tensors);
    const files = await convertDir(dir, "fp8_e4m3fn_bf16_block_scale");
    const { recs, bytes } = readCache(files);
    const a = `${L}.self_attn`;
    const at = recs.findIndex((r) => r.name === `${a}.w_uk`);
    assertEquals(recs.slice(at, at + 6).map((r) => `${r.name} [${r.shape}] ${r.dtype}`), [
      `${a}.w_uk [4,32,16] float8_e4m3fn`,
      `${a}.w_uv [4,16,32] float8_e4m3fn`,
      `${a}.kv_b_proj.weight [128,32] float8_e4m3fn`,
      `${a}.w_uk_scale_inv [4,2,1] float32`,
      `${a}.w_uv_scale_inv [4,1,2] float32`,
      `${a}.kv_b_proj.weight_scale_inv [8,2] float32`,
    ]);
    // kv_b_proj (4 heads x (nope 16 + v 16) rows, rank 32): w_uk[h][r][n] = kvb[32h + n][r],
    // w_uv[h][n][r] = kvb[32h + 16 + n][r]
    const kvb = srcOf(tensors, `${a}.kv_b_proj.weight`);
    const uk = bytes(`${a}.w_uk`), uv = bytes(`${a}.w_uv`);
    for (let h = 0; h < 4; h++) {
      for (let r = 0; r < 32; r++) {
        for (let n = 0; n < 16; n++) {
          if (uk[(h * 32 + r) * 16 + n] !== kvb[(32 * h + n) * 32 + r]) {
            throw new Error(`w_uk [${h}, ${r}, ${n}]`);
          }
          if (uv[(h * 16 + n) * 32 + r] !== kvb[(32 * h + 16 + n) * 32 + r]) {
            throw new Error(`w_uv [${h}, ${n}, ${r}]`);
          }
        }
      }
    }
    assertEquals(bytes(`${a}.kv_b_proj.weight`), kvb);
    // scale_inv S (8, 2) = (4 heads x 2 row blocks, 2 rank blocks): w_uk_scale_inv[h][r][0] = S[2h][r],
    // w_uv_scale_inv[h][0][r] = S[2h + 1][r], each bf16-encoded
    const s = u32(srcOf(tensors, `${a}.kv_b_proj.weight_scale_inv`).slice());
    const enc = (i: number) => bf16Storage(s[i]);
    assertEquals([...u16(bytes(`${a}.w_uk_scale_inv`))], [0, 1, 4, 5, 8, 9, 12, 13].map(enc));
    assertEquals([...u16(bytes(`${a}.w_uv_scale_inv`))], [2, 3, 6, 7, 10, 11, 14, 15].map(enc));
    // column 0 of the generated scales is a tie, column 1 just above it
    assertEquals(enc(0), ((s[0] >>> 16) + ((s[0] >>> 16) & 1)) & 0xffff);
    assertEquals(enc(1), (s[1] >>> 16) + 1);
    // the MoE layer: experts stacked with their scales, the router in bfloat16, the bias in float32
    const l1 = "model.layers.1.mlp";
    const byName = new Map(recs.map((r) => [r.name, `[${r.shape}] ${r.dtype}`]));
    assertEquals(
      [
        "moe_gate_up_proj.weight",
        "moe_gate_up_proj.weight_scale_inv",
        "moe_down_proj.weight_scale_inv",
        "shared_experts.gate_up_proj.weight_scale_inv",
        "gate.weight",
        "e_score_correction_bias",
      ].map((n) => byName.get(`${l1}.${n}`)),
      [
        "[4,64,64] float8_e4m3fn",
        "[4,4,4] float32",
        "[4,4,2] float32",
        "[4,4] float32",
        "[4,64] bfloat16",
        "[4] float32",
      ],
    );
  });
});

Deno.test("eagle AWQ (eagle_loader.awq: llama's axis-1 fusion under layers.*, fc (2H -> H) quantized, its bias kept)", async () => {
  const cfg = {
    model_type: "llama",
    hidden_size: 128,
    intermediate_size: 256,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    num_hidden_layers: 2,
    rms_norm_eps: 1e-5,
    vocab_size: 32,
    max_position_embeddings: 64,
    bias: true,
    hidden_act: "silu",
  };
  await withDir(async (dir) => {
    const tensors = awqCheckpointTensors("eagle", cfg);
    await writePrequantized(dir, cfg, tensors);
    const store = denoSource();
    const model = await loadModelConfig(store, dir, "eagle");
    const { checkpoint } = await openWeights(store, model.dir, "auto", "auto");
    const plan = planConversion({
      arch: model.arch,
      config: model.config,
      scheme: getQuantization("q4f16_autoawq"),
      checkpoint,
    });
    assertEquals(plan.problems, []);
    assertEquals(plan.warnings, []);
    assertEquals(plan.outputs.slice(0, 5).map((o) => `${o.name} [${o.shape}] ${o.dtype}`), [
      "embed_tokens.weight [32,128] float16",
      "fc.bias [128] float16",
      "fc.qweight [256,16] uint32", // K = 2H = 256, N / 8 = 16
      "fc.qzeros [2,16] uint32",
      "fc.scales [2,128] float16",
    ]);
    const output = memoryOutput();
    try {
      await convertWeight({ plan, checkpoint, backend: new ReferenceBackend(), output });
    } finally {
      checkpoint.close();
    }
    const { bytes } = readCache(output.files);
    assertEquals(bytes("fc.qweight"), srcOf(tensors, "fc.qweight"));
    // layers.1 qkv: q's 16 words then k's 8 and v's 8 per row
    const qkv = u32(bytes("layers.1.self_attn.qkv_proj.qweight"));
    const word = (name: string, r: number, c: number, cols: number) =>
      u32(srcOf(tensors, name).slice())[r * cols + c];
    assertEquals(
      [qkv[5 * 32 + 15], qkv[5 * 32 + 16], qkv[5 * 32 + 31]],
      [
        word("layers.1.self_attn.q_proj.qweight", 5, 15, 16),
        word("layers.1.self_attn.k_proj.qweight", 5, 0, 8),
        word("layers.1.self_attn.v_proj.qweight", 5, 7, 8),
      ],
    );
  });
});

Deno.test("pytorch_model.bin: the AutoAWQ llama and the FP8 qwen3 as torch.save files (IntStorage, Float8_e4m3fnStorage) convert to the bytes of their safetensors twins", async () => {
  await withDir(async (dir) => {
    const cases = [
      { cfg: AWQ_LLAMA_CONFIG, t: awqLlamaTensors(), q: "q4f16_autoawq" },
      { cfg: FP8_QWEN3_CONFIG, t: fp8Qwen3Tensors(), q: "fp8_e4m3fn_bf16_block_scale" },
    ];
    for (const [i, c] of cases.entries()) {
      await writePrequantized(`${dir}/s${i}`, c.cfg, c.t);
      await Deno.mkdir(`${dir}/t${i}`);
      await Deno.writeTextFile(`${dir}/t${i}/config.json`, JSON.stringify(c.cfg));
      // (a lone pytorch_model.bin: its pickled order, here the same sorted order)
      await Deno.writeFile(`${dir}/t${i}/pytorch_model.bin`, encodeTorchBin(c.t));
      const s = await convertDir(`${dir}/s${i}`, c.q);
      const t = await convertDir(`${dir}/t${i}`, c.q);
      assertEquals([...t.keys()].sort(), [...s.keys()].sort());
      for (const [f, b] of s) assertOk(equal(t.get(f)!, b), `${c.q}: ${f} differs`);
    }
  });
});
