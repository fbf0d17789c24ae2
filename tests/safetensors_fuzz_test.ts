// Fuzz of the safetensors and index readers (issue 17): random mutations of a valid file (its
// header text, its JSON values, its length prefix, its data area) and of a valid index. Every
// case either opens (and then every tensor reads back) or fails with our own error class,
// SafetensorsError: never another exception, a hang or a memory spike. Seeded, so a failure
// names the seed and case to replay; bounded in cases and in time.
import { assertEquals, assertOk } from "./_assert.ts";
import { encodeSafetensors, readSafetensorsHeader, SafetensorsError } from "../src/safetensors.ts";
import { openCheckpoint } from "../src/checkpoint.ts";
import { memorySource } from "../src/io/memory.ts";
import { Rng } from "../src/rng.ts";

const CASES = 3000;
const TIME_LIMIT_MS = 8_000;

function validFile(names: string[]): Uint8Array {
  return encodeSafetensors(
    names.map((name, i) => ({
      name,
      stDtype: ["F16", "BF16", "F32"][i % 3],
      shape: [2, i + 1],
      data: new Uint8Array(2 * (i + 1) * [2, 2, 4][i % 3]).fill(i + 1),
    })),
    { format: "pt" },
  );
}

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r.next() * xs.length)];
const int = (r: Rng, n: number) => Math.floor(r.next() * n);

const NUMBERS = [
  "0",
  "-1",
  "1.5",
  "64.0",
  "1e20",
  "9007199254740993",
  "18446744073709551616",
  "4294967296",
  "2",
  "999999999999",
];
const CHARS = '{}[]",:0123456789-.eE \\uaz\u00e9\u0000';
const VALUES: unknown[] = [null, [], {}, "x", -1, 1.5, [1, 2, 3], [[0]], { a: 1 }, true, 2 ** 60, "F16"];

