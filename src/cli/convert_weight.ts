/**
 * `convert_weight` command: MLC's flags, permission checks, dry run, progress, summary.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { convertWeight } from "../convert.ts";
import { DEVICES, selectBackend } from "../device.ts";
import { denoSource } from "../io/deno_fs.ts";
import { stageOutputDir } from "../io/staged_dir.ts";
import { loadModelConfig, openWeights } from "../model.ts";
import { MD5_LANES, WORKER_SHARD_BUFFERS } from "../pipeline/pool.ts";
import { type ConversionPlan, planConversion } from "../plan.ts";
import { getQuantization, QUANTIZATIONS } from "../quant/schemes.ts";
import { checkPermissions, formatBytes, type Io, UsageError } from "./_common.ts";

const HELP = `Usage: convert_weight CONFIG --quantization Q -o OUT [options]

Convert a Hugging Face checkpoint to MLC weights (params_shard_*.bin + tensor-cache.json).

  CONFIG                   model directory, or its config.json
  --quantization Q         one of: ${Object.keys(QUANTIZATIONS).join(", ")}
  -o, --output OUT         output directory
  --model-type T           architecture (default auto: config.json model_type)
  --source PATH            weights: directory, index .json or .safetensors (default auto)
  --source-format F        auto | huggingface-safetensor (default auto)
  --device D               ${DEVICES.join(" | ")} (default auto)
  --tie-rounding R         even (current MLC) | away (older CPU builds) (default even)
  --threads N              kernel worker threads, which quantize and hash (default: the core
                           count); 1: all on the main thread
  --profile                print where the time went (read, quantize, md5, write)
  --buffered-io            write shards through the page cache (default: direct I/O where
                           the file system allows it, which saves the CPU of the copy)
  --overwrite              replace a previous conversion in OUT
  --dry-run                print the plan from headers only; read no tensor data
  --json                   with --dry-run: print the plan as JSON
  --quiet                  no progress line or summary
  -h, --help               this help`;

/**
 * The plan as a JSON-able object (for `--dry-run --json`).
 *
 * @example
 * ```ts ignore
 * const json = planToJson(plan, estimatePeakMemory(plan));
 * console.log(json.ok, json.total_bytes);
 * ```
 */
export function planToJson(plan: ConversionPlan, peakMemory: number): Record<string, unknown> {
  return {
    model_type: plan.arch.name,
    quantization: plan.scheme.name,
    ok: plan.problems.length === 0,
    problems: plan.problems,
    warnings: plan.warnings,
    tensors: plan.outputs.map((o) => ({
      name: o.name,
      shape: o.shape,
      dtype: o.dtype,
      nbytes: o.nbytes,
      shard: o.shard,
      byteOffset: o.byteOffset,
    })),
    shards: plan.shardSizes.map((n, i) => ({ dataPath: `params_shard_${i}.bin`, nbytes: n })),
    total_bytes: plan.shardSizes.reduce((a, b) => a + b, 0),
    source_bytes: plan.sourceBytes,
    metadata: { ParamSize: plan.paramSize, ParamBytes: plan.paramBytes, BitsPerParam: plan.bitsPerParam },
    expected_peak_memory_bytes: peakMemory,
  };
}

/**
 * Estimated peak memory of a conversion: the runtime baseline, the shard buffers in rotation,
 * the chunk buffers (or, with worker threads, each kernel worker's runtime, kernel memory and
 * slots), the I/O worker, and for the largest parameter its whole scale array (and words, for KN
 * layouts; parameters written in place by the kernel workers need neither).
 *
 * @example
 * ```ts ignore
 * console.log(estimatePeakMemory(plan, 8 << 20, 2));
 * ```
 */
export function estimatePeakMemory(plan: ConversionPlan, chunkBytes?: number, threads = 1): number {
  let perParam = 0;
  for (const p of plan.params) {
    const scale = p.outputs.length > 1 ? p.outputs[1].nbytes : 0;
    const words = p.quant === "KN" ? 3 * p.outputs[0].nbytes : 0;
    const whole = p.param.transform?.kind === "whole" ? 3 * p.sources.reduce((a, s) => a + s.nbytes, 0) : 0;
    perParam = Math.max(perParam, scale + words + whole);
  }
  const MiB = 1 << 20;
  const baseline = 60 * MiB; // Deno runtime and module code
  const workers = threads > 1;
  const chunk = chunkBytes ?? 8 * MiB;
  // shard buffers: a batch of shards being hashed, one filling (two with kernel workers)
  const shards = (workers ? WORKER_SHARD_BUFFERS : MD5_LANES + 1) * 32 * MiB;
  // a kernel worker: its runtime, the part of a chunk it reads at a time and a chunk's outputs
  // (at most a chunk; most are written in place, into the shard buffers); on one thread the
  // chunk buffers; the I/O worker that writes shards
  const pipeline = (workers ? threads * (16 * MiB + chunk) : 3 * chunk) + 10 * MiB;
  return baseline + shards + pipeline + perParam;
}

