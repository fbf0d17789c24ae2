// The CLI as a process: Ctrl-C (SIGINT), kill (SIGTERM) and kill -9 (SIGKILL) at fixed points
// of a conversion and of its commit (the test pause points of MLC_CONVERT_TEST_PAUSE), stale
// staging directories, a concurrent run, and the progress line on a pseudo-terminal.
import { createHash } from "node:crypto";
import { assertEquals, assertOk } from "./_assert.ts";
import { llamaHfTensors, TINY_LLAMA_CONFIG, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const dec = new TextDecoder();

/** A small model (8.9 M parameters, 17.8 MB): one shard in every quantization. */
const SMALL = {
  ...TINY_LLAMA_CONFIG,
  hidden_size: 512,
  intermediate_size: 1024,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  vocab_size: 4096,
} as Record<string, unknown>;

/**
 * A model whose q0f16 conversion takes two shards (35.6 MB, the shard cap being 32 MiB) and
 * whose q4f16_1 conversion takes one: replacing the first by the second leaves a stale shard.
 */
const TWO_SHARDS = { ...SMALL, num_hidden_layers: 4, vocab_size: 8192 } as Record<string, unknown>;

function perms(dir: string): string[] {
  return [
    "--no-prompt",
    `--allow-read=${dir}`,
    `--allow-write=${dir}/out`,
    "--allow-env=MLC_CONVERT_TEST_PAUSE,MLC_CONVERT_TEST_PROGRESS_MS",
  ];
}

function convertArgs(dir: string, quant: string): string[] {
  return ["convert_weight", `${dir}/model`, "--quantization", quant, "-o", `${dir}/out`, "--device", "cpu"];
}

async function run(dir: string, args: string[], env: Record<string, string> = {}) {
  const p = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...perms(dir), CLI, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: p.code, out: dec.decode(p.stdout), err: dec.decode(p.stderr) };
}

/**
 * Starts a conversion that pauses at `point`, waits for its `test-pause:` line, sends `signal`
 * and returns how it ended.
 */
async function killAt(dir: string, quant: string, point: string, signal: Deno.Signal) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...perms(dir), CLI, ...convertArgs(dir, quant)],
    env: { MLC_CONVERT_TEST_PAUSE: point },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.getReader();
  let err = "";
  while (!err.includes(`test-pause: ${point}\n`)) {
    const { value, done } = await reader.read();
    if (done) break;
    err += dec.decode(value);
  }
  assertOk(err.includes(`test-pause: ${point}`), `no pause at ${point}: ${err}`);
  child.kill(signal);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    err += dec.decode(value);
  }
  const status = await child.status;
  return { code: status.code, signal: status.signal, err };
}

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");

/**
 * What OUT holds: "none" (no cache JSON), or the md5s of the shards the cache JSONs point at,
 * after checking that every one of them is there with its size and md5 (else it throws: a
 * cache JSON pointing at missing or wrong shards is the damage the commit must never leave).
 */
async function outputState(out: string): Promise<{ shards: string; json: string[]; staging: number }> {
  const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
  const json = names.filter((n) => n.endsWith("-cache.json"));
  const staging = names.filter((n) => n.startsWith(".mlc-convert-partial-")).length;
  let shards = "none";
  for (const j of json) {
    const cache = JSON.parse(await Deno.readTextFile(`${out}/${j}`));
    const sums: string[] = [];
    for (const r of cache.records) {
      const data = await Deno.readFile(`${out}/${r.dataPath}`);
      assertEquals([data.length, md5(data)], [r.nbytes, r.md5sum], `${j} -> ${r.dataPath}`);
      sums.push(r.md5sum);
    }
    const s = sums.join(",");
    assertOk(shards === "none" || shards === s, `${json.join(", ")} point at different shards`);
    shards = s;
  }
  return { shards, json, staging };
}

