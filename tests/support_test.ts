// The README's architectures x quantizations table is generated from the registries; this test
// keeps it true: the README holds exactly that table, and every cell marked ✓ converts a tiny
// checkpoint of that architecture end to end.
import { assertEquals, assertOk } from "./_assert.ts";
import { fromDict } from "../src/arch/config.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import { convertWeight } from "../src/convert.ts";
import { memoryOutput } from "../src/io/memory.ts";
import { planConversion } from "../src/plan.ts";
import { ReferenceBackend } from "../src/quant/reference.ts";
import { WasmBackend } from "../src/kernels/wasm.ts";
import { createWebGpuBackend } from "../src/webgpu/backend.ts";
import type { QuantBackend } from "../src/quant/backend.ts";
import { QUANTIZATIONS } from "../src/quant/schemes.ts";
import { isSupported, MLC_QUANT_KINDS, mlcKindsTableMarkdown, supportTableMarkdown } from "../src/support.ts";
import { type GenTensor, tensorData } from "../src/testing/checkpoint_gen.ts";
import { hfTensors, syntheticCheckpoint } from "../src/testing/hf_layouts.ts";
import { DENSE_TINY, LLAMA } from "./_dense_tiny.ts";
import { MOE_TINY } from "./_moe_tiny.ts";
import { MM_TINY } from "./_mm_tiny.ts";

const GEMMA3_TEXT = {
  hidden_size: 64,
  intermediate_size: 96,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 16,
  num_hidden_layers: 2,
  rms_norm_eps: 1e-6,
  vocab_size: 96,
  sliding_window: 64,
};

/** A tiny config.json per architecture. */
const TINY: Record<string, Record<string, unknown>> = {
  llama: { model_type: "llama", ...LLAMA },
  mistral: { model_type: "mistral", ...LLAMA, sliding_window: null },
  qwen2: { model_type: "qwen2", ...LLAMA, hidden_act: "silu", rope_theta: 10000, tie_word_embeddings: true },
  qwen3: {
    model_type: "qwen3",
    ...LLAMA,
    hidden_act: "silu",
    rope_theta: 10000,
    head_dim: 16,
    attention_bias: false,
  },
  gemma: {
    model_type: "gemma",
    ...LLAMA,
    head_dim: 16,
    attention_bias: false,
    hidden_act: "gelu_pytorch_tanh",
  },
  gemma2: {
    model_type: "gemma2",
    ...LLAMA,
    head_dim: 16,
    attention_bias: false,
    hidden_activation: "gelu_pytorch_tanh",
    sliding_window: 64,
    attn_logit_softcapping: 50,
    final_logit_softcapping: 30,
    query_pre_attn_scalar: 16,
  },
  phi3: { model_type: "phi3", ...LLAMA, num_key_value_heads: 4 },
  phi: {
    model_type: "phi",
    hidden_size: 64,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    layer_norm_eps: 1e-5,
    partial_rotary_factor: 0.5,
    vocab_size: 96,
    max_position_embeddings: 128,
  },
  "phi-msft": {
    model_type: "phi-msft",
    n_embd: 64,
    n_layer: 2,
    n_head: 4,
    n_inner: 96,
    n_positions: 128,
    vocab_size: 96,
    rotary_dim: 8,
  },
  gpt_neox: {
    model_type: "gpt_neox",
    hidden_size: 64,
    intermediate_size: 96,
    num_attention_heads: 4,
    num_hidden_layers: 2,
    layer_norm_eps: 1e-5,
    rotary_pct: 0.25,
    use_parallel_residual: true,
    vocab_size: 96,
    max_position_embeddings: 128,
  },
  gpt2: {
    model_type: "gpt2",
    n_embd: 64,
    n_head: 4,
    n_layer: 2,
    n_positions: 128,
    layer_norm_epsilon: 1e-5,
    vocab_size: 96,
  },
  gemma3: { model_type: "gemma3", text_config: { model_type: "gemma3_text", ...GEMMA3_TEXT } },
  gemma3_text: { model_type: "gemma3_text", ...GEMMA3_TEXT },
  ...DENSE_TINY,
  ...MOE_TINY,
  ...MM_TINY,
};

function gemma3Tensors(prefix: string): GenTensor[] {
  return hfTensors("gemma2", { ...LLAMA, head_dim: 16, tie_word_embeddings: true }).flatMap((t) => {
    const extra = /input_layernorm/.test(t.name)
      ? ["q_norm", "k_norm"].map((n) => ({
        name: t.name.replace("input_layernorm", `self_attn.${n}`),
        shape: [16],
      }))
      : [];
    return [t, ...extra].map((x) => ({ ...x, name: prefix + x.name }));
  });
}

/**
 * phi3_v's CLIP tower is MLC's built-in CLIP-ViT-L/14-336 whatever config.json says
 * (`CLIPVISION_DEFAULT_CONFIG`, phi3v_model.py L25-L35, L63-L73): 303M parameters even in a tiny
 * checkpoint. Its tensors hold zeros here (no seeded data), and phi3_v converts one cell
 * (q4f16_1: the tower's cast path and the group-quantized projector and decoder) on reference and
 * cpu; its other cells are planned. The same CLIP code converts at tiny size under llava.
 */
const HUGE_TOWER = /^model\.vision_embed_tokens\.img_processor\./;