/** One mutation of a file's bytes. */
function mutateFile(r: Rng, file: Uint8Array): Uint8Array {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  let text = new TextDecoder().decode(file.subarray(8, 8 + n));
  let data = file.subarray(8 + n);
  let len: bigint | undefined;
  let parsed: Record<string, Record<string, unknown>> | undefined;
  try {
    parsed = JSON.parse(text);
  } catch { /* already broken: text mutations only */ }
  const kind = parsed ? int(r, 9) : int(r, 4);
  if (kind === 0) { // a character replaced
    const i = int(r, text.length);
    text = text.slice(0, i) + pick(r, [...CHARS]) + text.slice(i + 1);
  } else if (kind === 1) { // a span deleted
    const i = int(r, text.length);
    text = text.slice(0, i) + text.slice(i + 1 + int(r, 20));
  } else if (kind === 2) { // a span duplicated elsewhere
    const i = int(r, text.length);
    const span = text.slice(i, i + 1 + int(r, 60));
    const j = int(r, text.length);
    text = text.slice(0, j) + span + text.slice(j);
  } else if (kind === 3) { // a number replaced
    const nums = [...text.matchAll(/\d+/g)];
    const m = pick(r, nums);
    if (m) text = text.slice(0, m.index) + pick(r, NUMBERS) + text.slice(m.index! + m[0].length);
  } else if (kind === 4) { // a JSON value replaced
    const j = parsed!;
    const names = Object.keys(j);
    const e = j[pick(r, names)];
    if (e && typeof e === "object") {
      const k = pick(r, [...Object.keys(e), "extra"]);
      e[k] = pick(r, VALUES);
    }
    text = JSON.stringify(j);
  } else if (kind === 5) { // two entries' offsets swapped
    const j = parsed!;
    const t = Object.keys(j).filter((k) => k !== "__metadata__" && j[k] && typeof j[k] === "object");
    const [a, b] = [pick(r, t), pick(r, t)];
    [j[a].data_offsets, j[b].data_offsets] = [j[b].data_offsets, j[a].data_offsets];
    text = JSON.stringify(j);
  } else if (kind === 6) { // the length prefix
    len = BigInt(n) + BigInt(int(r, 17) - 8) * BigInt(pick(r, [1, 1, 1000, 2 ** 40]));
  } else if (kind === 7) { // the data area cut or grown
    data = r.next() < 0.5
      ? data.subarray(0, int(r, data.length))
      : new Uint8Array([...data, ...new Uint8Array(int(r, 9))]);
  } else { // nested deep
    const d = 2 + int(r, 10_000);
    text = text.replace(/"__metadata__":\{[^}]*\}/, `"__metadata__":${"[".repeat(d)}${"]".repeat(d)}`);
  }
  const h = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + h.length + data.length);
  const hl = len ?? BigInt(h.length);
  new DataView(out.buffer).setBigUint64(0, hl < 0n ? 0n : hl & 0xffffffffffffffffn, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** Opens `path` of `files` as a checkpoint and reads every tensor whole. */
async function openAndRead(files: Record<string, Uint8Array | string>, path: string): Promise<number> {
  const ck = await openCheckpoint(memorySource(files), path);
  try {
    for (const name of ck.order) {
      const t = ck.tensors.get(name)!;
      await ck.read(name, 0, new Uint8Array(t.nbytes));
    }
    return ck.order.length;
  } finally {
    ck.close();
  }
}

Deno.test("fuzz: mutated safetensors files open or fail with SafetensorsError, never anything else", async () => {
  const base = validFile(["lm_head.weight", "model.norm.weight", "model.embed_tokens.weight", "z"]);
  const r = new Rng(17);
  const t0 = performance.now();
  const rss0 = Deno.memoryUsage().rss;
  const outcomes = { opened: 0, refused: 0 };
  const messages = new Set<string>();
  let i = 0;
  for (; i < CASES && performance.now() - t0 < TIME_LIMIT_MS; i++) {
    let file = mutateFile(r, base);
    if (r.next() < 0.3) file = mutateFile(r, file); // (two mutations)
    try {
      const f = await memorySource({ m: file }).open("m");
      await readSafetensorsHeader(f, "m");
      await openAndRead({ "m.safetensors": file }, "m.safetensors");
      outcomes.opened++;
    } catch (e) {
      if (!(e instanceof SafetensorsError)) {
        throw new Error(`case ${i} (seed 17): ${(e as Error)?.name}: ${(e as Error)?.message}`);
      }
      outcomes.refused++;
      messages.add(e.message.replace(/\d+/g, "N").replace(/"[^"]*"/g, "S").slice(0, 60));
    }
  }
  const rss = Deno.memoryUsage().rss - rss0;
  if (Deno.env.get("FUZZ_VERBOSE")) console.log(i, outcomes, [...messages].join("\n"));
  assertOk(i >= 500, `only ${i} cases in ${TIME_LIMIT_MS} ms`);
  assertOk(outcomes.refused > i / 2 && outcomes.opened > 0, JSON.stringify(outcomes));
  assertOk(messages.size >= 10, [...messages].join("\n")); // (many different refusals, not one catch-all)
  assertOk(rss < 150e6, `RSS grew by ${rss} bytes`);
});

Deno.test("fuzz: mutated index JSON opens or fails with SafetensorsError", async () => {
  const f1 = validFile(["a", "b"]);
  const f2 = validFile(["c", "d"]);
  const index = JSON.stringify({
    metadata: { total_size: 100 },
    weight_map: { a: "f1.safetensors", b: "f1.safetensors", c: "f2.safetensors", d: "f2.safetensors" },
  });
  assertEquals(
    await openAndRead({ "m/i.json": index, "m/f1.safetensors": f1, "m/f2.safetensors": f2 }, "m/i.json"),
    4,
  );
  const r = new Rng(23);
  const t0 = performance.now();
  let refused = 0;
  let i = 0;
  for (; i < CASES && performance.now() - t0 < TIME_LIMIT_MS / 2; i++) {
    let text = index;
    const kind = int(r, 4);
    if (kind === 0) {
      const k = int(r, text.length);
      text = text.slice(0, k) + pick(r, [...CHARS]) + text.slice(k + 1);
    } else if (kind === 1) {
      const k = int(r, text.length);
      text = text.slice(0, k) + text.slice(k + 1 + int(r, 12));
    } else if (kind === 2) {
      const j = JSON.parse(text);
      j.weight_map[pick(r, ["a", "b", "c", "d", "e"])] = pick(r, [
        ...VALUES,
        "f3.safetensors",
        "../f1.safetensors",
      ]);
      text = JSON.stringify(j);
    } else {
      text = JSON.stringify(pick(r, [...VALUES, { weight_map: pick(r, VALUES) }]));
    }
    try {
      await openAndRead({ "m/i.json": text, "m/f1.safetensors": f1, "m/f2.safetensors": f2 }, "m/i.json");
    } catch (e) {
      if (!(e instanceof SafetensorsError)) {
        throw new Error(`case ${i} (seed 23): ${(e as Error)?.name}: ${(e as Error)?.message}\n${text}`);
      }
      refused++;
    }
  }
  assertOk(i >= 300 && refused > i / 3, `${refused} of ${i} refused`);
});
