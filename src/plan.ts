/**
 * The conversion plan, computed from config.json and the safetensors headers alone: which
 * MLC parameters are built from which tensors, in MLC's loading order, what each emits after
 * quantization (names, shapes, dtypes, bytes), the shard layout, the metadata, and every
 * problem found. Reads no tensor data.
 *
 * @module
 */
import type { ModelConfig } from "./arch/config.ts";
import type { Architecture, ArchParam, Dim } from "./arch/types.ts";
import { listOf } from "./text.ts";
import { layoutShards, type ShardLayout, storedBytes } from "./shard_layout.ts";
import type { Checkpoint, SourceTensor } from "./checkpoint.ts";
import { type DType, itemSize } from "./dtype.ts";
import { unsupportedDtypeReason } from "./safetensors.ts";
import { groupConstants, type QuantScheme } from "./quant/schemes.ts";
import { importParams, rawSourceProblem } from "./quant/import_params.ts";

/** One tensor the conversion writes. */
export interface PlannedOutput {
  /** Output name (`...q_weight`, `...q_scale` or the parameter name). */
  readonly name: string;
  /** Concrete shape. */
  readonly shape: readonly number[];
  /** Dtype written. */
  readonly dtype: DType;
  /** Bytes on disk. */
  readonly nbytes: number;
  /** Shard index and byte offset (from the shard layout). */
  shard: number;
  /** Byte offset within the shard. */
  byteOffset: number;
}

/** How one MLC parameter is produced. */
export interface PlannedParam {
  /** The architecture's parameter. */
  readonly param: ArchParam;
  /** Source tensors, in `param_map` order. */
  readonly sources: readonly SourceTensor[];
  /** Concrete shape of the built (unquantized) value. */
  readonly shape: readonly number[];
  /** Dtype the value is cast to. */
  readonly dtype: DType;
  /** Group quantization applied, and the layout. */
  readonly quant: "NK" | "KN" | undefined;
  /** What it emits, in order. */
  readonly outputs: readonly PlannedOutput[];
}

/** The full plan. */
export interface ConversionPlan {
  /** Architecture used. */
  readonly arch: Architecture;
  /** Quantization scheme. */
  readonly scheme: QuantScheme;
  /** Parameters in MLC's loading (emission) order. */
  readonly params: readonly PlannedParam[];
  /** Every emitted tensor in emission order. */
  readonly outputs: readonly PlannedOutput[];
  /** Shard file sizes, by shard index. */
  readonly shardSizes: readonly number[];
  /** The shard layout of {@link ConversionPlan.outputs} (the writer follows it). */
  readonly layout: ShardLayout;
  /** Problems that prevent conversion (all of them, not just the first). */
  readonly problems: readonly string[];
  /** Warnings (unused tensors, ...). */
  readonly warnings: readonly string[];
  /** Every source tensor the architecture needs that the checkpoint lacks (the problem shows the first ones). */
  readonly missing?: readonly string[];
  /** Every checkpoint tensor nothing uses (the warning shows the first ones). */
  readonly unused?: readonly string[];
  /** Source parameters counted as MLC counts them (file loads, reloads count twice). */
  readonly totalParamNum: number;
  /** Metadata ParamSize. */
  readonly paramSize: number;
  /** Metadata ParamBytes. */
  readonly paramBytes: number;
  /** Metadata BitsPerParam. */
  readonly bitsPerParam: number;
  /** Total bytes of source tensors read. */
  readonly sourceBytes: number;
}

/** MLC's `is_final_fc`: exact module names of final projections. */
export const FINAL_FC_NAMES: ReadonlySet<string> = new Set([
  "head",
  "lm_head",
  "lm_head.linear",
  "embed_out",
]);

