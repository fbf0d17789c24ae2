// q4bf16_0 (KN) against q4bf16_1 (NK): MLC computes the scale, then transposes it
// (mlc-llm python/mlc_llm/quantization/group_quantization.py:129 output_transpose only for Linear
// in KN; :268-271 the scale stage; :299-305 the transposes), so in KN the untransposed scale is an
// internal buffer. TVM's BF16ComputeLegalize re-types internal constant-size bf16 buffers to f32
// (apache/tvm src/tir/transforms/unsupported_dtype_legalize.cc @0d7d8ba5, lines 81-87 and
// 121-129: ComputeLegalizePlanner::VisitStmt_(AllocateNode)); function outputs stay bf16. So the
// KN codes use the unrounded f32 max_abs/7 while the stored q_scale is rounded to bf16; q4bf16_1
// (and embeddings under q4bf16_0) divide by the rounded scale.
//
// Hand-derived (numpy float32 cross-check): max_abs 1 -> f32 1/7 = 0x3e124925, bf16 0x3e12
// (0.142578125). Element 0.5: unrounded 0.5/0x3e124925 = 3.4999998, + 7 = 10.5 in f32 (a tie) ->
// code 10 (ties to even); rounded 0.5/0.142578125 = 3.5068493 -> 10.506849 -> 11.
import { assertEquals } from "./_assert.ts";
import { castReference, groupQuantizeReference } from "../src/quant/reference.ts";
import { WasmKernels } from "../src/kernels/wasm.ts";
import { createWebGpuBackend, describeWebGpuAdapter } from "../src/webgpu/backend.ts";
import type { FloatDType } from "../src/dtype.ts";

const K = 40; // one full group (SIMD path) and a ragged group of 8 (scalar path)
const values = (half: number) => {
  const v = new Array(K).fill(0);
  v[0] = v[32] = 1;
  v[1] = v[33] = half;
  return v;
};
// per source dtype: values whose bf16 cast is [1, 0.5, 0...] (f32/f16: 0.5 + 2^-11 rounds to 0.5)
const SOURCES: [FloatDType, Uint8Array][] = [
  ["float32", new Uint8Array(new Float32Array(values(0.50048828125)).buffer)],
  ["float16", new Uint8Array(new Float16Array(values(0.50048828125)).buffer)],
  [
    "bfloat16",
    new Uint8Array(new Uint16Array(values(0.5).map((x) => x === 1 ? 0x3f80 : x ? 0x3f00 : 0)).buffer),
  ],
];
const EXPECTED = {
  nk: {
    words: ["777777be", "77777777", "77777777", "77777777", "777777be", "0", "0", "0"],
    scales: [0x3e12, 0x3e12],
  },
  kn: {
    words: ["777777ae", "77777777", "77777777", "77777777", "777777ae", "0", "0", "0"],
    scales: [0x3e12, 0x3e12],
  },
};
const job = (outputTranspose: boolean) => ({
  rows: 1,
  k: K,
  words: new Uint32Array(8),
  scales: new Uint16Array(2),
  bits: 4 as const,
  groupSize: 32,
  modelDtype: "bfloat16" as const,
  tie: "even" as const,
  outputTranspose,
});
const result = (j: ReturnType<typeof job>) => ({
  words: [...j.words].map((w) => w.toString(16)),
  scales: [...j.scales],
});

for (const [src, bytes] of SOURCES) {
  Deno.test(`q4bf16 from ${src}: KN codes from the unrounded f32 scale, NK from the bf16 one (reference, WASM)`, () => {
    const input = new Uint16Array(K);
    castReference(bytes, src, new Uint8Array(input.buffer), "bfloat16", K);
    const k = WasmKernels.createSync();
    for (const [layout, t] of [["nk", false], ["kn", true]] as const) {
      const r = job(t);
      groupQuantizeReference({ ...r, input });
      assertEquals(result(r), EXPECTED[layout], `reference ${layout}`);
      const w = job(t);
      k.groupQuantize({ ...w, input });
      assertEquals(result(w), EXPECTED[layout], `wasm ${layout}`);
      const f = job(t);
      k.castGroupQuantize(bytes, src, f);
      assertEquals(result(f), EXPECTED[layout], `wasm fused ${layout}`);
    }
  });
}

const adapter = typeof (globalThis.navigator as { gpu?: unknown } | undefined)?.gpu !== "undefined"
  ? await describeWebGpuAdapter()
  : undefined;
Deno.test({
  name: "q4bf16 KN vs NK on WebGPU, every source dtype" + (adapter ? "" : " (SKIPPED: no WebGPU adapter)"),
  ignore: !adapter,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const gpu = (await createWebGpuBackend({ allowFallback: true }))!;
    try {
      for (const [src, bytes] of SOURCES) {
        for (const [layout, t] of [["nk", false], ["kn", true]] as const) {
          const g = job(t);
          await gpu.castGroupQuantize(bytes, src, g);
          assertEquals(result(g), EXPECTED[layout], `${src} ${layout}`);
        }
      }
    } finally {
      await gpu.close();
    }
  },
});
