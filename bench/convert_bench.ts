// Benchmark: convert a generated TinyLlama-1.1B-shaped bf16 checkpoint (2.2 GB) to q4f16_1.
// Prints GB/s of source read and peak RSS: min and median of 3 runs per device.
//
//   deno task bench [--devices cpu,reference] [--runs 3] [--threads 1,2] [--profile] [--buffered-io]
//                   [--dtype bf16|f16]
//
// --dtype f16 converts an f16 checkpoint of the same shapes instead (as ../shared/spec/perf.md).
// --profile prints, per run, where the time went (thread-seconds of read, quantize, md5 and
// write, from the conversion's stats). --buffered-io writes shards through the page cache
// instead of direct I/O (the CLI flag of the same name).
//
// The checkpoint is generated once into dist/bench/ (deterministic) and reused; runs use a
// warm page cache (one untimed warm-up read first). Each run writes into an empty output
// directory (the previous run's output is removed before, untimed).
import { llamaHfTensors, TINYLLAMA_1_1B_CONFIG, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";
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
  },
} as const;

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
const model = `${dir}/tinyllama-1.1b-${values.dtype}`;
const cfg = { ...TINYLLAMA_1_1B_CONFIG } as Record<string, unknown>;
const tensors = llamaHfTensors(cfg);
const sourceBytes = tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1) * 2, 0);
try {
  await Deno.stat(`${model}/model.safetensors.index.json`);
} catch {
  console.error(`generating ${(sourceBytes / 1e9).toFixed(2)} GB ${values.dtype} checkpoint in ${model} ...`);
  await writeCheckpoint(model, cfg, tensors, {
    dtype: values.dtype === "f16" ? "F16" : "BF16",
    shards: 2,
    seed: 1,
  });
}
// warm the page cache
for (const e of Deno.readDirSync(model)) {
  if (!e.name.endsWith(".safetensors")) continue;
  const f = await Deno.open(`${model}/${e.name}`);
  const buf = new Uint8Array(8 << 20);
  while ((await f.read(buf)) !== null) { /* read */ }
  f.close();
}
const runs = Number(values.runs);
const threadList = values.threads ? values.threads.split(",") : [""];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `source: ${(sourceBytes / 1e9).toFixed(3)} GB ${values.dtype}, ${values.quantization}, ${runs} runs each`,
);
for (const device of values.devices!.split(",")) {
  for (const threads of threadList) {
    const gbs: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < runs; i++) {
      await Deno.remove(`${dir}/out-${device}`, { recursive: true }).catch(() => {});
      const p = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all", // the child reads /proc/self/status for its peak RSS
          new URL("./_convert_once.ts", import.meta.url).pathname,
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
      gbs.push(sourceBytes / 1e9 / r.seconds);
      if (r.profile) {
        console.log(`  ${device}${threads ? ` threads=${threads}` : ""} run ${i + 1}: ${r.profile}`);
      }
      rss.push(r.peakRss / 1e6);
    }
    const label = `${device}${threads ? ` threads=${threads}` : ""}`;
    console.log(
      `${label.padEnd(22)} GB/s min ${Math.min(...gbs).toFixed(3)} median ${median(gbs).toFixed(3)}` +
        ` | peak RSS MB min ${Math.min(...rss).toFixed(0)} median ${median(rss).toFixed(0)}` +
        ` | runs ${gbs.map((x) => x.toFixed(3)).join(" ")}`,
    );
  }
}