/**
 * Whether the parameter is group-quantized under `scheme`, and with which layout.
 *
 * @example
 * ```ts
 * import { quantLayoutFor } from "./plan.ts";
 * import { QUANTIZATIONS } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(quantLayoutFor({ name: "lm_head.weight", shape: [8, 4], sources: [], quant: "linear" },
 *   [8, 4], QUANTIZATIONS.q4f16_2), undefined);
 * ```
 */
export function quantLayoutFor(
  p: ArchParam,
  shape: readonly number[],
  scheme: QuantScheme,
): "NK" | "KN" | undefined {
  if (scheme.kind !== "group-quant" || !p.quant || !p.name.endsWith(".weight")) return undefined;
  const module = p.name.slice(0, -".weight".length);
  if (p.quant === "embedding") return scheme.quantizeEmbedding ? "NK" : undefined;
  if (p.quant === "experts") return scheme.layout; // (KN is refused by the plan, as by MLC)
  if (FINAL_FC_NAMES.has(module) && !scheme.quantizeFinalFc) return undefined;
  if (module.endsWith("gate") && shape[0] <= 256) return undefined; // is_moe_gate
  return scheme.layout;
}

/**
 * The tensors a parameter emits: `q_weight` and `q_scale` when quantized, else itself.
 *
 * @example
 * ```ts
 * import { quantizedOutputs } from "./plan.ts";
 * import { QUANTIZATIONS } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(quantizedOutputs("a.weight", [4096, 4096], "float16", QUANTIZATIONS.q4f16_1, "NK")
 *   .map((o) => o.shape), [[4096, 512], [4096, 128]]);
 * ```
 */
export function quantizedOutputs(
  name: string,
  shape: readonly number[],
  dtype: DType,
  scheme: QuantScheme,
  layout: "NK" | "KN" | undefined,
): PlannedOutput[] {
  const out = (n: string, s: readonly number[], d: DType): PlannedOutput => ({
    name: n,
    shape: s,
    dtype: d,
    nbytes: storedBytes(s, d),
    shard: -1,
    byteOffset: 0,
  });
  if (!layout || scheme.kind !== "group-quant") return [out(name, shape, dtype)];
  const base = name.slice(0, -".weight".length);
  const k = shape[shape.length - 1];
  const lead = shape.slice(0, -1);
  const groups = Math.ceil(k / scheme.groupSize);
  const words = groups * groupConstants(scheme).wordsPerGroup;
  let ws = [...lead, words];
  let ss = [...lead, groups];
  if (layout === "KN") {
    ws = [words, ...lead];
    ss = [groups, ...lead];
  }
  return [out(`${base}.q_weight`, ws, "uint32"), out(`${base}.q_scale`, ss, scheme.modelDtype)];
}

const fmtShape = (s: readonly Dim[]): string => `[${s.join(", ")}]`;

/** Options of {@link planConversion}. */
export interface PlanOptions {
  /** Architecture. */
  arch: Architecture;
  /** Parsed model config (from `arch.configClass`). */
  config: ModelConfig;
  /** Quantization scheme. */
  scheme: QuantScheme;
  /** Opened checkpoint (headers only are used). */
  checkpoint: Checkpoint;
  /** Shard cap (default 32 MiB). */
  shardCap?: number;
}

/**
 * Builds the conversion plan. Never throws for checkpoint problems: they are collected in
 * `problems`, each naming the tensor, the expected and the actual value.
 *
 * @example
 * ```ts ignore
 * import { planConversion } from "@mlc-deno/convert";
 * const plan = planConversion({ arch, config, scheme, checkpoint });
 * if (plan.problems.length) console.error(plan.problems.join("\n"));
 * ```
 */
