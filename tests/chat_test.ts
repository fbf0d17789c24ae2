// The `chat` command without a GPU: the library-metadata checks (what makes a prebuilt MLC model
// library fit a converted directory), the CLI's argument and permission errors. The runs through
// MLC's runtime are in tests/integration/chat_webllm.ts (deno task test:integration).
import { main } from "../cli.ts";
import { libraryEraProblem, libraryProblems, readLibraryMetadata } from "../src/chat/library.ts";
import { convTemplate0230 } from "../src/chat/session.ts";
import { logitsAgreement } from "../src/chat/logits.ts";
import { assertEquals, assertOk, assertThrows } from "./_assert.ts";

const LIB = new URL(
  "../../shared/thirdparty/mlc-model-libs/TinyLlama-1.1B-Chat-v0.4-q4f32_1-ctx1k-webgpu.wasm",
  import.meta.url,
)
  .pathname;
const enc = new TextEncoder();

// MLC attaches the metadata as a JSON string constant read by the library's `_metadata` function
// (mlc-llm python/mlc_llm/compiler_pass/attach_metadata.py); in the wasm it sits among other data.
const META = {
  model_type: "llama",
  quantization: "q4f32_1",
  context_window_size: 1024,
  params: [
    { name: "model.embed_tokens.q_weight", shape: ["vocab_size", 256], dtype: "uint32", preprocs: [] },
    { name: "model.norm.weight", shape: [2048], dtype: "float32", preprocs: [] },
  ],
};
const blob = (json: string) =>
  new Uint8Array([0, 97, 115, 109, ...enc.encode(`xx${json}"}{ more data`), 0, 1]);

Deno.test("readLibraryMetadata: the embedded JSON object, ended by its closing brace", () => {
  assertEquals(readLibraryMetadata(blob(JSON.stringify(META).replaceAll('":', '": '))), META);
  assertThrows(
    () => readLibraryMetadata(enc.encode("\0asm no metadata")),
    /not an MLC model library: no model metadata/,
  );
  assertThrows(
    () => readLibraryMetadata(enc.encode('{"model_type": "llama", "params": [}')),
    /not valid JSON/,
  );
});

Deno.test("libraryProblems: quantization, missing and extra names, shapes (symbolic dims match any), binding limit", () => {
  const recs = [
    { name: "model.embed_tokens.q_weight", shape: [32000, 256], dtype: "uint32", nbytes: 32000 * 256 * 4 },
    { name: "model.norm.weight", shape: [2048], dtype: "float32", nbytes: 8192 },
  ];
  assertEquals(libraryProblems(META, "q4f32_1", recs, 134217728), []);
  assertEquals(libraryProblems(META, "q4f16_1", recs), ["the library is for q4f32_1, the model is q4f16_1"]);
  assertEquals(
    libraryProblems(META, undefined, [recs[0], { ...recs[1], shape: [4096] }, {
      ...recs[1],
      name: "lm_head.weight",
    }]),
    [
      "the library does not load 1 parameter(s) of the model: lm_head.weight",
      "model.norm.weight: the library expects float32[2048], the model has float32[4096]",
    ],
  );
  assertEquals(libraryProblems(META, undefined, [recs[1]]), [
    "the model lacks 1 parameter(s) the library loads: model.embed_tokens.q_weight",
  ]);
  // q0f32 TinyLlama: the float32 embedding is 32000 x 2048 x 4 = 262144000 bytes on the GPU, over llvmpipe's
  // 128 MiB, though it is stored as bf16 (f32-to-bf16): 131072000 bytes on disk, under the limit; the check
  // must count the decoded size (it counted the stored bytes before and let the runtime compute with zeros)
  const q0 = {
    model_type: "llama",
    quantization: "q0f32",
    params: [{ name: "model.embed_tokens.weight", shape: ["vocab_size", 2048], dtype: "float32" }],
  };
  const [p] = libraryProblems(q0, "q0f32", [{
    name: "model.embed_tokens.weight",
    shape: [32000, 2048],
    dtype: "float32",
    nbytes: 131072000,
  }], 134217728);
  assertEquals(
    p,
    "model.embed_tokens.weight is 262144000 bytes on the GPU, more than this adapter's maxStorageBufferBindingSize (134217728 bytes): " +
      "the runtime would compute with it as zeros; use a quantization that keeps every tensor under the limit",
  );
});

