// gen_config: JSON text, override/generation rules, templates, tokenizer files and info, errors.
import { assertEquals, assertOk, assertRejects, assertThrows } from "./_assert.ts";
import {
  CONV_TEMPLATES,
  detectConvTemplate,
  detectTokenizerInfo,
  genConfig,
  getConvTemplate,
  hfTokenizerLength,
  renderConversation,
} from "../src/genconfig/mod.ts";
import { loadModelConfig } from "../src/model.ts";
import { memoryOutput } from "../src/io/memory.ts";
import { dumpPyJson } from "../src/pyjson.ts";
import { sentencePieceToTokenizerJson } from "../src/tokenizer/sentencepiece.ts";
import { genConfigCommand } from "../src/cli/gen_config.ts";
import {
  modelDir,
  readRealTokenizerFile,
  type RealTokenizer,
  renamingOutput,
  STUB_TOKENIZERS,
} from "./_genconfig_helpers.ts";

const dec = new TextDecoder();
const json = (b: Uint8Array) => JSON.parse(dec.decode(b));

// spec genconfig.md §8.1 (a real HEAD output without transformers), RedPajama-INCITE-Chat-3B-v1.
const REDPAJAMA_CONFIG =
  '{"_name_or_path": "x", "architectures": ["GPTNeoXForCausalLM"], "bos_token_id": 0, ' +
  '"eos_token_id": 0, "hidden_act": "gelu", "hidden_size": 2560, "initializer_range": 0.02, ' +
  '"intermediate_size": 10240, "layer_norm_eps": 1e-05, "max_position_embeddings": 2048, "model_type": "gpt_neox", ' +
  '"num_attention_heads": 32, "num_hidden_layers": 32, "rotary_emb_base": 10000, "rotary_pct": 1.0, ' +
  '"tie_word_embeddings": false, "torch_dtype": "float16", "transformers_version": "4.28.1", "use_cache": true, ' +
  '"use_parallel_residual": false, "vocab_size": 50432}';
const REDPAJAMA_EXPECTED = `{
  "version": "0.1.0",
  "model_type": "gpt_neox",
  "quantization": "q4f16_1",
  "model_config": {
    "use_parallel_residual": false,
    "hidden_size": 2560,
    "intermediate_size": 10240,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "layer_norm_eps": 1e-05,
    "vocab_size": 50432,
    "rotary_pct": 1.0,
    "position_embedding_base": 10000,
    "context_window_size": 2048,
    "head_dim": 80,
    "prefill_chunk_size": 2048,
    "tensor_parallel_shards": 1,
    "ffn_out_dtype": "float32",
    "max_batch_size": 128
  },
  "vocab_size": 50432,
  "context_window_size": 2048,
  "sliding_window_size": -1,
  "prefill_chunk_size": 2048,
  "attention_sink_size": -1,
  "tensor_parallel_shards": 1,
  "pipeline_parallel_stages": 1,
  "active_vocab_size": 1,
  "temperature": 1.0,
  "presence_penalty": 0.0,
  "frequency_penalty": 0.0,
  "repetition_penalty": 1.0,
  "top_p": 1.0,
  "tokenizer_files": [
    "tokenizer.json",
    "tokenizer_config.json"
  ],
  "tokenizer_info": {
    "token_postproc_method": "byte_level",
    "prepend_space_in_encode": false,
    "strip_space_in_decode": false
  },
  "conv_template": {
    "name": "redpajama_chat",
    "system_template": "{system_message}",
    "system_message": "",
    "system_prefix_token_ids": null,
    "add_role_after_system_message": true,
    "roles": {
      "user": "<human>",
      "assistant": "<bot>"
    },
    "role_templates": {
      "user": "{user_message}",
      "assistant": "{assistant_message}",
      "tool": "{tool_message}"
    },
    "messages": [],
    "seps": [
      "\\n"
    ],
    "role_content_sep": ": ",
    "role_empty_sep": ":",
    "stop_str": [
      "<human>"
    ],
    "stop_token_ids": [
      0
    ],
    "strip_reasoning_in_history": false,
    "function_string": "",
    "use_function_calling": false
  },
  "pad_token_id": 0,
  "bos_token_id": 0,
  "eos_token_id": 0,
  "model_task": "chat",
  "embedding_metadata": null
}`;

