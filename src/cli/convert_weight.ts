/**
 * `convert_weight` command: MLC's flags (and device names), permission checks, dry run,
 * progress, interrupts, MLC's closing lines and our summary.
 *
 * @module
 */
import { type ConvertResult, convertWeight } from "../convert.ts";
import { layerCountProblem, vocabWarnings } from "../config_bounds.ts";
import { DEVICES, selectBackend } from "../device.ts";
import { MAX_LIST_ITEMS } from "../text.ts";
import { checkOutputDir, inspectOutputDir, type StagedDir, stageOutputDir } from "../io/staged_dir.ts";
import type { FileSink, OutputStore } from "../io/types.ts";
import { loadModelConfig, openWeights, resolveConfigPath } from "../model.ts";
import { estimatePeakMemory } from "../pipeline/sizes.ts";
import { type ConversionPlan, planConversion } from "../plan.ts";
import { getQuantization } from "../quant/schemes.ts";
import type { QuantBackend } from "../quant/backend.ts";
import { type CommandSpec, intValue } from "./_args.ts";
import { type CommandContext, defineCommand } from "./_command.ts";
import {
  CliError,
  type Command,
  EXIT_CODES,
  formatBytes,
  formatRate,
  type Io,
  requirePermissions,
  UsageError,
} from "./_common.ts";
import { mergeNeeds, openModelSource, sourceNeeds } from "./_hub.ts";
import { interrupts, testPause, testSetting } from "./_interrupt.ts";
import {
  deviceOption,
  mapMlcDevice,
  mlcClosingLines,
  mlcLogLine,
  MODEL_TYPE_OPTION,
  QUANTIZATION_OPTION,
} from "./_mlc.ts";
import { progressMode, ProgressRenderer } from "./_progress.ts";

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
    missing_tensors: plan.missing ?? [],
    unused_tensors: plan.unused ?? [],
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

function printPlan(plan: ConversionPlan, io: Io, peak: number): void {
  const w = (s: string) => io.out(s);
  w(`Plan: ${plan.arch.name}, ${plan.scheme.name}: ${plan.outputs.length} tensors in ${plan.shardSizes.length} shards`);
  const nameW = Math.min(64, Math.max(4, ...plan.outputs.map((o) => o.name.length)));
  // (float8_e4m3fn of pre-quantized imports is wider than the usual 8)
  const dtW = Math.max(8, ...plan.outputs.map((o) => o.dtype.length));
  w(`${"name".padEnd(nameW)}  ${"shape".padEnd(16)}  ${"dtype".padEnd(dtW)}  ${"bytes".padStart(11)}  shard`);
  for (const o of plan.outputs) {
    w(
      `${o.name.padEnd(nameW)}  ${`[${o.shape.join(", ")}]`.padEnd(16)}  ${o.dtype.padEnd(dtW)}  ${
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

const SPEC = {
  name: "convert_weight",
  usage: "CONFIG --quantization Q -o OUT [options]",
  description:
    "Convert a Hugging Face checkpoint to MLC weights (params_shard_*.bin + tensor-cache.json).\n" +
    "A previous conversion in OUT (ours or MLC's) is replaced; other files in OUT are refused.",
  positionals: [{
    name: "CONFIG",
    help: "model directory, or its config.json, or HF://owner/name[@revision]",
  }],
  options: {
    quantization: QUANTIZATION_OPTION,
    download: {
      type: "boolean",
      help:
        "HF:// models: keep a copy in the Hugging Face cache (HF_HUB_CACHE)\nand convert from there (default: range reads, nothing stored)",
    },
    output: {
      type: "string",
      short: "o",
      metavar: "OUT",
      help: "output directory (required unless --dry-run)",
    },
    "model-type": MODEL_TYPE_OPTION,
    source: {
      type: "string",
      metavar: "PATH",
      default: "auto",
      help: "weights: directory, index .json, .safetensors or PyTorch .bin",
    },
    "source-format": {
      type: "string",
      metavar: "F",
      default: "auto",
      choices: ["auto", "huggingface-safetensor", "huggingface-torch", "awq"],
      help:
        "auto (PyTorch files first, as MLC) | huggingface-torch |\nhuggingface-safetensor | awq (AutoAWQ " +
        "checkpoints, with\n--quantization q4f16_autoawq)",
    },
    device: deviceOption(
      DEVICES,
      "auto",
      `${
        DEVICES.join(" | ")
      }; auto: a real GPU adapter if any (never a\nsoftware fallback), else cpu. MLC's cuda, metal, vulkan, rocm, opencl\n(with :N) mean the same as auto`,
    ),
    "tie-rounding": {
      type: "string",
      metavar: "R",
      default: "even",
      choices: ["even", "away"],
      help: "even (current MLC) | away (older CPU builds)",
    },
    threads: {
      type: "string",
      metavar: "N",
      help:
        "kernel worker threads, which quantize and hash (default: the core\ncount); 1: all on the main thread",
    },
    profile: {
      type: "boolean",
      help: "print where the time went (read, quantize, md5, write), even with --quiet",
    },
    "buffered-io": {
      type: "boolean",
      help:
        "write shards through the page cache (default: direct I/O where\nthe file system allows it, which saves the CPU of the copy)",
    },
    overwrite: {
      type: "boolean",
      help:
        "write into OUT even though it holds other files (they are left\nalone; a previous conversion is replaced without this flag)",
    },
    "dry-run": { type: "boolean", help: "print the plan from headers only; read no tensor data" },
    "allow-non-finite": {
      type: "boolean",
      help:
        "convert tensors holding NaN or infinite values (default: refuse,\nnaming them; MLC LLM converts them silently)",
    },
  },
  jsonHelp:
    "print the result (with --dry-run: the plan) as JSON on stdout;\nprogress as JSON lines on stderr when it is not a terminal",
} as const satisfies CommandSpec;

