// The reference forward pass (src/forward/) on 2-layer toy decoders written straight into a converted
// directory in memory (float32 records stored as bf16, as MLC's tensor cache does; every weight is a
// multiple of 1/8 or 1/4, exact in bf16). Expected logits come from an independent float64 Python
// implementation written from the Hugging Face model code (tests/fixtures/forward/toy_reference.py, same
// weight formula); the components are also checked against values derived by hand.
import { denoSource, memorySource } from "../mod.ts";
import { matmul, rmsNorm, rope, ropeInvFreq, silu } from "../src/forward/decoder.ts";
import { ReferenceModel } from "../src/forward/model.ts";
import { assertEquals, assertOk, assertRejects } from "./_assert.ts";
import { main } from "../cli.ts";
import { TINY_LLAMA_CONFIG, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";
import { hfTensors } from "../src/testing/hf_layouts.ts";

const [V, H, NQ, NKV, D, I, L] = [6, 8, 2, 1, 4, 4, 2];

const seed = (name: string) => [...name].reduce((a, c, i) => a + (i + 1) * c.charCodeAt(0), 0) % 97;
const values = (name: string, n: number, norm: boolean) =>
  Array.from(
    { length: n },
    (_, i) => norm ? 1 + ((seed(name) + i) % 3) / 4 : (((seed(name) + i * 5) % 9) - 4) / 8,
  );

/** float32 values -> bf16 bytes (exact here: every value is a short binary fraction). */
function bf16Bytes(v: number[]): Uint8Array {
  const f = new Float32Array(v);
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) {
    if (u[i] & 0xffff) throw new Error(`${v[i]} is not exact in bf16`);
    out[i] = u[i] >>> 16;
  }
  return new Uint8Array(out.buffer);
}

function toyDir(arch: "llama" | "qwen2" | "qwen3", bias: boolean): Record<string, Uint8Array | string> {
  const qkv = arch === "llama" ? "self_attn.qkv_proj" : "self_attn.c_attn";
  const tensors: [string, number[], boolean][] = [["model.embed_tokens.weight", [V, H], false]];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    tensors.push([`${p}.${qkv}.weight`, [(NQ + 2 * NKV) * D, H], false]);
    if (bias) tensors.push([`${p}.${qkv}.bias`, [(NQ + 2 * NKV) * D], false]);
    if (arch === "qwen3") {
      tensors.push([`${p}.self_attn.q_norm.weight`, [D], true], [`${p}.self_attn.k_norm.weight`, [D], true]);
    }
    tensors.push(
      [`${p}.self_attn.o_proj.weight`, [H, NQ * D], false],
      [`${p}.mlp.gate_up_proj.weight`, [2 * I, H], false],
      [`${p}.mlp.down_proj.weight`, [H, I], false],
      [`${p}.input_layernorm.weight`, [H], true],
      [`${p}.post_attention_layernorm.weight`, [H], true],
    );
  }
  tensors.push(["model.norm.weight", [H], true], ["lm_head.weight", [V, H], false]);
  const parts: Uint8Array[] = [];
  let offset = 0;
  const records = tensors.map(([name, shape, norm]) => {
    const bytes = bf16Bytes(values(name, shape.reduce((a, b) => a * b, 1), norm));
    parts.push(bytes);
    offset += bytes.length;
    return {
      name,
      shape,
      dtype: "float32",
      format: "f32-to-bf16",
      nbytes: bytes.length,
      byteOffset: offset - bytes.length,
    };
  });
  const shard = new Uint8Array(offset);
  parts.reduce((o, b) => (shard.set(b, o), o + b.length), 0);
  const base = {
    hidden_size: H,
    num_attention_heads: NQ,
    num_key_value_heads: NKV,
    head_dim: D,
    num_hidden_layers: L,
  };
  const model_config = arch === "llama"
    ? {
      ...base,
      rms_norm_eps: 1e-5,
      position_embedding_base: 10000,
      rope_scaling: null,
      context_window_size: 16,
    }
    : { ...base, rms_norm_eps: 1e-5, rope_theta: 1e6, context_window_size: 16 };
  return {
    "toy/mlc-chat-config.json": JSON.stringify({ model_type: arch, quantization: "q0f32", model_config }),
    "toy/tensor-cache.json": JSON.stringify({
      metadata: {},
      records: [{ dataPath: "params_shard_0.bin", format: "raw-shard", nbytes: offset, records, md5sum: "" }],
    }),
    "toy/params_shard_0.bin": shard,
  };
}

