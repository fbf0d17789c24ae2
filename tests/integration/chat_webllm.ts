// The walkthrough's last step, end to end (its own task: `deno task test:integration`, run by .ci/run
// after the main suite; several minutes on a software adapter). A TinyLlama-1.1B-shaped checkpoint
// with random weights is converted by our CLI to q4f32_1 (context 1024) and run by MLC's own runtime
// (@mlc-ai/web-llm 0.2.30) with MLC's prebuilt library for TinyLlama at q4f32_1; greedy decoding must
// pick, step by step, the argmax of our reference forward pass over our files (src/forward/, itself
// tested against an independent Python implementation in tests/forward_test.ts), and the logits must agree. Skips, saying so, without
// ../shared/thirdparty (not part of a plain clone) or without a WebGPU adapter.
import { main } from "../../cli.ts";
import { openChat } from "../../src/chat/session.ts";
import { assertEquals, assertOk } from "../_assert.ts";
import { chatModelToken, writeChatModel } from "../_chat_model.ts";
import { denoSource } from "../../src/io/deno_fs.ts";
import { ReferenceModel } from "../../src/forward/model.ts";
import { topK } from "../../src/chat/logits.ts";

const argmax = (v: ArrayLike<number>): number => topK(v, 1)[0];

const LIB = new URL(
  "../../../shared/thirdparty/mlc-model-libs/TinyLlama-1.1B-Chat-v0.4-q4f32_1-ctx1k-webgpu.wasm",
  import.meta.url,
).pathname;

async function skipReason(): Promise<string | undefined> {
  try {
    await Deno.stat(LIB);
  } catch {
    return `${LIB} is absent (../shared/thirdparty is not part of a plain clone)`;
  }
  if (!(await navigator.gpu?.requestAdapter())) return "no WebGPU adapter";
}

async function cli(args: string[]): Promise<void> {
  const lines: string[] = [];
  const io = {
    out: (l: string) => lines.push(l),
    err: (l: string) => lines.push(l),
    progress() {},
    isTerminal: false,
  };
  const code = await main(args, io);
  assertEquals(code, 0, lines.join("\n"));
}