type Ctx = CommandContext<typeof SPEC>;

/** The command line, checked and resolved. */
interface Options {
  config: string;
  source: string;
  out: string | undefined;
  device: string;
  deviceNote?: string;
  threads: number;
  dryRun: boolean;
  /** Whether the tensor files are local paths (workers may open them). */
  localSource: boolean;
}

function resolveOptions(ctx: Ctx): Options {
  const v = ctx.values;
  const dryRun = v["dry-run"];
  if (!v.output && !dryRun) {
    throw new UsageError("the following arguments are required: --output/-o", SPEC.name);
  }
  const { device, note } = mapMlcDevice(v.device, DEVICES)!;
  const threads = intValue(
    v.threads,
    "threads",
    SPEC.name,
    { min: 1, max: 256 },
    navigator.hardwareConcurrency || 1,
  );
  return {
    config: ctx.positionals[0],
    source: v.source,
    out: v.output,
    device,
    deviceNote: note,
    threads,
    dryRun,
    localSource: true,
  };
}

/** The directory `--source` grants reads in (none for `auto`: the model directory). */
function sourceRoots(source: string): string[] {
  if (source === "auto") return [];
  const s = source.replace(/\/+$/, "") || "/";
  return [/\.(json|safetensors)$/.test(s) ? resolveConfigPath(s).dir : s];
}

/**
 * MLC reads AutoAWQ checkpoints with its `awq` loader only (`--source-format awq` goes with
 * `--quantization q4f16_autoawq`, and back): the files are found as with `auto`.
 */
function awqSourceFormat(
  format: string,
  quantization: string,
): "auto" | "huggingface-safetensor" | "huggingface-torch" {
  const awq = quantization === "q4f16_autoawq";
  if (awq !== (format === "awq")) {
    throw new UsageError(
      awq
        ? "--quantization q4f16_autoawq imports AutoAWQ checkpoints: pass --source-format awq (as MLC requires)"
        : `--source-format awq reads AutoAWQ checkpoints: it goes with --quantization q4f16_autoawq, not ${quantization}`,
      SPEC.name,
    );
  }
  return awq ? "auto" : format as "auto" | "huggingface-safetensor" | "huggingface-torch";
}