function printPlan(plan: ConversionPlan, io: Io, peak: number): void {
  const w = (s: string) => io.out(s);
  w(`Plan: ${plan.arch.name}, ${plan.scheme.name}: ${plan.outputs.length} tensors in ${plan.shardSizes.length} shards`);
  const nameW = Math.min(64, Math.max(4, ...plan.outputs.map((o) => o.name.length)));
  w(`${"name".padEnd(nameW)}  ${"shape".padEnd(16)}  ${"dtype".padEnd(8)}  ${"bytes".padStart(11)}  shard`);
  for (const o of plan.outputs) {
    w(
      `${o.name.padEnd(nameW)}  ${`[${o.shape.join(", ")}]`.padEnd(16)}  ${o.dtype.padEnd(8)}  ${
        String(o.nbytes).padStart(11)
      }  ${o.shard}`,
    );
  }
  const total = plan.shardSizes.reduce((a, b) => a + b, 0);
  w(`Total: ${formatBytes(total)} (${total} bytes) from ${formatBytes(plan.sourceBytes)} of source tensors`);
  w(`Metadata: ParamSize ${plan.paramSize}, ParamBytes ${plan.paramBytes}, BitsPerParam ${
    plan.bitsPerParam.toFixed(3)
  }`);
  w(`Expected peak memory: about ${formatBytes(peak)}`);
  for (const m of plan.warnings) w(`Warning: ${m}`);
  for (const p of plan.problems) w(`Problem: ${p}`);
}

/**
 * Runs `convert_weight` with command-line arguments; returns the exit code.
 *
 * @example
 * ```ts ignore
 * import { convertWeightCommand } from "./convert_weight.ts";
 * Deno.exit(await convertWeightCommand(["model", "--quantization", "q4f16_1", "-o", "out"]));
 * ```
 */