export function planConversion(opts: PlanOptions): ConversionPlan {
  const { arch, config, scheme, checkpoint } = opts;
  const problems: string[] = [];
  const warnings: string[] = [];
  if (scheme.kind === "group-quant" && !arch.quantKinds.includes("group-quant")) {
    problems.push(`Model type ${arch.name} does not support group quantization (${scheme.name})`);
  }
  const params = scheme.kind === "awq" || scheme.kind === "block-scale-quant"
    ? importParams(arch, config, scheme, problems)
    : arch.params(config);
  const unused = (n: string) => arch.isUnused?.(n, config) ?? false;
  const missing = missingSources(params, checkpoint);
  if (missing.length) {
    problems.push(
      `The following extern parameters do not exist in the weight files (${checkpoint.location}): ${
        listOf(missing)
      }`,
    );
  }
  const torchToMlc = paramMap(params);
  const unusedNames = checkpoint.order.filter((n) => !torchToMlc.has(n) && !unused(n));
  if (unusedNames.length) warnings.push(`Unused extern parameters: ${listOf(unusedNames)}`);
  const { planned, sourceBytes } = planParams(
    loadingOrder(checkpoint, torchToMlc),
    checkpoint,
    scheme,
    problems,
  );
  const totalParamNum = loadedParamCount(planned, checkpoint, unused);
  const outputs = planned.flatMap((p) => p.outputs);
  const layout = layoutShards(outputs.map((o) => o.nbytes), opts.shardCap);
  outputs.forEach((o, i) => {
    o.shard = layout.placement[i][0];
    o.byteOffset = layout.placement[i][1];
  });
  const paramBytes = outputs.reduce((a, o) => a + o.shape.reduce((x, y) => x * y, 1) * itemSize(o.dtype), 0);
  return {
    arch,
    scheme,
    params: planned,
    outputs,
    shardSizes: layout.shardSizes,
    layout,
    problems,
    warnings,
    missing,
    unused: unusedNames,
    totalParamNum,
    paramSize: outputs.length,
    paramBytes,
    bitsPerParam: paramBytes * 8 / totalParamNum,
    sourceBytes,
  };
}

/** Every missing source tensor, all at once, each once. */
function missingSources(params: readonly ArchParam[], checkpoint: Checkpoint): string[] {
  const missing = new Set<string>();
  for (const p of params) for (const s of p.sources) if (!checkpoint.tensors.has(s)) missing.add(s);
  return [...missing];
}

/** MLC's param_map: source tensor name -> the MLC parameters built from it, in declaration order. */
function paramMap(params: readonly ArchParam[]): Map<string, ArchParam[]> {
  const torchToMlc = new Map<string, ArchParam[]>();
  for (const p of params) {
    for (const s of p.sources) {
      const l = torchToMlc.get(s);
      if (l) l.push(p);
      else torchToMlc.set(s, [p]);
    }
  }
  return torchToMlc;
}

/**
 * MLC's loading order: files by first appearance of their tensors, each file's tensors in
 * order, each tensor's MLC parameters when first seen.
 */
function loadingOrder(checkpoint: Checkpoint, torchToMlc: ReadonlyMap<string, ArchParam[]>): ArchParam[] {
  const byFile = new Map<string, string[]>(); // (a Map keeps first-appearance order)
  for (const n of checkpoint.order) {
    const f = checkpoint.tensors.get(n)!.file;
    let l = byFile.get(f);
    if (!l) byFile.set(f, l = []);
    l.push(n);
  }
  const ordered: ArchParam[] = [];
  const seen = new Set<string>();
  for (const names of byFile.values()) {
    for (const n of names) {
      for (const p of torchToMlc.get(n) ?? []) {
        if (!seen.has(p.name)) {
          seen.add(p.name);
          ordered.push(p);
        }
      }
    }
  }
  return ordered;
}

/**
 * Shapes, dtypes and outputs of the parameters in loading order (problems collected; a
 * parameter with one is left out), and the source bytes they read (each tensor once).
 */