Deno.test("gen_config: RedPajama output equals MLC's text byte for byte (spec §8.1)", async () => {
  const out = renamingOutput();
  const logs: string[] = [];
  const r = await genConfig({
    source: modelDir({
      "config.json": REDPAJAMA_CONFIG,
      "generation_config.json": '{"bos_token_id": 0, "eos_token_id": 0}',
      "tokenizer.json": STUB_TOKENIZERS.byteLevel, // one token: active_vocab_size 1 (§8.1 has 50432 without HF)
      "tokenizer_config.json": "{}",
    }),
    output: out,
    config: "m",
    outputDir: "out",
    quantization: "q4f16_1",
    convTemplate: "redpajama_chat",
    log: (l, m) => logs.push(`${l}: ${m}`),
  });
  assertEquals(r.text, REDPAJAMA_EXPECTED);
  assertEquals(dec.decode(out.files.get("mlc-chat-config.json")!), REDPAJAMA_EXPECTED);
  assertEquals([...out.files.keys()].sort(), [
    "mlc-chat-config.json",
    "tokenizer.json",
    "tokenizer_config.json",
  ]);
  assertEquals(out.ops.slice(-2), [
    "write .mlc-chat-config.json.tmp",
    "rename .mlc-chat-config.json.tmp mlc-chat-config.json",
  ]);
  assertEquals(logs.filter((l) => l.includes("Setting") || l.includes("Overriding")), [
    "info: Overriding max_batch_size from 1 to 128",
    "info: [generation_config.json] Setting bos_token_id: 0",
    "info: [generation_config.json] Setting eos_token_id: 0",
    "info: [System default] Setting pad_token_id: 0",
    "info: [System default] Setting temperature: 1.0",
    "info: [System default] Setting presence_penalty: 0.0",
    "info: [System default] Setting frequency_penalty: 0.0",
    "info: [System default] Setting repetition_penalty: 1.0",
    "info: [System default] Setting top_p: 1.0",
    "info: Overriding active_vocab_size from 50432 to 1 using HF tokenizer",
  ]);
});

const LLAMA2_CONFIG = '{"architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, ' +
  '"hidden_size": 4096, "intermediate_size": 11008, "max_position_embeddings": 2048, "model_type": "llama", ' +
  '"num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32, "rms_norm_eps": 1e-05, ' +
  '"rope_scaling": null, "tie_word_embeddings": false, "vocab_size": 32000}';

Deno.test("gen_config: overrides, two-pass clamp and generation_config rules (spec §8.2)", async () => {
  const logs: string[] = [];
  const r = await genConfig({
    source: modelDir({
      "config.json": LLAMA2_CONFIG,
      "generation_config.json":
        '{"temperature": 1, "top_p": 0.9, "eos_token_id": [2, 5], "repetition_penalty": null}',
    }),
    output: memoryOutput(),
    config: "m/config.json",
    quantization: "q4f16_1",
    convTemplate: "llama-2",
    overrides: {
      context_window_size: 2048,
      prefill_chunk_size: 4096,
      tensor_parallel_shards: 2,
      sliding_window_size: 100,
      attention_sink_size: 4,
      disaggregation: true,
    },
    log: (l, m) => logs.push(`${l}: ${m}`),
  });
  const mc = r.config.model_config as Record<string, unknown>;
  assertEquals(
    dumpPyJson(
      [mc.tensor_parallel_shards, mc.pipeline_parallel_stages, mc.max_batch_size, mc.disaggregation],
      null,
    ),
    "[2, 1, 128, true]",
  );
  assertEquals(Object.keys(mc).slice(-4), [
    "tensor_parallel_shards",
    "pipeline_parallel_stages",
    "max_batch_size",
    "disaggregation",
  ]);
  assertEquals(r.config.prefill_chunk_size, 2048);
  assertEquals(r.config.tensor_parallel_shards, 2);
  assertOk(!("disaggregation" in r.config));
  assertEquals(
    dumpPyJson(
      [r.config.temperature, r.config.top_p, r.config.eos_token_id, r.config.repetition_penalty],
      null,
    ),
    "[1, 0.9, [2, 5], 1.0]",
  );
  assertEquals(logs.filter((l) => /Overrid|Cannot|repetition/.test(l)), [
    "info: Overriding context_window_size from 2048 to 2048",
    "warning: Warning: Cannot override sliding_window_size, because LlamaConfig does not have this field",
    "info: Overriding prefill_chunk_size from 2048 to 4096",
    "warning: Warning: Cannot override attention_sink_size, because LlamaConfig does not have this field",
    "info: Overriding max_batch_size from 1 to 128",
    "info: Overriding tensor_parallel_shards from 1 to 2",
    "info: Overriding disaggregation from False to True",
    "info: Overriding prefill_chunk_size from 4096 to 2048",
    "info: [generation_config.json] Setting repetition_penalty: None",
    "info: [System default] Setting repetition_penalty: 1.0",
  ]);
  // No tokenizer files at all: defaults, with MLC's warning.
  assertEquals(r.config.tokenizer_files, []);
  assertEquals(r.config.tokenizer_info, {
    token_postproc_method: "byte_fallback",
    prepend_space_in_encode: false,
    strip_space_in_decode: false,
  });
});

