// NaN and infinite source values (issue 17): counted per tensor by every executor (reference and
// WebGPU on this thread in TypeScript, the WASM kernel `count_nonfinite` on this thread and in the
// kernel workers), the conversion refused by default naming the tensors and counts, converted to
// the same bytes as before with `allowNonFinite`; the kernel's SIMD path equals its scalar path
// and the TypeScript reference over every f16 and bf16 bit pattern.
import { assertEquals, assertOk } from "./_assert.ts";
import { planTinyLlama } from "./_tiny.ts";
import { type ConvertResult, convertWeight } from "../src/convert.ts";
import { castReference, ReferenceBackend } from "../src/quant/reference.ts";
import { DTYPE_CODE, WasmBackend } from "../src/kernels/wasm.ts";
import { memoryOutput } from "../src/io/memory.ts";
import { countNonFinite, NonFiniteError } from "../src/quant/nonfinite.ts";
import { createWebGpuBackend } from "../src/webgpu/backend.ts";
import {
  type GenDType,
  llamaHfTensors,
  TINY_LLAMA_CONFIG,
  writeCheckpoint,
} from "../src/testing/checkpoint_gen.ts";
import type { QuantBackend } from "../src/quant/backend.ts";
import type { FloatDType } from "../src/dtype.ts";

const cfg = { ...TINY_LLAMA_CONFIG };

/** Definition: all exponent bits set. */
function nonFiniteByDefinition(bits: number, dtype: FloatDType): boolean {
  if (dtype === "float16") return (bits & 0x7c00) === 0x7c00;
  if (dtype === "bfloat16") return (bits & 0x7f80) === 0x7f80;
  const f = new Float32Array(new Uint32Array([bits]).buffer)[0];
  return !Number.isFinite(f);
}

Deno.test("count_nonfinite: SIMD == scalar == TypeScript == definition, every f16 and bf16 pattern", () => {
  const k = new WasmBackend().kernels;
  for (const dtype of ["float16", "bfloat16"] as const) {
    const all = new Uint16Array(65536).map((_, i) => i);
    const expected = all.reduce((a, b) => a + (nonFiniteByDefinition(b, dtype) ? 1 : 0), 0);
    // f16: 2 * 1024 patterns with exponent 31; bf16: 2 * 128 with exponent 255
    assertEquals(expected, dtype === "float16" ? 2048 : 256);
    const at = k.reserve(all.byteLength + 64);
    for (const shift of [0, 2, 6]) { // (unaligned starts too)
      new Uint8Array(k.exports.memory.buffer, at + shift, all.byteLength).set(new Uint8Array(all.buffer));
      for (const simd of [0, 1]) {
        assertEquals(k.exports.count_nonfinite(at + shift, DTYPE_CODE[dtype], 65536, simd), expected);
      }
    }
    assertEquals(countNonFinite(new Uint8Array(all.buffer), dtype, 65536), expected);
    // every tail length: the SIMD path hands the rest to the scalar one
    const mem = new Uint16Array(k.exports.memory.buffer, at, 64);
    for (let i = 0; i < 64; i++) mem[i] = i % 3 === 0 ? 0x7fff : 0x3c00 + i;
    for (let n = 0; n <= 64; n++) {
      const want = Math.ceil(n / 3);
      assertEquals([0, 1].map((s) => k.exports.count_nonfinite(at, DTYPE_CODE[dtype], n, s)), [want, want]);
    }
  }
});