function tensorsFor(arch: string): GenTensor[] {
  if (arch === "gemma3") return gemma3Tensors("language_model.");
  if (arch === "gemma3_text") return gemma3Tensors("");
  // a BERT saved without its pooler (plain `bert` only warns about one; bert-bge declares it unused)
  if (arch === "bert") return hfTensors(arch, TINY[arch]).filter((t) => !t.name.startsWith("pooler."));
  return hfTensors(arch, TINY[arch]);
}

Deno.test("README holds the generated architectures x quantizations table", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const m = /<!-- support-table:start -->([\s\S]*?)<!-- support-table:end -->/.exec(readme);
  assertOk(m, "README.md has no support-table markers");
  // compare cell by cell (deno fmt pads and aligns Markdown tables)
  const cells = (t: string) =>
    t.trim().split("\n").map((row) =>
      row.split("|").map((c) => c.trim()).map((c) => /^:?-+:?$/.test(c) ? "-" : c)
    );
  assertEquals(cells(m![1]), cells(supportTableMarkdown()));
});

Deno.test("README holds the generated model types x MLC quantization kinds table; every type has MLC's kinds", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const m = /<!-- mlc-kinds-table:start -->([\s\S]*?)<!-- mlc-kinds-table:end -->/.exec(readme);
  assertOk(m, "README.md has no mlc-kinds-table markers");
  const cells = (t: string) =>
    t.trim().split("\n").map((row) =>
      row.split("|").map((c) => c.trim()).map((c) => /^:?-+:?$/.test(c) ? "-" : c)
    );
  assertEquals(cells(m![1]), cells(mlcKindsTableMarkdown()));
  assertEquals(Object.keys(MLC_QUANT_KINDS).sort(), Object.keys(ARCHITECTURES).sort());
  // we convert exactly MLC's no-quant and group-quant kinds (model.py make_quantization_functions)
  for (const [key, arch] of Object.entries(ARCHITECTURES)) {
    const ng = ["no-quant", "group-quant"].filter((_, i) => MLC_QUANT_KINDS[key].includes("NG"[i]));
    assertEquals([...arch.quantKinds], ng, key);
  }
  const rows = mlcKindsTableMarkdown().split("\n");
  assertEquals(rows.find((r) => r.startsWith("| `rwkv6` |")), "| `rwkv6` | ✓ | ✓ | – | – | – | – |");
  assertEquals(
    rows.find((r) => r.startsWith("| `nemotron` |")),
    "| `nemotron` | ✓ | ✓ | MLC only | MLC only | MLC only | – |",
  );
});

Deno.test("every supported cell converts a tiny checkpoint end to end; cpu and webgpu give the reference bytes", async () => {
  assertEquals(Object.keys(TINY).sort(), Object.keys(ARCHITECTURES).sort());
  const cpu = new WasmBackend();
  const gpu = await createWebGpuBackend({ allowFallback: true });
  if (!gpu) console.log("no WebGPU adapter: webgpu comparison skipped");
  for (const [key, arch] of Object.entries(ARCHITECTURES)) {
    const tensors = tensorsFor(key);
    const data = new Map(
      tensors.filter((t) => !HUGE_TOWER.test(t.name)).map((t) => [t.name, tensorData(t, "BF16", 3)]),
    );
    const checkpoint = syntheticCheckpoint([{ file: "model.safetensors", tensors }], { data });
    const config = fromDict(arch.configClass, TINY[key]);
    for (const quant of Object.keys(QUANTIZATIONS)) {
      if (!isSupported(key, quant)) continue;
      const scheme = QUANTIZATIONS[quant];
      const plan = planConversion({ arch, config, scheme, checkpoint });
      if (key === "phi3_v" && quant !== "q4f16_1") {
        // planned only (see HUGE_TOWER): every cell is a valid plan; q4f16_1 converts below
        assertEquals([plan.problems, plan.warnings], [[], []], `${key} ${quant}`);
        continue;
      }
      if (arch.refusesKnLayout === "moe" && scheme.kind === "group-quant" && scheme.layout === "KN") {
        // the tiny config is a MoE one: refused as by MLC (a dense one converts)
        assertOk(/KN layout/.test(plan.problems.join("\n")), `${key} ${quant}`);
        continue;
      }
      assertEquals(plan.problems, [], `${key} ${quant}`);
      assertEquals(plan.warnings, [], `${key} ${quant}`);
      const run = async (backend: QuantBackend) => {
        const out = memoryOutput();
        const r = await convertWeight({ plan, checkpoint, backend, output: out });
        return { r, out };
      };
      const ref = await run(new ReferenceBackend());
      assertEquals(ref.r.cache.metadata.ParamSize, plan.outputs.length, `${key} ${quant}`);
      assertOk(ref.r.cache.records.length >= 1);
      const others = [cpu, ...(gpu && quant === "q4f16_1" && key !== "phi3_v" ? [gpu] : [])];
      for (const b of others) {
        const o = await run(b);
        assertEquals(o.r.cache, ref.r.cache, `${key} ${quant} ${b.name}`);
        for (const [f, bytes] of ref.out.files) {
          assertEquals(o.out.files.get(f), bytes, `${key} ${quant} ${b.name} ${f}`);
        }
      }
    }
  }
  await gpu?.close();
});