function planParams(
  ordered: readonly ArchParam[],
  checkpoint: Checkpoint,
  scheme: QuantScheme,
  problems: string[],
): { planned: PlannedParam[]; sourceBytes: number } {
  const planned: PlannedParam[] = [];
  const knExperts: string[] = [];
  let sourceBytes = 0;
  const counted = new Set<string>();
  for (const p of ordered) {
    const found = p.sources.map((s) => checkpoint.tensors.get(s)).filter((t): t is SourceTensor => !!t);
    if (found.length !== p.sources.length) continue; // reported as missing
    // (pre-quantized imports copy the bytes: the source is read as the parameter's dtype)
    const sources = p.raw ? found.map((s) => ({ ...s, dtype: p.dtype })) : found;
    for (const s of sources) {
      if (!counted.has(s.name)) {
        counted.add(s.name);
        sourceBytes += s.nbytes;
      }
    }
    const shape = checkedShape(p, sources, scheme.name, problems);
    if (!shape) continue;
    const dtype: DType = p.dtype ?? scheme.modelDtype;
    const layout = quantLayoutFor(p, shape, scheme);
    if (layout === "KN" && p.quant === "experts") knExperts.push(p.name);
    planned.push({
      param: p,
      sources,
      shape,
      dtype,
      quant: layout,
      outputs: quantizedOutputs(p.name, shape, dtype, scheme, layout),
    });
  }
  if (knExperts.length) {
    // group_quantization.py GroupQuantizeMixtralExperts.__init__ raises NotImplementedError
    problems.push(
      `${scheme.name} uses the KN layout, which MLC's group quantization of stacked MoE experts does not ` +
        `support ("GroupQuantizeMixtralExperts does not support KN layout now"): ${knExperts.join(", ")}`,
    );
  }
  return { planned, sourceBytes };
}

/**
 * The shape `p` is built with from `sources`, when their dtypes are supported and it matches
 * the declared shape; else undefined, with the problems pushed.
 */
function checkedShape(
  p: ArchParam,
  sources: readonly SourceTensor[],
  schemeName: string,
  problems: string[],
): number[] | undefined {
  let bad = false;
  for (const s of sources) {
    const rawWhy = rawSourceProblem(p, s, schemeName);
    if (rawWhy || !s.dtype) {
      problems.push(
        rawWhy ??
          `Tensor ${s.name} in ${s.file} has dtype ${s.stDtype}, ${unsupportedDtypeReason(s.stDtype)}`,
      );
      bad = true;
    }
  }
  if (bad) return undefined;
  const shape = builtShape(p, sources, problems);
  if (!shape) return undefined;
  if (shape.length !== p.shape.length || p.shape.some((d, i) => typeof d === "number" && d !== shape[i])) {
    problems.push(
      `Parameter ${p.name} has shape ${fmtShape(shape)}, but expected ${fmtShape(p.shape)} (built from ${
        sources.map((s) => `${s.name} ${fmtShape(s.shape)}`).join(", ")
      })`,
    );
    return undefined;
  }
  return shape;
}

/**
 * BitsPerParam's denominator: the elements of every tensor MLC's loader loads, emulating its
 * file cache (a parameter's files are loaded, the files it does not need dropped).
 */
function loadedParamCount(
  planned: readonly PlannedParam[],
  checkpoint: Checkpoint,
  unused: (name: string) => boolean,
): number {
  let total = 0;
  const loaded = new Set<string>();
  for (const pp of planned) {
    const required = new Set(pp.sources.map((s) => s.file));
    const toLoad = [...required].filter((f) => !loaded.has(f));
    if (!toLoad.length) continue;
    for (const f of [...loaded]) if (!required.has(f)) loaded.delete(f);
    for (const f of toLoad) {
      loaded.add(f);
      for (const t of checkpoint.fileTensors.get(f) ?? []) {
        if (!unused(t.name)) total += t.shape.reduce((a, b) => a * b, 1);
      }
    }
  }
  return total;
}

