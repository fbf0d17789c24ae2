// Benchmark: convert a generated TinyLlama-1.1B-shaped bf16 checkpoint (2.2 GB) to q4f16_1.
// Prints GB/s of source read and peak RSS: min and median of 3 runs per device, and the dry
// run's estimate of the peak (`expected_peak_memory_bytes`) beside the measured one.
//
//   deno task bench [--devices cpu,reference] [--runs 3] [--threads 1,2] [--profile] [--buffered-io]
//                   [--dtype bf16|f16] [--model M] [--baseline REF] [--estimate-only]
//
// --model llama-3.2-3b / llama-3-8b / llama-3-70b / phi-3-mini converts a sparse checkpoint (header only, all
// zeros, no disk cost) with that model's real dimensions instead: peak RSS with the largest
// tensors of real models (GB/s of reading zeros from holes is not comparable to the default).
// --baseline REF runs the same conversions with the build at git ref REF (a worktree made once
// under DIR), alternating run by run with this build, so that both are measured side by side
// on one machine under the same load.
//
// --dtype f16 converts an f16 checkpoint of the same shapes instead (as ../shared/spec/perf.md).
// --profile prints, per run, where the time went (thread-seconds of read, quantize, md5 and
// write, from the conversion's stats). --buffered-io writes shards through the page cache
// instead of direct I/O (the CLI flag of the same name).
//
// The checkpoint is generated once into dist/bench/ (deterministic) and reused; runs use a
// warm page cache (one untimed warm-up read first). Each run writes into an empty output
// directory (the previous run's output is removed before, untimed).
import {
  type GenTensor,
  llamaHfTensors,
  TINYLLAMA_1_1B_CONFIG,
  writeCheckpoint,
} from "../src/testing/checkpoint_gen.ts";
import { hfTensors } from "../src/testing/hf_layouts.ts";
import { formatHelp, parseCommandArgs } from "../src/cli/_args.ts";
import { reportError } from "../src/cli/_command.ts";
import { processIo } from "../src/cli/_common.ts";

const SPEC = {
  name: "bench",
  program: "deno task bench",
  usage: "[options]",
  description: "Convert a generated TinyLlama-1.1B-shaped checkpoint (2.2 GB, made once in DIR) and print\n" +
    "GB/s of source read and peak RSS: min and median of the runs per device and thread count.",
  positionals: [],
  helpOnly: true,
  options: {
    devices: {
      type: "string",
      metavar: "LIST",
      default: "cpu",
      help: "comma-separated devices (cpu, reference, webgpu)",
    },
    runs: { type: "string", metavar: "N", default: "3", help: "runs per device and thread count" },
    threads: {
      type: "string",
      metavar: "LIST",
      default: "",
      help: "comma-separated thread counts (default: the CLI's)",
    },
    quantization: { type: "string", metavar: "Q", default: "q4f16_1", help: "quantization" },
    dir: {
      type: "string",
      metavar: "DIR",
      default: "dist/bench",
      help: "where the checkpoint and outputs go",
    },
    profile: { type: "boolean", help: "print where the time went, per run" },
    "buffered-io": { type: "boolean", help: "write shards through the page cache" },
    dtype: { type: "string", metavar: "T", default: "bf16", choices: ["bf16", "f16"], help: "source dtype" },
    model: {
      type: "string",
      metavar: "M",
      default: "tinyllama-1.1b",
      choices: ["tinyllama-1.1b", "llama-3.2-3b", "llama-3-8b", "llama-3-70b", "phi-3-mini"],
      help: "tinyllama-1.1b (generated data) or a sparse checkpoint with real dimensions",
    },
    "estimate-only": {
      type: "boolean",
      help: "print the dry run's peak estimate per thread count, convert nothing (e.g. llama-3-70b)",
    },
    baseline: {
      type: "string",
      metavar: "REF",
      help: "also run the build at git ref REF, alternating with this one",
    },
  },
} as const;

/** Models to convert: a generated TinyLlama, or real dimensions (sparse checkpoints). */
const MODELS: Record<
  string,
  { config: Record<string, unknown>; tensors: (c: Record<string, unknown>) => GenTensor[] }
