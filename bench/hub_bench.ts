// Benchmark: convert the bench checkpoint (the TinyLlama-1.1B-shaped 2.2 GB bf16 model of
// bench/convert_bench.ts) from disk, from a local fake Hub over HTTP range requests (nothing
// stored), and with --download (into a fresh HF cache). Prints GB/s of source, peak RSS of the
// converting process and the bytes the run stored outside OUT.
//
//   deno run --allow-all bench/hub_bench.ts [--runs 1] [--dir dist/bench]
//
// The server (bench/_hub_file_server.ts) is another process on 127.0.0.1 reading the same
// files from the page cache; a real Hub adds the network's bandwidth and latency.
import { llamaHfTensors, TINYLLAMA_1_1B_CONFIG, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";

const arg = (name: string, dflt: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : dflt;
};
const dir = arg("dir", "dist/bench");
const runs = Number(arg("runs", "1"));
const model = `${dir}/tinyllama-1.1b-bf16`;
const cfg = { ...TINYLLAMA_1_1B_CONFIG } as Record<string, unknown>;
const tensors = llamaHfTensors(cfg);
const sourceBytes = tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1) * 2, 0);
try {
  await Deno.stat(`${model}/model.safetensors.index.json`);
} catch {
  console.error(`generating ${(sourceBytes / 1e9).toFixed(2)} GB bf16 checkpoint in ${model} ...`);
  await writeCheckpoint(model, cfg, tensors, { dtype: "BF16", shards: 2, seed: 1 });
}

const server = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-net=127.0.0.1",
    new URL("./_hub_file_server.ts", import.meta.url).pathname,
    model,
    "bench/tinyllama",
  ],
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
const port = Number((await reader.read()).value!.trim());
const endpoint = `http://127.0.0.1:${port}`;

/** Bytes on disk under `path`, each inode once (the snapshot's hard links share their blob's blocks). */
async function duBytes(path: string, seen = new Set<number>()): Promise<number> {
  let n = 0;
  try {
    for await (const e of Deno.readDir(path)) {
      const p = `${path}/${e.name}`;
      if (e.isDirectory) n += await duBytes(p, seen);
      else if (e.isFile) {
        const st = await Deno.stat(p);
        if (!seen.has(st.ino!)) n += st.blocks! * 512;
        seen.add(st.ino!);
      }
    }
  } catch { /* absent */ }
  return n;
}

const cache = `${dir}/hf-cache`;
const modes: [string, string, string[]][] = [
  ["disk", model, []],
  ["HF:// ranges", "HF://bench/tinyllama", []],
  ["HF:// --download", "HF://bench/tinyllama", ["--download"]],
];
console.log(
  `source: ${(sourceBytes / 1e9).toFixed(3)} GB bf16 -> q4f16_1, ${runs} run(s) each; server ${endpoint}`,
);
try {
  for (const [label, src, extra] of modes) {
    for (let i = 0; i < runs; i++) {
      await Deno.remove(`${dir}/out-hub`, { recursive: true }).catch(() => {});
      await Deno.remove(cache, { recursive: true }).catch(() => {});
      const p = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          new URL("./_convert_once.ts", import.meta.url).pathname,
          src,
          `${dir}/out-hub`,
          "q4f16_1",
          "cpu",
          ...extra,
        ],
        env: { HF_ENDPOINT: endpoint, HF_HUB_CACHE: cache },
        stdout: "piped",
        stderr: "inherit",
      }).output();
      const r = JSON.parse(new TextDecoder().decode(p.stdout).trim().split("\n").at(-1)!);
      if (r.code !== 0) throw new Error(`conversion failed (${label})`);
      console.log(
        `${label.padEnd(18)} ${(sourceBytes / 1e9 / r.seconds).toFixed(3)} GB/s (${r.seconds.toFixed(2)} s)` +
          ` | peak RSS ${(r.peakRss / 1e6).toFixed(0)} MB | stored outside OUT: ${
            ((await duBytes(cache)) / 1e9).toFixed(3)
          } GB`,
      );
    }
  }
} finally {
  server.kill();
  await server.status;
}