Deno.test("readLibraryMetadata: MLC's prebuilt TinyLlama q4f32_1 library (skips without ../shared/thirdparty)", async (t) => {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(LIB);
  } catch {
    console.log(`skipped: ${LIB} is absent (../shared/thirdparty is not part of a plain clone)`);
    return;
  }
  const meta = readLibraryMetadata(bytes);
  await t.step("its metadata", () => {
    assertEquals([meta.model_type, meta.quantization, meta.context_window_size], ["llama", "q4f32_1", 1024]);
    // 22 layers x 10 (qkv, o, gate_up, down: q_weight + q_scale each; 2 norms) + embed (2) + norm + lm_head (2)
    assertEquals(meta.params.length, 225);
    assertEquals(meta.params[2], {
      name: "model.layers.0.self_attn.qkv_proj.q_weight",
      shape: [2560, 256],
      dtype: "uint32",
      preprocs: [],
    });
  });
});

function capture(): { io: Parameters<typeof main>[1]; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (l) => out.push(l), err: (l) => err.push(l), progress() {}, isTerminal: false },
    out,
    err,
  };
}

Deno.test("chat CLI: argument errors exit 2 before anything is read", async () => {
  const cases: [string[], RegExp][] = [
    [[], /the following arguments are required: OUT/],
    [["out"], /--model-lib LIB\.wasm is required/],
    [["out", "--model-lib"], /option --model-lib needs a value/],
    [
      ["out", "--model-lib", "l.wasm", "--temperature", "-1"],
      /invalid value for --temperature: "-1" \(a number >= 0\)/,
    ],
    [["out", "--model-lib", "l.wasm", "--temperature", "hot"], /invalid value for --temperature: "hot"/],
    [
      ["out", "--model-lib", "l.wasm", "--max-tokens", "0"],
      /invalid value for --max-tokens: "0" \(an integer >= 1\)/,
    ],
    [["out", "--model-lib", "l.wasm", "--json"], /--json needs --prompt/],
    [["out", "--model-lib", "l.wasm", "--top-k", "3"], /unknown option --top-k/],
  ];
  for (const [args, re] of cases) {
    const c = capture();
    assertEquals(await main(["chat", ...args], c.io), 2, args.join(" "));
    assertOk(re.test(c.err[0]), `${args.join(" ")}: ${c.err[0]}`);
  }
});

Deno.test("chat CLI: a missing read permission prints the deno run line (exit 3)", async () => {
  const p = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-lock",
      new URL("../cli.ts", import.meta.url).pathname,
      "chat",
      "out-dir",
      "--model-lib",
      "m.wasm",
      "--prompt",
      "hi",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(p.stderr);
  assertEquals(p.code, 3, err);
  assertOk(err.includes("Missing permission: read out-dir, read m.wasm. Run:"), err);
  assertOk(
    /deno run --allow-read=out-dir,m\.wasm \S+cli\.ts chat out-dir --model-lib m\.wasm --prompt hi/.test(err),
    err,
  );
});

