/**
 * `gen_config` command: `mlc_llm gen_config`'s flags, MLC-like log lines on stderr, clear errors.
 * Writes only into the output directory (created if missing); mlc-chat-config.json is written
 * under a temporary name and renamed.
 *
 * @module
 */
import { replacingOutput } from "../io/replacing_output.ts";
import { sentencePieceToTokenizerJson } from "../tokenizer/sentencepiece.ts";
import { CONV_TEMPLATES, genConfig } from "../genconfig/mod.ts";
import { UnknownTemplateError } from "../genconfig/conv_templates.ts";
import type { ModelConfigOverrides } from "../genconfig/mod.ts";
import type { CommandSpec } from "./_args.ts";
import { type CommandContext, defineCommand } from "./_command.ts";
import { type Command, type Io, processIo, requirePermissions, UsageError } from "./_common.ts";
import { overrideProblem } from "../config_bounds.ts";
import { mergeNeeds, openModelSource, sourceNeeds } from "./_hub.ts";
import { mlcLogLine, MODEL_TYPE_OPTION, QUANTIZATION_OPTION } from "./_mlc.ts";

const INT_OPTION = {
  type: "string",
  metavar: "N",
  check: (v: string) => /^[+-]?\d+$/.test(v.trim()) ? undefined : "not an integer",
} as const;

const SPEC = {
  name: "gen_config",
  usage: "CONFIG --quantization Q --conv-template T -o OUT [options]",
  description: "Generate mlc-chat-config.json and copy the tokenizer files (like mlc_llm gen_config).",
  positionals: [{
    name: "CONFIG",
    help: "model directory, or its config.json, or HF://owner/name[@revision]",
  }],
  options: {
    download: {
      type: "boolean",
      help: "HF:// models: keep a copy in the Hugging Face cache (HF_HUB_CACHE)",
    },
    quantization: QUANTIZATION_OPTION,
    "conv-template": {
      type: "string",
      metavar: "T",
      required: true,
      check: (v: string) =>
        v === "auto" || CONV_TEMPLATES.has(v) ? undefined : new UnknownTemplateError(v).message,
      help: 'a registered template, or "auto" to pick the one that renders like\n' +
        "tokenizer_config.json's chat_template. Templates: " + [...CONV_TEMPLATES.keys()].join(", "),
    },
    output: {
      type: "string",
      short: "o",
      metavar: "OUT",
      required: true,
      help: "output directory (created if missing)",
    },
    "model-type": MODEL_TYPE_OPTION,
    "context-window-size": { ...INT_OPTION, help: "override the context window" },
    "sliding-window-size": { ...INT_OPTION, help: "override the sliding window" },
    "prefill-chunk-size": { ...INT_OPTION, help: "override the prefill chunk size" },
    "attention-sink-size": { ...INT_OPTION, help: "override the attention sink size" },
    "tensor-parallel-shards": { ...INT_OPTION, help: "number of tensor-parallel shards" },
    "pipeline-parallel-stages": { ...INT_OPTION, help: "number of pipeline-parallel stages" },
    "max-batch-size": { ...INT_OPTION, help: "max batch size (default: 128)" },
    disaggregation: {
      type: "string",
      metavar: "B",
      help: "MLC parses this as Python bool(str): any non-empty value is true",
    },
  },
  jsonHelp: "print the result (files written, template used) as JSON on stdout",
} as const satisfies CommandSpec;

const INT_FLAGS = {
  "context-window-size": "context_window_size",
  "sliding-window-size": "sliding_window_size",
  "prefill-chunk-size": "prefill_chunk_size",
  "attention-sink-size": "attention_sink_size",
  "tensor-parallel-shards": "tensor_parallel_shards",
  "pipeline-parallel-stages": "pipeline_parallel_stages",
  "max-batch-size": "max_batch_size",
} as const;

/** The `gen_config` run: overrides, permissions, then {@link genConfig} into OUT. */
async function run(ctx: CommandContext<typeof SPEC>): Promise<number> {
  const { values } = ctx;
  const overrides: ModelConfigOverrides = {};
  for (const [flag, key] of Object.entries(INT_FLAGS)) {
    const v = values[flag as keyof typeof INT_FLAGS];
    if (v !== undefined) overrides[key] = Number(v);
  }
  const bad = overrideProblem(overrides);
  if (bad) {
    const flag = Object.entries(INT_FLAGS).find(([, k]) => k === bad[0])![0];
    throw new UsageError(`invalid value for --${flag}: ${bad[1]}`, SPEC.name);
  }
  if (values.disaggregation !== undefined) overrides.disaggregation = values.disaggregation !== "";
  const config = ctx.positionals[0];
  const out = values.output.replace(/\/+$/, "") || "/";
  requirePermissions(mergeNeeds(sourceNeeds(config, values.download), { read: [out], write: [out] }));
  const log = (level: "info" | "warning", message: string) =>
    ctx.log(mlcLogLine("gen_config", message, new Date(), level === "info" ? "INFO" : "WARNING"));
  const src = await openModelSource(config, values.download, (l) => log("info", l));
  await Deno.mkdir(out, { recursive: true });
  // every file is written under a fresh name and renamed into place: a link in OUT is replaced, never followed
  const output = replacingOutput(out);
  const r = await genConfig({
    source: src.store,
    output,
    config: src.config.replace(/\/+$/, "") || "/",
    outputDir: out,
    quantization: values.quantization,
    convTemplate: values["conv-template"],
    modelType: values["model-type"],
    overrides,
    log,
    convertSentencePiece: (model) => sentencePieceToTokenizerJson(model),
  }).finally(() => output.cleanup());
  ctx.result({
    ok: true,
    output: out,
    model_type: r.config.model_type,
    quantization: values.quantization,
    conv_template: r.convTemplate,
    files: r.files,
  });
  return 0;
}

/** The `gen_config` command. */
export const genConfigCmd: Command = defineCommand({
  spec: SPEC,
  summary: "generate mlc-chat-config.json and copy or convert the tokenizer files",
  run,
});

/**
 * Runs `gen_config` with command-line `args`; returns the exit code (see `EXIT_CODES`).
 *
 * @example
 * ```ts ignore
 * import { genConfigCommand } from "./gen_config.ts";
 * const code = await genConfigCommand(["model/", "--quantization", "q4f16_1", "--conv-template", "auto", "-o", "out/"]);
 * ```
 */
export function genConfigCommand(args: string[], io: Io = processIo()): Promise<number> {
  return genConfigCmd.run(args, io);
}