> = {
  "tinyllama-1.1b": { config: { ...TINYLLAMA_1_1B_CONFIG }, tensors: llamaHfTensors },
  // meta-llama/Llama-3.2-3B-Instruct's config.json (dimensions)
  "llama-3.2-3b": {
    config: {
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      hidden_size: 3072,
      intermediate_size: 8192,
      num_attention_heads: 24,
      num_key_value_heads: 8,
      head_dim: 128,
      num_hidden_layers: 28,
      rms_norm_eps: 1e-5,
      vocab_size: 128256,
      max_position_embeddings: 131072,
      rope_theta: 500000.0,
      rope_scaling: {
        factor: 32.0,
        high_freq_factor: 4.0,
        low_freq_factor: 1.0,
        original_max_position_embeddings: 8192,
        rope_type: "llama3",
      },
      tie_word_embeddings: true,
      torch_dtype: "bfloat16",
    },
    tensors: llamaHfTensors,
  },
  // meta-llama/Meta-Llama-3-8B-Instruct's config.json (dimensions)
  "llama-3-8b": {
    config: {
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      hidden_size: 4096,
      intermediate_size: 14336,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      num_hidden_layers: 32,
      rms_norm_eps: 1e-5,
      vocab_size: 128256,
      max_position_embeddings: 8192,
      rope_theta: 500000.0,
      tie_word_embeddings: false,
      torch_dtype: "bfloat16",
    },
    tensors: llamaHfTensors,
  },
  // meta-llama/Meta-Llama-3-70B-Instruct's config.json (dimensions): 141 GB of holes
  "llama-3-70b": {
    config: {
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      hidden_size: 8192,
      intermediate_size: 28672,
      num_attention_heads: 64,
      num_key_value_heads: 8,
      num_hidden_layers: 80,
      rms_norm_eps: 1e-5,
      vocab_size: 128256,
      max_position_embeddings: 8192,
      rope_theta: 500000.0,
      tie_word_embeddings: false,
      torch_dtype: "bfloat16",
    },
    tensors: llamaHfTensors,
  },
  // microsoft/Phi-3-mini-4k-instruct's config.json (dimensions)
  "phi-3-mini": {
    config: {
      architectures: ["Phi3ForCausalLM"],
      model_type: "phi3",
      hidden_size: 3072,
      intermediate_size: 8192,
      num_attention_heads: 32,
      num_key_value_heads: 32,
      num_hidden_layers: 32,
      rms_norm_eps: 1e-5,
      vocab_size: 32064,
      max_position_embeddings: 4096,
      original_max_position_embeddings: 4096,
      rope_theta: 10000.0,
      tie_word_embeddings: false,
      torch_dtype: "bfloat16",
    },
    tensors: (c) => hfTensors("phi3", c),
  },
};

