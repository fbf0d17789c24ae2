// Benchmark: the converter page in headless chromium on a 2.2 GB generated checkpoint (the
// TinyLlama-1.1B-shaped bf16 one of `deno task bench`, made in dist/bench/ when missing), to
// q4f16_1 on WASM into the origin private file system, beside the Deno CLI on the same input.
// Prints GB/s of source read and peak memory: the largest chromium process (the tab's
// renderer) and all of chromium's processes together, sampled from /proc every 100 ms.
//
//   deno run -A bench/browser_bench.ts [--model DIR] [--device cpu|webgpu] [--isolated true|false]
//                                      [--target opfs|zip|none] [--readers N (0: Blob.slice on the page)]
import { llamaHfTensors, TINYLLAMA_1_1B_CONFIG, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";
import { Browser, findChromium } from "../tests/_cdp.ts";
import { buildWebBundle, serveWeb } from "../tools/web_serve.ts";

const arg = (name: string, dflt: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : dflt;
};
const ROOT = new URL("../", import.meta.url).pathname;
const model = arg("model", `${ROOT}dist/bench/tinyllama-1.1b-bf16`);
const device = arg("device", "cpu");
const isolatedPage = arg("isolated", "true") === "true";
const target = arg("target", "opfs");
const readers = Number(arg("readers", "2"));
const chromium = findChromium();
if (!chromium) throw new Error("no chromium (apt-get install chromium, or set CHROMIUM)");

try {
  await Deno.stat(`${model}/config.json`);
} catch {
  const cfg = { ...TINYLLAMA_1_1B_CONFIG };
  console.error(`generating the 2.2 GB checkpoint in ${model} ...`);
  await writeCheckpoint(model, cfg, llamaHfTensors(cfg), { dtype: "BF16", shards: 2, seed: 1 });
}
let sourceBytes = 0;
for (const e of Deno.readDirSync(model)) {
  if (e.isFile) sourceBytes += Deno.statSync(`${model}/${e.name}`).size;
}

/** RSS (bytes) of `root` and its descendants, by pid. */
function treeRss(root: number): Map<number, number> {
  const parent = new Map<number, number>(), rss = new Map<number, number>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const st = Deno.readTextFileSync(`/proc/${e.name}/status`);
      parent.set(Number(e.name), Number(/PPid:\s+(\d+)/.exec(st)?.[1]));
      rss.set(Number(e.name), Number(/VmRSS:\s+(\d+)/.exec(st)?.[1] ?? 0) * 1024);
    } catch { /* gone */ }
  }
  const inTree = (p: number): boolean => p === root || (p > 1 && parent.has(p) && inTree(parent.get(p)!));
  return new Map([...rss].filter(([p]) => inTree(p)));
}

/** Samples the tree's memory while `work` runs: peak of the largest process and of the sum. */
async function sampled<T>(
  root: number,
  work: Promise<T>,
): Promise<{ value: T; maxProc: number; maxSum: number; which: string; series: number[] }> {
  let maxProc = 0, maxSum = 0, done = false, which = "";
  const series: number[] = []; // the largest process, each sample
  const tick = () => {
    const m = treeRss(root);
    series.push(Math.max(0, ...m.values()));
    for (const [pid, rss] of m) {
      if (rss <= maxProc) continue;
      maxProc = rss;
      try {
        const cmd = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
        which = /--type=([a-z-]+)/.exec(cmd)?.[1] ?? (pid === root ? "main" : "other");
      } catch { /* gone */ }
    }
    maxSum = Math.max(maxSum, [...m.values()].reduce((a, b) => a + b, 0));
  };
  const loop = (async () => {
    while (!done) {
      tick();
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    return { value: await work, maxProc, maxSum, which, series };
  } finally {
    done = true;
    await loop;
  }
}

const gb = (n: number) => (n / 1e9).toFixed(2);
const dir = await Deno.makeTempDir({ prefix: "mlc-browser-bench-" });
try {
  // the CLI, same input, same device
  const cli = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}cli.ts`,
      "convert_weight",
      model,
      "--quantization",
      "q4f16_1",
      "-o",
      `${dir}/cli`,
      "--device",
      device,
      "--quiet",
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const t0 = performance.now();
  const c = await sampled(cli.pid, cli.status);
  const cliSec = (performance.now() - t0) / 1000;
  if (!c.value.success) throw new Error("the CLI failed");
  console.log(
    `CLI     ${device}: ${cliSec.toFixed(1)} s, ${gb(sourceBytes / cliSec)} GB/s, peak RSS ${
      gb(c.maxProc)
    } GB`,
  );
  await Deno.remove(`${dir}/cli`, { recursive: true });

  const bundle = await buildWebBundle(`${dir}/mlc-convert.js`);
  const server = serveWeb({ extra: new Map([["/mlc-convert.js", bundle]]), isolated: isolatedPage });
  const b = await Browser.launch(chromium);
  try {
    await b.goto(`http://127.0.0.1:${server.addr.port}/`);
    await b.waitFor(`globalThis.mlcConvertApp?.phase === "ready"`, 30_000);
    await b.setFiles("#files", [model]);
    await b.waitFor(`!document.getElementById("convert").disabled`, 30_000);
    // the library on the picked files (gen_config needs tokenizer files this checkpoint lacks)
    const run = b.eval<{ seconds: number; threads: number; device: string; size: number }>(`(async () => {
      const m = await import("./mlc-convert.js");
      const files = [...document.getElementById("files").files];
      const root = await navigator.storage.getDirectory();
      const discard = { create: async () => ({ write: async () => {}, close: async () => {} }), writeTextFile: async () => {} };
      const out = ${JSON.stringify(target)} === "none" ? discard : ${JSON.stringify(target)} === "zip"
        ? m.zipOutput(await (await root.getFileHandle("bench.zip", { create: true })).createWritable())
        : await m.directoryOutput(await root.getDirectoryHandle("bench", { create: true }));
      const t0 = performance.now();
      const r = await m.convertInBrowser({ source: m.fileSource(files, { readers: ${readers} }), model: m.findModelDir(files.map((f) => f.webkitRelativePath)),
        quantization: "q4f16_1", device: ${JSON.stringify(device)}, output: out, genConfig: false });
      if (out.finish) await out.finish(); // (the zip streamed into OPFS, as the app does)
      const size = out.finish ? (await (await root.getFileHandle("bench.zip")).getFile()).size : 0;
      return { seconds: (performance.now() - t0) / 1000, threads: r.threads, device: r.device.name, size };
    })()`);
    const s = await sampled(b.pid, run);
    console.log(
      `browser ${s.value.device} (${s.value.threads} threads, page ${isolatedPage ? "" : "not "}isolated, ` +
        `${readers} reader workers, to ${target}${s.value.size ? ` of ${gb(s.value.size)} GB` : ""}): ` +
        `${s.value.seconds.toFixed(1)} s, ${gb(sourceBytes / s.value.seconds)} GB/s, ` +
        `peak: largest process ${gb(s.maxProc)} GB (${s.which}), all chromium processes ${gb(s.maxSum)} GB`,
    );
    // bounded memory: the largest process's peak in each quarter of the run (flat, not rising)
    const q = Math.ceil(s.series.length / 4);
    const quarters = [0, 1, 2, 3].map((i) => gb(Math.max(0, ...s.series.slice(i * q, (i + 1) * q))));
    console.log(`largest process, peak per quarter of the run: ${quarters.join(", ")} GB`);
  } finally {
    await b.close();
    await server.shutdown();
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
