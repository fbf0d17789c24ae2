// rwkv5 and rwkv6: model_config on real configs, the MLC parameter lists (HF names = MLC names
// with model -> rwkv), the float32 pins and the value maps: rwkv5's time_decay = exp(-exp(x))
// with numpy's own float32 exp, and the rescale_every division in the model dtype, checked
// against numpy (tests/fixtures/numpy_exp) and hand-derived bytes. MLC sources cited are at
// mlc-ai/mlc-llm 79d603f0 (python/mlc_llm/model/{rwkv5,rwkv6}/).
import { createHash } from "node:crypto";
import { assertEquals, assertThrows } from "./_assert.ts";
import { expNegExp, rescale } from "../src/arch/_rwkv.ts";
import { numpyExpF32 } from "../src/arch/_numpy_exp.ts";
import {
  assertRealPlan,
  convertTiny,
  f16bits,
  le16,
  modelConfigText,
  outLine,
  parse,
  planReal,
  realConfig,
  summary,
  tinyOne,
  words16,
} from "./_arch_helpers.ts";
import { DENSE_TINY } from "./_dense_tiny.ts";

const FIX = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/numpy_exp/numpy_exp.json", import.meta.url)),
) as { count: number; md5: string; rescale_f16_md5: string; samples: [number, string][] };
const tiny5 = tinyOne("rwkv5");
const tiny6 = tinyOne("rwkv6");
const B = "model.blocks.0";
const R = "rwkv.blocks.0";

/** Every finite float16 value, then every finite bfloat16 value, as float32 (the fixture's inputs). */
function fixtureInputs(): Float32Array {
  const out: number[] = [];
  const h = new Float16Array(new Uint16Array(Array.from({ length: 65536 }, (_, i) => i)).buffer);
  for (const v of h) if (Number.isFinite(v)) out.push(v);
  const b = new Float32Array(new Uint32Array(Array.from({ length: 65536 }, (_, i) => i << 16)).buffer);
  for (const v of b) if (Number.isFinite(v)) out.push(v);
  return new Float32Array(out);
}

Deno.test("rwkv5: model_config of RWKV/rwkv-5-world-3b (no window, prefill 4096, heads derived)", async () => {
  const logs: string[] = [];
  assertEquals(
    modelConfigText("rwkv5", await realConfig("rwkv-5-world-3b"), logs),
    '{"hidden_size": 2560, "intermediate_size": 8960, "num_hidden_layers": 32, "vocab_size": 65536, ' +
      '"model_version": "5_2", "tensor_parallel_shards": 1, "rescale_every": 6, "head_size": 64, ' +
      '"layer_norm_epsilon": 1e-05, "context_window_size": -1, "prefill_chunk_size": 4096, "num_heads": 40, ' +
      '"max_batch_size": 128}',
  );
  assertEquals(logs, ["Overriding max_batch_size from 1 to 128"]);
});

Deno.test("rwkv6: model_config of RWKV/rwkv-6-world-1b6 (model_version defaults to 6_0)", async () => {
  assertEquals(
    modelConfigText("rwkv6", await realConfig("rwkv-6-world-1b6")),
    '{"hidden_size": 2048, "intermediate_size": 7168, "num_hidden_layers": 24, "vocab_size": 65536, ' +
      '"model_version": "6_0", "tensor_parallel_shards": 1, "rescale_every": 6, "head_size": 64, ' +
      '"layer_norm_epsilon": 1e-05, "context_window_size": -1, "prefill_chunk_size": 4096, "num_heads": 32, ' +
      '"max_batch_size": 128}',
  );
});