/** The conversion's run: permissions, the output check, the model, then a dry run or a conversion. */
async function run(ctx: Ctx): Promise<number> {
  const o = resolveOptions(ctx);
  const out = o.out!;
  requirePermissions(mergeNeeds(sourceNeeds(o.config, ctx.values.download), {
    // Deno's rename (moving finished files into OUT) needs read access to OUT as well
    read: [...(o.source === "auto" ? [] : [o.source]), ...(o.dryRun ? [] : [out])],
    write: o.dryRun ? [] : [out],
  }));
  // the output first: a refused OUT is reported before anything is read or probed
  if (!o.dryRun) checkOutputDir(out, await inspectOutputDir(out), { overwrite: ctx.values.overwrite });
  let integrity: (() => string) | undefined;
  const fmt = awqSourceFormat(ctx.values["source-format"], ctx.values.quantization);
  let opened;
  try {
    const src = await openModelSource(
      o.config,
      ctx.values.download,
      (l) => ctx.log(l),
      sourceRoots(o.source),
    );
    const store = src.store;
    o.localSource = src.local;
    integrity = src.integrity;
    const model = await loadModelConfig(store, src.config, ctx.values["model-type"]);
    opened = { model, ...(await openWeights(store, model.dir, o.source, fmt)) };
    const layers = layerCountProblem(model.hfConfig, opened.checkpoint.order);
    if (layers) {
      opened.checkpoint.close();
      throw new Error(`${model.configPath}: ${layers}`);
    }
  } catch (e) {
    // a dry run reports problems it cannot plan past (unknown architecture, bad config or
    // headers) in its own format
    if (!o.dryRun) throw e;
    const problem = (e as Error).message;
    ctx.result({ ok: false, problems: [problem], warnings: [], tensors: [] });
    ctx.out(`Problem: ${problem}`);
    return 1;
  }
  const { model, checkpoint, warnings } = opened;
  try {
    for (const l of model.logs) ctx.log(l);
    for (const w of warnings) ctx.log(`Warning: ${w}`);
    const scheme = getQuantization(ctx.values.quantization);
    const planned = planConversion({ arch: model.arch, config: model.config, scheme, checkpoint });
    const plan = {
      ...planned,
      warnings: [...planned.warnings, ...vocabWarnings(planned.params, model.config)],
    };
    const peak = estimatePeakMemory(plan, undefined, o.threads);
    if (o.dryRun) {
      ctx.result(planToJson(plan, peak));
      if (!ctx.json) printPlan(plan, { ...ctx.io, out: ctx.out }, peak);
      return plan.problems.length ? 1 : 0;
    }
    for (const m of plan.warnings) ctx.log(`Warning: ${m}`);
    if (plan.problems.length) {
      const shown = plan.problems.slice(0, MAX_LIST_ITEMS).map((p) => `  - ${p}`);
      const more = plan.problems.length - shown.length;
      throw new CliError(
        `Cannot convert ${model.configPath}:\n${shown.join("\n")}` +
          (more ? `\n  - and ${more.toLocaleString("en-US")} more problems (--json lists them all)` : ""),
        EXIT_CODES.failed,
        { problems: plan.problems, missing_tensors: plan.missing ?? [], unused_tensors: plan.unused ?? [] },
      );
    }
    const result = await convertAndCommit(ctx, o, { plan, checkpoint }, [...warnings, ...plan.warnings]);
    if (integrity) ctx.log(integrity());
    return result;
  } finally {
    checkpoint.close();
  }
}

/** Stages OUT, probes the device, converts with progress, commits, and prints the summary. */
async function convertAndCommit(
  ctx: Ctx,
  o: Options,
  src: { plan: ConversionPlan; checkpoint: Parameters<typeof convertWeight>[0]["checkpoint"] },
  warnings: string[],
): Promise<number> {
  const out = o.out!;
  const staged = await stageOutputDir(out, {
    overwrite: ctx.values.overwrite,
    directIO: !ctx.values["buffered-io"],
    onStep: (s) => testPause(`commit-${s}`, true),
  });
  const unguard = interrupts.guard(async () => {
    if (staged.state === "committed") return `the conversion had been committed: ${out} holds it`;
    await staged.abort();
    return `removed the staging directory ${staged.path}; ${out} is as it was`;
  });
  let backend: QuantBackend | undefined;
  try {
    if (staged.restoredFrom) {
      ctx.log(
        `Restored the previous conversion in ${out} from ${staged.restoredFrom} (a run killed while replacing it)`,
      );
    }
    for (const n of staged.removedStale) {
      ctx.log(`Removed ${out}/${n}, the staging directory of an interrupted run`);
    }
    for (const n of staged.before.foreign) {
      ctx.log(
        `Note: left ${out}/${n} alone: it has no mlc-convert marker (remove it by hand if it is a leftover)`,
      );
    }
    if (o.deviceNote) ctx.log(`Note: ${o.deviceNote}`);
    backend = await selectBackend(o.device, (m) => ctx.log(m));
    ctx.log(`Using device: ${backend.name} (${backend.description})`);
    const result = await convertWithProgress(ctx, o, src, backend, staged);
    const files = await interrupts.critical(() => staged.commit());
    report(ctx, { plan: src.plan, result, backend, files, replaced: staged.before.previous, warnings, out });
    return 0;
  } catch (e) {
    await interrupts.settle();
    await staged.abort();
    throw e;
  } finally {
    unguard();
    await backend?.close();
  }
}

/** Runs the conversion into the staging directory, with the progress `--json`/`--quiet`/the terminal ask for. */
async function convertWithProgress(
  ctx: Ctx,
  o: Options,
  src: { plan: ConversionPlan; checkpoint: Parameters<typeof convertWeight>[0]["checkpoint"] },
  backend: QuantBackend,
  staged: StagedDir,
): Promise<ConvertResult> {
  const progress = new ProgressRenderer({
    mode: progressMode(ctx.io, ctx),
    io: ctx.io,
    lineIntervalMs: testIntervalMs() ?? 10_000,
  });
  const unguard = interrupts.guard(() => Promise.resolve(void progress.abandon()));
  try {
    return await convertWeight({
      plan: src.plan,
      checkpoint: src.checkpoint,
      backend,
      output: pausingStore(staged.store),
      tie: ctx.values["tie-rounding"] as "even" | "away",
      threads: o.threads,
      directReads: o.localSource, // tensor files are local paths (not HF:// range reads)
      allowNonFinite: ctx.values["allow-non-finite"] === true,
      onProgress: (p) => progress.update(p),
    });
  } finally {
    unguard();
    progress.finish();
  }
}