Deno.test("chat CLI: a directory that is not a conversion is named", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const c = capture();
    assertEquals(await main(["chat", dir, "--model-lib", `${dir}/m.wasm`, "--prompt", "hi"], c.io), 1);
    assertOk(c.err[0].startsWith(`error: cannot read ${dir}/mlc-chat-config.json`), c.err[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("convTemplate0230: nulls dropped, an empty stop_str never matches (0.2.30 would stop at the empty sep)", () => {
  // the LM template as our gen_config writes it (mlc-llm python/mlc_llm/conversation_template/LM.py)
  const lm = {
    name: "LM",
    system_prefix_token_ids: [1],
    seps: [""],
    stop_str: [],
    stop_token_ids: [2],
    x: null,
  };
  assertEquals(convTemplate0230(lm), {
    name: "LM",
    system_prefix_token_ids: [1],
    seps: [""],
    stop_str: ["\u0000"],
    stop_token_ids: [2],
  });
  const chatml = {
    name: "chatml",
    system_prefix_token_ids: null,
    seps: ["<|im_end|>\n"],
    stop_str: ["<|im_end|>"],
  };
  assertEquals(convTemplate0230(chatml), {
    name: "chatml",
    seps: ["<|im_end|>\n"],
    stop_str: ["<|im_end|>"],
  });
});

Deno.test("verify --logits: argument errors exit 2 before anything is read", async () => {
  const cases: [string[], RegExp][] = [
    [["out", "--logits"], /--logits needs --model-lib LIB\.wasm/],
    [["out", "--model-lib", "l.wasm"], /--model-lib and --tokens go with --logits/],
    [["out", "--tokens", "1,2"], /--model-lib and --tokens go with --logits/],
    [
      ["out", "--logits", "--model-lib", "l.wasm", "--tokens", "1,-2"],
      /invalid value for --tokens: "1,-2" \(comma-separated token ids\)/,
    ],
  ];
  for (const [args, re] of cases) {
    const c = capture();
    assertEquals(await main(["verify", ...args], c.io), 2, args.join(" "));
    assertOk(re.test(c.err[0]), `${args.join(" ")}: ${c.err[0]}`);
  }
});

Deno.test("verify --logits: a missing read permission names OUT and the library (exit 3)", async () => {
  const p = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-lock",
      new URL("../cli.ts", import.meta.url).pathname,
      "verify",
      "o",
      "--logits",
      "--model-lib",
      "m.wasm",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(p.stderr);
  assertEquals(p.code, 3, err);
  assertOk(/deno run --allow-read=o,m\.wasm \S+cli\.ts verify o --logits --model-lib m\.wasm/.test(err), err);
});

Deno.test("logitsAgreement: tolerance relative to the largest logit, top-1 must agree, NaN fails", () => {
  const ref = [0.5, -2, 4, 1, 3, 0];
  const near = logitsAgreement(ref.map((v) => v + 3e-3), ref); // tolerance 1e-3 x 4
  assertEquals([near.ok, near.tolerance, near.top5Overlap, near.referenceTop5], [true, 4e-3, 5, [
    2,
    4,
    3,
    0,
    5,
  ]]);
  const far = logitsAgreement(ref.map((v) => v + 5e-3), ref);
  assertEquals(far.ok, false);
  // within tolerance but another argmax: 4 and 3.9999 swapped
  const swapped = logitsAgreement([0.5, -2, 3.9999, 1, 4, 0], [0.5, -2, 4, 1, 3.9999, 0]);
  assertEquals([swapped.ok, swapped.maxAbsDiff < 2e-4, swapped.runtimeTop5[0]], [false, true, 4]);
  assertEquals(logitsAgreement([NaN, 0, 0, 0, 0, 0], ref).ok, false);
  assertThrows(() => logitsAgreement([1], ref), /the runtime gave 1 logits, the reference 6/);
});

Deno.test("libraryEraProblem: a library with metadata fields of a later MLC era is refused, naming them", () => {
  assertEquals(libraryEraProblem(META), undefined);
  // MLC's attach_metadata added pipeline_parallel_stages (and later disaggregation) after the v0_2_30 libraries
  const later = { ...META, pipeline_parallel_stages: 1, disaggregation: false };
  const p = "the library is newer than the v0_2_30 libraries web-llm 0.2.30 runs (its metadata has " +
    "pipeline_parallel_stages, disaggregation): use a library from binary-mlc-llm-libs web-llm-models/v0_2_30, " +
    "or run it with a matching web-llm";
  assertEquals(libraryEraProblem(later), p);
  assertEquals(
    libraryProblems(readLibraryMetadata(blob(JSON.stringify(later).replaceAll('":', '": '))), "q4f32_1", [])
      .slice(0, 1),
    [
      p,
    ],
  );
});