Deno.test("rwkv5: parameters in module order, HF names model -> rwkv, float32 pins, value maps", () => {
  // rwkv5_model.py L149-L156 (FFN), L177-L193 (attention), L250-L268 (to(): time_decay,
  // time_faaaa, ln_x float32), L271-L288 (pre_ln on block 0), L309-L315, L331;
  // rwkv5_loader.py L40-L54 (time_decay map), L56-L71 (rescale), L73-L83 (model -> rwkv)
  const lines = summary(parse("rwkv5", tiny5).params);
  const a = `${B}.attention`;
  const ra = `${R}.attention`;
  const f = `${B}.feed_forward`;
  const rf = `${R}.feed_forward`;
  assertEquals(lines, [
    "model.embeddings.weight [96,64] embedding <- rwkv.embeddings.weight",
    ...["pre_ln", "ln1", "ln2"].flatMap((n) => [
      `${B}.${n}.weight [64] <- ${R}.${n}.weight`,
      `${B}.${n}.bias [64] <- ${R}.${n}.bias`,
    ]),
    `${a}.time_decay [4,16] float32 whole <- ${ra}.time_decay`,
    `${a}.time_faaaa [4,16] float32 <- ${ra}.time_faaaa`,
    ...["gate", "key", "value", "receptance"].map((m) =>
      `${a}.time_mix_${m} [1,1,64] <- ${ra}.time_mix_${m}`
    ),
    ...["key", "value", "receptance", "gate"].map((m) =>
      `${a}.${m}.weight [64,64] linear <- ${ra}.${m}.weight`
    ),
    `${a}.output.weight [64,64] linear whole <- ${ra}.output.weight`,
    `${a}.ln_x.weight [64] float32 <- ${ra}.ln_x.weight`,
    `${a}.ln_x.bias [64] float32 <- ${ra}.ln_x.bias`,
    `${f}.time_mix_key [1,1,64] <- ${rf}.time_mix_key`,
    `${f}.time_mix_receptance [1,1,64] <- ${rf}.time_mix_receptance`,
    `${f}.key.weight [224,64] linear <- ${rf}.key.weight`, // int(64 * 3.5) // 32 * 32
    `${f}.receptance.weight [64,64] linear <- ${rf}.receptance.weight`,
    `${f}.value.weight [64,224] linear whole <- ${rf}.value.weight`,
    "model.ln_out.weight [64] <- rwkv.ln_out.weight",
    "model.ln_out.bias [64] <- rwkv.ln_out.bias",
    "head.weight [96,64] linear <- =",
  ]);
  // without rescale_every the weights are plain casts; only block 0 has pre_ln
  const plain = summary(parse("rwkv5", { ...tiny5, rescale_every: 0, num_hidden_layers: 2 }).params);
  assertEquals(plain.filter((l) => l.includes("whole")).length, 2); // the two time_decay maps
  assertEquals(plain.filter((l) => l.includes("pre_ln")).length, 2);
});

Deno.test("rwkv6: data-dependent mixing parameters, copied float32 time_decay, FFN key of H // 2 * 7", () => {
  // rwkv6_model.py L163-L170 (FFN), L190-L222 (attention; extra dims 32/64 unless H = 4096),
  // L298-L322 (to()); rwkv6_loader.py L40-L67 (no time_decay map; rescale; model -> rwkv)
  const lines = summary(parse("rwkv6", tiny6).params);
  const a = `${B}.attention`;
  const ra = `${R}.attention`;
  assertEquals(lines.slice(7, 19), [
    ...["x", "w", "k", "v", "r", "g"].map((m) => `${a}.time_maa_${m} [1,1,64] <- ${ra}.time_maa_${m}`),
    `${a}.time_maa_w1 [64,160] <- ${ra}.time_maa_w1`,
    `${a}.time_maa_w2 [5,32,64] <- ${ra}.time_maa_w2`,
    `${a}.time_decay_w1 [64,64] <- ${ra}.time_decay_w1`,
    `${a}.time_decay_w2 [64,64] <- ${ra}.time_decay_w2`,
    `${a}.time_decay [1,1,64] float32 <- ${ra}.time_decay`,
    `${a}.time_faaaa [4,16] float32 <- ${ra}.time_faaaa`,
  ]);
  assertEquals(lines.slice(-8, -3), [
    `${B}.feed_forward.time_maa_k [1,1,64] <- ${R}.feed_forward.time_maa_k`,
    `${B}.feed_forward.time_maa_r [1,1,64] <- ${R}.feed_forward.time_maa_r`,
    `${B}.feed_forward.key.weight [224,64] linear <- ${R}.feed_forward.key.weight`,
    `${B}.feed_forward.receptance.weight [64,64] linear <- ${R}.feed_forward.receptance.weight`,
    `${B}.feed_forward.value.weight [64,224] linear whole <- ${R}.feed_forward.value.weight`,
  ]);
  const big = parse("rwkv6", { ...tiny6, hidden_size: 4096, head_size: 64 }).params;
  assertEquals(big.find((p) => p.name.endsWith("time_maa_w2"))!.shape, [5, 64, 4096]);
  assertEquals(big.find((p) => p.name.endsWith("time_decay_w1"))!.shape, [4096, 128]);
});