Deno.test("gen_config: Gemma2 context = sliding window, pass-2 prefill clamp, list eos (spec §8.2)", async () => {
  const logs: string[] = [];
  const r = await genConfig({
    source: modelDir({
      "config.json": '{"model_type": "gemma2", "hidden_size": 2304, "intermediate_size": 9216, ' +
        '"attention_bias": false, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, ' +
        '"num_hidden_layers": 26, "rms_norm_eps": 1e-06, "vocab_size": 256000, "hidden_activation": ' +
        '"gelu_pytorch_tanh", "max_position_embeddings": 8192, "sliding_window": 4096, "pad_token_id": 0, ' +
        '"eos_token_id": [1, 107], "bos_token_id": 2, "attn_logit_softcapping": 50.0, ' +
        '"final_logit_softcapping": 30.0, "query_pre_attn_scalar": 256}',
    }),
    output: memoryOutput(),
    config: "m",
    quantization: "q4f16_1",
    convTemplate: "gemma_instruction",
    log: (_l, m) => logs.push(m),
  });
  assertEquals([r.config.context_window_size, r.config.prefill_chunk_size, r.config.sliding_window_size], [
    4096,
    4096,
    -1,
  ]);
  assertEquals(r.config.eos_token_id, [1, 107]);
  assertOk(logs.includes("Overriding prefill_chunk_size from 8192 to 4096"));
});

Deno.test("conv templates: 53 registered, data equals the spec's conv_templates.json", async () => {
  const spec = JSON.parse(
    await Deno.readTextFile(new URL("./fixtures/spec/conv_templates.json", import.meta.url)),
  );
  assertEquals(CONV_TEMPLATES.size, 53);
  assertEquals([...CONV_TEMPLATES.keys()], Object.keys(spec));
  for (const [name, t] of CONV_TEMPLATES) assertEquals(dumpPyJson(t, 2), dumpPyJson(spec[name], 2));
});

Deno.test("conv templates: unknown names fail with the closest names", () => {
  assertThrows(
    () => getConvTemplate("llama3"),
    /Unknown conversation template "llama3". Closest registered templates: llama-3, /,
  );
  assertThrows(() => getConvTemplate("llama_default"), /Closest registered templates: .*llama-2/);
  assertThrows(() => getConvTemplate("qwen-2"), /Closest registered templates: qwen2,/);
});

Deno.test("conv templates: as_prompt rendering (llama-2 without role after system, llama-3)", () => {
  const msgs = [["user", "Hi"], ["assistant", "Hello"], ["user", "Bye"], ["assistant", null]] as const;
  assertEquals(
    renderConversation(getConvTemplate("llama-2"), msgs, "S"),
    "[INST] <<SYS>>\nS\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] Bye [/INST] ",
  );
  assertEquals(
    renderConversation(getConvTemplate("llama-3"), msgs, "S"),
    "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi" +
      "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>user" +
      "<|end_header_id|>\n\nBye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
  );
});