async function cliResult(args: string[]): Promise<{ code: number; lines: string[]; stdout: string[] }> {
  const lines: string[] = [], stdout: string[] = [];
  const io = {
    out: (l: string) => (stdout.push(l), lines.push(l)),
    err: (l: string) => lines.push(l),
    progress() {},
    isTerminal: false,
  };
  return { code: await main(args, io), lines, stdout };
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

Deno.test({
  name:
    "chat: MLC's runtime and prebuilt TinyLlama q4f32_1 library run our conversion; greedy ids = reference argmax",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const reason = await skipReason();
  if (reason) {
    console.log(`skipped: ${reason}`);
    return;
  }
  const tmp = await Deno.makeTempDir({ prefix: "mlc-chat-" });
  const src = `${tmp}/src`, out = `${tmp}/out`, out0 = `${tmp}/out-q0f32`;
  try {
    await writeChatModel(src);
    await cli(["convert_weight", src, "--quantization", "q4f32_1", "-o", out, "--quiet"]);
    await cli([
      "gen_config",
      src,
      "--quantization",
      "q4f32_1",
      "--conv-template",
      "LM",
      "--context-window-size",
      "1024",
      "-o",
      out,
      "--quiet",
    ]);
    // q0f32 of the same model: its float32 embedding and lm_head are 262 MB each on the GPU (stored as
    // bf16: 131 MB on disk), over llvmpipe's 128 MiB binding limit; chat must refuse before the GPU runs
    // (else the runtime computes with zeros and "succeeds"), naming the tensor and the limit
    await cli(["convert_weight", src, "--quantization", "q0f32", "-o", out0, "--quiet"]);
    await cli(["gen_config", src, "--quantization", "q0f32", "--conv-template", "LM", "-o", out0, "--quiet"]);
    await Deno.remove(src, { recursive: true });
    const ref = await ReferenceModel.open(denoSource(), out);
    const t0 = performance.now();
    const chat = await openChat({ dir: out, modelLib: LIB });
    console.log(`loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s on ${chat.adapter}`);
    try {
      await t.step(
        "prefill + 2 decode steps: the runtime's greedy id is the reference's argmax",
        async () => {
          let input = [1, 100, 200, 300, 31999];
          for (let step = 0; step < 3; step++) {
            const s0 = performance.now();
            const next = await chat.forwardGreedy(input, step === 0);
            const s1 = performance.now();
            const logits = chat.lastLogits()!;
            const expected = await ref.forward(input);
            const diff = maxAbsDiff(logits, expected);
            const top = [...expected].map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]);
            console.log(
              `step ${step}: runtime ${((s1 - s0) / 1000).toFixed(1)} s, id ${next}, reference top-2 ` +
                `${top[0][1]} (${top[0][0].toFixed(5)}), ${top[1][1]} (${top[1][0].toFixed(5)}), max |diff| ${
                  diff.toExponential(2)
                }`,
            );
            assertEquals(logits.length, 32000);
            assertEquals(next, argmax(expected));
            assertEquals(next, argmax(logits));
            // float32 on the GPU vs float64 sums here, the same dequantized weights: sums of 2048 to 5632
            // products through 22 layers; 1e-3 is far above the rounding seen (about 1e-5) and far
            // below a wrong weight or layout (differences of the size of the logits, ~1)
            assertOk(diff < 1e-3, `max |diff| ${diff}`);
            input = [next];
          }
        },
      );
      // the LM template (no system prompt, empty roles: mlc-llm conversation_template/LM.py) keeps the
      // prompt short (on llvmpipe a token costs seconds; chatml's system prompt alone is ~50 tokens): web-llm
      // 0.2.30 encodes the prompt's parts one by one (empty system message, "hello", empty assistant header)
      // and with this word-level vocabulary each is <unk> (0), after system_prefix_token_ids [1]
      await t.step(
        "a chat turn (LM template, greedy): the reply is the reference's 3 argmax tokens",
        async () => {
          await chat.reset();
          let streamed = "";
          const r = await chat.generate("hello", { maxTokens: 3, temperature: 0 }, (d) => (streamed += d));
          ref.reset();
          const ids: number[] = [];
          let input = r.promptTokens;
          for (let i = 0; i < 3; i++) {
            input = [argmax(await ref.forward(input))];
            ids.push(input[0]);
          }
          console.log(
            `prompt ${r.promptTokens}, reply ${JSON.stringify(r.text)} (reference ids ${ids}): ${r.tokens} ` +
              `tokens, first after ${r.firstTokenSeconds.toFixed(1)} s, ${r.seconds.toFixed(1)} s in all`,
          );
          assertEquals(r.promptTokens, [1, 0, 0, 0]);
          assertEquals(r.tokens, 3);
          assertEquals(r.text, ids.map(chatModelToken).join(" "));
          assertEquals(streamed, r.text);
        },
      );
    } finally {
      await chat.close();
      ref.close();
    }
    await t.step(
      "verify --logits: MLC's runtime and our reference forward pass agree (CLI, JSON)",
      async () => {
        const r = await cliResult([
          "verify",
          out,
          "--logits",
          "--model-lib",
          LIB,
          "--tokens",
          "1,100,200,300,31999",
          "--json",
        ]);
        console.log(r.lines.filter((l) => /Logits|max \|diff\||top-5/.test(l)).join("\n"));
        assertEquals(r.code, 0, r.lines.join("\n"));
        const j = JSON.parse(r.stdout.join("\n"));
        assertEquals([j.ok, j.logits.ok, j.logits.top5_overlap], [true, true, 5]);
        assertOk(j.logits.max_abs_diff < 1e-4, String(j.logits.max_abs_diff));
      },
    );
    await t.step(
      "q0f32 on llvmpipe: refused before the GPU runs, naming the tensor and the binding limit",
      async () => {
        const adapter = await navigator.gpu.requestAdapter();
        const limit = adapter!.limits.maxStorageBufferBindingSize;
        const r = await cliResult(["chat", out0, "--model-lib", LIB, "--prompt", "hello"]);
        assertEquals(r.code, 1, r.lines.join("\n"));
        const text = r.lines.join("\n");
        if (limit >= 262144000) {
          console.log(
            `adapter limit ${limit}: the q0f32 tensors fit, only the q4f32_1 library's names differ`,
          );
        } else {
          // (the embedding and lm_head are the same size: the first in the tensor cache is named first)
          assertOk(
            text.includes(
              `lm_head.weight is 262144000 bytes on the GPU, more than this adapter's ` +
                `maxStorageBufferBindingSize (${limit} bytes), and so is model.embed_tokens.weight`,
            ),
            text,
          );
        }
        assertOk(text.includes("the library is for q4f32_1, the model is q0f32"), text);
      },
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
