// The converter page: pick a model folder, plan, convert, get the folder or zip WebLLM loads.
// Everything runs in this tab through the library bundle (web/mlc-convert.js, `deno task build:web`).
import {
  CONV_TEMPLATES,
  convertInBrowser,
  directoryOutput,
  fileSource,
  findModelDir,
  QUANTIZATIONS,
  zipOutput,
} from "./mlc-convert.js";

const $ = (id) => document.getElementById(id);
/** What the page did last (read by the browser test). */
const state = { phase: "idle", error: null, result: null, files: [], zip: null, opfsDir: null };
globalThis.mlcConvertApp = state;

let picked = [];
let modelDir;

for (const name of Object.keys(QUANTIZATIONS)) $("quant").add(new Option(name, name, name === "q4f16_1"));
$("quant").value = "q4f16_1";
for (const name of [...CONV_TEMPLATES.keys()].sort()) $("template").add(new Option(name, name));
if (!globalThis.showDirectoryPicker) {
  $("target").querySelector('option[value="folder"]').disabled = true;
  $("target").value = "zip";
}

const env = [];
env.push(
  crossOriginIsolated
    ? `${navigator.hardwareConcurrency} threads (cross-origin isolated)`
    : "1 thread (page not cross-origin isolated: no SharedArrayBuffer)",
);
env.push(navigator.gpu ? "WebGPU available" : "no WebGPU");
$("env").textContent = env.join(" · ");

const log = (line) => {
  $("log").textContent += `${line}\n`;
};
const fmtBytes = (n) =>
  n >= 1 << 30
    ? `${(n / 2 ** 30).toFixed(2)} GiB`
    : n >= 1 << 20
    ? `${(n / 2 ** 20).toFixed(1)} MiB`
    : `${n} B`;

$("files").addEventListener("change", () => {
  picked = [...$("files").files];
  const paths = picked.map((f) => f.webkitRelativePath || f.name);
  modelDir = findModelDir(paths);
  const total = picked.reduce((a, f) => a + f.size, 0);
  $("picked").textContent = modelDir === undefined
    ? `${picked.length} files, no config.json among them`
    : `${picked.length} files (${fmtBytes(total)}), model in "${modelDir || "."}"`;
  $("plan").disabled = $("convert").disabled = modelDir === undefined;
});

function options(extra) {
  return {
    source: fileSource(picked, { readers: 2 }), // (weights read by two reader workers)
    model: modelDir,
    quantization: $("quant").value,
    convTemplate: $("template").value,
    device: $("device").value,
    log,
    ...extra,
  };
}

function showPlan(p) {
  $("planOut").hidden = false;
  $("planText").textContent = [
    `model_type: ${p.modelType}`,
    `parameters: ${p.params}, tensors: ${p.tensors}, shards: ${p.shards}`,
    `read ${fmtBytes(p.sourceBytes)}, write ${fmtBytes(p.outputBytes)} (${
      p.bitsPerParam.toFixed(3)
    } bits/param)`,
    ...p.problems.map((x) => `Problem: ${x}`),
    ...p.warnings.map((x) => `Warning: ${x}`),
  ].join("\n");
}

async function outputFor(target) {
  const name = `${modelDir.split("/").pop() || "model"}-${$("quant").value}-MLC`;
  if (target === "zip") {
    // streamed into a file of the origin private file system (on disk), downloaded from there;
    // in memory where there is none
    const file = await navigator.storage?.getDirectory?.()
      .then((root) => root.getFileHandle(`${name}.zip`, { create: true }))
      .catch(() => undefined);
    if (file?.createWritable) {
      return { out: zipOutput(await file.createWritable()), label: "zip", zipFile: file };
    }
    return { out: zipOutput(), label: "zip" };
  }
  if (target === "opfs") {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle(name, { create: true });
    state.opfsDir = name;
    return { out: await directoryOutput(dir), label: `private storage /${name}` };
  }
  const dir = await showDirectoryPicker({ id: "mlc-output", mode: "readwrite" });
  return { out: await directoryOutput(dir), label: `folder ${dir.name}` };
}

async function run(dryRun) {
  $("plan").disabled = $("convert").disabled = true;
  $("status").className = "muted";
  $("result").hidden = true;
  state.phase = "running";
  state.error = null;
  $("log").textContent = "";
  try {
    if (dryRun) {
      const r = await convertInBrowser(options({ dryRun: true }));
      showPlan(r.plan);
      $("status").textContent = r.plan.problems.length ? "The plan has problems." : "Plan ready.";
      state.result = r;
      state.phase = "planned";
      return;
    }
    const { out, label, zipFile } = await outputFor($("target").value);
    $("status").textContent = "Starting…";
    const t0 = performance.now();
    const r = await convertInBrowser(options({
      output: out,
      onProgress(p) {
        const f = p.bytesTotal ? p.bytesRead / p.bytesTotal : p.done / p.total;
        $("bar").value = f;
        const eta = f > 0 ? p.seconds / f - p.seconds : 0;
        $("status").textContent = `${p.done}/${p.total} parameters · ${fmtBytes(p.bytesRead)} of ${
          fmtBytes(p.bytesTotal)
        } · ${(p.bytesRead / 2 ** 30 / Math.max(p.seconds, 1e-3)).toFixed(2)} GiB/s · ETA ${
          eta.toFixed(0)
        } s`;
      },
    }));
    showPlan(r.plan);
    $("bar").value = 1;
    $("deviceInfo").textContent =
      `Device: ${r.device.name} (${r.device.description}), ${r.threads} thread(s)`;
    const secs = (performance.now() - t0) / 1000;
    $("status").textContent = `Done in ${secs.toFixed(1)} s: ${r.files.length} files to ${label}` +
      (r.convTemplate ? ` (conversation template ${r.convTemplate})` : "");
    $("fileList").replaceChildren(
      ...r.files.map((n) => Object.assign(document.createElement("li"), { textContent: n })),
    );
    if (label === "zip") {
      const blob = (await out.finish()) ?? await zipFile.getFile();
      state.zip = blob;
      const a = Object.assign(document.createElement("a"), {
        href: URL.createObjectURL(blob),
        download: `${modelDir.split("/").pop() || "model"}-${$("quant").value}-MLC.zip`,
        textContent: `Download the zip (${fmtBytes(blob.size)})`,
      });
      $("download").replaceChildren(a);
    } else {
      $("download").textContent = `Written to ${label}.`;
    }
    $("result").hidden = false;
    state.result = { files: r.files, device: r.device, threads: r.threads, plan: r.plan, seconds: secs };
    state.files = r.files;
    state.phase = "done";
  } catch (e) {
    $("status").className = "error";
    $("status").textContent = `Error: ${e?.message ?? e}`;
    log(String(e?.stack ?? e));
    state.error = String(e?.message ?? e);
    state.phase = "error";
  } finally {
    $("plan").disabled = $("convert").disabled = modelDir === undefined;
  }
}

$("plan").addEventListener("click", () => run(true));
$("convert").addEventListener("click", () => run(false));
state.phase = "ready";