function builtShape(
  p: ArchParam,
  sources: readonly SourceTensor[],
  problems: string[],
): number[] | undefined {
  const t = p.transform ?? { kind: "concat" };
  if (t.kind === "stack") return stackedShape(p, t.experts, sources, problems);
  if (t.kind === "concat1") return axis1Shape(p, sources, problems);
  if (t.kind === "concat") {
    const first = sources[0].shape;
    for (const s of sources.slice(1)) {
      if (s.shape.length !== first.length || s.shape.slice(1).some((d, i) => d !== first[i + 1])) {
        problems.push(
          `Parameter ${p.name}: cannot concatenate ${
            sources.map((x) => `${x.name} ${fmtShape(x.shape)}`).join(", ")
          } along axis 0 (trailing dimensions differ)`,
        );
        return undefined;
      }
    }
    return [sources.reduce((a, s) => a + (s.shape[0] ?? 1), 0), ...first.slice(1)].slice(
      0,
      Math.max(1, first.length),
    );
  }
  // whole-tensor transforms: the declared shape, symbolic dims taken from the first source
  const numel = sources.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
  const shape = p.shape.map((d, i) => typeof d === "number" ? d : sources[0].shape[i]);
  if (t.outShape) return t.outShape(sources.map((s) => [...s.shape]));
  if (shape.reduce((a, b) => a * b, 1) !== numel) {
    problems.push(
      `Parameter ${p.name}: sources ${
        sources.map((x) => `${x.name} ${fmtShape(x.shape)}`).join(", ")
      } hold ${numel} elements, but shape ${fmtShape(p.shape)} needs ${shape.reduce((a, b) => a * b, 1)}`,
    );
    return undefined;
  }
  return shape;
}

/** `np.stack` of per-expert `np.concatenate(axis=0)` groups: `(experts, groupRows, ...)`. */
function stackedShape(
  p: ArchParam,
  experts: number,
  sources: readonly SourceTensor[],
  problems: string[],
): number[] | undefined {
  const per = sources.length / experts;
  if (!Number.isInteger(per) || per < 1) {
    problems.push(`Parameter ${p.name}: ${sources.length} tensors do not split into ${experts} experts`);
    return undefined;
  }
  const shapeOf = (g: readonly SourceTensor[]): string | undefined =>
    g.some((s) =>
        s.shape.length !== g[0].shape.length || s.shape.slice(1).some((d, i) => d !== g[0].shape[i + 1])
      )
      ? undefined
      : fmtShape([g.reduce((a, s) => a + (s.shape[0] ?? 1), 0), ...g[0].shape.slice(1)]);
  const group = (e: number) => sources.slice(e * per, (e + 1) * per);
  const first = shapeOf(group(0));
  for (let e = 0; e < experts; e++) {
    if (first === undefined || shapeOf(group(e)) !== first) {
      const bad = first === undefined ? 0 : e;
      problems.push(
        `Parameter ${p.name}: cannot stack the ${experts} experts: expert ${bad} (${
          group(bad).map((x) => `${x.name} ${fmtShape(x.shape)}`).join(", ")
        }) does not concatenate along axis 0 to the shape of expert 0 (${first ?? "none"})`,
      );
      return undefined;
    }
  }
  const g0 = group(0);
  return [experts, g0.reduce((a, s) => a + (s.shape[0] ?? 1), 0), ...g0[0].shape.slice(1)];
}

/** `np.concatenate(axis=1)` of 2-D sources: `(rows, sum of columns)`. */
function axis1Shape(
  p: ArchParam,
  sources: readonly SourceTensor[],
  problems: string[],
): number[] | undefined {
  const rows = sources[0].shape[0];
  if (sources.some((s) => s.shape.length !== 2 || s.shape[0] !== rows)) {
    problems.push(
      `Parameter ${p.name}: cannot concatenate ${
        sources.map((x) => `${x.name} ${fmtShape(x.shape)}`).join(", ")
      } along axis 1 (they must be 2-D with the same number of rows)`,
    );
    return undefined;
  }
  return [rows, sources.reduce((a, s) => a + s.shape[1], 0)];
}
