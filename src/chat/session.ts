/**
 * Chat with a converted directory through MLC's own browser runtime, `@mlc-ai/web-llm`, on
 * Deno's `navigator.gpu`: the directory's `mlc-chat-config.json` (conversation template,
 * tokenizer files, generation defaults), its weights and a prebuilt model library are served to
 * the runtime from disk inside the process (no server, no network). Every mismatch the library's
 * metadata can show (quantization, parameter names and shapes, a tensor larger than the
 * adapter's binding limit, a missing `shader-f16`) is an error before the GPU is touched, and
 * uncaptured WebGPU errors fail the call instead of yielding garbage.
 *
 * The runtime is imported when a session opens (`npm:@mlc-ai/web-llm@0.2.30`, the release of
 * the `v0_2_30` prebuilt libraries), so converting never downloads it.
 *
 * @module
 */
import { CHAT_ORIGIN, installWebLlmEnv, type WebLlmEnv } from "./_deno_env.ts";
import { type CacheParam, type LibraryMetadata, libraryProblems, readLibraryMetadata } from "./library.ts";

/** Options of {@link openChat}. */
export interface OpenChatOptions {
  /** The converted directory (mlc-chat-config.json, tensor-cache.json, shards, tokenizer). */
  dir: string;
  /** The prebuilt model library (`.wasm`, WebGPU). */
  modelLib: string;
  /** Loading progress and runtime messages. */
  onLog?: (line: string) => void;
}

/** Options of one generation. */
export interface GenerateOptions {
  /** Most tokens to generate (default: the config's max_gen_len). */
  maxTokens?: number;
  /** Sampling temperature; 0 is greedy (default: the config's). */
  temperature?: number;
}

/** What {@link ChatSession.generate} returns. */
export interface GenerateResult {
  /** The reply. */
  text: string;
  /** Tokens generated. */
  tokens: number;
  /** Seconds from the call to the first token. */
  firstTokenSeconds: number;
  /** Seconds of the whole call. */
  seconds: number;
  /** The prompt's token ids, as the conversation template and tokenizer made them. */
  promptTokens: number[];
}

/** An open chat. */
export interface ChatSession {
  /** The adapter's description (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"). */
  readonly adapter: string;
  /** The library's metadata. */
  readonly library: LibraryMetadata;
  /** One chat turn; `onText` gets the reply as it grows (the new part each time). */
  generate(prompt: string, opts?: GenerateOptions, onText?: (delta: string) => void): Promise<GenerateResult>;
  /** Runs token ids through the model (a prefill, or one decode step) and returns the greedy next id. */
  forwardGreedy(ids: number[], prefill: boolean): Promise<number>;
  /** The logits of the last forward step (a copy). */
  lastLogits(): Float32Array | undefined;
  /** Forgets the conversation (and the KV cache). */
  reset(): Promise<void>;
  /** Releases the runtime. */
  close(): Promise<void>;
}

const join = (dir: string, name: string): string => `${dir.replace(/\/+$/, "")}/${name}`;

interface CacheJson {
  records: { dataPath: string; records: CacheParam[] }[];
}

async function readJson<T>(path: string): Promise<T> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(`cannot read ${path}: ${e instanceof Error ? e.message : e}`);
  }
}

async function findCacheJson(dir: string): Promise<string> {
  for (const n of ["tensor-cache.json", "ndarray-cache.json"]) {
    try {
      await Deno.stat(join(dir, n));
      return join(dir, n);
    } catch { /* next */ }
  }
  throw new Error(`${dir} has no tensor-cache.json or ndarray-cache.json: not a converted directory`);
}

async function pickAdapter(meta: LibraryMetadata, modelLib: string): Promise<GPUAdapter> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) {
    throw new Error(
      "no WebGPU adapter, real or software (on Linux, Mesa's llvmpipe: libegl-mesa0, libgl1-mesa-dri)",
    );
  }
  const f16 = /f16|bf16/.test(meta.quantization) || meta.params.some((p) => p.dtype === "float16");
  if (f16 && !adapter.features.has("shader-f16")) {
    throw new Error(
      `${modelLib} (${meta.quantization}) needs the WebGPU feature shader-f16, which this adapter ` +
        `(${
          adapter.info.description || adapter.info.vendor
        }) lacks; use a q4f32_1 or q0f32 library and conversion`,
    );
  }
  return adapter;
}

/**
 * Opens a chat on a converted directory with a prebuilt model library.
 *
 * @example
 * ```ts ignore
 * import { openChat } from "./session.ts";
 * const chat = await openChat({ dir: "dist/tinyllama-q4f32_1", modelLib: "TinyLlama-q4f32_1-webgpu.wasm" });
 * const r = await chat.generate("Hello", { maxTokens: 8, temperature: 0 }, (t) => console.log(t));
 * await chat.close();
 * ```
 */
export async function openChat(opts: OpenChatOptions): Promise<ChatSession> {
  const { dir, modelLib } = opts;
  const log = opts.onLog ?? (() => {});
  const config = await readJson<Record<string, unknown>>(join(dir, "mlc-chat-config.json"));
  const cachePath = await findCacheJson(dir);
  const cache = await readJson<CacheJson>(cachePath);
  const meta = readLibraryMetadata(await Deno.readFile(modelLib));
  const adapter = await pickAdapter(meta, modelLib);
  const problems = libraryProblems(
    meta,
    config.quantization as string | undefined,
    cache.records.flatMap((s) => s.records),
    adapter.limits.maxStorageBufferBindingSize,
  );
  if (problems.length) throw new Error(`${modelLib} does not fit ${dir}:\n  ${problems.join("\n  ")}`);
  const files = new Map<string, string>([
    [`${CHAT_ORIGIN}/model/mlc-chat-config.json`, join(dir, "mlc-chat-config.json")],
    [`${CHAT_ORIGIN}/model/ndarray-cache.json`, cachePath],
    [`${CHAT_ORIGIN}/lib/model.wasm`, modelLib],
  ]);
  for (const s of cache.records) files.set(`${CHAT_ORIGIN}/model/${s.dataPath}`, join(dir, s.dataPath));
  for (const t of (config.tokenizer_files as string[] | undefined) ?? []) {
    files.set(`${CHAT_ORIGIN}/model/${t}`, join(dir, t));
  }
  const env = installWebLlmEnv(files);
  try {
    return await loadRuntime(env, config, meta, adapter, log);
  } catch (e) {
    env.restore();
    throw e;
  }
}