/** The store, with the test pause point `shard-written` after the first write of a shard. */
function pausingStore(store: OutputStore): OutputStore {
  let paused = false;
  return {
    ...store,
    async create(name): Promise<FileSink> {
      const sink = await store.create(name);
      return {
        async write(chunk) {
          await sink.write(chunk);
          if (!paused && name.startsWith("params_shard_")) {
            paused = true;
            await testPause("shard-written");
          }
        },
        close: () => sink.close(),
      };
    },
  };
}

/** The plain/JSON progress line period a test sets (`MLC_CONVERT_TEST_PROGRESS_MS`). */
function testIntervalMs(): number | undefined {
  const v = testSetting("MLC_CONVERT_TEST_PROGRESS_MS");
  return v ? Number(v) : undefined;
}

/** What the summary reports. */
interface Outcome {
  plan: ConversionPlan;
  result: ConvertResult;
  backend: QuantBackend;
  files: string[];
  replaced: string[];
  warnings: string[];
  out: string;
}

/** MLC's closing lines (stderr, MLC's log format), our summary, the profile and the JSON result. */
function report(ctx: Ctx, r: Outcome): void {
  const { result, plan } = r;
  const m = result.cache.metadata;
  const rate = result.bytesRead / Math.max(result.seconds, 1e-9);
  for (
    const l of mlcClosingLines({ paramBytes: m.ParamBytes, totalParams: plan.totalParamNum, output: r.out })
  ) {
    ctx.log(mlcLogLine("convert_weight", l));
  }
  const bytes = result.cache.records.reduce((a, s) => a + s.nbytes, 0);
  ctx.out(
    [
      `Converted ${plan.arch.name} to ${plan.scheme.name} in ${result.seconds.toFixed(2)} s ` +
      `(${formatRate(rate)} of source read)`,
      `  parameters:     ${
        plan.totalParamNum.toLocaleString("en-US")
      } source, ${m.ParamSize} tensors written`,
      `  bytes:          ${
        formatBytes(bytes)
      } in ${result.cache.records.length} shard(s) (ParamBytes ${m.ParamBytes})`,
      `  bits per param: ${m.BitsPerParam.toFixed(3)}`,
      `  output:         ${r.out}`,
    ].join("\n"),
  );
  for (const t of result.nonFinite) {
    ctx.log(
      `warning: ${t.name} holds ${
        t.count.toLocaleString("en-US")
      } NaN or infinite values (converted: --allow-non-finite)`,
    );
  }
  const st = result.stats;
  if (ctx.values.profile && !ctx.json) {
    const f = (x: number) => `${x.toFixed(2)} s`;
    ctx.io.out(
      `Profile (thread-seconds, ${st.threads} quantize thread(s), wall ${f(result.seconds)}): read ${
        f(st.readSeconds)
      }, quantize ${f(st.quantizeSeconds)}, md5 ${f(st.md5Seconds)}, write ${f(st.writeSeconds)}, ` +
        `waiting for shard buffers ${f(st.waitSeconds)}; ${st.paramsInPlace} parameters written in place`,
    );
  }
  ctx.result({
    ok: true,
    model_type: plan.arch.name,
    quantization: plan.scheme.name,
    device: r.backend.name,
    output: r.out,
    seconds: result.seconds,
    source_bytes_read: result.bytesRead,
    bytes_per_second: Math.round(rate),
    total_params: plan.totalParamNum,
    metadata: m,
    shards: result.cache.records.map((s) => ({ dataPath: s.dataPath, nbytes: s.nbytes, md5sum: s.md5sum })),
    non_finite: result.nonFinite,
    files: r.files,
    replaced: r.replaced,
    warnings: r.warnings,
    stats: st,
  });
}

/** The `convert_weight` command. */
export const convertWeightCmd: Command = defineCommand({
  spec: SPEC,
  summary: "convert a Hugging Face checkpoint to MLC weights (tensor cache)",
  run,
});

/**
 * Runs `convert_weight` with command-line arguments; returns the exit code.
 *
 * @example
 * ```ts ignore
 * import { convertWeightCommand } from "./convert_weight.ts";
 * import { processIo } from "./_common.ts";
 * Deno.exit(await convertWeightCommand(["model", "--quantization", "q4f16_1", "-o", "out"], processIo()));
 * ```
 */
export function convertWeightCommand(args: string[], io: Io): Promise<number> {
  return convertWeightCmd.run(args, io);
}