async function withModel(fn: (dir: string) => Promise<void>, cfg = SMALL): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await writeCheckpoint(`${dir}/model`, cfg, llamaHfTensors(cfg), { dtype: "BF16", seed: 3 });
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("cli signals: SIGINT/SIGTERM remove the staging directory; SIGKILL at every commit point leaves a complete old or new conversion or no cache JSON; the next run removes stale staging", async () => {
  await withModel(async (dir) => {
    const out = `${dir}/out`;
    const a = await run(dir, convertArgs(dir, "q0f16"));
    assertEquals(a.code, 0, a.err);
    const A = (await outputState(out)).shards;
    assertEquals(A.split(",").length, 2);
    // interrupted while writing: exit 130 / 143, one line, OUT as it was
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      const r = await killAt(dir, "q4f16_1", "shard-written", signal);
      assertEquals(r.code, code, r.err);
      const last = r.err.trim().split("\n").at(-1)!;
      assertOk(
        new RegExp(
          `^error: interrupted by ${signal}: removed the staging directory ${out}/\\.mlc-convert-partial-`,
        )
          .test(last),
        last,
      );
      assertEquals(await outputState(out), {
        shards: A,
        json: ["ndarray-cache.json", "tensor-cache.json"],
        staging: 0,
      });
    }
    // kill -9 at each point: what OUT holds there
    const expect: [string, string][] = [
      ["shard-written", "A"],
      ["commit-staged", "A"],
      ["commit-old-json-removed", "none"],
      ["commit-stale-shards-removed", "none"],
      ["commit-shard-moved", "none"],
      ["commit-json-moved", "B"],
      ["commit-committed", "B"],
    ];
    let B = "";
    for (const [i, [point, want]] of expect.entries()) {
      const r = await killAt(dir, "q4f16_1", point, "SIGKILL");
      assertEquals(r.signal, "SIGKILL");
      // the run put back the previous conversion a kill inside the commit had moved aside
      const prevWant = i > 0 ? expect[i - 1][1] : "A";
      assertEquals(r.err.includes(`Restored the previous conversion in ${out}`), prevWant === "none", point);
      // the run removed the staging directory the previous kill left
      if (i > 0) {
        assertOk(
          /Removed .*\.mlc-convert-partial-\S+, the staging directory of an interrupted run/.test(r.err),
          r.err,
        );
      }
      const s = await outputState(out);
      assertEquals(s.staging, 1, point);
      if (want === "A") assertEquals(s.shards, A, point);
      else if (want === "none") assertEquals(s.json, [], point);
      else {
        B ||= s.shards;
        assertEquals([s.shards, B.split(",").length], [B, 1], point);
      }
    }
    assertEquals((await outputState(out)).json, ["ndarray-cache.json", "tensor-cache.json"]);
    // an interrupt during the commit lets it finish: the new conversion is complete
    const c = await killAt(dir, "q0f16", "commit-old-json-removed", "SIGINT");
    assertEquals(c.code, 130, c.err);
    assertOk(
      c.err.trim().endsWith(
        `error: interrupted by SIGINT: the conversion had been committed: ${out} holds it`,
      ),
      c.err,
    );
    assertEquals(await outputState(out), {
      shards: A,
      json: ["ndarray-cache.json", "tensor-cache.json"],
      staging: 0,
    });
    const t = await killAt(dir, "q4f16_1", "commit-stale-shards-removed", "SIGTERM");
    assertEquals(t.code, 143, t.err);
    assertEquals(await outputState(out), {
      shards: B,
      json: ["ndarray-cache.json", "tensor-cache.json"],
      staging: 0,
    });
    // every stale shard goes, not only those up to the first missing number
    await Deno.writeFile(`${out}/params_shard_7.bin`, new Uint8Array(10));
    const f = await run(dir, convertArgs(dir, "q0f16"));
    assertEquals(f.code, 0, f.err);
    assertEquals([...Deno.readDirSync(out)].map((e) => e.name).sort(), [
      "ndarray-cache.json",
      "params_shard_0.bin",
      "params_shard_1.bin",
      "tensor-cache.json",
    ]);
  }, TWO_SHARDS);
});

Deno.test("cli signals: kill -9 inside the commit loses nothing: the next run moves the previous conversion back, and keeps it when it is interrupted itself", async () => {
  await withModel(async (dir) => {
    const out = `${dir}/out`;
    const a = await run(dir, convertArgs(dir, "q0f16"));
    assertEquals(a.code, 0, a.err);
    const A = await outputState(out);
    // killed after the new shards were moved in: OUT has no cache JSON, the old files are in
    // the staging directory's .previous/
    const k = await killAt(dir, "q4f16_1", "commit-shard-moved", "SIGKILL");
    assertEquals(k.signal, "SIGKILL");
    assertEquals((await outputState(out)).json, []);
    // the next run restores A before converting; interrupted while writing, it leaves A
    const r = await killAt(dir, "q4f16_1", "shard-written", "SIGINT");
    assertEquals(r.code, 130, r.err);
    assertOk(
      /Restored the previous conversion in \S+ from \.mlc-convert-partial-\S+ \(a run killed while replacing it\)/
        .test(r.err),
      r.err,
    );
    assertEquals(await outputState(out), A);
    assertEquals(A.json, ["ndarray-cache.json", "tensor-cache.json"]);
    assertEquals(A.staging, 0);
  }, TWO_SHARDS);
});

