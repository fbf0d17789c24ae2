// Shared by the architecture tests: one-line summaries of parameter lists, config parsing,
// plans over sparse checkpoints with real dimensions, tiny conversions with chosen tensor
// bytes, and a checkpoint that refuses every read (to show a refusal happens before any data).
import { assertEquals } from "./_assert.ts";
import { fromDict } from "../src/arch/config.ts";
import type { ArchParam, HostTensor } from "../src/arch/types.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import type { Checkpoint } from "../src/checkpoint.ts";
import { convertWeight } from "../src/convert.ts";
import type { DType } from "../src/dtype.ts";
import { buildModelConfig } from "../src/genconfig/_chat_config.ts";
import { memoryOutput } from "../src/io/memory.ts";
import { type ConversionPlan, planConversion } from "../src/plan.ts";
import { dumpPyJson, parsePyJson } from "../src/pyjson.ts";
import { ReferenceBackend } from "../src/quant/reference.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { type GenTensor, tensorData } from "../src/testing/checkpoint_gen.ts";
import { DENSE_TINY } from "./_dense_tiny.ts";
import { hfTensors, saveSplitCuts, splitFiles, syntheticCheckpoint } from "../src/testing/hf_layouts.ts";

/** One line per parameter: `name [shape] <- sources` plus dtype / quant / transform marks. */
export function summary(params: ArchParam[]): string[] {
  return params.map((p) => {
    const marks = [
      p.dtype ?? "",
      p.quant ?? "",
      p.transform
        ? (p.transform.kind === "concat"
          ? (p.transform.addOne ? "+1" : "")
          : p.transform.kind === "stack"
          ? `stack${p.transform.experts}`
          : "whole")
        : "",
    ].filter((x) => x !== "");
    const src = p.sources.length === 1 && p.sources[0] === p.name ? "=" : p.sources.join(", ");
    return `${p.name} [${p.shape.join(",")}]${marks.length ? " " + marks.join(" ") : ""} <- ${src}`;
  });
}

/** Parses `src` with the config class of `key`; returns the config, its parameters and the log. */
export function parse(key: string, src: Record<string, unknown>, logs: string[] = []) {
  const arch = ARCHITECTURES[key];
  const cfg = fromDict(arch.configClass, src, (_l, m) => logs.push(m));
  return { arch, cfg, params: arch.params(cfg), logs };
}

/** A vendored real config.json (tests/fixtures/configs), parsed keeping Python number types. */
export async function realConfig(name: string): Promise<Record<string, unknown>> {
  const text = await Deno.readTextFile(new URL(`./fixtures/configs/${name}.json`, import.meta.url));
  return parsePyJson(text) as Record<string, unknown>;
}

/** gen_config's `model_config` (MLC's default `max_batch_size` 128 applied) as one-line Python JSON. */
export function modelConfigText(key: string, hf: Record<string, unknown>, logs: string[] = []): string {
  const cfg = buildModelConfig(
    ARCHITECTURES[key].configClass,
    hf,
    { max_batch_size: 128 },
    (_l, m) => logs.push(m),
  );
  return dumpPyJson(cfg, null);
}

/** `name [shape] dtype` of a planned output. */
export const outLine = (o: { name: string; shape: readonly number[]; dtype: string }): string =>
  `${o.name} [${o.shape.join(",")}] ${o.dtype}`;

/**
 * The plan of a header-only checkpoint of `key` with the dimensions of `hf` (HF layout, cut into
 * files where `save_pretrained` would cut a bf16 checkpoint, sorted index).
 */
export function planReal(
  key: string,
  hf: Record<string, unknown>,
  quant: string,
  extra: GenTensor[] = [],
): ConversionPlan {
  const arch = ARCHITECTURES[key];
  const tensors = [...hfTensors(key, JSON.parse(dumpPyJson(hf))), ...extra];
  return planConversion({
    arch,
    config: fromDict(arch.configClass, hf),
    scheme: getQuantization(quant),
    checkpoint: syntheticCheckpoint(splitFiles(tensors, saveSplitCuts(tensors, 2))),
  });
}

