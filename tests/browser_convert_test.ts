// The converter page (web/) in Debian's headless chromium, driven over the DevTools protocol:
// a generated tiny Llama (the `demo` command's) is picked through the page's file input,
// converted and gen_config'd on WASM (kernel workers: the page is cross-origin isolated; then
// one thread: a page that is not) and on WebGPU (SwiftShader's adapter), and every output file
// equals the Deno CLI's (`demo`: convert_weight + gen_config --conv-template llama-2) byte for
// byte. Skipped, saying so, where chromium is not installed.
import { assertEquals, assertOk as assert } from "./_assert.ts";
import { Browser, findChromium } from "./_cdp.ts";
import { unzip } from "./_zip.ts";
import { buildWebBundle, serveWeb } from "../tools/web_serve.ts";

const CHROMIUM = findChromium();
if (!CHROMIUM) {
  console.warn("browser_convert_test: skipped (no chromium: apt-get install chromium, or set CHROMIUM)");
}

const ROOT = new URL("../", import.meta.url).pathname;

async function cliDemo(dir: string): Promise<void> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}cli.ts`,
      "demo",
      "--model",
      `${dir}/model`,
      "-o",
      `${dir}/cli`,
      "--device",
      "cpu",
      "--quiet",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assertEquals(code, 0, new TextDecoder().decode(stderr));
}

async function readDir(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) files.set(e.name, await Deno.readFile(`${dir}/${e.name}`));
  }
  return files;
}

const b64 = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

// (in the page: a Blob as base64)
const BLOB_B64 = `(b) => new Promise((ok, fail) => { const r = new FileReader();
  r.onload = () => ok(r.result.slice(r.result.indexOf(",") + 1)); r.onerror = fail; r.readAsDataURL(b); })`;

function assertSameFiles(
  actual: Map<string, Uint8Array>,
  expected: Map<string, Uint8Array>,
  what: string,
): void {
  assertEquals([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: file names`);
  for (const [name, bytes] of expected) {
    assert(actual.get(name)!.length === bytes.length, `${what}: ${name} length`);
    assert(actual.get(name)!.every((b, i) => b === bytes[i]), `${what}: ${name} differs from the CLI's`);
  }
}

/** Picks the model, sets the form, converts, and waits for the page to finish. */
async function convertInPage(
  b: Browser,
  modelDir: string,
  form: { device: string; target: string },
): Promise<{ files: string[]; device: { name: string }; threads: number }> {
  await b.waitFor(`["ready", "done", "error", "planned"].includes(globalThis.mlcConvertApp?.phase)`, 30_000);
  await b.setFiles("#files", [modelDir]); // (a directory: the input has webkitdirectory)
  await b.waitFor(`!document.getElementById("convert").disabled`, 10_000);
  await b.eval(`(() => {
    document.getElementById("quant").value = "q4f16_1";
    document.getElementById("template").value = "llama-2";
    document.getElementById("device").value = ${JSON.stringify(form.device)};
    document.getElementById("target").value = ${JSON.stringify(form.target)};
    document.getElementById("convert").click();
  })()`);
  await b.waitFor(`["done", "error"].includes(globalThis.mlcConvertApp.phase)`, 120_000);
  const state = await b.eval<{ phase: string; error: string | null; result: never }>(
    `({ phase: mlcConvertApp.phase, error: mlcConvertApp.error, result: mlcConvertApp.result })`,
  );
  assertEquals(state.error, null, `the page failed; console:\n${b.console.join("\n")}`);
  return state.result;
}