Deno.test("numpy's float32 exp: exp(-exp(x)) over every float16 and bfloat16 value matches numpy's bytes", () => {
  const x = fixtureInputs();
  assertEquals(x.length, FIX.count);
  const t = expNegExp({ dtype: "float32", shape: [x.length], data: new Uint8Array(x.buffer) });
  assertEquals(createHash("md5").update(t.data).digest("hex"), FIX.md5);
  for (const [v, hex] of FIX.samples) {
    const y = new Uint32Array(new Float32Array([numpyExpF32(-numpyExpF32(v))]).buffer)[0];
    assertEquals(y.toString(16).padStart(8, "0"), hex, `x = ${v}`);
  }
  // Math.exp would be correctly rounded: exp(-1) = 0x3ebc5ab2; numpy's loop gives ...b1
  assertEquals(FIX.samples[0], [0, "3ebc5ab1"]);
  assertEquals(new Uint32Array(new Float32Array([Math.exp(-1)]).buffer)[0].toString(16), "3ebc5ab2");
});

Deno.test("rwkv rescale x.astype(dtype) / 2**t: float16 matches numpy; bf16 and f32 hand-derived", () => {
  const b = new Float32Array(new Uint32Array(Array.from({ length: 65536 }, (_, i) => i << 16)).buffer)
    .filter((v) => Number.isFinite(v));
  const src = { dtype: "float32" as const, shape: [b.length], data: new Uint8Array(b.buffer) };
  const h = createHash("md5");
  for (let t = 0; t < 6; t++) h.update(rescale(src, t, "float16").data);
  assertEquals(h.digest("hex"), FIX.rescale_f16_md5);
  // the cast comes first: f32 20.4 * 2^-24 casts to the float16 subnormal 20 * 2^-24, and / 8 gives
  // 2.5 * 2^-24, a tie that goes to even: 0x0002 (dividing first would give 2.55 -> 0x0003)
  const rescaled1 = (v: number, t: number, d: "float16" | "bfloat16" | "float32") =>
    words16(
      rescale({ dtype: "float32", shape: [1], data: new Uint8Array(new Float32Array([v]).buffer) }, t, d),
    );
  assertEquals(rescaled1(20.4 * 2 ** -24, 3, "float16"), [0x0002]);
  assertEquals(rescaled1(3, 1, "float16"), [0x3e00]);
  // bfloat16: float32 quotient then round to nearest even: (1 + 2^-7) / 2 exact -> 0x3f01
  assertEquals(rescaled1(1 + 2 ** -7, 1, "bfloat16"), [0x3f01]);
  assertEquals(rescaled1(1 + 2 ** -9, 1, "bfloat16"), [0x3f00]); // the cast to bf16 rounds first (tie to even)
  assertEquals(rescaled1(-0.75, 2, "float32"), [0x0000, 0xbe40]); // -0.1875
});

