// RedPajama-INCITE-3B as users have it: one pytorch_model.bin (5.6 GB, gpt_neox, f16) in the
// state-dict order of transformers 4.28 with its buffers (the causal-mask `attention.bias`,
// `masked_bias`, `rotary_emb.inv_freq`). Written sparse (headers only: the data is a hole), so
// the test is fast; it is over 4 GiB, so the zip64 records are exercised. The plan has the names,
// shapes and dtypes MLC's gpt_neox library expects, in the pickled (numeric layer) order. The
// full conversion is measured by bench/torch_bench.ts --redpajama. A small gpt_neox .bin also
// converts end to end to the bytes of the same weights in safetensors (the QKV de-interleave
// runs on .bin data), and the generator's TinyLlama .bin (the benchmark's model) to those of its
// safetensors checkpoint.
import { assertEquals, assertOk } from "./_assert.ts";
import { convertWeight } from "../src/convert.ts";
import { denoSource } from "../src/io/deno_fs.ts";
import { memoryOutput } from "../src/io/memory.ts";
import { WasmBackend } from "../src/kernels/wasm.ts";
import { loadModelConfig, openWeights } from "../src/model.ts";
import { planConversion } from "../src/plan.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import {
  type GenTensor,
  llamaHfTensors,
  TINY_LLAMA_CONFIG,
  writeCheckpoint,
} from "../src/testing/checkpoint_gen.ts";
import { hfTensors } from "../src/testing/hf_layouts.ts";
import { type TorchGenDType, writeTorchCheckpoint } from "../src/testing/torch_writer.ts";

/** togethercomputer/RedPajama-INCITE-Instruct-3B-v1 config.json. */
const REDPAJAMA_3B = {
  architectures: ["GPTNeoXForCausalLM"],
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: "gelu",
  hidden_size: 2560,
  initializer_range: 0.02,
  intermediate_size: 10240,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 2048,
  model_type: "gpt_neox",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  rotary_emb_base: 10000,
  rotary_pct: 1.0,
  tie_word_embeddings: false,
  torch_dtype: "float16",
  transformers_version: "4.28.1",
  use_cache: true,
  use_parallel_residual: false,
  vocab_size: 50432,
};

/** The state dict of GPTNeoXForCausalLM (transformers 4.28): each attention's buffers before its weights. */
function gptNeoxStateDict(
  cfg: Record<string, unknown>,
): { tensors: GenTensor[]; dtypeOf: (n: string) => TorchGenDType | undefined } {
  const ctx = cfg.max_position_embeddings as number;
  const rot = (cfg.hidden_size as number) / (cfg.num_attention_heads as number) * (cfg.rotary_pct as number);
  const tensors: GenTensor[] = [];
  for (const t of hfTensors("gpt_neox", cfg)) {
    const m = /^(gpt_neox\.layers\.\d+\.attention\.)query_key_value\.weight$/.exec(t.name);
    if (m) {
      tensors.push(
        { name: `${m[1]}bias`, shape: [1, 1, ctx, ctx] },
        { name: `${m[1]}masked_bias`, shape: [] },
        { name: `${m[1]}rotary_emb.inv_freq`, shape: [rot / 2] },
      );
    }
    tensors.push(t);
  }
  const dtypeOf = (n: string): TorchGenDType | undefined =>
    n.endsWith(".attention.bias") ? "BOOL" : /masked_bias|inv_freq/.test(n) ? "F32" : undefined;
  return { tensors, dtypeOf };
}