/** A checkpoint of `tensors` (one file) whose reads all fail: a plan over it must not read. */
export function noReadCheckpoint(tensors: GenTensor[]): Checkpoint {
  const c = syntheticCheckpoint(splitFiles(tensors, []));
  return { ...c, read: (name) => Promise.reject(new Error(`read of ${name} during planning`)) };
}

/**
 * Converts a one-file checkpoint of `key` (tensors from the HF layout of `hf`, in `dtype`; the
 * given `data`, zeros elsewhere) with the reference backend; returns each output's bytes.
 */
export async function convertTiny(
  key: string,
  hf: Record<string, unknown>,
  quant: string,
  data: Map<string, Uint8Array>,
  dtype: DType,
  extra: GenTensor[] = [],
) {
  const arch = ARCHITECTURES[key];
  const checkpoint = syntheticCheckpoint(splitFiles([...hfTensors(key, hf), ...extra], []), { dtype, data });
  const plan = planConversion({
    arch,
    config: fromDict(arch.configClass, hf),
    scheme: getQuantization(quant),
    checkpoint,
  });
  assertEquals(plan.problems, []);
  const output = memoryOutput();
  const result = await convertWeight({ plan, checkpoint, backend: new ReferenceBackend(), output });
  const bytes = new Map<string, Uint8Array>();
  for (const shard of result.cache.records) {
    const file = output.files.get(shard.dataPath)!;
    for (const r of shard.records) bytes.set(r.name, file.subarray(r.byteOffset, r.byteOffset + r.nbytes));
  }
  return { plan, bytes, records: result.cache.records.flatMap((s) => s.records) };
}

/** float16 bits of small numbers (exact). */
export const f16bits = (xs: number[]): number[] => Array.from(new Uint16Array(new Float16Array(xs).buffer));

/** Little-endian bytes of 16-bit words. */
export const le16 = (words: number[]): Uint8Array => new Uint8Array(new Uint16Array(words).buffer);

/** The 16-bit words of bytes (or of a host tensor's data). */
export const words16 = (d: Uint8Array | HostTensor): number[] => {
  const b = d instanceof Uint8Array ? d : d.data;
  return Array.from(new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)));
};

/**
 * Converts a one-file float16 checkpoint of `key` whose every tensor holds its own seeded
 * values (`tensorData`); returns the output bytes and the source bytes by name. With q0f16 the
 * cast is the identity, so a parameter's bytes are exactly its sources' bytes in MLC's order.
 */
export async function convertSeeded(
  key: string,
  hf: Record<string, unknown>,
  quant = "q0f16",
  extra: GenTensor[] = [],
) {
  const tensors = [...hfTensors(key, hf), ...extra];
  const data = new Map(tensors.map((t) => [t.name, tensorData(t, "F16", 7)]));
  return { ...(await convertTiny(key, hf, quant, data, "float16", extra)), data };
}

/** The concatenation of the named tensors' bytes. */
export function cat(data: Map<string, Uint8Array>, names: string[]): Uint8Array {
  const parts = names.map((n) => data.get(n)!);
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Asserts that every expected line is among `lines`. */
export function expectLines(lines: readonly string[], expected: readonly string[]): void {
  for (const l of expected) assertEquals(lines.includes(l), true, l);
}

/**
 * Plans `key` over a sparse checkpoint with the dimensions of the real config `hf` (see
 * {@link planReal}) and asserts: no problems or warnings, the `expected` outputs among
 * `name [shape] dtype` lines, and `[ParamSize, ParamBytes]`. Returns the plan.
 */
export function assertRealPlan(
  key: string,
  hf: Record<string, unknown>,
  quant: string,
  expected: readonly string[],
  sizeAndBytes: [number, number],
): ConversionPlan {
  const plan = planReal(key, hf, quant);
  assertEquals([plan.problems, plan.warnings], [[], []]);
  expectLines(plan.outputs.map(outLine), expected);
  assertEquals([plan.paramSize, plan.paramBytes], sizeAndBytes);
  return plan;
}

/** The tiny config of a dense type (tests/_dense_tiny.ts) with one layer, plus `extra`. */
export function tinyOne(key: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const c = DENSE_TINY[key];
  const layers = ["num_hidden_layers", "n_layer", "num_layers"].find((k) => Object.hasOwn(c, k))!;
  return { ...c, [layers]: 1, ...extra };
}
