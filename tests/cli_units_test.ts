// The CLI's shared pieces in-process: option parsing, the progress renderer (synthetic events,
// a fake clock), interrupt handling (a fake exit), MLC's formats.
import { assertEquals, assertThrows } from "./_assert.ts";
import { formatHelp, parseCommandArgs } from "../src/cli/_args.ts";
import type { Io } from "../src/cli/_common.ts";
import { Interrupts } from "../src/cli/_interrupt.ts";
import { mapMlcDevice, mlcClosingLines, pyFixed, pyPathStr } from "../src/cli/_mlc.ts";
import { type ProgressEvent, ProgressRenderer } from "../src/cli/_progress.ts";

const SPEC = {
  name: "x",
  usage: "IN [options]",
  description: "Test command.",
  positionals: [{ name: "IN", help: "input" }],
  options: {
    output: { type: "string", short: "o", metavar: "OUT", required: true, help: "output" },
    level: { type: "string", default: "3", help: "level" },
    mode: { type: "string", default: "fast", choices: ["fast", "slow"], help: "mode" },
    dry: { type: "boolean", help: "dry" },
  },
} as const;

Deno.test("args: forms of options and values, defaults, --, negative numbers", () => {
  const a = parseCommandArgs(SPEC, ["in", "-o", "out", "--level=-5", "--mode", "slow", "--dry", "--quiet"]);
  assertEquals(a.positionals, ["in"]);
  assertEquals(
    [
      a.values.output,
      a.values.level,
      a.values.mode,
      a.values.dry,
      a.values.quiet,
      a.values.json,
      a.values.help,
    ],
    ["out", "-5", "slow", true, true, false, false],
  );
  const b = parseCommandArgs(SPEC, ["-oout", "--level", "-7", "--", "--in"]);
  assertEquals([b.values.output, b.values.level, b.values.mode, b.positionals], ["out", "-7", "fast", [
    "--in",
  ]]);
  // the last of a repeated option wins (argparse)
  assertEquals(parseCommandArgs(SPEC, ["i", "-o", "a", "-o", "b"]).values.output, "b");
  // --help needs nothing else
  assertEquals(parseCommandArgs(SPEC, ["--help"]).values.help, true);
});

Deno.test("args: every usage error names the problem", () => {
  const cases: [string[], RegExp][] = [
    [["i", "-o"], /^option --output needs a value$/],
    [["i", "-o", "--dry"], /^option --output needs a value$/],
    [
      ["i", "-o", "o", "--mode", "slwo"],
      /^invalid value for --mode: "slwo" \(did you mean "slow"\?\)\. Valid choices: fast, slow$/,
    ],
    [
      ["i", "-o", "o", "--mode", "zzzzzzzz"],
      /^invalid value for --mode: "zzzzzzzz"\. Valid choices: fast, slow$/,
    ],
    [["i", "-o", "o", "--dyr"], /^unknown option --dyr \(did you mean --dry\?\)$/],
    [["i", "-o", "o", "--frobnicate"], /^unknown option --frobnicate$/],
    [["i", "-o", "o", "-x"], /^unknown option -x$/],
    [["i", "-o", "o", "--dry=1"], /^option --dry takes no value \(got "1"\)$/],
    [[], /^the following arguments are required: IN, --output\/-o$/],
    [["i", "j", "-o", "o"], /^expected 1 argument\(s\) \(IN\), got also "j"$/],
  ];
  for (const [args, re] of cases) assertThrows(() => parseCommandArgs(SPEC, args), re);
});

Deno.test("args: the help lists arguments, options with metavars and defaults, and the common options", () => {
  assertEquals(
    formatHelp(SPEC),
    [
      "Usage: cli.ts x IN [options]",
      "",
      "Test command.",
      "",
      "Arguments:",
      "  IN                 input",
      "",
      "Options:",
      "  -o, --output OUT   output (required)",
      "  --level V          level (default: 3)",
      "  --mode V           mode (default: fast)",
      "  --dry              dry",
      "  --json             machine-readable result on stdout (human text goes to stderr)",
      "  --quiet            print nothing but errors",
      "  -h, --help         this help",
    ].join("\n"),
  );
});