export async function convertWeightCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      quantization: { type: "string" },
      output: { type: "string", short: "o" },
      "model-type": { type: "string", default: "auto" },
      source: { type: "string", default: "auto" },
      "source-format": { type: "string", default: "auto" },
      device: { type: "string", default: "auto" },
      "tie-rounding": { type: "string", default: "even" },
      threads: { type: "string" },
      profile: { type: "boolean", default: false },
      "buffered-io": { type: "boolean", default: false },
      overwrite: { type: "boolean", default: false },
      "dry-run": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("expected exactly one CONFIG argument", HELP);
  if (!values.quantization) throw new UsageError("--quantization is required", HELP);
  const scheme = getQuantization(values.quantization);
  const tie = values["tie-rounding"];
  if (tie !== "even" && tie !== "away") {
    throw new UsageError(`--tie-rounding must be even or away, got "${tie}"`, HELP);
  }
  const fmt = values["source-format"];
  if (fmt !== "auto" && fmt !== "huggingface-safetensor" && fmt !== "huggingface-torch") {
    throw new UsageError(
      `Unknown --source-format "${fmt}". Valid choices: auto, huggingface-safetensor (huggingface-torch and awq are not supported)`,
      HELP,
    );
  }
  if (!(DEVICES as readonly string[]).includes(values.device!)) {
    throw new UsageError(`Unknown device "${values.device}". Valid choices: ${DEVICES.join(", ")}`, HELP);
  }
  const threads = values.threads === undefined
    ? (navigator.hardwareConcurrency || 1)
    : Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new UsageError(`--threads must be an integer from 1 to 256, got "${values.threads}"`, HELP);
  }
  const dryRun = values["dry-run"];
  if (!values.output && !dryRun) throw new UsageError("-o/--output is required", HELP);
  const config = positionals[0];
  const source = values.source!;
  const out = values.output;
  if (
    !checkPermissions(io, {
      // Deno's rename (moving finished files into OUT) needs read access to OUT as well
      read: [config, ...(source === "auto" ? [] : [source]), ...(dryRun ? [] : [out!])],
      write: dryRun ? [] : [out!],
    })
  ) {
    return 2;
  }
  const store = denoSource();
  let opened;
  try {
    const model = await loadModelConfig(store, config, values["model-type"]);
    opened = { model, ...(await openWeights(store, model.dir, source, fmt)) };
  } catch (e) {
    // a dry run reports problems it cannot plan past (unknown architecture, bad config or
    // headers) in its own format
    if (!dryRun) throw e;
    const problem = (e as Error).message;
    if (values.json) {
      io.out(JSON.stringify({ ok: false, problems: [problem], warnings: [], tensors: [] }, null, 2));
    } else io.out(`Problem: ${problem}`);
    return 1;
  }
  const { model, checkpoint, warnings } = opened;
  try {
    const quiet = values.quiet;
    if (!quiet && !values.json) { for (const l of model.logs) io.err(l); }
    for (const wmsg of warnings) io.err(`Warning: ${wmsg}`);
    const plan = planConversion({ arch: model.arch, config: model.config, scheme, checkpoint });
    const peak = estimatePeakMemory(plan, undefined, threads);
    if (dryRun) {
      if (values.json) io.out(JSON.stringify(planToJson(plan, peak), null, 2));
      else printPlan(plan, io, peak);
      return plan.problems.length ? 1 : 0;
    }
    for (const m of plan.warnings) io.err(`Warning: ${m}`);
    if (plan.problems.length) {
      io.err(`Cannot convert ${model.configPath}:`);
      for (const p of plan.problems) io.err(`  - ${p}`);
      return 1;
    }
    const backend = await selectBackend(values.device!, (m) => io.err(m));
    if (!quiet) io.err(`Using device: ${backend.name} (${backend.description})`);
    const staged = await stageOutputDir(out!, {
      overwrite: values.overwrite,
      directIO: !values["buffered-io"],
    });
    const onSignal = () => {
      staged.abort().finally(() => Deno.exit(130));
    };
    Deno.addSignalListener("SIGINT", onSignal);
    try {
      const tty = !quiet && io.isTerminal;
      const result = await convertWeight({
        plan,
        checkpoint,
        backend,
        output: staged.store,
        tie,
        threads,
        directReads: true, // denoSource: tensor files are local paths

        onProgress: tty
          ? (p) => {
            const gbs = p.bytesRead / 1e9 / Math.max(p.seconds, 1e-9);
            const eta = gbs > 0 ? (p.bytesTotal - p.bytesRead) / 1e9 / gbs : 0;
            io.progress(
              `[${p.done}/${p.total}] ${gbs.toFixed(2)} GB/s, ETA ${eta.toFixed(0)}s  ${p.name}`,
            );
          }
          : undefined,
      });
      if (tty) io.progress("");
      await staged.commit();
      if (values.profile) {
        const st = result.stats;
        const f = (x: number) => `${x.toFixed(2)} s`;
        io.out(
          `Profile (thread-seconds, ${st.threads} quantize thread(s), wall ${f(result.seconds)}): read ${
            f(st.readSeconds)
          }, quantize ${f(st.quantizeSeconds)}, md5 ${f(st.md5Seconds)}, write ${f(st.writeSeconds)}, ` +
            `waiting for shard buffers ${f(st.waitSeconds)}; ${st.paramsInPlace} parameters written in place`,
        );
      }
      if (!quiet) {
        const m = result.cache.metadata;
        const bytes = result.cache.records.reduce((a, s) => a + s.nbytes, 0);
        io.out(
          [
            `Converted ${model.arch.name} to ${scheme.name} in ${result.seconds.toFixed(2)} s ` +
            `(${(result.bytesRead / 1e9 / Math.max(result.seconds, 1e-9)).toFixed(2)} GB/s of source read)`,
            `  parameters:     ${
              plan.totalParamNum.toLocaleString("en-US")
            } source, ${m.ParamSize} tensors written`,
            `  bytes:          ${
              formatBytes(bytes)
            } in ${result.cache.records.length} shard(s) (ParamBytes ${m.ParamBytes})`,
            `  bits per param: ${m.BitsPerParam.toFixed(3)}`,
            `  output:         ${out}`,
          ].join("\n"),
        );
      }
      return 0;
    } catch (e) {
      await staged.abort();
      throw e;
    } finally {
      Deno.removeSignalListener("SIGINT", onSignal);
      await backend.close();
    }
  } finally {
    checkpoint.close();
  }
}
