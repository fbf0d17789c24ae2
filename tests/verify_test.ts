// verify: shard integrity, tensor errors against the source, matmul checks on every device, CLI.
import { assertEquals, assertOk } from "./_assert.ts";
import { llamaHfTensors, TINY_LLAMA_CONFIG, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";
import type { GenDType } from "../src/testing/checkpoint_gen.ts";
import { convertWeight } from "../src/convert.ts";
import { denoOutput, denoSource } from "../src/io/deno_fs.ts";
import { memorySource } from "../src/io/memory.ts";
import { loadModelConfig, openWeights } from "../src/model.ts";
import { planConversion } from "../src/plan.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { WasmBackend } from "../src/kernels/wasm.ts";
import { formatVerifyReport, verifyConversion, type VerifyReport, verifyReportJson } from "../src/verify.ts";
import { createVerifyKernels } from "../src/verify_kernels.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const cfg = { ...TINY_LLAMA_CONFIG } as Record<string, unknown>;
const store = denoSource();

/** Generates the tiny Llama (Gaussian weights, sigma 0.02) and converts it to each scheme. */
async function withConversions(
  dtype: GenDType,
  schemes: string[],
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await writeCheckpoint(`${dir}/model`, cfg, llamaHfTensors(cfg), { dtype, seed: 1 });
    const model = await loadModelConfig(store, `${dir}/model`);
    for (const q of schemes) {
      const { checkpoint } = await openWeights(store, model.dir);
      const plan = planConversion({
        arch: model.arch,
        config: model.config,
        scheme: getQuantization(q),
        checkpoint,
      });
      await Deno.mkdir(`${dir}/${q}`);
      const output = denoOutput(`${dir}/${q}`);
      await convertWeight({ plan, checkpoint, backend: new WasmBackend(), output });
      await output.close();
      checkpoint.close();
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const byName = (r: VerifyReport) => new Map(r.tensors.map((t) => [t.name, t]));
const QUANTIZED = [
  "lm_head.weight",
  "model.embed_tokens.weight",
  ...[0, 1].flatMap((l) =>
    ["mlp.down_proj", "mlp.gate_up_proj", "self_attn.qkv_proj", "self_attn.o_proj"].map((m) =>
      `model.layers.${l}.${m}.weight`
    )
  ),
];

Deno.test("verify q4f16_1 (bf16 Gaussian source): shards OK, SNR about 20 dB, matmul rel err about 0.1", async () => {
  await withConversions("BF16", ["q4f16_1"], async (dir) => {
    const r = await verifyConversion({ store, dir: `${dir}/q4f16_1`, source: `${dir}/model` });
    assertEquals(r.problems, []);
    assertEquals(r.ok, true);
    assertEquals(r.cacheFile, "tensor-cache.json");
    assertEquals(r.shards.map((s) => s.status), ["ok"]);
    assertEquals([r.quantization, r.quantizationFrom, r.device], ["q4f16_1", "records", "cpu"]);
    assertEquals(r.tensors.length, 15);
    const q = r.tensors.filter((t) => t.quantization);
    assertEquals(q.map((t) => t.name).sort(), [...QUANTIZED].sort());
    // 4-bit symmetric groups of 32 on Gaussian weights: uniform noise of step max|w|/7 per
    // group gives about 20 dB (measured 20.19 .. 20.45 dB); the matmul error follows
    // (about 10^(-SNR/20) = 0.1).
    for (const t of q) {
      assertOk(t.snrDb > 19.5 && t.snrDb < 21.5, `${t.name}: SNR ${t.snrDb}`);
      assertOk(t.rmsError > 1.8e-3 && t.rmsError < 2.1e-3, `${t.name}: RMS ${t.rmsError}`); // ~ 0.02 / 10
      assertOk(t.maxAbsError < 7e-3, `${t.name}: max abs ${t.maxAbsError}`);
      if (t.name === "model.embed_tokens.weight") assertEquals(t.matmulRelError, null);
      else assertOk(t.matmulRelError! > 0.08 && t.matmulRelError! < 0.12, `${t.name}: ${t.matmulRelError}`);
    }
    assertEquals(r.summary.minSnrDb?.name, "model.embed_tokens.weight");
    assertEquals(r.summary.minSnrDb?.value.toFixed(2), "20.19");
    assertEquals(r.summary.medianSnrDb?.toFixed(2), "20.30");
    assertEquals(r.summary.maxMatmulRelError?.name, "model.layers.1.self_attn.qkv_proj.weight");
    assertEquals(r.summary.maxMatmulRelError?.value.toFixed(4), "0.1043");
    // norms are cast bf16 -> f16: exact against the source as cast to float16
    for (const t of r.tensors.filter((t) => !t.quantization)) {
      assertEquals([t.exact, t.maxAbsError, t.rmsError, t.snrDb], [true, 0, 0, Infinity]);
    }
    // the table and the summary line
    const lines = formatVerifyReport(r);
    assertOk(/^params_shard_0\.bin +OK +\d+ bytes +md5 [0-9a-f]{32}$/.test(lines[0]), lines[0]);
    assertOk(/^tensor +shape +dtype +max abs +RMS +SNR dB +matmul rel err$/.test(lines[2]), lines[2]);
    assertOk(
      lines.some((l) => /^model\.norm\.weight +\[64\] +float16 +0\.000e\+0 +0\.000e\+0 +inf +-$/.test(l)),
    );
    assertEquals(
      lines.at(-1),
      "OK: 1 shard(s): 1 OK, 0 damaged, 0 missing; 15 parameter(s) compared with the source as q4f16_1 " +
        "(device cpu): SNR min 20.19 dB, median 20.30 dB, matmul rel err max 1.043e-1; 5 cast tensor(s) exact",
    );
    // JSON: infinite SNR becomes null
    const j = JSON.parse(verifyReportJson(r));
    assertEquals(j.tensors.find((t: { name: string }) => t.name === "model.norm.weight").snrDb, null);
    // chunking and the md5 buffer size do not change anything
    const small = await verifyConversion({
      store,
      dir: `${dir}/q4f16_1`,
      source: `${dir}/model`,
      chunkElems: 100,
      bufferBytes: 1000,
    });
    // (the matmul error sums accumulate in another order: equal to 12 digits)
    const round = (x: VerifyReport) =>
      x.tensors.map((t) => ({ ...t, matmulRelError: t.matmulRelError?.toPrecision(12) ?? null }));
    assertEquals(round(small), round(r));
    assertEquals(small.shards, r.shards);
  });
});

Deno.test("verify: KN layouts (q4f16_0, q4bf16_0, q3f16_0) transpose back: same numbers as their NK twins", async () => {
  const pairs = [["q4f16_0", "q4f16_1"], ["q4bf16_0", "q4bf16_1"], ["q3f16_0", "q3f16_1"]];
  await withConversions("BF16", pairs.flat(), async (dir) => {
    for (const [kn, nk] of pairs) {
      const a = await verifyConversion({ store, dir: `${dir}/${kn}`, source: `${dir}/model` });
      const b = await verifyConversion({ store, dir: `${dir}/${nk}`, source: `${dir}/model` });
      assertEquals([a.ok, b.ok, a.quantization, b.quantization], [true, true, kn, nk]);
      const bm = byName(b);
      for (const t of a.tensors) {
        const u = bm.get(t.name)!;
        assertEquals(
          [t.snrDb, t.maxAbsError, t.matmulRelError],
          [u.snrDb, u.maxAbsError, u.matmulRelError],
          t.name,
        );
      }
      // embeddings stay NK under KN schemes; linear layers are KN
      assertEquals(byName(a).get("model.embed_tokens.weight")!.layout, "NK");
      assertEquals(byName(a).get("model.layers.0.mlp.down_proj.weight")!.layout, "KN");
    }
    // 3-bit groups of 40: max|w|/3 steps, about 12.7 dB
    const q3 = await verifyConversion({ store, dir: `${dir}/q3f16_1`, source: `${dir}/model` });
    assertEquals(q3.summary.minSnrDb?.value.toFixed(2), "12.68");
  });
});

Deno.test("verify q4f32_1: scales stored as bf16 (f32-to-bf16) are decoded; q0f16 from an f16 source is exact", async () => {
  await withConversions("F16", ["q4f32_1", "q0f16", "q0f32"], async (dir) => {
    const r = await verifyConversion({ store, dir: `${dir}/q4f32_1`, source: `${dir}/model` });
    assertEquals([r.ok, r.quantization], [true, "q4f32_1"]);
    for (const t of r.tensors.filter((t) => t.quantization)) {
      assertOk(t.snrDb > 19.5 && t.snrDb < 21.5, `${t.name}: SNR ${t.snrDb}`);
    }
    // float32 norms are stored as bf16: not exact against the float32 values, but exactly
    // TVM's f32-to-bf16 encoding of them
    for (const t of r.tensors.filter((t) => !t.quantization)) {
      assertEquals(t.exact, true);
      assertOk(t.maxAbsError > 0 && t.snrDb > 40, `${t.name}: ${t.maxAbsError} ${t.snrDb}`);
    }
    const z = await verifyConversion({ store, dir: `${dir}/q0f16`, source: `${dir}/model` });
    assertEquals([z.ok, z.quantization, z.summary.exactCasts, z.summary.quantized], [true, "q0f16", 15, 0]);
    for (const t of z.tensors) {
      assertEquals([t.maxAbsError, t.rmsError, t.snrDb, t.exact], [0, 0, Infinity, true]);
    }
    const f = await verifyConversion({ store, dir: `${dir}/q0f32`, source: `${dir}/model` });
    // f16 -> f32 is exact, the bf16 storage rounds (8-bit significand): about 50 dB, bits exact
    assertEquals([f.ok, f.summary.exactCasts], [true, 15]);
    assertOk(f.tensors.every((t) => t.snrDb > 40 && t.snrDb < 60));
  });
});

Deno.test("verify: a flipped byte is an md5 mismatch naming the shard (and the tensor); truncated and missing shards", async () => {
  await withConversions("BF16", ["q4f16_1"], async (dir) => {
    const out = `${dir}/q4f16_1`;
    const cache = JSON.parse(await Deno.readTextFile(`${out}/tensor-cache.json`));
    const shard = `${out}/params_shard_0.bin`;
    const orig = await Deno.readFile(shard);
    const norm = cache.records[0].records.find((r: { name: string }) => r.name === "model.norm.weight");
    const bad = orig.slice();
    bad[norm.byteOffset + 5] ^= 0x01;
    await Deno.writeFile(shard, bad);
    const r = await verifyConversion({ store, dir: out, source: `${dir}/model` });
    assertEquals(r.ok, false);
    assertEquals(r.shards[0].status, "md5");
    assertEquals(r.shards[0].actualBytes, orig.length);
    assertOk(r.shards[0].actualMd5 !== r.shards[0].expectedMd5);
    assertEquals(r.problems, [
      `params_shard_0.bin: damaged: md5 ${r.shards[0].actualMd5}, expected ${cache.records[0].md5sum}`,
      "model.norm.weight: stored values differ from the source cast to float16",
    ]);
    const t = byName(r).get("model.norm.weight")!;
    assertEquals(t.exact, false);
    assertOk(t.maxAbsError > 0);
    assertEquals(r.summary.shardsDamaged, 1);
    assertOk(formatVerifyReport(r).at(-1)!.startsWith("FAILED: 1 shard(s): 0 OK, 1 damaged, 0 missing"));
    // shards only (no source)
    const s = await verifyConversion({ store, dir: out });
    assertEquals([s.ok, s.tensors.length, s.quantization, s.problems.length], [false, 0, null, 1]);
    // truncated: a size error; its tensors are not compared
    await Deno.writeFile(shard, orig.subarray(0, orig.length - 100));
    const tr = await verifyConversion({ store, dir: out, source: `${dir}/model` });
    assertEquals(tr.shards[0].status, "size");
    assertEquals(tr.shards[0].actualMd5, null);
    assertEquals(
      tr.problems[0],
      `params_shard_0.bin: damaged: ${orig.length - 100} bytes, expected ${orig.length} (truncated)`,
    );
    assertEquals(tr.tensors.filter((t) => t.error).length, 15);
    assertEquals(tr.summary.compared, 0);
    // missing
    await Deno.remove(shard);
    const m = await verifyConversion({ store, dir: out });
    assertEquals([m.ok, m.shards[0].status, m.problems], [false, "missing", ["params_shard_0.bin: missing"]]);
    // restored: OK again
    await Deno.writeFile(shard, orig);
    assertEquals((await verifyConversion({ store, dir: out })).ok, true);
  });
});

Deno.test("verify: quantization from --quantization, mlc-chat-config.json or the records; a wrong one is reported", async () => {
  await withConversions("BF16", ["q4f16_1"], async (dir) => {
    const out = `${dir}/q4f16_1`;
    const wrong = await verifyConversion({
      store,
      dir: out,
      source: `${dir}/model`,
      quantization: "q4f16_2",
    });
    assertEquals([wrong.ok, wrong.quantizationFrom], [false, "option"]);
    assertOk(
      wrong.problems.includes("lm_head.weight: planned ([256, 64] float16) but not in the cache"),
      wrong.problems.join("\n"),
    );
    assertOk(wrong.problems.includes("lm_head.q_weight: in the cache but not planned"));
    await Deno.writeTextFile(`${out}/mlc-chat-config.json`, JSON.stringify({ quantization: "q4f16_1" }));
    const chat = await verifyConversion({ store, dir: out, source: `${dir}/model` });
    assertEquals([chat.ok, chat.quantizationFrom], [true, "mlc-chat-config.json"]);
    // ndarray-cache.json alone (older runtimes) is read too
    await Deno.remove(`${out}/tensor-cache.json`);
    const nd = await verifyConversion({ store, dir: out });
    assertEquals([nd.ok, nd.cacheFile], [true, "ndarray-cache.json"]);
  });
});

Deno.test("verify: injected I/O (in-memory store) gives the same report as files", async () => {
  await withConversions("BF16", ["q4f16_1"], async (dir) => {
    const files: Record<string, Uint8Array> = {};
    for (const sub of ["model", "q4f16_1"]) {
      for (const e of Deno.readDirSync(`${dir}/${sub}`)) {
        files[`m/${sub}/${e.name}`] = Deno.readFileSync(`${dir}/${sub}/${e.name}`);
      }
    }
    const mem = await verifyConversion({ store: memorySource(files), dir: "m/q4f16_1", source: "m/model" });
    const disk = await verifyConversion({ store, dir: `${dir}/q4f16_1`, source: `${dir}/model` });
    assertEquals(mem.tensors, disk.tensors);
    assertEquals(mem.ok, true);
  });
});

const HAS_GPU = !!(await navigator.gpu?.requestAdapter().catch(() => null));

Deno.test({
  name: "verify --device webgpu (fallback adapter) and reference: the same matmul numbers as cpu",
  ignore: !HAS_GPU, // no WebGPU adapter at all (not even llvmpipe) on this machine
}, async () => {
  await withConversions("BF16", ["q4f16_1", "q4f16_0", "q4f32_1"], async (dir) => {
    const gpu = await createVerifyKernels("webgpu");
    const ref = await createVerifyKernels("reference");
    try {
      assertEquals([gpu.name, ref.name], ["webgpu", "reference"]);
      for (const q of ["q4f16_1", "q4f16_0", "q4f32_1"]) {
        const opts = { store, dir: `${dir}/${q}`, source: `${dir}/model` };
        const c = await verifyConversion(opts);
        const g = await verifyConversion({ ...opts, kernels: gpu });
        const f = await verifyConversion({ ...opts, kernels: ref });
        assertEquals([g.device, f.device, g.ok, f.ok], ["webgpu", "reference", true, true]);
        const cm = byName(c);
        for (const other of [g, f]) {
          for (const t of other.tensors) {
            const u = cm.get(t.name)!;
            // dequantization is exact everywhere: identical element-wise errors
            assertEquals([t.snrDb, t.maxAbsError, t.rmsError], [u.snrDb, u.maxAbsError, u.rmsError]);
            if (u.matmulRelError === null) assertEquals(t.matmulRelError, null);
            else {
              // f32 accumulation orders differ (SIMD lanes, GPU tree, float64): 1e-5 relative
              const d = Math.abs(t.matmulRelError! - u.matmulRelError) / u.matmulRelError;
              assertOk(
                d < 1e-5,
                `${q} ${other.device} ${t.name}: ${t.matmulRelError} vs ${u.matmulRelError}`,
              );
            }
          }
        }
      }
    } finally {
      await gpu.close();
    }
  });
});

async function cli(args: string[], perms: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...perms, CLI, "verify", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: p.code, out: new TextDecoder().decode(p.stdout), err: new TextDecoder().decode(p.stderr) };
}

Deno.test("cli verify: exit codes 0 / 1 / 2, scoped read permissions, --json, --quiet", async () => {
  await withConversions("BF16", ["q4f16_1"], async (dir) => {
    const out = `${dir}/q4f16_1`;
    const perms = [`--allow-read=${out},${dir}/model`];
    const ok = await cli([out, "--source", `${dir}/model/config.json`], perms);
    assertEquals(ok.code, 0, ok.err);
    assertOk(ok.err.includes("Using device: cpu"), ok.err);
    assertOk(/^tensor +shape +dtype +max abs +RMS +SNR dB +matmul rel err$/m.test(ok.out), ok.out);
    assertOk(/^OK: 1 shard\(s\): 1 OK, 0 damaged, 0 missing; 15 parameter\(s\)/m.test(ok.out), ok.out);
    const js = await cli([out, "--source", `${dir}/model`, "--json", "--device", "reference"], perms);
    assertEquals(js.code, 0, js.err);
    const j = JSON.parse(js.out);
    assertEquals([j.ok, j.device, j.quantization, j.tensors.length], [true, "reference", "q4f16_1", 15]);
    // only the shard check needs only OUT
    const shardsOnly = await cli([out], [`--allow-read=${out}`]);
    const lines = shardsOnly.out.trim().split("\n");
    assertEquals([shardsOnly.code, lines.at(-1)], [0, "OK: 1 shard(s): 1 OK, 0 damaged, 0 missing"]);
    assertOk(/^params_shard_0\.bin +OK +\d+ bytes {2}md5 [0-9a-f]{32}$/.test(lines[0]), lines[0]);
    // --quiet: nothing at all when everything checks out
    const quiet = await cli([out, "--quiet"], [`--allow-read=${out}`]);
    assertEquals([quiet.code, quiet.out, quiet.err], [0, "", ""]);
    // damaged shard: exit 1
    const shard = `${out}/params_shard_0.bin`;
    const data = await Deno.readFile(shard);
    data[1000] ^= 0x80;
    await Deno.writeFile(shard, data);
    const bad = await cli([out, "--quiet"], [`--allow-read=${out}`]);
    assertEquals([bad.code, bad.out], [1, ""]);
    // (with --quiet, only the problems, on stderr)
    assertOk(
      /^Problem: params_shard_0\.bin: damaged: md5 [0-9a-f]{32}, expected [0-9a-f]{32}$/m.test(bad.err),
      bad.err,
    );
    assertOk(/^FAILED: 1 shard\(s\): 0 OK, 1 damaged, 0 missing$/m.test(bad.err), bad.err);
    // usage errors: exit 2; a missing permission: exit 3
    assertEquals((await cli([], perms)).code, 2);
    const dev = await cli([out, "--device", "tpu"], perms);
    assertEquals(dev.code, 2);
    assertOk(
      dev.err.startsWith(
        'error: invalid value for --device: "tpu" (did you mean "cpu"?). Valid choices: cpu, webgpu, reference, auto',
      ),
      dev.err,
    );
    const perm = await cli([out, "--source", `${dir}/model`], [`--allow-read=${out}`]);
    assertEquals(perm.code, 3);
    assertOk(perm.err.includes(`Missing permission: read ${dir}/model`), perm.err);
    // not a converted directory: exit 1 with a message
    const none = await cli([`${dir}/model`], perms);
    assertEquals(none.code, 1);
    assertOk(none.err.includes("no tensor-cache.json or ndarray-cache.json found"), none.err);
  });
});

Deno.test("verify: NaN/Inf in the output that the source does not have is a problem; the source's own are a warning", async () => {
  const { createHash } = await import("node:crypto");
  await withConversions("BF16", ["q4f16_1"], async (dir) => {
    const out = `${dir}/q4f16_1`;
    const cache = JSON.parse(await Deno.readTextFile(`${out}/tensor-cache.json`));
    const recs = cache.records.flatMap((s: { records: { name: string }[] }, shard: number) =>
      s.records.map((r) => ({ ...r, shard }))
    );
    const rec = (name: string) => recs.find((r: { name: string }) => r.name === name);
    // a NaN in a cast tensor (f16 0x7e00), +Inf in the first scale of a quantized one (a whole group)
    const norm = rec("model.norm.weight"), scale = rec("model.layers.1.mlp.down_proj.q_scale");
    const shards = new Map<number, Uint8Array>();
    for (const [r, bits, at] of [[norm, 0x7e00, 5], [scale, 0x7c00, 0]] as const) {
      const bytes = shards.get(r.shard) ?? await Deno.readFile(`${out}/${cache.records[r.shard].dataPath}`);
      new DataView(bytes.buffer).setUint16(r.byteOffset + at * 2, bits, true);
      shards.set(r.shard, bytes);
    }
    for (const [i, bytes] of shards) {
      await Deno.writeFile(`${out}/${cache.records[i].dataPath}`, bytes);
      cache.records[i].md5sum = createHash("md5").update(bytes).digest("hex"); // (the shards look intact)
    }
    await Deno.writeTextFile(`${out}/tensor-cache.json`, JSON.stringify(cache));
    const r = await verifyConversion({ store, dir: out, source: `${dir}/model` });
    assertEquals(r.ok, false);
    assertEquals(r.shards.every((s) => s.status === "ok"), true);
    assertEquals(r.problems, [
      "model.layers.1.mlp.down_proj.weight: 32 NaN or infinite stored values where the source is finite",
      "model.norm.weight: 1 NaN or infinite stored values where the source is finite",
      "model.norm.weight: stored values differ from the source cast to float16",
    ]);
    const t = byName(r).get("model.layers.1.mlp.down_proj.weight")!;
    assertEquals([t.sourceNonFinite, t.introducedNonFinite], [0, 32]);
  });
});

Deno.test("verify: a conversion made with allowNonFinite passes, warning about the source's own NaN", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeCheckpoint(`${dir}/model`, cfg, llamaHfTensors(cfg), { dtype: "F16", seed: 1 });
    const file = `${dir}/model/model.safetensors`;
    const bytes = await Deno.readFile(file);
    const dv = new DataView(bytes.buffer);
    const hl = Number(dv.getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hl)));
    // one NaN in gate_proj (quantized, fused into gate_up_proj), one -Inf in a norm (cast)
    dv.setUint16(
      8 + hl + header["model.layers.0.mlp.gate_proj.weight"].data_offsets[0] + 2 * 40,
      0x7e00,
      true,
    );
    dv.setUint16(
      8 + hl + header["model.layers.1.post_attention_layernorm.weight"].data_offsets[0],
      0xfc00,
      true,
    );
    await Deno.writeFile(file, bytes);
    const model = await loadModelConfig(store, `${dir}/model`);
    const { checkpoint } = await openWeights(store, model.dir);
    const plan = planConversion({
      arch: model.arch,
      config: model.config,
      scheme: getQuantization("q4f16_1"),
      checkpoint,
    });
    await Deno.mkdir(`${dir}/out`);
    const output = denoOutput(`${dir}/out`);
    const res = await convertWeight({
      plan,
      checkpoint,
      backend: new WasmBackend(),
      output,
      allowNonFinite: true,
    });
    await output.close();
    checkpoint.close();
    assertEquals(res.nonFinite, [
      { name: "model.layers.0.mlp.gate_up_proj.weight", count: 1 },
      { name: "model.layers.1.post_attention_layernorm.weight", count: 1 },
    ]);
    const r = await verifyConversion({ store, dir: `${dir}/out`, source: `${dir}/model` });
    assertEquals(r.problems, []);
    assertEquals(r.ok, true);
    assertEquals(r.warnings, [
      "model.layers.0.mlp.gate_up_proj.weight: the source holds 1 NaN or infinite values (stored as converted)",
      "model.layers.1.post_attention_layernorm.weight: the source holds 1 NaN or infinite values (stored as converted)",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
