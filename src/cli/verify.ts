/**
 * `verify` command: shard integrity, and with `--source` the error of every tensor against the
 * source model.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { denoSource } from "../io/deno_fs.ts";
import { resolveConfigPath } from "../model.ts";
import { QUANTIZATIONS } from "../quant/schemes.ts";
import { formatVerifyReport, verifyConversion, verifyReportJson } from "../verify.ts";
import { createVerifyKernels, VERIFY_DEVICES } from "../verify_kernels.ts";
import { checkPermissions, type Io, UsageError } from "./_common.ts";

const HELP = `Usage: verify OUT [--source CONFIG] [options]

Check a converted directory: every shard's size and md5 (exit code 1 when one is damaged or
missing). With --source, compare every tensor with the source model as cast to the model dtype
(max abs error, RMS error, SNR) and, for quantized linear layers, the quantized matmul against
the original weights on seeded random activations (relative error).

  OUT                      converted directory (tensor-cache.json or ndarray-cache.json)
  --source CONFIG          source model directory, or its config.json
  --quantization Q         default: mlc-chat-config.json in OUT, else inferred from the records
                           (${Object.keys(QUANTIZATIONS).join(", ")})
  --model-type T           architecture (default auto)
  --device D               ${VERIFY_DEVICES.join(" | ")} (default cpu): where the dequantize and
                           matmul checks run (reference: TypeScript, float64)
  --batch N                activation rows of the matmul checks (default 4)
  --seed N                 seed of the activations (default 0)
  --json                   print the report as JSON
  --quiet                  print only problems and the summary line
  -h, --help               this help`;

function intOption(v: string | undefined, name: string, def: number, min: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${name} must be an integer >= ${min}`, HELP);
  return n;
}

/**
 * Runs `verify` with command-line arguments; returns the exit code (0 ok, 1 problems found,
 * 2 usage).
 *
 * @example
 * ```ts ignore
 * import { verifyCommand } from "./verify.ts";
 * import { processIo } from "./_common.ts";
 * Deno.exit(await verifyCommand(["out", "--source", "model"], processIo()));
 * ```
 */
export async function verifyCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      source: { type: "string" },
      quantization: { type: "string" },
      "model-type": { type: "string", default: "auto" },
      device: { type: "string", default: "cpu" },
      batch: { type: "string" },
      seed: { type: "string" },
      json: { type: "boolean", default: false },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("expected exactly one OUT argument", HELP);
  if (!VERIFY_DEVICES.includes(values.device!)) {
    throw new UsageError(
      `Unknown device "${values.device}". Valid choices: ${VERIFY_DEVICES.join(", ")}`,
      HELP,
    );
  }
  if (values.quantization && !values.source) throw new UsageError("--quantization needs --source", HELP);
  const batch = intOption(values.batch, "--batch", 4, 1);
  const seed = intOption(values.seed, "--seed", 0, 0);
  const out = positionals[0];
  const source = values.source;
  const read = [out, ...(source ? [resolveConfigPath(source).dir] : [])];
  if (!checkPermissions(io, { read, write: [] })) return 2;
  const kernels = source ? await createVerifyKernels(values.device!, (m) => io.err(m)) : undefined;
  try {
    if (kernels && !values.quiet && !values.json) {
      io.err(`Using device: ${kernels.name} (${kernels.description})`);
    }
    const tty = !values.quiet && !values.json && io.isTerminal;
    const report = await verifyConversion({
      store: denoSource(),
      dir: out,
      source,
      quantization: values.quantization,
      modelType: values["model-type"],
      kernels,
      batch,
      seed,
      onProgress: tty ? (d, t, name) => io.progress(`[${d}/${t}] ${name}`) : undefined,
    });
    if (tty) io.progress("");
    if (values.json) io.out(verifyReportJson(report));
    else {
      const lines = formatVerifyReport(report);
      if (values.quiet) {
        for (const l of lines) if (/^(Problem|OK|FAILED)/.test(l)) io.out(l);
      } else io.out(lines.join("\n"));
    }
    return report.ok ? 0 : 1;
  } finally {
    await kernels?.close();
  }
}