let parsed;
try {
  parsed = parseCommandArgs(SPEC, Deno.args);
} catch (e) {
  Deno.exit(reportError(processIo(), false, e));
}
const { values } = parsed;
if (values.help) {
  console.log(formatHelp(SPEC));
  Deno.exit(0);
}
const dir = values.dir!;
const spec = MODELS[values.model!];
const sparse = values.model !== "tinyllama-1.1b";
const model = `${dir}/${values.model}-${values.dtype}${sparse ? "-sparse" : ""}`;
const cfg = { ...spec.config };
const tensors = spec.tensors(cfg);
const sourceBytes = tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1) * 2, 0);
try {
  await Deno.stat(`${model}/model.safetensors.index.json`);
} catch {
  console.error(`generating ${(sourceBytes / 1e9).toFixed(2)} GB ${values.dtype} checkpoint in ${model} ...`);
  await writeCheckpoint(model, cfg, tensors, {
    dtype: values.dtype === "f16" ? "F16" : "BF16",
    shards: sparse ? 4 : 2,
    seed: 1,
    sparse,
  });
}
// warm the page cache
if (!sparse) {
  for (const e of Deno.readDirSync(model)) {
    if (!e.name.endsWith(".safetensors")) continue;
    const f = await Deno.open(`${model}/${e.name}`);
    const buf = new Uint8Array(8 << 20);
    while ((await f.read(buf)) !== null) { /* read */ }
    f.close();
  }
}
const builds: { label: string; once: string }[] = [
  { label: "", once: new URL("./_convert_once.ts", import.meta.url).pathname },
];
if (values.baseline) builds.push(await baselineBuild(values.baseline, dir));
const runs = Number(values.runs);
const threadList = values.threads ? values.threads.split(",") : [""];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `source: ${(sourceBytes / 1e9).toFixed(3)} GB ${values.dtype}, ${values.quantization}, ${runs} runs each`,
);
if (values["estimate-only"]) {
  for (const threads of threadList) {
    const estimate = await dryRunEstimate(threads);
    console.log(
      `threads=${threads || "default"} dry-run estimate ${(estimate / 1e6).toFixed(1)} MB (${
        (estimate / 2 ** 20).toFixed(1)
      } MiB)`,
    );
  }
  Deno.exit(0);
}
for (const device of values.devices!.split(",")) {
  for (const threads of threadList) {
    const results = builds.map(() => ({ gbs: [] as number[], rss: [] as number[] }));
    for (let i = 0; i < runs; i++) {
      // builds alternate run by run (same machine, same load)
      for (const [b, build] of builds.entries()) {
        const r = await convertOnce(build.once, device, threads);
        results[b].gbs.push(sourceBytes / 1e9 / r.seconds);
        results[b].rss.push(r.peakRss / 1e6);
        if (r.profile) {
          console.log(
            `  ${device}${threads ? ` threads=${threads}` : ""}${build.label} run ${i + 1}: ${r.profile}`,
          );
        }
      }
    }
    const estimate = await dryRunEstimate(threads);
    for (const [b, build] of builds.entries()) {
      const { gbs, rss } = results[b];
      const label = `${device}${threads ? ` threads=${threads}` : ""}${build.label}`;
      console.log(
        `${label.padEnd(30)} GB/s min ${Math.min(...gbs).toFixed(3)} median ${median(gbs).toFixed(3)}` +
          ` | peak RSS MB min ${Math.min(...rss).toFixed(0)} median ${median(rss).toFixed(0)}` +
          (b === 0 ? ` (dry-run estimate ${(estimate / 1e6).toFixed(0)})` : "") +
          ` | runs ${gbs.map((x) => x.toFixed(3)).join(" ")}`,
      );
      if (b === 0 && Math.max(...rss) * 1e6 > estimate) {
        console.log(
          `  warning: measured peak RSS above the dry run's estimate (${(estimate / 1e6).toFixed(0)} MB)`,
        );
      }
    }
  }
}

/** One conversion in its own process with `once` (a build's bench/_convert_once.ts). */
async function convertOnce(
  once: string,
  device: string,
  threads: string,
): Promise<{ seconds: number; peakRss: number; profile?: string }> {
  await Deno.remove(`${dir}/out-${device}`, { recursive: true }).catch(() => {});
  const p = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all", // the child reads /proc/self/status for its peak RSS
      once,
      model,
      `${dir}/out-${device}`,
      values.quantization!,
      device,
      ...(threads ? ["--threads", threads] : []),
      ...(values.profile ? ["--profile"] : []),
      ...(values["buffered-io"] ? ["--buffered-io"] : []),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const r = JSON.parse(new TextDecoder().decode(p.stdout).trim().split("\n").at(-1)!);
  if (r.code !== 0) throw new Error(`conversion failed (${device})`);
  return r;
}

/** The dry run's `expected_peak_memory_bytes` (this build) for `threads`. */
async function dryRunEstimate(threads: string): Promise<number> {
  const p = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("../cli.ts", import.meta.url).pathname,
      "convert_weight",
      model,
      "--quantization",
      values.quantization!,
      "--dry-run",
      "--json",
      ...(threads ? ["--threads", threads] : []),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(p.stdout)).expected_peak_memory_bytes;
}

/** A worktree of git ref `ref` under `dir` (made once), to run its bench/_convert_once.ts. */
async function baselineBuild(ref: string, dir: string): Promise<{ label: string; once: string }> {
  const git = async (...args: string[]) => {
    const o = await new Deno.Command("git", { args, stdout: "piped", stderr: "piped" }).output();
    if (!o.success) throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
    return new TextDecoder().decode(o.stdout).trim();
  };
  const sha = await git("rev-parse", "--short", `${ref}^{commit}`);
  const tree = `${Deno.realPathSync(dir)}/baseline-${sha}`;
  try {
    await Deno.stat(`${tree}/bench/_convert_once.ts`);
  } catch {
    await git("worktree", "add", "--detach", tree, sha);
  }
  return { label: ` [${ref} ${sha}]`, once: `${tree}/bench/_convert_once.ts` };
}
