// Shared helper of the hostile-input tests (tests/hostile_test.ts): a tiny model directory
// (a copy of the tiny Llama with tokenizer files) that each case damages in one way, the CLI run
// as a subprocess with permissions scoped to the case's directory, and the corpus of cases
// (each a defect, the command, the exit code and the words the refusal must have).
import { llamaHfTensors, TINY_LLAMA_CONFIG, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";

export const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** A minimal HF tokenizer.json (byte-level BPE, three tokens). */
export const TINY_TOKENIZER = {
  version: "1.0",
  added_tokens: [{ id: 2, content: "</s>", special: true }],
  model: { type: "BPE", vocab: { "<s>": 0, a: 1, "</s>": 2 }, merges: [] },
  decoder: { type: "ByteLevel" },
};

/** A tokenizer_config.json with a chat template (the Llama-2 one, shortened). */
export const TINY_TOKENIZER_CONFIG: Record<string, unknown> = {
  bos_token: "<s>",
  eos_token: "</s>",
  chat_template: "{% for m in messages %}{{ m.content }}{% endfor %}",
};

/**
 * Writes the tiny Llama (2 layers, bf16) into `dir/model` with `tokenizer.json` and
 * `tokenizer_config.json`; `config` overrides config.json fields.
 */
export async function tinyModel(dir: string, config: Record<string, unknown> = {}): Promise<string> {
  const cfg = { ...TINY_LLAMA_CONFIG };
  const model = `${dir}/model`;
  await writeCheckpoint(model, { ...cfg, ...config }, llamaHfTensors(cfg), { dtype: "BF16", seed: 1 });
  await Deno.writeTextFile(`${model}/tokenizer.json`, JSON.stringify(TINY_TOKENIZER));
  await Deno.writeTextFile(`${model}/tokenizer_config.json`, JSON.stringify(TINY_TOKENIZER_CONFIG));
  return model;
}

/** What a CLI run did. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
  /** Wall time in ms. */
  ms: number;
  /** Peak RSS in bytes (when measured with `rss`). */
  rssBytes?: number;
  /** CPU seconds, user + system (when measured with `rss`). */
  cpuSeconds?: number;
}

/**
 * Runs the CLI as a subprocess with read access to `dir` and write access to `dir/out*`
 * (`perms` replaces those), stdin closed, no `--no-prompt` (a prompt would show on stderr).
 * With `rss`, runs it under `/usr/bin/time` and reports the peak RSS.
 */
export async function cli(
  dir: string,
  args: string[],
  opts: { perms?: string[]; rss?: boolean; timeoutMs?: number; cwd?: string } = {},
): Promise<CliRun> {
  const perms = opts.perms ?? [`--allow-read=${dir}`, `--allow-write=${dir}/out,${dir}/gen`];
  const deno = [Deno.execPath(), "run", ...perms, CLI, ...args];
  const argv = opts.rss ? ["/usr/bin/time", "-f", "\nMAXRSS %M CPU %U %S", ...deno] : deno;
  const t0 = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    cwd: opts.cwd,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
  const p = await child.output();
  clearTimeout(timer);
  const ms = performance.now() - t0;
  let err = new TextDecoder().decode(p.stderr);
  let rssBytes: number | undefined;
  let cpuSeconds: number | undefined;
  const m =
    /(\nCommand (exited with non-zero status \d+|terminated by signal \d+)\n)?\nMAXRSS (\d+) CPU ([\d.]+) ([\d.]+)\n?$/
      .exec(err);
  if (m) {
    rssBytes = Number(m[3]) * 1024;
    cpuSeconds = Number(m[4]) + Number(m[5]);
    err = err.slice(0, m.index);
  }
  return { code: p.code, out: new TextDecoder().decode(p.stdout), err, ms, rssBytes, cpuSeconds };
}

/** One hostile input: how to damage the tiny model, the command, and the expected refusal. */
export interface HostileCase {
  /** Short name. */
  name: string;
  /** Damages `model` (the tiny model's directory inside `dir`). */
  setup(dir: string, model: string): Promise<void>;
  /** The command (default: convert_weight q4f16_1 into `dir/out`, reference device). */
  args?(dir: string, model: string): string[];
  /** Expected exit code (default 1). */
  code?: number;
  /** Patterns the error output must match. */
  expect: RegExp[];
  /** More checks of the run (returns problems). */
  check?(r: CliRun): string[];
}