/** An Io recording what is printed, as the terminal would see it. */
function recorder(isTerminal: boolean): Io & { writes: string[] } {
  const writes: string[] = [];
  return {
    writes,
    out: (l) => writes.push(`OUT ${l}\n`),
    err: (l) => writes.push(`${l}\n`),
    progress: (l) => writes.push(`\r\x1b[2K${l}`),
    isTerminal,
  };
}

const ev = (done: number, bytesRead: number, seconds: number): ProgressEvent => ({
  done,
  total: 10,
  name: `p${done}`,
  bytesRead,
  bytesTotal: 1e9,
  seconds,
});

Deno.test("progress bar: throttled redraws, a timer repaint counts the ETA down, logs go above it, finish clears it", () => {
  let now = 0;
  const io = recorder(true);
  const r = new ProgressRenderer({ mode: "bar", io, now: () => now, columns: () => 120, manualTimer: true });
  r.update(ev(1, 1e8, 1));
  now = 50;
  r.update(ev(2, 2e8, 1.05)); // (within 100 ms: not drawn)
  now = 120;
  r.update(ev(3, 2.5e8, 1.12)); // (drawn: 25%)
  now = 1120; // a second without events: the timer repaints with the time gone by
  r.tick();
  r.log("Warning: x");
  r.finish();
  r.update(ev(4, 3e8, 2)); // (after finish: nothing)
  assertEquals(io.writes, [
    "\r\x1b[2K 10% |##------------------| 100.00 MB / 1.00 GB  100.00 MB/s  ETA 9.00 s  [1/10] p1",
    "\r\x1b[2K 25% |#####---------------| 250.00 MB / 1.00 GB  223.21 MB/s  ETA 3.36 s  [3/10] p3",
    "\r\x1b[2K 25% |#####---------------| 250.00 MB / 1.00 GB  223.21 MB/s  ETA 2.36 s  [3/10] p3",
    "\r\x1b[2KWarning: x\n 25% |#####---------------| 250.00 MB / 1.00 GB  223.21 MB/s  ETA 2.36 s  [3/10] p3",
    "\r\x1b[2K",
  ]);
});

Deno.test("progress bar: cut to the terminal width; control characters of a name are not sent", () => {
  const io = recorder(true);
  const r = new ProgressRenderer({ mode: "bar", io, now: () => 0, columns: () => 60, manualTimer: true });
  r.update({ ...ev(1, 1e8, 1), name: "evil\x1b[2Jname" });
  assertEquals(io.writes, ["\r\x1b[2K 10% |##------------------| 100.00 MB / 1.00 GB  100.00 ..."]);
  const io2 = recorder(true);
  const r2 = new ProgressRenderer({
    mode: "bar",
    io: io2,
    now: () => 0,
    columns: () => 200,
    manualTimer: true,
  });
  r2.update({ ...ev(1, 1e8, 1), name: "evil\x1b[2J\u009bname" });
  assertEquals(io2.writes, [
    "\r\x1b[2K 10% |##------------------| 100.00 MB / 1.00 GB  100.00 MB/s  ETA 9.00 s  [1/10] evil?[2J?name",
  ]);
});

Deno.test("progress lines: one per interval (events and timer), a last one at the end if any before; JSON lines with --json; counts without bytes", () => {
  let now = 0;
  const io = recorder(false);
  const r = new ProgressRenderer({
    mode: "lines",
    io,
    now: () => now,
    lineIntervalMs: 1000,
    manualTimer: true,
  });
  r.update(ev(1, 1e8, 0.5)); // (the first event starts the interval)
  now = 900;
  r.update(ev(2, 2e8, 1));
  now = 1000;
  r.update(ev(3, 3e8, 1)); // a line
  now = 1500;
  r.tick(); // (not yet)
  now = 2100;
  r.tick(); // a line from the timer, with the time gone by
  r.finish(); // the last state
  assertEquals(io.writes, [
    "progress: 30.0% (300.00 MB of 1.00 GB), 300.00 MB/s, ETA 2.33 s, 3/10 parameters, 1.00 s elapsed\n",
    "progress: 30.0% (300.00 MB of 1.00 GB), 300.00 MB/s, ETA 1.23 s, 3/10 parameters, 2.10 s elapsed\n",
    "progress: 30.0% (300.00 MB of 1.00 GB), 300.00 MB/s, ETA 1.23 s, 3/10 parameters, 2.10 s elapsed\n",
  ]);
  const jio = recorder(false);
  let t = 0;
  const j = new ProgressRenderer({
    mode: "json",
    io: jio,
    now: () => t,
    lineIntervalMs: 1000,
    manualTimer: true,
  });
  j.update({ done: 2, total: 8, name: "t", bytesRead: 0, bytesTotal: 0, seconds: 4 });
  j.finish(); // (no line before: none at the end either)
  assertEquals(jio.writes, []);
  const j2 = new ProgressRenderer({
    mode: "json",
    io: jio,
    now: () => t,
    lineIntervalMs: 1000,
    manualTimer: true,
  });
  j2.update({ done: 1, total: 8, name: "t", bytesRead: 0, bytesTotal: 0, seconds: 2 });
  t = 2000;
  j2.update({ done: 2, total: 8, name: "t", bytesRead: 0, bytesTotal: 0, seconds: 4 });
  assertEquals(jio.writes.length, 1);
  assertEquals(JSON.parse(jio.writes[0]), {
    event: "progress",
    percent: 25,
    done: 2,
    total: 8,
    name: "t",
    bytes_read: 0,
    bytes_total: 0,
    seconds: 4,
    bytes_per_second: 0,
    eta_seconds: 12,
  });
  const off = recorder(false);
  const o = new ProgressRenderer({ mode: "off", io: off, manualTimer: true });
  o.update(ev(1, 1, 1));
  o.finish();
  assertEquals(off.writes, []);
});