async function realTokenizer(tok: RealTokenizer) {
  return {
    json: json(await readRealTokenizerFile(tok, "tokenizer.json")),
    config: json(await readRealTokenizerFile(tok, "tokenizer_config.json")),
  };
}

Deno.test("tokenizer_info on real tokenizers (npm @lenml/tokenizer-*)", async () => {
  const expected: Record<RealTokenizer, [string, boolean, boolean]> = {
    llama2: ["byte_fallback", true, true],
    llama3: ["byte_level", false, false],
    qwen3: ["byte_level", false, false],
    gemma3: ["byte_fallback", false, false],
  };
  for (const [tok, [m, p, s]] of Object.entries(expected) as [RealTokenizer, [string, boolean, boolean]][]) {
    const info = detectTokenizerInfo((await realTokenizer(tok)).json);
    assertEquals(
      info,
      { token_postproc_method: m, prepend_space_in_encode: p, strip_space_in_decode: s },
      tok,
    );
  }
});

Deno.test("HF tokenizer length (active_vocab_size) on real tokenizers", async () => {
  const n: Record<RealTokenizer, number> = { llama2: 32000, llama3: 128256, qwen3: 151669, gemma3: 262145 };
  for (const tok of Object.keys(n) as RealTokenizer[]) {
    const t = await realTokenizer(tok);
    assertEquals(hfTokenizerLength(t.json, t.config), n[tok], tok);
  }
});

Deno.test("--conv-template auto on real chat templates", async () => {
  const l3 = await realTokenizer("llama3");
  const r3 = detectConvTemplate(l3.config, l3.json);
  assertEquals([r3.name, r3.matches, r3.withoutSystem], ["llama-3", ["llama-3", "llama-3_1"], false]);
  const q = await realTokenizer("qwen3");
  const rq = detectConvTemplate(q.config, q.json);
  assertEquals(rq.name, "qwen3"); // ChatML family; <think> in the template prefers qwen3 over qwen2
  assertOk(rq.matches.includes("qwen2") && rq.matches.includes("chatml"));
  const g = await realTokenizer("gemma3");
  const rg = detectConvTemplate(g.config, g.json);
  assertEquals([rg.name, rg.withoutSystem], ["gemma3_instruction", true]); // Gemma folds the system prompt into the user turn
  const l2 = await realTokenizer("llama2");
  assertThrows(
    () => detectConvTemplate(l2.config, l2.json),
    /has no "chat_template". Fix: pass a template name/,
  );
});

Deno.test("--conv-template auto: no match shows the nearest template and a diff", () => {
  const zephyr = "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}</s>\n{% endfor %}" +
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}";
  let msg = "";
  try {
    detectConvTemplate({ chat_template: zephyr, bos_token: "<s>", eos_token: "</s>" });
  } catch (e) {
    msg = (e as Error).message;
  }
  assertOk(msg.startsWith("--conv-template auto: no registered conversation template renders like"), msg);
  assertOk(/Nearest: tinyllama_v1_0\./.test(msg), msg);
  assertOk(msg.includes("  <|system|>⏎\n+ You are a careful assistant.</s><|user|>⏎"), msg);
  assertOk(msg.includes("- You are a careful assistant.</s>⏎\n- <|user|>⏎"), msg);
  assertOk(msg.includes("Fix: pass --conv-template tinyllama_v1_0"), msg);
});

Deno.test("gen_config auto + real Qwen3 tokenizer: files, info, active_vocab_size", async () => {
  const q = {
    tj: await readRealTokenizerFile("qwen3", "tokenizer.json"),
    tc: await readRealTokenizerFile("qwen3", "tokenizer_config.json"),
  };
  const out = memoryOutput();
  const r = await genConfig({
    source: modelDir({
      "config.json":
        '{"model_type": "qwen3", "hidden_act": "silu", "hidden_size": 1024, "intermediate_size": 3072, ' +
        '"attention_bias": false, "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, ' +
        '"rms_norm_eps": 1e-06, "rope_theta": 1000000, "vocab_size": 151936, "head_dim": 128, ' +
        '"max_position_embeddings": 40960, "tie_word_embeddings": true, "bos_token_id": 151643, "eos_token_id": 151645}',
      "tokenizer.json": q.tj,
      "tokenizer_config.json": q.tc,
    }),
    output: out,
    config: "m",
    quantization: "q4f16_1",
    convTemplate: "auto",
  });
  assertEquals(r.convTemplate, "qwen3");
  assertEquals((r.config.conv_template as { name: string }).name, "qwen3");
  assertEquals([r.config.context_window_size, r.config.prefill_chunk_size, r.config.active_vocab_size], [
    40960,
    2048,
    151669,
  ]);
  assertEquals(r.config.tokenizer_files, ["tokenizer.json", "tokenizer_config.json"]);
  assertEquals(out.files.get("tokenizer.json"), q.tj); // byte-identical copy
});