Deno.test({
  name:
    "the web app in chromium: WASM (workers, one thread) and WebGPU give the CLI's bytes; a closed tab leaves nothing complete",
  ignore: !CHROMIUM,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t0 = performance.now();
    const dir = await Deno.makeTempDir({ prefix: "mlc-browser-" });
    const bundle = `${dir}/mlc-convert.js`;
    const [,] = await Promise.all([cliDemo(dir), buildWebBundle(bundle)]);
    const expected = await readDir(`${dir}/cli`);
    const modelDir = `${dir}/model`;
    const extra = new Map([["/mlc-convert.js", bundle]]);
    const isolated = serveWeb({ extra });
    const plain = serveWeb({ extra, isolated: false });
    const b = await Browser.launch(CHROMIUM!);
    try {
      // 1. WASM with kernel workers (cross-origin isolated page), into the origin private file system
      await b.goto(`http://127.0.0.1:${isolated.addr.port}/`);
      assertEquals(await b.eval(`crossOriginIsolated`), true);
      // (the plan first: the dry run)
      await b.waitFor(`globalThis.mlcConvertApp?.phase === "ready"`, 30_000);
      await b.setFiles("#files", [modelDir]);
      await b.waitFor(`!document.getElementById("plan").disabled`, 10_000);
      await b.eval(`document.getElementById("plan").click()`);
      await b.waitFor(`globalThis.mlcConvertApp.phase === "planned"`, 30_000);
      assertEquals(
        await b.eval(`document.getElementById("planText").textContent`),
        "model_type: llama\nparameters: 15, tensors: 25, shards: 1\n" +
          "read 543360 B, write 154432 B (4.547 bits/param)",
      );
      const r1 = await convertInPage(b, modelDir, { device: "cpu", target: "opfs" });
      assertEquals(r1.device.name, "cpu");
      assert(r1.threads > 1 || navigator.hardwareConcurrency === 1, `threads: ${r1.threads}`);
      const opfs = await b.eval<Record<string, string>>(`(async () => {
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(mlcConvertApp.opfsDir);
        const out = {};
        for await (const [name, h] of dir.entries()) out[name] = await (${BLOB_B64})(await h.getFile());
        return out;
      })()`);
      assertSameFiles(new Map(Object.entries(opfs).map(([n, s]) => [n, b64(s)])), expected, "WASM/OPFS");
      assertEquals(r1.files.at(-1), "mlc-chat-config.json");

      // (the library on a directory handle: the model copied into OPFS, read by directorySource through
      // reader workers)
      const viaHandle = await b.eval<string>(`(async () => {
        const m = await import("./mlc-convert.js");
        const root = await navigator.storage.getDirectory();
        const src = await root.getDirectoryHandle("src-model", { create: true });
        for (const f of document.getElementById("files").files) {
          const w = await (await src.getFileHandle(f.name, { create: true })).createWritable();
          await w.write(f);
          await w.close();
        }
        const out = m.zipOutput();
        // (every read by the reader workers, each split in two)
        await m.convertInBrowser({ source: m.directorySource(root, { readers: 2, readerMinBytes: 1 }), model: "src-model", quantization: "q4f16_1",
          convTemplate: "llama-2", device: "cpu", output: out });
        return (${BLOB_B64})(await out.finish());
      })()`);
      assertSameFiles(unzip(b64(viaHandle)), expected, "directorySource/zip");

      // 2. WebGPU (SwiftShader), to a zip
      const r2 = await convertInPage(b, modelDir, { device: "webgpu", target: "zip" });
      assertEquals(r2.device.name, "webgpu", `console:\n${b.console.join("\n")}`);
      const zip = b64(await b.eval<string>(`(${BLOB_B64})(mlcConvertApp.zip)`));
      assertSameFiles(unzip(zip), expected, "WebGPU/zip");
      const png = await b.screenshot();
      assertEquals([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG");
      const shot = Deno.env.get("MLC_BROWSER_SCREENSHOT") ?? `${dir}/finished.png`;
      await Deno.writeFile(shot, png);
      assert(await b.eval(`document.getElementById("status").textContent.startsWith("Done in")`));

      // 3. a page that is not cross-origin isolated: no SharedArrayBuffer, one thread
      await b.goto(`http://127.0.0.1:${plain.addr.port}/`);
      assertEquals(await b.eval(`typeof SharedArrayBuffer`), "undefined");
      const r3 = await convertInPage(b, modelDir, { device: "cpu", target: "zip" });
      assertEquals(r3.threads, 1);
      const zip3 = b64(await b.eval<string>(`(${BLOB_B64})(mlcConvertApp.zip)`));
      assertSameFiles(unzip(zip3), expected, "WASM one thread/zip");
      // 4. the tab closed while a shard is being written (its close() never returns), into an OPFS
      //    folder holding an earlier complete-looking output: nothing there looks complete after
      await b.goto(`http://127.0.0.1:${isolated.addr.port}/`);
      await b.eval(`(async () => {
        const root = await navigator.storage.getDirectory();
        await root.removeEntry("model-q4f16_1-MLC", { recursive: true }); // (run 1's output)
        const dir = await root.getDirectoryHandle("model-q4f16_1-MLC", { create: true });
        for (const n of ["tensor-cache.json", "ndarray-cache.json", "mlc-chat-config.json"]) {
          const w = await (await dir.getFileHandle(n, { create: true })).createWritable();
          await w.write("{}");
          await w.close();
        }
        FileSystemWritableFileStream.prototype.close = function () {
          globalThis.closing = true;
          return new Promise(() => {});
        };
      })()`);
      await b.waitFor(`globalThis.mlcConvertApp?.phase === "ready"`, 10_000);
      await b.setFiles("#files", [modelDir]);
      await b.waitFor(`!document.getElementById("convert").disabled`, 10_000);
      await b.eval(`(() => {
        document.getElementById("device").value = "cpu";
        document.getElementById("target").value = "opfs";
        document.getElementById("convert").click();
      })()`);
      await b.waitFor(`globalThis.closing`, 30_000);
      await b.reopen();
      await b.goto(`http://127.0.0.1:${isolated.addr.port}/`);
      const left = await b.eval<Record<string, number>>(`(async () => {
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle("model-q4f16_1-MLC");
        const sizes = {};
        for await (const [name, h] of dir.entries()) sizes[name] = (await h.getFile()).size;
        return sizes;
      })()`);
      for (const n of ["tensor-cache.json", "ndarray-cache.json", "mlc-chat-config.json"]) {
        assert(!(n in left), `${n} left after the tab closed: ${JSON.stringify(left)}`);
      }
      // (the shard's handle exists from getFileHandle({ create: true }); its bytes were never committed)
      assertEquals(left["params_shard_0.bin"] ?? 0, 0, JSON.stringify(left));
      console.log(`browser test: ${((performance.now() - t0) / 1000).toFixed(1)} s, screenshot ${shot}`);
    } finally {
      await b.close();
      await isolated.shutdown();
      await plain.shutdown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