// deno-lint-ignore no-explicit-any
type Engine = any;

function gpuCheck(env: WebLlmEnv, what: string): void {
  if (env.gpuErrors.length) {
    throw new Error(`WebGPU reported ${env.gpuErrors.length} error(s) during ${what}: ${env.gpuErrors[0]}`);
  }
}

/**
 * The conversation template as web-llm 0.2.30 reads it: current MLC writes absent optional
 * fields as null (`"system_prefix_token_ids": null`), which 0.2.30 spreads as an array; and with
 * no `stop_str` 0.2.30 stops at the last separator, where current MLC stops on `stop_token_ids`
 * only (an empty separator, as in the LM template, would end every reply after one token), so
 * an empty `stop_str` becomes one that never occurs in text ("\u0000").
 */
export function convTemplate0230(t: unknown): unknown {
  if (!t || typeof t !== "object") return t;
  const out: Record<string, unknown> = Object.fromEntries(Object.entries(t).filter(([, v]) => v !== null));
  if (!Array.isArray(out.stop_str) || out.stop_str.length === 0) out.stop_str = ["\u0000"];
  return out;
}

async function loadRuntime(
  env: WebLlmEnv,
  config: Record<string, unknown>,
  meta: LibraryMetadata,
  adapter: GPUAdapter,
  log: (line: string) => void,
): Promise<ChatSession> {
  // a computed specifier: Deno resolves (and downloads) every package of the import map and of the
  // module graph for any command, so a literal one would make the demo and convert_weight download
  // the runtime too (22 MB of cache instead of 12)
  const runtime = "npm:@mlc-ai/web-llm@0.2.30";
  const webllm = await import(runtime);
  let logits: Float32Array | undefined;
  const processor = {
    processLogits: (l: Float32Array) => (logits = l.slice(), l),
    processSampledToken: () => {},
    resetState: () => {},
  };
  const engine: Engine = new webllm.ChatModule(new Map([["local", processor]]));
  engine.logger = (m: string) => log(String(m));
  engine.setInitProgressCallback((r: { text: string }) => log(r.text));
  const chatOpts = { conv_template: convTemplate0230(config.conv_template) };
  await engine.reload("local", chatOpts, {
    model_list: [{
      model_url: `${CHAT_ORIGIN}/model/`,
      model_id: "local",
      model_lib_url: `${CHAT_ORIGIN}/lib/model.wasm`,
    }],
  });
  gpuCheck(env, "loading");
  const pipeline = () => engine.getPipeline();
  return {
    adapter: adapter.info.description || adapter.info.vendor,
    library: meta,
    generate: (prompt, opts = {}, onText) => generateTurn(engine, env, prompt, opts, onText),
    async forwardGreedy(ids, prefill) {
      const p = pipeline();
      p.config.temperature = 0;
      const next: number = await p.forwardTokensAndSample(ids, prefill);
      gpuCheck(env, "the forward pass");
      return next;
    },
    lastLogits: () => logits?.slice(),
    reset: () => engine.resetChat(),
    async close() {
      try {
        engine.deviceLostIsError = false; // (else the runtime logs "Device was lost" on a normal unload)
        await engine.unload();
      } finally {
        env.restore();
      }
    },
  };
}

/** One chat turn: the prompt's token ids and the first token's time are taken from the runtime's pipeline. */
async function generateTurn(
  engine: Engine,
  env: WebLlmEnv,
  prompt: string,
  opts: GenerateOptions,
  onText?: (delta: string) => void,
): Promise<GenerateResult> {
  const p = engine.getPipeline();
  let promptTokens: number[] = [];
  const getInputTokens = p.getInputTokens;
  p.getInputTokens = (g: unknown) => (promptTokens = getInputTokens.call(p, g));
  let first = 0;
  // the first token is sampled at the end of the prefill (the runtime reports text after decodes only)
  const prefillStep = p.prefillStep;
  p.prefillStep = async (...a: unknown[]) => {
    await prefillStep.apply(p, a);
    first = performance.now();
  };
  const t0 = performance.now();
  let shown = "";
  const text: string = await engine.generate(
    prompt,
    (_step: number, message: string) => {
      if (message.startsWith(shown) && message.length > shown.length) {
        onText?.(message.slice(shown.length));
        shown = message;
      }
    },
    1,
    {
      ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
      ...(opts.maxTokens !== undefined ? { max_gen_len: opts.maxTokens } : {}),
    },
  );
  p.getInputTokens = getInputTokens;
  p.prefillStep = prefillStep;
  gpuCheck(env, "generation");
  if (text.startsWith(shown) && text.length > shown.length) onText?.(text.slice(shown.length));
  const t1 = performance.now();
  return {
    text,
    tokens: engine.getPipeline().curRoundDecodingTotalTokens + 1,
    firstTokenSeconds: ((first || t1) - t0) / 1000,
    seconds: (t1 - t0) / 1000,
    promptTokens: [...promptTokens],
  };
}