Deno.test("gen_config: tokenizer.model only -> converted tokenizer.json (SentencePiece)", async () => {
  const model = await Deno.readFile(new URL("./fixtures/sentencepiece/llama_bpe.model", import.meta.url));
  const out = memoryOutput();
  const r = await genConfig({
    source: modelDir({ "config.json": LLAMA2_CONFIG, "tokenizer.model": model }),
    output: out,
    config: "m",
    quantization: "q0f16",
    convTemplate: "llama-2",
    convertSentencePiece: (m) => sentencePieceToTokenizerJson(m),
  });
  assertEquals(r.config.tokenizer_files, ["tokenizer.model", "tokenizer.json"]);
  assertEquals(r.config.tokenizer_info, {
    token_postproc_method: "byte_fallback",
    prepend_space_in_encode: true,
    strip_space_in_decode: true,
  });
  assertEquals(r.config.active_vocab_size, 32000); // converted files do not count (MLC reads the source dir)
  assertOk(out.files.has("tokenizer.json"));
  // A failing converter is a warning, as in MLC.
  const logs: string[] = [];
  const r2 = await genConfig({
    source: modelDir({ "config.json": LLAMA2_CONFIG, "tokenizer.model": new Uint8Array([1, 2, 3]) }),
    output: memoryOutput(),
    config: "m",
    quantization: "q0f16",
    convTemplate: "llama-2",
    convertSentencePiece: () => {
      throw new Error("bad model");
    },
    log: (l, m) => logs.push(`${l}: ${m}`),
  });
  assertEquals(r2.config.tokenizer_files, ["tokenizer.model"]);
  assertOk(
    logs.some((l) =>
      l.startsWith("warning: Converting to `tokenizer.json` Failed") && l.includes("bad model")
    ),
  );
});

Deno.test("gen_config errors name the file and the fix", async () => {
  const run = (files: Record<string, string>, extra: Partial<Parameters<typeof genConfig>[0]> = {}) =>
    genConfig({
      source: modelDir(files),
      output: memoryOutput(),
      config: "m",
      quantization: "q4f16_1",
      convTemplate: "llama-2",
      ...extra,
    });
  await assertRejects(() => run({}), /Cannot find config.json: neither m nor m\/config.json is a file. Fix:/);
  await assertRejects(
    () => run({ "config.json": "{oops" }),
    /m\/config.json is not valid JSON .* Fix: re-download/,
  );
  await assertRejects(
    () => run({ "config.json": "{}" }),
    /'model_type' not found in: m\/config.json. Fix: pass --model-type/,
  );
  await assertRejects(
    () => run({ "config.json": '{"model_type": "bloom"}' }),
    /m\/config.json: Unknown model type "bloom"/,
  );
  await assertRejects(
    () => run({ "config.json": LLAMA2_CONFIG }, { quantization: "q5" }),
    /Unknown quantization "q5".*--quantization/,
  );
  await assertRejects(
    () => run({ "config.json": '{"model_type": "llama", "hidden_size": 8}' }),
    /m\/config.json: LlamaConfig is missing required field\(s\) in config.json: intermediate_size/,
  );
  await assertRejects(
    () =>
      run({ "config.json": LLAMA2_CONFIG, "tokenizer.json": "version https://git-lfs.github.com/spec/v1" }),
    /m\/tokenizer.json is not valid JSON .*Git LFS pointer/,
  );
  // Duplicated added tokens: files copied, config not written (as MLC).
  const out = memoryOutput();
  const dup = JSON.stringify({ added_tokens: [{ id: 0, content: "<s>" }, { id: 1, content: "<s>" }] });
  await assertRejects(
    () => run({ "config.json": LLAMA2_CONFIG, "tokenizer.json": dup }, { output: out }),
    /duplicated token <s>/,
  );
  assertEquals([...out.files.keys()], ["tokenizer.json"]);
});