Deno.test("count_nonfinite: f32 boundaries, long runs (lane counters flushed), bad dtype code", () => {
  const k = new WasmBackend().kernels;
  const patterns = [
    0x7f80_0000, // +Inf
    0xff80_0000, // -Inf
    0x7fc0_0000, // NaN
    0x7f80_0001, // signalling NaN
    0xffff_ffff, // NaN
    0x7f7f_ffff, // largest finite
    0xff7f_ffff, // most negative finite
    0x0000_0001, // subnormal
    0x0000_0000,
    0x8000_0000,
  ];
  const at = k.reserve(patterns.length * 4);
  new Uint32Array(k.exports.memory.buffer, at, patterns.length).set(patterns);
  for (const simd of [0, 1]) assertEquals(k.exports.count_nonfinite(at, DTYPE_CODE.float32, 10, simd), 5);
  assertEquals(countNonFinite(new Uint8Array(new Uint32Array(patterns).buffer), "float32", 10), 5);
  // 600k halves, all NaN: per-lane 16-bit counters must be flushed before they wrap
  const n = 600_000;
  const big = k.reserve(n * 2);
  new Uint16Array(k.exports.memory.buffer, big, n).fill(0x7e00);
  for (const simd of [0, 1]) assertEquals(k.exports.count_nonfinite(big, DTYPE_CODE.float16, n, simd), n);
  assertEquals(k.exports.count_nonfinite(at, 7, 10, 1) >>> 0, 0xffff_ffff); // (u32::MAX)
});

/** Groups (of `gs` along rows of `k`) holding a value with all exponent bits set. */
function nonFiniteGroups(bytes: Uint8Array, dtype: FloatDType, rows: number, k: number, gs: number): number {
  const bits = dtype === "float32"
    ? new Uint32Array(bytes.buffer, bytes.byteOffset, rows * k)
    : new Uint16Array(bytes.buffer, bytes.byteOffset, rows * k);
  let groups = 0;
  for (let r = 0; r < rows; r++) {
    for (let g0 = 0; g0 < k; g0 += gs) {
      let bad = false;
      for (let j = g0; j < Math.min(k, g0 + gs); j++) bad ||= nonFiniteByDefinition(bits[r * k + j], dtype);
      groups += bad ? 1 : 0;
    }
  }
  return groups;
}

Deno.test("the quantizers count the groups holding NaN/Inf after the cast (0 proves the source finite): every path", () => {
  // The workers skip count_nonfinite when cast_group_quantize returns 0 (kernels/src/quantize.rs
  // scalar_group: every SIMD path leaves a non-finite group to it), so the count must be exact.
  const k = new WasmBackend().kernels;
  const sizes: Record<FloatDType, number> = { float16: 2, bfloat16: 2, float32: 4 };
  // specials by source dtype: NaN, +Inf, -Inf, and a finite value that overflows f16
  const specials: Record<FloatDType, number[]> = {
    float16: [0x7e00, 0x7c00, 0xfc00, 0x7bff],
    bfloat16: [0x7fc0, 0x7f80, 0xff80, 0x4780],
    float32: [0x7fc0_0000, 0x7f80_0000, 0xff80_0000, 0x4780_0000],
  };
  let seed = 7;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  let cases = 0, counted = 0;
  for (const src of ["float16", "bfloat16", "float32"] as const) {
    for (const model of ["float16", "bfloat16", "float32"] as const) {
      for (const [bits, gs] of [[4, 32], [3, 40], [4, 64]] as const) {
        for (const kk of [256, 104]) {
          for (const planted of [0, 1, 5]) {
            const rows = 3;
            const n = rows * kk;
            const f = new Float32Array(n).map(() => (rand() - 0.5) * 0.1);
            const input = new Uint8Array(n * sizes[src]);
            castReference(new Uint8Array(f.buffer), "float32", input, src, n);
            const view = src === "float32" ? new Uint32Array(input.buffer) : new Uint16Array(input.buffer);
            for (let i = 0; i < planted; i++) {
              view[Math.floor(rand() * n)] = specials[src][Math.floor(rand() * 4)];
            }
            const cast = new Uint8Array(n * sizes[model]);
            castReference(input, src, cast, model, n);
            const expected = nonFiniteGroups(cast, model, rows, kk, gs);
            const groups = Math.ceil(kk / gs);
            const job = {
              rows,
              k: kk,
              words: new Uint32Array(rows * groups * (bits === 4 ? gs / 8 : gs / 10)),
              scales: model === "float32" ? new Float32Array(rows * groups) : new Uint16Array(rows * groups),
              bits,
              groupSize: gs,
              modelDtype: model,
              tie: "even" as const,
            };
            const label = `${src}->${model} q${bits} gs${gs} k${kk} planted ${planted}`;
            assertEquals(k.castGroupQuantize(input, src, job), expected, label);
            if (src === model) {
              const same = src === "float32" ? new Float32Array(input.buffer) : new Uint16Array(input.buffer);
              assertEquals(k.groupQuantize({ ...job, input: same }), expected, label);
            }
            if (expected === 0) assertEquals(countNonFinite(input, src, n), 0, label);
            if (planted === 0) assertEquals(expected, 0, label);
            cases++;
            counted += expected;
          }
        }
      }
    }
  }
  assertEquals([cases, counted], [162, 233]); // 233 non-finite groups planted over the cases
});

