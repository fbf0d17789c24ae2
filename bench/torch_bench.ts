// Benchmark: the same weights from PyTorch .bin files and from safetensors, converted by the CLI
// in alternating runs (each its own process, as bench/convert_bench.ts). Prints GB/s of source
// read and peak RSS per format (min and median), and checks that both outputs are the same.
//
//   deno run --allow-all bench/torch_bench.ts [--runs 3] [--device cpu] [--redpajama]
//
// Default: the TinyLlama-1.1B-shaped bf16 checkpoint of bench/convert_bench.ts (2.2 GB, two
// files), beside a .bin copy with the same tensors and split (generated once into dist/bench/).
// --redpajama: RedPajama-INCITE-3B (gpt_neox, f16, 5.6 GB) as one sparse pytorch_model.bin in
// state-dict order with its buffers, against a sparse model.safetensors (all-zero data: reads
// come from the page cache's zero pages, so this measures the pipeline, not the disk).
import { formatHelp, parseCommandArgs } from "../src/cli/_args.ts";
import { reportError } from "../src/cli/_command.ts";
import { processIo } from "../src/cli/_common.ts";
import { llamaHfTensors, TINYLLAMA_1_1B_CONFIG, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";
import { hfTensors } from "../src/testing/hf_layouts.ts";
import { type TorchGenDType, writeTorchCheckpoint } from "../src/testing/torch_writer.ts";
import type { GenTensor } from "../src/gen_tensors.ts";

const SPEC = {
  name: "torch_bench",
  program: "deno run --allow-all bench/torch_bench.ts",
  usage: "[options]",
  description: "Convert the same weights from .bin and from safetensors; print GB/s and peak RSS of each.",
  positionals: [],
  helpOnly: true,
  options: {
    runs: { type: "string", metavar: "N", default: "3", help: "runs per format" },
    device: { type: "string", metavar: "D", default: "cpu", help: "cpu | reference | webgpu" },
    quantization: { type: "string", metavar: "Q", default: "q4f16_1", help: "quantization" },
    dir: { type: "string", metavar: "DIR", default: "dist/bench", help: "where checkpoints and outputs go" },
    redpajama: { type: "boolean", help: "RedPajama-INCITE-3B, sparse (5.6 GB) instead of TinyLlama" },
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
const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

const REDPAJAMA_3B: Record<string, unknown> = {
  architectures: ["GPTNeoXForCausalLM"],
  hidden_act: "gelu",
  hidden_size: 2560,
  intermediate_size: 10240,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 2048,
  model_type: "gpt_neox",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  rotary_emb_base: 10000,
  rotary_pct: 1.0,
  tie_word_embeddings: false,
  torch_dtype: "float16",
  use_parallel_residual: false,
  vocab_size: 50432,
};

/** GPT-NeoX's state dict with each attention's buffers before its weights (transformers 4.28). */
function neoxStateDict(cfg: Record<string, unknown>): GenTensor[] {
  const ctx = cfg.max_position_embeddings as number;
  const out: GenTensor[] = [];
  for (const t of hfTensors("gpt_neox", cfg)) {
    const m = /^(gpt_neox\.layers\.\d+\.attention\.)query_key_value\.weight$/.exec(t.name);
    if (m) {
      out.push(
        { name: `${m[1]}bias`, shape: [1, 1, ctx, ctx] },
        { name: `${m[1]}masked_bias`, shape: [] },
        { name: `${m[1]}rotary_emb.inv_freq`, shape: [40] },
      );
    }
    out.push(t);
  }
  return out;
}

let models: { label: string; path: string }[];
let sourceBytes: number;
if (values.redpajama) {
  const st = `${dir}/redpajama-3b-sparse-st`, pt = `${dir}/redpajama-3b-sparse-torch`;
  const tensors = hfTensors("gpt_neox", REDPAJAMA_3B);
  sourceBytes = tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1) * 2, 0);
  if (!(await exists(`${st}/model.safetensors`))) {
    await writeCheckpoint(st, REDPAJAMA_3B, tensors, { dtype: "F16", sparse: true });
  }
  if (!(await exists(`${pt}/pytorch_model.bin`))) {
    const dtypeOf = (n: string): TorchGenDType | undefined =>
      n.endsWith(".attention.bias") ? "BOOL" : /masked_bias|inv_freq/.test(n) ? "F32" : undefined;
    await writeTorchCheckpoint(pt, REDPAJAMA_3B, neoxStateDict(REDPAJAMA_3B), {
      dtype: "F16",
      dtypeOf,
      sparse: true,
      keepOrder: true,
    });
  }
  models = [{ label: "safetensors", path: st }, { label: ".bin", path: pt }];
} else {
  const cfg = { ...TINYLLAMA_1_1B_CONFIG } as Record<string, unknown>;
  const tensors = llamaHfTensors(cfg);
  sourceBytes = tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1) * 2, 0);
  const st = `${dir}/tinyllama-1.1b-bf16`, pt = `${dir}/tinyllama-1.1b-bf16-torch`;
  if (!(await exists(`${st}/model.safetensors.index.json`))) {
    console.error(`generating ${st} ...`);
    await writeCheckpoint(st, cfg, tensors, { dtype: "BF16", shards: 2, seed: 1 });
  }
  if (!(await exists(`${pt}/pytorch_model.bin.index.json`))) {
    console.error(`generating ${pt} ...`);
    await writeTorchCheckpoint(pt, cfg, tensors, { dtype: "BF16", shards: 2, seed: 1 });
  }
  models = [{ label: "safetensors", path: st }, { label: ".bin", path: pt }];
}
// warm the page cache
for (const m of models) {
  for (const e of Deno.readDirSync(m.path)) {
    if (!/\.(safetensors|bin)$/.test(e.name)) continue;
    const f = await Deno.open(`${m.path}/${e.name}`);
    const buf = new Uint8Array(8 << 20);
    while ((await f.read(buf)) !== null) { /* read */ }
    f.close();
  }
}