// tests/fixtures/forward/toy_reference.py (float64), ids [1, 4, 2]
const EXPECTED: Record<string, number[]> = {
  llama: [-0.54620981, 2.03587122, -2.05551213, 2.3919437, -2.35938958, 1.71128962],
  qwen2: [0.95711238, 0.573146197, -0.687119107, 1.96299283, -1.91159039, 2.21624148],
  qwen3: [1.93549853, -0.645226998, 0.536077155, 0.776212419, -1.03282179, 2.02813565],
};

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

async function logits(
  arch: "llama" | "qwen2" | "qwen3",
  bias: boolean,
  ids: number[][],
): Promise<Float32Array> {
  const m = await ReferenceModel.open(memorySource(toyDir(arch, bias)), "toy");
  let out: Float32Array = new Float32Array();
  for (const step of ids) out = await m.forward(step);
  m.close();
  return out;
}

for (const [arch, bias] of [["llama", false], ["qwen2", true], ["qwen3", false]] as const) {
  Deno.test(`forward: 2-layer toy ${arch} = the independent float64 reference within 2e-6`, async () => {
    // float32 activations against float64: the logits (about 2) differ in the 7th digit at most
    const prefill = await logits(arch, bias, [[1, 4, 2]]);
    assertOk(maxDiff(prefill, EXPECTED[arch]) < 2e-6, `${arch}: ${prefill} vs ${EXPECTED[arch]}`);
    // the KV cache: a prefill of two tokens and one decode step give the same logits
    const stepwise = await logits(arch, bias, [[1, 4], [2]]);
    assertOk(maxDiff(stepwise, prefill) < 1e-6, `${stepwise} vs ${prefill}`);
  });
}

Deno.test("forward: the architectural differences matter (qwen2's bias, qwen3's q/k norm, llama's names)", async () => {
  // the same weights without the qkv bias, or read as qwen2 (no q/k norm), give other logits
  assertOk(maxDiff(await logits("qwen2", false, [[1, 4, 2]]), EXPECTED.qwen2) > 0.01);
  const asQwen2 = toyDir("qwen3", false);
  asQwen2["toy/mlc-chat-config.json"] = (asQwen2["toy/mlc-chat-config.json"] as string).replace(
    '"qwen3"',
    '"qwen2"',
  );
  const m = await ReferenceModel.open(memorySource(asQwen2), "toy");
  assertOk(maxDiff(await m.forward([1, 4, 2]), EXPECTED.qwen3) > 0.01);
  const noQkv = toyDir("llama", false);
  noQkv["toy/mlc-chat-config.json"] = (noQkv["toy/mlc-chat-config.json"] as string).replace(
    '"llama"',
    '"qwen2"',
  ).replace('"position_embedding_base"', '"rope_theta"');
  await assertRejects(
    async () => await (await ReferenceModel.open(memorySource(noQkv), "toy")).forward([1]),
    /^toy: no tensor model\.layers\.0\.self_attn\.c_attn\.weight or model\.layers\.0\.self_attn\.c_attn\.q_weight in the tensor cache$/,
  );
  const gemma = toyDir("llama", false);
  gemma["toy/mlc-chat-config.json"] = (gemma["toy/mlc-chat-config.json"] as string).replace(
    '"llama"',
    '"gemma"',
  );
  await assertRejects(
    () => ReferenceModel.open(memorySource(gemma), "toy"),
    /^the reference forward pass covers llama, mistral, qwen2, qwen3, not gemma$/,
  );
});

