/**
 * `chat` command: the walkthrough's last step, in Deno. Loads a converted directory with a
 * prebuilt MLC model library in MLC's own runtime (`@mlc-ai/web-llm`) on `navigator.gpu` and
 * chats: one turn with `--prompt`, a REPL otherwise (an empty line or Ctrl-D ends it).
 *
 * @module
 */
import { type GenerateResult, openChat } from "../chat/session.ts";
import { type CommandSpec, intValue } from "./_args.ts";
import { type CommandContext, defineCommand } from "./_command.ts";
import { type Command, requirePermissions, UsageError } from "./_common.ts";

const SPEC = {
  name: "chat",
  usage: "OUT --model-lib LIB.wasm [--prompt TEXT] [options]",
  description:
    "Chat with a converted directory through MLC's own runtime (@mlc-ai/web-llm 0.2.30, imported\n" +
    "on first use) on WebGPU, with a prebuilt model library (v0_2_30 era, e.g. from\n" +
    "github.com/mlc-ai/binary-mlc-llm-libs web-llm-models/v0_2_30). The prompt is formatted by the\n" +
    "conversation template of mlc-chat-config.json. Without --prompt, a REPL (empty line ends it).\n" +
    "A software adapter (llvmpipe) has no shader-f16: use q4f32_1 or q0f32 libraries there.",
  positionals: [{ name: "OUT", help: "converted directory (mlc-chat-config.json, tensor-cache.json)" }],
  options: {
    "model-lib": { type: "string", metavar: "LIB", help: "prebuilt WebGPU model library (.wasm) (required)" },
    prompt: { type: "string", metavar: "TEXT", help: "one turn with this prompt, then exit" },
    "max-tokens": { type: "string", metavar: "N", help: "most tokens per reply (default: the config's)" },
    temperature: {
      type: "string",
      metavar: "T",
      help: "sampling temperature, >= 0; 0 is greedy (default: the config's)",
    },
  },
  jsonHelp: "print the reply and timings as JSON on stdout (with --prompt)",
} as const satisfies CommandSpec;

function temperatureValue(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = /^\s*[+]?(\d+(\.\d*)?|\.\d+)\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(t) || t < 0) {
    throw new UsageError(`invalid value for --temperature: "${v}" (a number >= 0)`, SPEC.name);
  }
  return t;
}

function stats(r: GenerateResult): string {
  const decode = r.tokens > 1 ? (r.tokens - 1) / Math.max(1e-9, r.seconds - r.firstTokenSeconds) : 0;
  return `${r.tokens} tokens; first token after ${r.firstTokenSeconds.toFixed(1)} s, ${
    decode.toFixed(2)
  } tokens/s after`;
}

async function* lines(): AsyncGenerator<string> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of Deno.stdin.readable) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
  if (buf) yield buf;
}

/** The runtime's messages: its per-shard and per-shader progress on the rewritable line (a terminal only). */
function runtimeLog(ctx: CommandContext<typeof SPEC>, line: string): void {
  if (/^(Fetching param cache|Loading GPU shader modules)\[/.test(line)) {
    if (ctx.io.isTerminal && !ctx.quiet) ctx.io.progress(line.replace(/\. It can take a while.*/, ""));
    return;
  }
  if (ctx.io.isTerminal && !ctx.quiet) ctx.io.progress("");
  ctx.log(line);
}

/** The `chat` run. */
async function run(ctx: CommandContext<typeof SPEC>): Promise<number> {
  const { values } = ctx;
  const lib = values["model-lib"];
  if (!lib) {
    throw new UsageError("--model-lib LIB.wasm is required (a prebuilt WebGPU model library)", SPEC.name);
  }
  const maxTokens = values["max-tokens"] === undefined
    ? undefined
    : intValue(values["max-tokens"], "max-tokens", SPEC.name, { min: 1 }, 1);
  const temperature = temperatureValue(values.temperature);
  if (ctx.json && values.prompt === undefined) throw new UsageError("--json needs --prompt", SPEC.name);
  const out = ctx.positionals[0];
  requirePermissions({ read: [out, lib], write: [] });
  const enc = new TextEncoder();
  const write = (s: string) => ctx.json || ctx.quiet ? undefined : Deno.stdout.writeSync(enc.encode(s));
  const t0 = performance.now();
  const chat = await openChat({ dir: out, modelLib: lib, onLog: (l) => runtimeLog(ctx, l) });
  try {
    const loadSeconds = (performance.now() - t0) / 1000;
    ctx.log(`Loaded ${out} with ${lib} on ${chat.adapter} in ${loadSeconds.toFixed(1)} s`);
    const turn = async (prompt: string) => {
      const r = await chat.generate(prompt, { maxTokens, temperature }, write);
      write("\n");
      ctx.log(stats(r));
      return r;
    };
    if (values.prompt !== undefined) {
      const r = await turn(values.prompt);
      ctx.result({
        ok: true,
        reply: r.text,
        tokens: r.tokens,
        load_seconds: loadSeconds,
        first_token_seconds: r.firstTokenSeconds,
        seconds: r.seconds,
        adapter: chat.adapter,
      });
      return 0;
    }
    ctx.log("Type a message (an empty line or Ctrl-D ends the chat).");
    write("> ");
    for await (const line of lines()) {
      if (!line.trim()) break;
      await turn(line);
      write("> ");
    }
    write("\n");
    return 0;
  } finally {
    await chat.close();
  }
}

/** The `chat` command. */
export const chatCmd: Command = defineCommand({
  spec: SPEC,
  summary: "chat with a converted model in MLC's WebGPU runtime (prebuilt model library)",
  run,
});