Deno.test("gen_config CLI: writes only into -o (created), exit codes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/model`);
    await Deno.writeTextFile(`${dir}/model/config.json`, REDPAJAMA_CONFIG);
    await Deno.writeTextFile(`${dir}/model/tokenizer.json`, STUB_TOKENIZERS.byteLevel);
    await Deno.writeTextFile(`${dir}/model/special_tokens_map.json`, "{}");
    const err: string[] = [];
    const io = { out: () => {}, err: (l: string) => err.push(l), progress: () => {}, isTerminal: false };
    const code = await genConfigCommand(
      [
        `${dir}/model`,
        "--quantization",
        "q4f16_1",
        "--conv-template",
        "redpajama_chat",
        "-o",
        `${dir}/out/x`,
      ],
      io,
    );
    assertEquals(code, 0);
    const names = [];
    for await (const e of Deno.readDir(`${dir}/out/x`)) names.push(e.name);
    assertEquals(names.sort(), ["mlc-chat-config.json", "tokenizer.json"]);
    const dirNames = [];
    for await (const e of Deno.readDir(dir)) dirNames.push(e.name);
    assertEquals(dirNames.sort(), ["model", "out"]);
    assertOk(
      err.some((l) =>
        /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] INFO gen_config: Found model type: gpt_neox\./.test(l)
      ),
    );
    assertEquals(
      await genConfigCommand([`${dir}/model`, "--quantization", "q4f16_1", "-o", `${dir}/o2`], io),
      2,
    );
    assertOk(
      err.at(-2)!.startsWith("error: the following arguments are required: --conv-template"),
      err.at(-2),
    );
    assertEquals(err.at(-1), 'Run "cli.ts gen_config --help" for the options.');
    assertEquals(
      await genConfigCommand([
        `${dir}/model`,
        "--quantization",
        "q4f16_1",
        "--conv-template",
        "llama3",
        "-o",
        `${dir}/o3`,
      ], io),
      2, // (a usage error: the value of --conv-template)
    );
    assertOk(
      err.at(-2)!.startsWith(
        'error: invalid value for --conv-template: "llama3" (Unknown conversation template "llama3". ' +
          "Closest registered templates: llama-3",
      ),
      err.at(-2),
    );
    assertEquals(
      await genConfigCommand([
        `${dir}/model`,
        "--quantization",
        "q4f16_1",
        "--conv-template",
        "gpt2",
        "-o",
        `${dir}/o4`,
        "--prefill-chunk-size",
        "x",
      ], io),
      2,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("convert_weight, verify and gen_config locate CONFIG by one rule (MLC's detect_config)", async () => {
  // mlc_llm/support/auto_config.py detect_config: a directory's config.json, or the file given
  // (any name); loadModelConfig (convert_weight, verify) and genConfig both call locateConfig
  const files = { "config.json": LLAMA2_CONFIG, "llama.cfg": LLAMA2_CONFIG };
  const located: string[][] = [];
  for (const config of ["m", "m/", "m/config.json", "m/llama.cfg"]) {
    const model = await loadModelConfig(modelDir(files), config);
    const logs: string[] = [];
    await genConfig({
      source: modelDir(files),
      output: memoryOutput(),
      config,
      quantization: "q4f16_1",
      convTemplate: "llama-2",
      log: (_level, m) => logs.push(m),
    });
    const found = logs.find((l) => l.startsWith("Found model configuration: "));
    located.push([model.configPath, model.dir, found!.slice("Found model configuration: ".length)]);
  }
  assertEquals(located, [
    ["m/config.json", "m", "m/config.json"],
    ["m/config.json", "m", "m/config.json"],
    ["m/config.json", "m", "m/config.json"],
    ["m/llama.cfg", "m", "m/llama.cfg"],
  ]);
  await assertRejects(() => loadModelConfig(modelDir(files), "n"), /neither n nor n\/config.json is a file/);
});