Deno.test("interrupts: cleanups run and the exit waits for a critical section; listeners only while guarded", async () => {
  const exits: number[] = [];
  const it = new Interrupts((c) => void exits.push(c));
  const reports: string[] = [];
  it.setReporter((code, m) => reports.push(`${code} ${m}`));
  const unguard = it.guard(() => Promise.resolve("removed the staging directory"));
  let release!: () => void;
  const critical = it.critical(() => new Promise<string>((r) => (release = () => r("done"))));
  Deno.kill(Deno.pid, "SIGTERM");
  // (a timer keeps the event loop going until the signal comes)
  assertEquals(
    await Promise.race([it.signalled, new Promise((r) => setTimeout(() => r("none"), 2000))]),
    "SIGTERM",
  );
  await new Promise((r) => setTimeout(r, 20));
  assertEquals(exits, []); // (the commit is still going)
  release();
  let settled = false;
  void critical.then(() => (settled = true));
  await new Promise((r) => setTimeout(r, 20));
  assertEquals([exits, reports, settled], [[143], [
    "143 interrupted by SIGTERM: removed the staging directory",
  ], false]);
  unguard(); // (removes the listeners: the test's sanitizer checks none is left)
});

Deno.test("MLC: device names map to ours with a note; Python's %.3f and Path; the closing lines", () => {
  const ours = ["auto", "cpu", "webgpu", "reference"];
  assertEquals(mapMlcDevice("cpu", ours), { device: "cpu" });
  assertEquals(mapMlcDevice("vulkan", ours)?.device, "auto");
  assertEquals(mapMlcDevice("rocm:1", ours)?.device, "auto");
  assertEquals(mapMlcDevice("cpu:0", ours), {
    device: "cpu",
    note: "--device cpu:0 (MLC's name): using cpu (the index is not used)",
  });
  assertEquals(mapMlcDevice("webgpu:0", ours)?.device, "webgpu");
  for (const bad of ["tpu", "cuda:x", "reference:0x", "CUDA"]) {
    assertEquals(mapMlcDevice(bad, ours), undefined, bad);
  }
  // exact binary ties round to even like Python (0.0625 -> 0.062), others as the exact value says
  assertEquals([
    pyFixed(0.0625, 3),
    pyFixed(0.1875, 3),
    pyFixed(4.5, 0),
    pyFixed(5.5, 0),
    pyFixed(-0.0625, 3),
  ], [
    "0.062",
    "0.188",
    "4",
    "6",
    "-0.062",
  ]);
  assertEquals([pyPathStr("/a//b/./c/"), pyPathStr("./"), pyPathStr("../x")], ["/a/b/c", ".", "../x"]);
  assertEquals(
    mlcClosingLines({ paramBytes: 608_174_080, totalParams: 1_100_048_384, output: "dist/TinyLlama/" }),
    [
      "Parameter size after quantization: 0.566 GB",
      "Total parameters: 1,100,048,384",
      "Bits per parameter: 4.423",
      "Saved to directory: dist/TinyLlama",
    ],
  );
});
