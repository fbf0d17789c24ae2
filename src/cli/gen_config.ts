/**
 * `gen_config` command: `mlc_llm gen_config`'s flags, MLC-like log lines on stderr, clear errors.
 * Writes only into the output directory (created if missing); mlc-chat-config.json is written
 * under a temporary name and renamed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ARCHITECTURES } from "../arch/registry.ts";
import { denoSource } from "../io/deno_fs.ts";
import type { FileSink } from "../io/types.ts";
import { QUANTIZATIONS } from "../quant/schemes.ts";
import { sentencePieceToTokenizerJson } from "../tokenizer/sentencepiece.ts";
import { CONV_TEMPLATES, genConfig, type GenConfigOutput, type GenConfigSource } from "../genconfig/mod.ts";
import type { ModelConfigOverrides } from "../genconfig/mod.ts";
import { checkPermissions, type Io, processIo } from "./_common.ts";

const HELP = `Usage: gen_config CONFIG --quantization Q --conv-template T -o OUT [options]

Generate mlc-chat-config.json and copy the tokenizer files (like mlc_llm gen_config).

  CONFIG                         model directory, or its config.json
  --quantization Q               (required) one of: ${Object.keys(QUANTIZATIONS).join(", ")}
  --conv-template T              (required) a registered template, or "auto" to pick the one that
                                 renders like tokenizer_config.json's chat_template.
                                 Templates: ${[...CONV_TEMPLATES.keys()].join(", ")}
  -o, --output OUT               (required) output directory (created if missing)
  --model-type T                 auto (default: config.json model_type) or one of:
                                 ${Object.keys(ARCHITECTURES).join(", ")}
  --context-window-size N        override the context window
  --sliding-window-size N        override the sliding window
  --prefill-chunk-size N         override the prefill chunk size
  --attention-sink-size N        override the attention sink size
  --tensor-parallel-shards N     number of tensor-parallel shards
  --pipeline-parallel-stages N   number of pipeline-parallel stages
  --max-batch-size N             max batch size (default: 128)
  --disaggregation B             MLC parses this as Python bool(str): any non-empty value is true
  -h, --help                     this help`;

const INT_FLAGS = {
  "context-window-size": "context_window_size",
  "sliding-window-size": "sliding_window_size",
  "prefill-chunk-size": "prefill_chunk_size",
  "attention-sink-size": "attention_sink_size",
  "tensor-parallel-shards": "tensor_parallel_shards",
  "pipeline-parallel-stages": "pipeline_parallel_stages",
  "max-batch-size": "max_batch_size",
} as const;

function stamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
}

/** A file-system source that can also list directories. */
function listingSource(): GenConfigSource {
  return {
    ...denoSource(),
    async listDir(dir: string): Promise<string[]> {
      const names: string[] = [];
      for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
      return names;
    },
  };
}

/** An output store confined to `dir`, with rename for atomic writes. */
function dirOutput(dir: string): GenConfigOutput {
  const path = (name: string) => {
    if (name.includes("/") || name.includes("\\") || name === ".." || name === ".") {
      throw new Error(`refusing to write outside the output directory: ${name}`);
    }
    return `${dir}/${name}`;
  };
  return {
    async create(name): Promise<FileSink> {
      const f = await Deno.open(path(name), { write: true, create: true, truncate: true });
      return {
        async write(chunk) {
          let done = 0;
          while (done < chunk.length) done += await f.write(chunk.subarray(done));
        },
        close() {
          f.close();
          return Promise.resolve();
        },
      };
    },
    writeTextFile: (name, text) => Deno.writeTextFile(path(name), text),
    rename: (from, to) => Deno.rename(path(from), path(to)),
  };
}

function usage(io: Io, message: string): number {
  io.err(HELP);
  io.err(`error: ${message}`);
  return 2;
}

/**
 * Runs `gen_config` with command-line `args`; returns the exit code (0 ok, 1 error, 2 usage).
 *
 * @example
 * ```ts ignore
 * import { genConfigCommand } from "./gen_config.ts";
 * const code = await genConfigCommand(["model/", "--quantization", "q4f16_1", "--conv-template", "auto", "-o", "out/"]);
 * ```
 */
export async function genConfigCommand(args: string[], io: Io = processIo()): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        quantization: { type: "string" },
        "conv-template": { type: "string" },
        output: { type: "string", short: "o" },
        "model-type": { type: "string", default: "auto" },
        "context-window-size": { type: "string" },
        "sliding-window-size": { type: "string" },
        "prefill-chunk-size": { type: "string" },
        "attention-sink-size": { type: "string" },
        "tensor-parallel-shards": { type: "string" },
        "pipeline-parallel-stages": { type: "string" },
        "max-batch-size": { type: "string" },
        disaggregation: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    return usage(io, (e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    return usage(io, "expected exactly one CONFIG argument (the model directory)");
  }
  const missing = [
    ["--quantization", values.quantization],
    ["--conv-template", values["conv-template"]],
    ["--output/-o", values.output],
  ].filter(([, v]) => !v).map(([n]) => n);
  if (missing.length) return usage(io, `the following arguments are required: ${missing.join(", ")}`);
  if (!QUANTIZATIONS[values.quantization!]) {
    return usage(
      io,
      `argument --quantization: invalid choice: '${values.quantization}' (choose from ${
        Object.keys(QUANTIZATIONS).join(", ")
      })`,
    );
  }
  const overrides: ModelConfigOverrides = {};
  for (const [flag, key] of Object.entries(INT_FLAGS)) {
    const v = values[flag as keyof typeof INT_FLAGS];
    if (v === undefined) continue;
    if (!/^[+-]?\d+$/.test(v.trim())) return usage(io, `argument --${flag}: invalid int value: '${v}'`);
    overrides[key] = Number(v);
  }
  if (values.disaggregation !== undefined) overrides.disaggregation = values.disaggregation !== "";
  const config = positionals[0];
  const out = values.output!.replace(/\/+$/, "") || "/";
  if (!checkPermissions(io, { read: [config, out], write: [out] })) return 2;
  const log = (level: "info" | "warning", message: string) =>
    io.err(`[${stamp()}] ${level === "info" ? "INFO" : "WARNING"} gen_config: ${message}`);
  try {
    await Deno.mkdir(out, { recursive: true });
    await genConfig({
      source: listingSource(),
      output: dirOutput(out),
      config: config.replace(/\/+$/, "") || "/",
      outputDir: out,
      quantization: values.quantization!,
      convTemplate: values["conv-template"]!,
      modelType: values["model-type"],
      overrides,
      log,
      convertSentencePiece: (model) => sentencePieceToTokenizerJson(model),
    });
    return 0;
  } catch (e) {
    io.err(`error: ${(e as Error).message}`);
    return 1;
  }
}