const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = new Map(models.map((m) => [m.label, { gbs: [] as number[], rss: [] as number[] }]));
console.log(
  `${values.redpajama ? "RedPajama-INCITE-3B (sparse)" : "TinyLlama-1.1B"}: ${
    (sourceBytes / 1e9).toFixed(3)
  } GB, ` +
    `${values.quantization}, --device ${values.device}, ${runs} alternating runs per format`,
);
for (let i = 0; i < runs; i++) {
  for (const m of models) {
    const out = `${dir}/out-torch-bench-${m.label === ".bin" ? "bin" : "st"}`;
    await Deno.remove(out, { recursive: true }).catch(() => {});
    const p = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL("./_convert_once.ts", import.meta.url).pathname,
        m.path,
        out,
        values.quantization!,
        values.device!,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const r = JSON.parse(new TextDecoder().decode(p.stdout).trim().split("\n").at(-1)!);
    if (r.code !== 0) throw new Error(`conversion failed (${m.label})`);
    results.get(m.label)!.gbs.push(sourceBytes / 1e9 / r.seconds);
    results.get(m.label)!.rss.push(r.peakRss / 1e6);
  }
}
for (const [label, r] of results) {
  console.log(
    `${label.padEnd(12)} GB/s min ${Math.min(...r.gbs).toFixed(3)} median ${median(r.gbs).toFixed(3)}` +
      ` | peak RSS MB min ${Math.min(...r.rss).toFixed(0)} median ${median(r.rss).toFixed(0)}` +
      ` | runs ${r.gbs.map((x) => x.toFixed(3)).join(" ")}`,
  );
}
const [a, b] = [...results.values()].map((r) => median(r.gbs));
console.log(`.bin / safetensors median GB/s: ${(b / a).toFixed(3)}`);
if (!values.redpajama) {
  // same order (sorted index in both): the records, md5s included, must be the same
  const recs = (label: string) =>
    JSON.parse(Deno.readTextFileSync(`${dir}/out-torch-bench-${label}/tensor-cache.json`)).records;
  const same = JSON.stringify(recs("st")) === JSON.stringify(recs("bin"));
  console.log(`outputs identical: ${same}`);
  if (!same) Deno.exit(1);
}