Deno.test("cli signals: a run writing into OUT keeps it (another run is refused); a directory named like ours without our marker is left alone", async () => {
  await withModel(async (dir) => {
    const out = `${dir}/out`;
    await Deno.mkdir(`${out}/.mlc-convert-partial-old`, { recursive: true });
    await Deno.writeTextFile(`${out}/.mlc-convert-partial-old/params_shard_0.bin`, "x");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...perms(dir), CLI, ...convertArgs(dir, "q4f16_1")],
      env: { MLC_CONVERT_TEST_PAUSE: "shard-written" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const reader = child.stderr.getReader();
    let err = "";
    while (!err.includes("test-pause: shard-written")) {
      const { value, done } = await reader.read();
      if (done) break;
      err += dec.decode(value);
    }
    assertOk(
      err.includes("Note: left " + `${out}/.mlc-convert-partial-old alone: it has no mlc-convert marker`),
      err,
    );
    const second = await run(dir, convertArgs(dir, "q4f16_1"));
    assertEquals(second.code, 1);
    assertOk(
      new RegExp(
        `^error: Another mlc-convert run \\(pid ${child.pid}, started \\S+\\) is writing into ${out}`,
      ).test(
        second.err.split("\n").find((l) => l.startsWith("error:"))!,
      ),
      second.err,
    );
    child.kill("SIGINT");
    while (!(await reader.read()).done) { /* drain */ }
    assertEquals((await child.status).code, 130);
    const names = [...Deno.readDirSync(out)].map((e) => e.name);
    assertEquals(names, [".mlc-convert-partial-old"]);
  });
});

/** Runs `cmd` on a pseudo-terminal (util-linux `script`); returns the raw bytes it wrote. */
async function onTerminal(cmd: string[]): Promise<{ code: number; bytes: string }> {
  const quoted = cmd.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const p = await new Deno.Command("script", {
    args: ["-qfec", quoted, "/dev/null"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { COLUMNS: "120", LINES: "40" },
  }).output();
  return { code: p.code, bytes: dec.decode(p.stdout) };
}

Deno.test("cli progress on a terminal: a bar with percentage, bytes, rate and ETA, redrawn in place; never blank until the end", async () => {
  await withModel(async (dir) => {
    const r = await onTerminal([
      Deno.execPath(),
      "run",
      ...perms(dir),
      CLI,
      ...convertArgs(dir, "q4f16_1").slice(0, -1),
      "reference", // (slow: many redraws)
    ]);
    assertEquals(r.code, 0, r.bytes);
    const CLEAR = "\r\x1b[2K";
    const first = r.bytes.indexOf(CLEAR);
    assertOk(first > 0, r.bytes);
    // nothing but our own redraws write escape sequences (no other clear-line)
    // deno-lint-ignore no-control-regex
    assertEquals(r.bytes.split(CLEAR).join("").match(/\x1b\[[0-9;?]*[A-Za-z]/g), null);
    const segments = r.bytes.slice(first + CLEAR.length).split(CLEAR);
    const bars = segments.slice(0, -1);
    assertOk(bars.length >= 3, `${bars.length} redraws`);
    // (the bar is cut to the terminal's width)
    const BAR =
      /^ *(\d+)% \|[#-]{20}\| [\d.]+ [kMG]?B \/ [\d.]+ [kMG]?B {2}([\d.]+ [kMG]?B\/s {2})?ETA [\d.:-]+( s)? {2}\[/;
    let pct = 0;
    for (const b of bars) {
      // every segment between two clears is a whole bar: the line is never left blank
      const m = BAR.exec(b);
      assertOk(m && !b.includes("\n"), JSON.stringify(b));
      assertOk(Number(m![1]) >= pct, "percentage goes back");
      pct = Number(m![1]);
    }
    // the last clear comes right before the closing lines
    assertOk(
      /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] INFO convert_weight: Parameter size after quantization: /.test(
        segments.at(-1)!,
      ),
      segments.at(-1),
    );
  });
});

Deno.test("cli progress without a terminal: periodic plain lines, or JSON lines with --json", async () => {
  await withModel(async (dir) => {
    const env = { MLC_CONVERT_TEST_PROGRESS_MS: "1" };
    const slow = (args: string[]) => [...args.slice(0, -1), "reference"];
    const plain = await run(dir, slow(convertArgs(dir, "q4f16_1")), env);
    assertEquals(plain.code, 0, plain.err);
    const lines = plain.err.split("\n").filter((l) => l.startsWith("progress: "));
    assertOk(lines.length >= 2, plain.err);
    assertOk(
      /^progress: 100\.0% \([\d.]+ MB of [\d.]+ MB\), [\d.]+ [kMG]?B\/s, ETA 0\.00 s, 15\/15 parameters, [\d.:]+( s)? elapsed$/
        .test(lines.at(-1)!),
      lines.at(-1),
    );
    const js = await run(dir, [...slow(convertArgs(dir, "q4f16_1")), "--json"], env);
    assertEquals(js.code, 0, js.err);
    const events = js.err.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    assertOk(events.length >= 2, js.err);
    assertEquals(Object.keys(events[0]), [
      "event",
      "percent",
      "done",
      "total",
      "name",
      "bytes_read",
      "bytes_total",
      "seconds",
      "bytes_per_second",
      "eta_seconds",
    ]);
    assertEquals([events.at(-1).event, events.at(-1).percent, events.at(-1).done], ["progress", 100, 15]);
    // stdout holds the result alone
    assertEquals(JSON.parse(js.out).ok, true);
  });
});
