/**
 * `verify` command: shard integrity, with `--source` the error of every tensor against the
 * source model, and with `--logits --model-lib LIB` one prefill in MLC's runtime against our
 * reference forward pass.
 *
 * @module
 */
import { resolveConfigPath } from "../model.ts";
import { IMPORT_QUANTIZATIONS, QUANTIZATIONS } from "../quant/schemes.ts";
import { formatVerifyReport, verifyConversion, type VerifyReport, verifyReportJson } from "../verify.ts";
import { compareLogits, type LogitsReport } from "../chat/logits.ts";
import { createVerifyKernels, VERIFY_DEVICES } from "../verify_kernels.ts";
import { type CommandSpec, intValue } from "./_args.ts";
import { type CommandContext, defineCommand } from "./_command.ts";
import { type Command, type Io, requirePermissions, UsageError } from "./_common.ts";
import { listingSource, mergeNeeds, openModelSource, sourceNeeds } from "./_hub.ts";
import { scopedSource } from "../io/scope.ts";
import { interrupts } from "./_interrupt.ts";
import { deviceOption, mapMlcDevice } from "./_mlc.ts";
import { progressMode, ProgressRenderer } from "./_progress.ts";

const SPEC = {
  name: "verify",
  usage: "OUT [--source CONFIG] [--logits --model-lib LIB.wasm] [options]",
  description:
    "Check a converted directory: every shard's size and md5 (exit code 1 when one is damaged or\n" +
    "missing). With --source, compare every tensor with the source model as cast to the model dtype\n" +
    "(max abs error, RMS error, SNR) and, for quantized linear layers, the quantized matmul against\n" +
    "the original weights on seeded random activations (relative error). With --logits, one prefill\n" +
    "of --tokens in MLC's own runtime (a prebuilt WebGPU model library, as `chat` runs it) and in our\n" +
    "reference forward pass (TypeScript; llama, mistral, qwen2, qwen3): max |diff| and top-5.",
  positionals: [{ name: "OUT", help: "converted directory (tensor-cache.json or ndarray-cache.json)" }],
  options: {
    source: {
      type: "string",
      metavar: "CONFIG",
      help: "source model directory, or its config.json, or HF://owner/name[@revision]",
    },
    quantization: {
      type: "string",
      metavar: "Q",
      choices: [...Object.keys(QUANTIZATIONS), ...Object.keys(IMPORT_QUANTIZATIONS)],
      help: "default: mlc-chat-config.json in OUT, else inferred from the records",
    },
    "model-type": { type: "string", metavar: "T", default: "auto", help: "architecture" },
    device: deviceOption(
      VERIFY_DEVICES,
      "cpu",
      `${
        VERIFY_DEVICES.join(" | ")
      }: where the dequantize and matmul checks run\n(reference: TypeScript, float64)`,
    ),
    batch: { type: "string", metavar: "N", help: "activation rows of the matmul checks (default 4)" },
    seed: { type: "string", metavar: "N", help: "seed of the activations (default 0)" },
    logits: { type: "boolean", help: "compare the logits of MLC's runtime with the reference pass" },
    "model-lib": {
      type: "string",
      metavar: "LIB",
      help: "with --logits: prebuilt WebGPU model library (.wasm)",
    },
    tokens: {
      type: "string",
      metavar: "IDS",
      help: "with --logits: comma-separated token ids of the prefill (default 1,2,3,4,5)",
    },
  },
  jsonHelp: "print the report as JSON on stdout",
} as const satisfies CommandSpec;

/** The `verify` run: returns 0 when everything checks out, 1 when a problem was found. */
async function run(ctx: CommandContext<typeof SPEC>): Promise<number> {
  const { values } = ctx;
  if (values.quantization && !values.source) throw new UsageError("--quantization needs --source", SPEC.name);
  const batch = intValue(values.batch, "batch", SPEC.name, { min: 1 }, 4);
  const seed = intValue(values.seed, "seed", SPEC.name, { min: 0 }, 0);
  const { device, note } = mapMlcDevice(values.device, VERIFY_DEVICES)!;
  const out = ctx.positionals[0];
  const source = values.source;
  const lib = values["model-lib"];
  const tokens = logitsTokens(values.logits, lib, values.tokens);
  requirePermissions(
    mergeNeeds(
      { read: lib ? [out, lib] : [out], write: [] },
      ...(source ? [sourceNeeds(resolveConfigPath(source).dir, false)] : []),
    ),
  );
  if (note && source) ctx.log(`Note: ${note}`);
  const src = source ? await openModelSource(source, false, (l) => ctx.log(l), [out]) : undefined;
  const kernels = source ? await createVerifyKernels(device, (m) => ctx.log(m)) : undefined;
  const progress = new ProgressRenderer({ mode: progressMode(ctx.io, ctx), io: ctx.io });
  const unguard = interrupts.guard(() => Promise.resolve(void progress.abandon()));
  try {
    if (kernels) ctx.log(`Using device: ${kernels.name} (${kernels.description})`);
    const t0 = performance.now();
    const report = await verifyConversion({
      // (the converted directory is an input too: a link in it that leaves it is refused)
      store: src?.store ?? scopedSource(listingSource(), [out]),
      dir: out,
      source: src?.config,
      quantization: values.quantization,
      modelType: values["model-type"],
      kernels,
      batch,
      seed,
      onProgress: (done, total, name) =>
        progress.update({
          done,
          total,
          name,
          bytesRead: 0,
          bytesTotal: 0,
          seconds: (performance.now() - t0) / 1000,
        }),
    });
    progress.finish();
    const logits = tokens && report.ok
      ? await compareLogits({ dir: out, modelLib: lib!, tokens, onLog: (l) => ctx.log(l) })
      : undefined;
    return printReport(ctx, report, logits);
  } finally {
    unguard();
    progress.finish();
    await kernels?.close();
  }
}