Deno.test("RedPajama-INCITE-3B from a sparse pytorch_model.bin: MLC's q4f16_1 names, shapes, dtypes, order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { tensors, dtypeOf } = gptNeoxStateDict(REDPAJAMA_3B);
    await writeTorchCheckpoint(dir, REDPAJAMA_3B, tensors, {
      dtype: "F16",
      dtypeOf,
      sparse: true,
      keepOrder: true,
    });
    const size = (await Deno.stat(`${dir}/pytorch_model.bin`)).size;
    assertOk(size > 2 ** 32, `${size}`); // zip64
    const store = denoSource();
    const model = await loadModelConfig(store, dir);
    const { checkpoint, warnings } = await openWeights(store, model.dir);
    assertEquals(warnings, []);
    assertEquals(checkpoint.location, `${dir}/pytorch_model.bin`);
    assertEquals(checkpoint.tensors.get("gpt_neox.layers.0.attention.bias")?.stDtype, "BOOL");
    const plan = planConversion({
      arch: model.arch,
      config: model.config,
      scheme: getQuantization("q4f16_1"),
      checkpoint,
    });
    checkpoint.close();
    assertEquals(plan.problems, []);
    assertEquals(plan.warnings, []);
    // the same set as tests/fixtures_architectures_test.ts derives for MLC's library
    const got = plan.outputs.map((o) => `${o.name} [${o.shape.join(",")}] ${o.dtype}`);
    const layer = (l: number) => {
      const p = `gpt_neox.layers.${l}`;
      return [
        `${p}.input_layernorm.weight [2560] float16`,
        `${p}.input_layernorm.bias [2560] float16`,
        `${p}.post_attention_layernorm.weight [2560] float16`,
        `${p}.post_attention_layernorm.bias [2560] float16`,
        `${p}.attention.query_key_value.q_weight [7680,320] uint32`,
        `${p}.attention.query_key_value.q_scale [7680,80] float16`,
        `${p}.attention.query_key_value.bias [7680] float16`,
        `${p}.attention.dense.q_weight [2560,320] uint32`,
        `${p}.attention.dense.q_scale [2560,80] float16`,
        `${p}.attention.dense.bias [2560] float16`,
        `${p}.mlp.dense_h_to_4h.q_weight [10240,320] uint32`,
        `${p}.mlp.dense_h_to_4h.q_scale [10240,80] float16`,
        `${p}.mlp.dense_h_to_4h.bias [10240] float32`,
        `${p}.mlp.dense_4h_to_h.q_weight [2560,1280] uint32`,
        `${p}.mlp.dense_4h_to_h.q_scale [2560,320] float16`,
        `${p}.mlp.dense_4h_to_h.bias [2560] float32`,
      ];
    };
    // pickled order: embed_in, layers 0, 1, 2, ... 31 (numeric, not the sorted 0, 1, 10, ...), the
    // final norm, embed_out; inside a layer the state-dict order of the first source
    assertEquals(got, [
      "gpt_neox.embed_in.q_weight [50432,320] uint32",
      "gpt_neox.embed_in.q_scale [50432,80] float16",
      ...Array.from({ length: 32 }, (_, l) => layer(l)).flat(),
      "gpt_neox.final_layer_norm.weight [2560] float16",
      "gpt_neox.final_layer_norm.bias [2560] float16",
      "embed_out.q_weight [50432,320] uint32",
      "embed_out.q_scale [50432,80] float16",
    ]);
    assertEquals(plan.paramBytes, 1563781120);
    // the buffers are declared unused (gpt_neox_loader), so they do not count
    assertEquals(plan.totalParamNum, 2775864320);
    assertEquals(plan.sourceBytes, 2775864320 * 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function convertBoth(
  write: (torchDir: string, stDir: string) => Promise<void>,
  quant: string,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await write(`${dir}/torch`, `${dir}/st`);
    const outs = [];
    for (const d of [`${dir}/torch`, `${dir}/st`]) {
      const store = denoSource();
      const model = await loadModelConfig(store, d);
      const { checkpoint } = await openWeights(store, model.dir);
      const plan = planConversion({
        arch: model.arch,
        config: model.config,
        scheme: getQuantization(quant),
        checkpoint,
      });
      assertEquals(plan.problems, []);
      const output = memoryOutput();
      const backend = new WasmBackend();
      await convertWeight({ plan, checkpoint, backend, output, threads: 2, directReads: true });
      await backend.close();
      checkpoint.close();
      outs.push(output.files);
    }
    assertEquals([...outs[0].keys()].sort(), [...outs[1].keys()].sort());
    for (const [name, bytes] of outs[1]) {
      const x = outs[0].get(name)!;
      assertOk(x.length === bytes.length && x.every((v, i) => v === bytes[i]), `${quant}: ${name} differs`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a small gpt_neox pytorch_model.bin (buffers, f16) converts to the bytes of its safetensors twin", async () => {
  const cfg = {
    ...REDPAJAMA_3B,
    hidden_size: 64,
    intermediate_size: 176,
    num_attention_heads: 4,
    num_hidden_layers: 2,
    vocab_size: 96,
    max_position_embeddings: 32,
  };
  const { tensors, dtypeOf } = gptNeoxStateDict(cfg);
  const weights = tensors.filter((t) => !dtypeOf(t.name));
  for (const quant of ["q4f16_1", "q0f16"]) {
    await convertBoth(async (torchDir, stDir) => {
      // sorted names in both (save_pretrained's index order): the same MLC order
      await writeTorchCheckpoint(torchDir, cfg, tensors, { dtype: "F16", dtypeOf, seed: 5 });
      await writeCheckpoint(stDir, cfg, weights, { dtype: "F16", seed: 5 });
    }, quant);
  }
});

Deno.test("the benchmark's generator: a sharded TinyLlama .bin converts to the bytes of its safetensors checkpoint", async () => {
  const cfg = { ...TINY_LLAMA_CONFIG } as Record<string, unknown>;
  await convertBoth(async (torchDir, stDir) => {
    await writeTorchCheckpoint(torchDir, cfg, llamaHfTensors(cfg), { dtype: "BF16", seed: 1, shards: 2 });
    await writeCheckpoint(stDir, cfg, llamaHfTensors(cfg), { dtype: "BF16", seed: 1, shards: 2 });
  }, "q4f16_1");
});
