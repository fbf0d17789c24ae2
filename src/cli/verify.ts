/**
 * `verify` command: shard integrity, and with `--source` the error of every tensor against the
 * source model.
 *
 * @module
 */
import { resolveConfigPath } from "../model.ts";
import { IMPORT_QUANTIZATIONS, QUANTIZATIONS } from "../quant/schemes.ts";
import { formatVerifyReport, verifyConversion, verifyReportJson } from "../verify.ts";
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
  usage: "OUT [--source CONFIG] [options]",
  description:
    "Check a converted directory: every shard's size and md5 (exit code 1 when one is damaged or\n" +
    "missing). With --source, compare every tensor with the source model as cast to the model dtype\n" +
    "(max abs error, RMS error, SNR) and, for quantized linear layers, the quantized matmul against\n" +
    "the original weights on seeded random activations (relative error).",
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
  requirePermissions(
    mergeNeeds(
      { read: [out], write: [] },
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
    const lines = formatVerifyReport(report);
    if (ctx.json) ctx.io.out(verifyReportJson(report));
    ctx.out(lines.join("\n"));
    if (ctx.quiet && !report.ok) {
      for (const l of lines) if (/^(Problem|FAILED)/.test(l)) ctx.io.err(l);
    }
    return report.ok ? 0 : 1;
  } finally {
    unguard();
    progress.finish();
    await kernels?.close();
  }
}

/** The `verify` command. */
export const verifyCmd: Command = defineCommand({
  spec: SPEC,
  summary: "check shard md5s; with --source, tensor errors against the source model",
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