/** `--logits` needs `--model-lib`; the token ids (undefined without `--logits`). */
function logitsTokens(logits: boolean | undefined, lib: string | undefined, ids: string | undefined) {
  if (!logits) {
    if (lib || ids) throw new UsageError("--model-lib and --tokens go with --logits", SPEC.name);
    return undefined;
  }
  if (!lib) {
    throw new UsageError("--logits needs --model-lib LIB.wasm (a prebuilt WebGPU model library)", SPEC.name);
  }
  if (ids === undefined) return [1, 2, 3, 4, 5];
  if (!/^\s*\d+(\s*,\s*\d+)*\s*$/.test(ids)) {
    throw new UsageError(`invalid value for --tokens: "${ids}" (comma-separated token ids)`, SPEC.name);
  }
  return ids.split(",").map(Number);
}

/** The logits comparison as lines. */
export function formatLogitsReport(r: LogitsReport): string[] {
  return [
    `Logits after a prefill of [${r.tokens.join(", ")}]: MLC runtime on ${r.adapter} (${
      r.seconds.runtime.toFixed(1)
    } s) vs reference forward pass (${r.seconds.reference.toFixed(1)} s)`,
    `  max |diff| ${r.maxAbsDiff.toExponential(2)} (tolerance ${r.tolerance.toExponential(2)}: 1e-3 of the ` +
    `largest logit, ${r.scale.toFixed(3)})`,
    `  top-5 runtime [${r.runtimeTop5.join(", ")}], reference [${r.referenceTop5.join(", ")}]: ` +
    `${r.top5Overlap}/5 shared, top-1 ${r.runtimeTop5[0] === r.referenceTop5[0] ? "equal" : "DIFFERENT"}`,
    r.ok ? "Logits: OK" : "FAILED: the runtime's logits differ from the reference forward pass",
  ];
}

/** The logits comparison in the JSON report (snake_case, as the rest of it). */
function logitsJson(r: LogitsReport): Record<string, unknown> {
  return {
    ok: r.ok,
    tokens: r.tokens,
    adapter: r.adapter,
    max_abs_diff: r.maxAbsDiff,
    tolerance: r.tolerance,
    runtime_top5: r.runtimeTop5,
    reference_top5: r.referenceTop5,
    top5_overlap: r.top5Overlap,
    seconds: r.seconds,
  };
}

function printReport(ctx: CommandContext<typeof SPEC>, report: VerifyReport, logits?: LogitsReport): number {
  const lines = [...formatVerifyReport(report), ...(logits ? formatLogitsReport(logits) : [])];
  const ok = report.ok && (logits?.ok ?? true);
  if (ctx.json) {
    // (verifyReportJson writes non-finite numbers as null, the logits' too)
    const withLogits = logits ? { ...report, ok, logits: logitsJson(logits) } : report;
    ctx.io.out(verifyReportJson(withLogits));
  }
  ctx.out(lines.join("\n"));
  if (ctx.quiet && !ok) {
    for (const l of lines) if (/^(Problem|FAILED)/.test(l)) ctx.io.err(l);
  }
  return ok ? 0 : 1;
}

/** The `verify` command. */
export const verifyCmd: Command = defineCommand({
  spec: SPEC,
  summary: "check shard md5s; --source: tensor errors vs the source; --logits: runtime vs reference logits",
  run,
});

/**
 * Runs `verify` with command-line arguments; returns the exit code (0 ok, 1 problems found,
 * 2 usage, 3 permission).
 *
 * @example
 * ```ts ignore
 * import { verifyCommand } from "./verify.ts";
 * import { processIo } from "./_common.ts";
 * Deno.exit(await verifyCommand(["out", "--source", "model"], processIo()));
 * ```
 */
export function verifyCommand(args: string[], io: Io): Promise<number> {
  return verifyCmd.run(args, io);
}