/** The default command of a case. */
export const convertArgs = (dir: string, model: string): string[] => [
  "convert_weight",
  model,
  "--quantization",
  "q4f16_1",
  "-o",
  `${dir}/out`,
  "--device",
  "reference",
];

/** gen_config into `dir/gen` with a template (default llama-2). */
export const genArgs = (template = "llama-2") => (dir: string, model: string): string[] => [
  "gen_config",
  model,
  "--quantization",
  "q4f16_1",
  "--conv-template",
  template,
  "-o",
  `${dir}/gen`,
];

/** Rewrites config.json with `patch` applied (raw text when a string). */
export async function patchConfig(model: string, patch: Record<string, unknown> | string): Promise<void> {
  if (typeof patch === "string") return await Deno.writeTextFile(`${model}/config.json`, patch);
  const cfg = JSON.parse(await Deno.readTextFile(`${model}/config.json`));
  await Deno.writeTextFile(`${model}/config.json`, JSON.stringify({ ...cfg, ...patch }));
}

/** Rewrites tokenizer_config.json's chat_template. */
export async function patchChatTemplate(model: string, template: string): Promise<void> {
  await Deno.writeTextFile(
    `${model}/tokenizer_config.json`,
    JSON.stringify({ ...TINY_TOKENIZER_CONFIG, chat_template: template }),
  );
}

/**
 * Runs a case in a fresh temporary directory: the tiny model, the defect, the command.
 * Returns the run and the directory's listing (removed afterwards).
 */
export async function runCase(c: HostileCase, opts: { rss?: boolean } = {}): Promise<CliRun> {
  const dir = await Deno.makeTempDir({ prefix: "mlc-hostile-" });
  try {
    const model = await tinyModel(dir);
    await c.setup(dir, model);
    return await cli(dir, (c.args ?? convertArgs)(dir, model), { rss: opts.rss });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Peak RSS of a refusal (issue 17: "under 150 MB"). */
export const MAX_REFUSAL_RSS = 150e6;
/** CPU time of a refusal, user + system (issue 17: "every refusal under 2 s"; CPU, not wall, on a shared machine). */
export const MAX_REFUSAL_CPU_S = 2;

/** Checks a case's run: exit code, the refusal's words, no permission prompt. Returns problems. */
export function judge(c: HostileCase, r: CliRun): string[] {
  const problems: string[] = [];
  const code = c.code ?? 1;
  if (r.code !== code) problems.push(`exit ${r.code}, expected ${code}`);
  for (const re of c.expect) if (!re.test(r.err)) problems.push(`stderr lacks ${re}`);
  if (/Deno requests|Allow\?|\[y\/n/.test(r.err)) problems.push("a permission prompt was shown");
  if (/\n\s+at .*\.ts:\d+:\d+/.test(r.err)) problems.push("a stack trace was printed");
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(r.err + r.out)) {
    problems.push("a raw control character was printed");
  }
  if (r.code !== 0 && r.rssBytes !== undefined && r.rssBytes > MAX_REFUSAL_RSS) {
    problems.push(
      `peak RSS ${(r.rssBytes / 1e6).toFixed(0)} MB (a refusal stays under ${MAX_REFUSAL_RSS / 1e6} MB)`,
    );
  }
  if (r.code !== 0 && r.cpuSeconds !== undefined && r.cpuSeconds > MAX_REFUSAL_CPU_S) {
    problems.push(`${r.cpuSeconds.toFixed(2)} s of CPU (a refusal takes under ${MAX_REFUSAL_CPU_S} s)`);
  }
  problems.push(...(c.check?.(r) ?? []));
  return problems.map((p) => `${c.name}: ${p}\n--- stderr:\n${r.err.slice(0, 2000)}`);
}

/**
 * Rewrites `model/model.safetensors`: `header` maps the header's JSON text, `data` the data
 * area (default: unchanged); the length prefix is recomputed.
 */
export async function rewriteSafetensors(
  model: string,
  header: (text: string, json: Record<string, { data_offsets?: number[] }>) => string,
  data: (d: Uint8Array) => Uint8Array = (d) => d,
): Promise<void> {
  const bytes = await Deno.readFile(`${model}/model.safetensors`);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  const h = new TextEncoder().encode(header(text, JSON.parse(text)));
  const d = data(bytes.subarray(8 + n));
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  await Deno.writeFile(`${model}/model.safetensors`, out);
}