/** Overwrites elements `at` of tensor `name` in the safetensors file with `bits` (per the dtype). */
async function plant(file: string, name: string, at: number[], bits: number[]): Promise<void> {
  const bytes = await Deno.readFile(file);
  const view = new DataView(bytes.buffer);
  const headerLen = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  const t = header[name];
  const size = t.dtype === "F32" ? 4 : 2;
  const base = 8 + headerLen + t.data_offsets[0];
  at.forEach((i, j) => {
    if (size === 4) view.setUint32(base + i * 4, bits[j], true);
    else view.setUint16(base + i * 2, bits[j], true);
  });
  await Deno.writeFile(file, bytes);
}

const BITS: Record<GenDType, { nan: number; inf: number; ninf: number }> = {
  F32: { nan: 0x7fc0_0000, inf: 0x7f80_0000, ninf: 0xff80_0000 },
  F16: { nan: 0x7e00, inf: 0x7c00, ninf: 0xfc00 },
  BF16: { nan: 0x7fc0, inf: 0x7f80, ninf: 0xff80 },
};

interface Run {
  label: string;
  backend: () => Promise<QuantBackend>;
  threads: number;
  directReads: boolean;
}

const RUNS: Run[] = [
  {
    label: "reference",
    backend: () => Promise.resolve(new ReferenceBackend()),
    threads: 1,
    directReads: false,
  },
  {
    label: "wasm, this thread",
    backend: () => Promise.resolve(new WasmBackend()),
    threads: 1,
    directReads: true,
  },
  {
    label: "wasm workers, direct reads",
    backend: () => Promise.resolve(new WasmBackend()),
    threads: 2,
    directReads: true,
  },
  {
    label: "wasm workers, copied in",
    backend: () => Promise.resolve(new WasmBackend()),
    threads: 2,
    directReads: false,
  },
];
const gpuReason = typeof navigator !== "undefined" && "gpu" in navigator ? "" : "navigator.gpu is absent";
if (!gpuReason) {
  RUNS.push({
    label: "webgpu",
    backend: async () => (await createWebGpuBackend({ allowFallback: true, chunkBytes: 8192 }))!,
    threads: 1,
    directReads: false,
  });
}

async function convertRun(dir: string, quant: string, run: Run, allow: boolean): Promise<
  { files: Map<string, Uint8Array>; res?: ConvertResult; error?: unknown }
> {
  const { ckpt, plan } = await planTinyLlama(dir, cfg, quant, 1);
  const out = memoryOutput();
  const backend = await run.backend();
  try {
    const res = await convertWeight({
      plan,
      checkpoint: ckpt,
      backend,
      output: out,
      threads: run.threads,
      directReads: run.directReads,
      chunkBytes: 1000, // several chunks per tensor: counts add up across chunks and workers
      allowNonFinite: allow,
    });
    return { files: out.files, res };
  } catch (error) {
    return { files: out.files, error };
  } finally {
    await backend.close();
    ckpt.close();
  }
}

