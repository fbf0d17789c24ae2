// The browser bundle (`deno task build:web`: src/browser/mod.ts for the browser platform) without
// a browser: no static `node:*` import, and in a worker whose `Deno` global was deleted before
// the bundle loaded (as in a page), `convertInBrowser` over `File`s into a zip gives the Deno
// CLI's bytes (the `demo` model: convert_weight + gen_config --conv-template llama-2), and a
// missing file is a `NotFound` error, not "Deno is not defined".
import { assertEquals, assertOk as assert } from "./_assert.ts";
import { buildWebBundle } from "../tools/web_serve.ts";
import { unzip } from "./_zip.ts";

const ROOT = new URL("../", import.meta.url).pathname;

// (runs in the worker; `Deno` is gone before the bundle is imported)
const WORKER = `delete globalThis.Deno;
onmessage = async (e) => {
  const m = await import(e.data.bundle);
  const files = e.data.files.map(([name, bytes]) => new File([bytes], name));
  let missing;
  try {
    await m.fileSource(files).readTextFile("nope.json");
  } catch (err) {
    missing = err.name + ": " + err.message;
  }
  const out = m.zipOutput();
  const r = await m.convertInBrowser({ source: m.fileSource(files), quantization: "q4f16_1",
    convTemplate: "llama-2", device: "cpu", output: out });
  const zip = new Uint8Array(await (await out.finish()).arrayBuffer());
  postMessage({ zip, files: r.files, threads: r.threads, missing, deno: typeof Deno });
};`;

Deno.test("the browser bundle has no node: import and converts without Deno, as the CLI", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mlc-bundle-" });
  try {
    const bundle = await buildWebBundle(`${dir}/mlc-convert.js`);
    const text = await Deno.readTextFile(bundle);
    assertEquals(text.match(/^\s*import\s[^;]*from\s*["']node:[^"']*["']/gm), null, "static node: imports");
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
    const files: [string, Uint8Array][] = [];
    for await (const e of Deno.readDir(`${dir}/model`)) {
      files.push([e.name, await Deno.readFile(`${dir}/model/${e.name}`)]);
    }
    const w = new Worker(`data:text/javascript,${encodeURIComponent(WORKER)}`, { type: "module" });
    const r = await new Promise<
      { zip: Uint8Array; files: string[]; threads: number; missing: string; deno: string }
    >(
      (resolve, reject) => {
        w.onmessage = (e) => resolve(e.data);
        w.onerror = (e) => {
          e.preventDefault();
          reject(new Error(e.message));
        };
        w.postMessage({ bundle: `file://${bundle}`, files });
      },
    ).finally(() => w.terminate());
    assertEquals(r.deno, "undefined");
    assertEquals(r.missing, "NotFound: No such file: nope.json (not among the picked files)");
    const got = unzip(r.zip);
    assertEquals(r.files, [...got.keys()]);
    const names: string[] = [];
    for await (const e of Deno.readDir(`${dir}/cli`)) names.push(e.name);
    assertEquals([...got.keys()].sort(), names.sort());
    for (const n of names) {
      const want = await Deno.readFile(`${dir}/cli/${n}`);
      assert(
        got.get(n)!.length === want.length && got.get(n)!.every((b, i) => b === want[i]),
        `${n} differs`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