Deno.test("rwkv5 conversion: time_decay stored as float32 (bf16-encoded), block 1 weights halved", async () => {
  const hf = { ...DENSE_TINY.rwkv5, num_hidden_layers: 2 }; // rescale_every 1: block i divides by 2^i
  const decay = f16bits(Array.from({ length: 64 }, (_, k) => [0, -1, 1, 0.5][k % 4]));
  const data = new Map([
    [`${R}.attention.time_decay`, le16(decay)],
    [
      "rwkv.blocks.1.attention.output.weight",
      le16(f16bits(Array.from({ length: 4096 }, (_, k) => (k % 7) - 3))),
    ],
    ["rwkv.blocks.0.attention.output.weight", le16(f16bits(Array.from({ length: 4096 }, () => 3)))],
  ]);
  const r = await convertTiny("rwkv5", hf, "q0f16", data, "float16");
  const rec = r.records.find((x) => x.name === `${B}.attention.time_decay`)!;
  assertEquals([rec.dtype, rec.nbytes], ["float32", 128]); // 64 elements, 2 bytes each
  // numpy: 0 -> 0x3ebc5ab1 -> bf16 0x3ebc; -1 -> 0x3f313410 -> 0x3f31; 1 -> 0x3d8724bb -> 0x3d87;
  // 0.5 -> 0x3e44e927 -> 0x3e45 (round up)
  assertEquals(words16(r.bytes.get(`${B}.attention.time_decay`)!).slice(0, 4), [
    0x3ebc,
    0x3f31,
    0x3d87,
    0x3e45,
  ]);
  // block 0: 2^0, unchanged; block 1: halved in float16 ((k % 7) - 3 = -3 .. 3 -> -1.5 .. 1.5)
  assertEquals(words16(r.bytes.get(`${B}.attention.output.weight`)!).slice(0, 2), f16bits([3, 3]));
  assertEquals(
    words16(r.bytes.get("model.blocks.1.attention.output.weight")!).slice(0, 7),
    f16bits([-1.5, -1, -0.5, 0, 0.5, 1, 1.5]),
  );
  // time_faaaa and ln_x are float32 records too
  for (const n of [`${B}.attention.time_faaaa`, `${B}.attention.ln_x.weight`, `${B}.attention.ln_x.bias`]) {
    assertEquals(r.records.find((x) => x.name === n)!.dtype, "float32", n);
  }
});

Deno.test("rwkv-5-world-3b plan: float32 pins, head kept by q4f16_2, gate quantized (out 2560 > 256)", async () => {
  const hf = await realConfig("rwkv-5-world-3b");
  assertRealPlan("rwkv5", hf, "q4f16_1", [
    "model.embeddings.q_weight [65536,320] uint32",
    "model.blocks.0.pre_ln.weight [2560] float16",
    "model.blocks.0.attention.time_decay [40,64] float32",
    "model.blocks.31.attention.time_faaaa [40,64] float32",
    "model.blocks.31.attention.gate.q_weight [2560,320] uint32",
    "model.blocks.31.attention.ln_x.bias [2560] float32",
    "model.blocks.31.feed_forward.value.q_weight [2560,1120] uint32",
    "model.blocks.31.feed_forward.time_mix_key [1,1,2560] float16",
    "head.q_weight [65536,320] uint32",
  ], [968, 1725255680]);
  const q2 = planReal("rwkv5", hf, "q4f16_2").outputs.map(outLine);
  assertEquals(q2.includes("head.weight [65536,2560] float16"), true); // "head" is a final FC
  // a tiny model's 64-row gate is below MLC's MoE-gate bound (out_features <= 256): not quantized
  const small = planReal("rwkv5", tiny5, "q4f16_1").outputs.map(outLine);
  assertEquals(small.includes(`${B}.attention.gate.weight [64,64] float16`), true);
});

Deno.test("rwkv-6-world-1b6 plan", async () => {
  assertRealPlan("rwkv6", await realConfig("rwkv-6-world-1b6"), "q4f16_1", [
    "model.blocks.0.attention.time_maa_w1 [2048,160] float16",
    "model.blocks.0.attention.time_maa_w2 [5,32,2048] float16",
    "model.blocks.23.attention.time_decay [1,1,2048] float32",
    "model.blocks.23.feed_forward.key.q_weight [7168,256] uint32",
    "head.q_scale [65536,64] float16",
  ], [872, 933117952]);
});

Deno.test("rwkv: unsupported versions and shapes are refused by the config class", () => {
  assertThrows(() => parse("rwkv5", { ...tiny5, model_version: "5_1" }), /Only support RWKV v5_2, got 5_1\./);
  const { model_version: _, ...noVersion } = tiny5;
  assertThrows(() => parse("rwkv5", noVersion), /RWKV5Config is missing required field\(s\).*model_version/);
  assertThrows(() => parse("rwkv6", { ...tiny6, model_version: "5_2" }), /Only support RWKV v6_0, got 5_2\./);
  assertThrows(
    () => parse("rwkv6", { ...tiny6, head_size: 48 }),
    /hidden_size \(64\) must be divisible by head_size \(48\)/,
  );
  assertThrows(() => parse("rwkv5", { ...tiny5, tensor_parallel_shards: 2 }), /Only support single device/);
});