Deno.test("forward: components against hand-derived values", async () => {
  // RMSNorm of [3, 4] (mean square 12.5) with weights [1, 2]: [3, 8] / sqrt(12.5)
  const n = rmsNorm(new Float32Array([3, 4]), new Float32Array([1, 2]), 0);
  assertOk(maxDiff(n, [3 / Math.sqrt(12.5), 8 / Math.sqrt(12.5)]) < 1e-6);
  // per head: [3, 4, 0, 5] with a 2-wide weight normalizes each half on its own: [3,4]/sqrt(12.5), [0, 5]/sqrt(12.5)
  const ph = rmsNorm(new Float32Array([3, 4, 0, 5]), new Float32Array([1, 1]), 0);
  assertOk(maxDiff(ph, [0.8485281, 1.1313709, 0, 1.4142136]) < 1e-6);
  // RoPE, head dim 4, theta 100: frequencies 1 and 1/10; at position 1 the pairs (x0, x2), (x1, x3) turn by
  // 1 and 0.1 rad: [1, 0, 0, 1] -> [cos 1, -sin 0.1, sin 1, cos 0.1]
  assertEquals([...ropeInvFreq(4, 100)], [1, 0.1]);
  const v = new Float32Array([1, 0, 0, 1]);
  rope(v, 0, 1, ropeInvFreq(4, 100));
  assertOk(maxDiff(v, [Math.cos(1), -Math.sin(0.1), Math.sin(1), Math.cos(0.1)]) < 1e-7);
  // SiLU: 0 -> 0, 1 -> 1 / (1 + 1/e) = 0.7310585786
  assertEquals(silu(0), 0);
  assertOk(Math.abs(silu(1) - 0.7310585786) < 1e-10);
  // matmul with a bias, through the block reader: [[1, 2], [3, 4]] [1, -1] + [0.5, 0] = [-0.5, -1]
  const w = {
    rows: 2,
    cols: 2,
    row: () => Promise.resolve(new Float32Array()),
    blocks: (use: (r0: number, v: Float32Array) => void) =>
      Promise.resolve(use(0, new Float32Array([1, 2, 3, 4]))),
  };
  assertEquals([...(await matmul(w, [new Float32Array([1, -1])], new Float32Array([0.5, 0])))[0]], [
    -0.5,
    -1,
  ]);
  // Llama 3 scaling (factor 8, low 1, high 4, original 8192; MLC rope.py): a high frequency (wavelength
  // 2 pi < 8192 / 4) stays, a low one (4e6^(-1/2) = 0.0005: wavelength 12566 > 8192) is divided by 8
  const f = ropeInvFreq(4, 4e6, {
    rope_type: "llama3",
    factor: 8,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 8192,
  });
  assertEquals(f[0], 1);
  assertOk(Math.abs(f[1] - 0.0005 / 8) < 1e-15, String(f[1]));
});

Deno.test("forward: a real conversion's q4f16_1 (NK) and q4f16_0 (KN) records give the same logits", async () => {
  // the two schemes store the same codes and scales, transposed for KN Linear weights: the reader must
  // undo the transposition; a mistake there changes the logits entirely
  const tmp = await Deno.makeTempDir({ prefix: "mlc-forward-" });
  try {
    const src = `${tmp}/src`;
    await writeCheckpoint(src, TINY_LLAMA_CONFIG, hfTensors("llama", { ...TINY_LLAMA_CONFIG }), { seed: 3 });
    const run = async (q: string) => {
      const out = `${tmp}/${q}`;
      const lines: string[] = [];
      const io = {
        out: (l: string) => lines.push(l),
        err: (l: string) => lines.push(l),
        progress() {},
        isTerminal: false,
      };
      assertEquals(
        await main(["convert_weight", src, "--quantization", q, "-o", out, "--quiet"], io),
        0,
        lines.join("\n"),
      );
      assertEquals(
        await main(
          ["gen_config", src, "--quantization", q, "--conv-template", "LM", "-o", out, "--quiet"],
          io,
        ),
        0,
        lines.join("\n"),
      );
      const m = await ReferenceModel.open(denoSource(), out);
      const r = await m.forward([1, 2, 3]);
      m.close();
      return r;
    };
    const nk = await run("q4f16_1"), kn = await run("q4f16_0");
    assertEquals(nk.length, kn.length);
    assertOk(maxDiff(nk, kn) < 1e-5 && nk.some((x) => x !== 0), `${nk.slice(0, 4)} vs ${kn.slice(0, 4)}`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