for (const dtype of ["F32", "F16", "BF16"] as const) {
  for (const quant of ["q4f16_1", "q0f16"]) {
    Deno.test(
      `non-finite ${dtype} source, ${quant}: every executor counts the same, refuses, converts with the flag`,
      { sanitizeResources: false, sanitizeOps: false },
      async () => {
        const dir = await Deno.makeTempDir();
        try {
          await writeCheckpoint(dir, cfg, llamaHfTensors(cfg), { dtype, shards: 1, seed: 5 });
          const clean: Map<string, Uint8Array>[] = [];
          for (const run of RUNS.slice(0, 1)) clean.push((await convertRun(dir, quant, run, false)).files);
          const b = BITS[dtype];
          // down_proj (64 x 176, quantized in q4f16_1): NaN, +Inf, -Inf far apart (other chunks);
          // a norm weight (cast only): one NaN
          const file = `${dir}/model.safetensors`;
          await plant(file, "model.layers.1.mlp.down_proj.weight", [0, 5000, 11263], [b.nan, b.inf, b.ninf]);
          await plant(file, "model.layers.0.input_layernorm.weight", [63], [b.nan]);
          const expected = [
            { name: "model.layers.0.input_layernorm.weight", count: 1 },
            { name: "model.layers.1.mlp.down_proj.weight", count: 3 },
          ];
          const allowed: Map<string, Uint8Array>[] = [];
          for (const run of RUNS) {
            const refused = await convertRun(dir, quant, run, false);
            assertOk(refused.error instanceof NonFiniteError, `${run.label}: ${refused.error}`);
            const e = refused.error as NonFiniteError;
            assertEquals(e.tensors, expected, run.label);
            assertOk(e.message.startsWith("4 NaN or infinite source values in 2 tensors"), e.message);
            assertOk(e.message.includes("model.layers.1.mlp.down_proj.weight: 3"), e.message);
            assertOk(e.message.includes("--allow-non-finite"), e.message);
            assertEquals(refused.files.has("tensor-cache.json"), false, `${run.label}: no cache JSON`);
            const ok = await convertRun(dir, quant, run, true);
            assertEquals(ok.error, undefined, run.label);
            assertEquals(ok.res!.nonFinite, expected, run.label);
            allowed.push(ok.files);
          }
          // the flag changes nothing in the bytes: every executor writes the reference's
          for (const [i, files] of allowed.entries()) {
            assertEquals([...files.keys()].sort(), [...allowed[0].keys()].sort());
            for (const [name, data] of files) {
              const j = data.findIndex((x, n) => x !== allowed[0].get(name)![n]);
              assertEquals(j, -1, `${RUNS[i].label}: ${name} differs at byte ${j}`);
            }
          }
          // (the planted values did change the output against the clean checkpoint)
          assertOk(
            [...clean[0].entries()].some(([n, d]) =>
              n !== "tensor-cache.json" && !equalBytes(d, allowed[0].get(n)!)
            ),
          );
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    );
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

Deno.test("cli convert_weight: NaN refused (exit 1, tensors named, OUT left empty); --allow-non-finite converts and warns", async () => {
  const dir = await Deno.makeTempDir();
  const cli = new URL("../cli.ts", import.meta.url).pathname;
  const run = async (...extra: string[]) => {
    const p = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        `--allow-read=${dir}`,
        `--allow-write=${dir}/out`,
        cli,
        "convert_weight",
        `${dir}/model`,
        "--quantization",
        "q4f16_1",
        "-o",
        `${dir}/out`,
        "--device",
        "cpu",
        ...extra,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: p.code, err: new TextDecoder().decode(p.stderr) };
  };
  try {
    await writeCheckpoint(`${dir}/model`, cfg, llamaHfTensors(cfg), { dtype: "BF16", shards: 1, seed: 5 });
    await plant(`${dir}/model/model.safetensors`, "model.layers.0.self_attn.k_proj.weight", [7, 8], [
      0x7fc0,
      0xff80,
    ]);
    await Deno.mkdir(`${dir}/out`);
    const refused = await run();
    assertEquals(refused.code, 1, refused.err);
    assertOk(refused.err.includes("2 NaN or infinite source values in 1 tensor"), refused.err);
    assertOk(refused.err.includes("model.layers.0.self_attn.qkv_proj.weight: 2"), refused.err);
    assertEquals([...Deno.readDirSync(`${dir}/out`)].map((e) => e.name), []);
    const ok = await run("--allow-non-finite");
    assertEquals(ok.code, 0, ok.err);
    assertOk(
      ok.err.includes(
        "warning: model.layers.0.self_attn.qkv_proj.weight holds 2 NaN or infinite values (converted: --allow-non-finite)",
      ),
      ok.err,
    );
    assertEquals(Deno.statSync(`${dir}/out/tensor-cache.json`).isFile, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
