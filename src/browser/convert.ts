/**
 * The whole `convert_weight` + `gen_config` run for a web page: model folder in a
 * {@link SourceStore}, files out to an {@link OutputStore}, progress through callbacks.
 *
 * @module
 */
import type { OutputStore, SourceStore } from "../io/types.ts";
import { loadModelConfig, openWeights } from "../model.ts";
import { planConversion } from "../plan.ts";
import { getQuantization } from "../quant/schemes.ts";
import { selectBackend } from "../device.ts";
import { type ConvertProgress, type ConvertResult, convertWeight } from "../convert.ts";
import { genConfig } from "../genconfig/gen_config.ts";
import { sentencePieceToTokenizerJson } from "../tokenizer/sentencepiece.ts";
import { layerCountProblem, vocabWarnings } from "../config_bounds.ts";

/** Options of {@link convertInBrowser}. */
export interface BrowserConvertOptions {
  /** The picked files (see `fileSource`, `directorySource`). */
  source: SourceStore & { listDir?(dir: string): Promise<string[]> };
  /** Directory of config.json inside the source (`""`: its top; default: found with {@link findModelDir}). */
  model?: string;
  /** Quantization, e.g. `q4f16_1`. */
  quantization: string;
  /** Conversation template (default `auto`). */
  convTemplate?: string;
  /** `auto` (WebGPU when a real adapter is offered, else WASM), `webgpu`, `cpu` or `reference`. */
  device?: string;
  /** Where the files go (required unless `dryRun`). */
  output?: OutputStore;
  /**
   * Kernel worker threads (default: the core count, at most 8, when the page is cross-origin
   * isolated, since workers share memory; otherwise 1, all on the page's thread).
   */
  threads?: number;
  /** Plan only. */
  dryRun?: boolean;
  /** Runs gen_config after the weights (default true). */
  genConfig?: boolean;
  /** Called after each parameter. */
  onProgress?: (p: ConvertProgress) => void;
  /** Log lines (device choice, warnings, gen_config messages). */
  log?: (line: string) => void;
}

/** The plan, as shown before converting. */
export interface BrowserPlanSummary {
  /** Architecture (`model_type`). */
  modelType: string;
  /** Parameters to convert. */
  params: number;
  /** Tensors written. */
  tensors: number;
  /** Shard files. */
  shards: number;
  /** Bytes of shards written. */
  outputBytes: number;
  /** Bytes read from the checkpoint. */
  sourceBytes: number;
  /** Bits per parameter after quantization. */
  bitsPerParam: number;
  /** Problems (conversion refused while any). */
  problems: string[];
  /** Warnings. */
  warnings: string[];
}

/** Result of {@link convertInBrowser}. */
export interface BrowserConvertResult {
  /** The plan. */
  plan: BrowserPlanSummary;
  /** The device used (absent on a dry run). */
  device?: { name: string; description: string };
  /** Threads used. */
  threads: number;
  /** The conversion's result (absent on a dry run). */
  convert?: ConvertResult;
  /** Files written, in order. */
  files: string[];
  /** Conversation template used (when gen_config ran). */
  convTemplate?: string;
}

/**
 * The directory holding `config.json` among `paths` (the shallowest one), or undefined.
 *
 * @example
 * ```ts
 * import { findModelDir } from "./convert.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(findModelDir(["M/config.json", "M/model.safetensors"]), "M");
 * ```
 */
export function findModelDir(paths: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const p of paths) {
    if (p !== "config.json" && !p.endsWith("/config.json")) continue;
    const dir = p.slice(0, Math.max(0, p.length - "/config.json".length));
    if (best === undefined || dir.split("/").length < best.split("/").length) best = dir;
  }
  return best;
}

/** Threads by default: workers need shared memory, which needs a cross-origin isolated page. */
function defaultThreads(): number {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  const isolated = g.crossOriginIsolated === true && typeof g.SharedArrayBuffer === "function";
  return isolated ? Math.max(1, Math.min(8, navigator.hardwareConcurrency || 1)) : 1;
}

/**
 * Plans, converts and writes gen_config's files, as `mlc_llm convert_weight` then `gen_config`
 * would (the same bytes).
 *
 * @example
 * ```ts ignore
 * import { convertInBrowser, fileSource, zipOutput } from "@mlc-deno/convert/web";
 * const out = zipOutput();
 * await convertInBrowser({ source: fileSource(input.files!), quantization: "q4f16_1", output: out });
 * const url = URL.createObjectURL((await out.finish())!);
 * ```
 */
export async function convertInBrowser(opts: BrowserConvertOptions): Promise<BrowserConvertResult> {
  const log = opts.log ?? (() => {});
  const dir = opts.model ?? "";
  const model = await loadModelConfig(opts.source, dir === "" ? "config.json" : dir);
  for (const l of model.logs) log(l);
  const { checkpoint, warnings } = await openWeights(opts.source, model.dir);
  try {
    const layers = layerCountProblem(model.hfConfig, checkpoint.order);
    if (layers) throw new Error(`${model.configPath}: ${layers}`);
    const plan = planConversion({
      arch: model.arch,
      config: model.config,
      scheme: getQuantization(opts.quantization),
      checkpoint,
    });
    const summary: BrowserPlanSummary = {
      modelType: model.arch.name,
      params: plan.params.length,
      tensors: plan.outputs.length,
      shards: plan.shardSizes.length,
      outputBytes: plan.shardSizes.reduce((a, b) => a + b, 0),
      sourceBytes: plan.sourceBytes,
      bitsPerParam: plan.bitsPerParam,
      problems: [...plan.problems],
      warnings: [...warnings, ...plan.warnings, ...vocabWarnings(plan.params, model.config)],
    };
    const threads = Math.max(1, Math.floor(opts.threads ?? defaultThreads()));
    if (opts.dryRun) return { plan: summary, threads, files: [] };
    if (!opts.output) throw new Error("convertInBrowser: no output (required unless dryRun)");
    if (plan.problems.length) throw new Error(`cannot convert:\n${plan.problems.join("\n")}`);
    for (const w of summary.warnings) log(`Warning: ${w}`);
    const files: string[] = [];
    const output: OutputStore = {
      ...opts.output,
      create: (name) => (files.push(name), opts.output!.create(name)),
      writeTextFile: (name, text) => (files.push(name), opts.output!.writeTextFile(name, text)),
    };
    const backend = await selectBackend(opts.device ?? "auto", log);
    try {
      log(`Using device: ${backend.name} (${backend.description})`);
      const convert = await convertWeight({
        plan,
        checkpoint,
        backend,
        output,
        threads,
        onProgress: opts.onProgress,
      });
      const device = { name: backend.name, description: backend.description };
      if (opts.genConfig === false) return { plan: summary, device, threads, convert, files };
      const gc = await genConfig({
        source: opts.source,
        output,
        config: model.configPath,
        quantization: opts.quantization,
        convTemplate: opts.convTemplate ?? "auto",
        log: (level, message) => log(`${level === "warning" ? "Warning: " : ""}${message}`),
        convertSentencePiece: (m) => sentencePieceToTokenizerJson(m),
      });
      return { plan: summary, device, threads, convert, files, convTemplate: gc.convTemplate };
    } finally {
      await backend.close();
    }
  } finally {
    checkpoint.close();
  }
}
