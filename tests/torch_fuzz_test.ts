// Fuzz of the PyTorch .bin reader (issue 17, the torch.save zip + pickle reader of src/formats/):
// random mutations of a valid torch.save file (bytes flipped or replaced in the pickle, the zip
// local and central headers and the end records; spans deleted, duplicated or cut). Every case
// either opens (and then every tensor reads back) or fails with our own error class,
// TorchCheckpointError: never another exception, a hang or a memory spike. Seeded, so a failure
// names the seed and case to replay; bounded in cases and in time.
import { assertOk } from "./_assert.ts";
import { openCheckpoint } from "../src/checkpoint.ts";
import { TorchCheckpointError } from "../src/formats/torch.ts";
import { memorySource } from "../src/io/memory.ts";
import { Rng } from "../src/rng.ts";
import { writeTorchFile } from "../src/testing/torch_writer.ts";

const CASES = 20_000;
const TIME_LIMIT_MS = 8_000;
const SEED = 17;

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r.next() * xs.length)];
const int = (r: Rng, n: number) => Math.floor(r.next() * n);

/** Offsets worth hitting: the pickle record's bytes and every zip signature's neighbourhood. */
function hotSpots(file: Uint8Array): number[] {
  const spots: number[] = [];
  for (let i = 0; i + 4 <= file.length; i++) {
    if (
      file[i] === 0x50 && file[i + 1] === 0x4b &&
      (file[i + 2] === 1 || file[i + 2] === 3 || file[i + 2] === 5)
    ) {
      for (let j = i; j < Math.min(i + 60, file.length); j++) spots.push(j);
    }
  }
  const pkl = new TextEncoder().encode("data.pkl");
  const at = file.findIndex((_, i) => pkl.every((b, k) => file[i + k] === b));
  for (let j = at + pkl.length; j < Math.min(at + pkl.length + 900, file.length); j++) spots.push(j);
  return spots;
}

const BYTES = [
  0x00,
  0xff,
  0x7f,
  0x80,
  0x28,
  0x29,
  0x2e,
  0x4a,
  0x4b,
  0x4d,
  0x5d,
  0x63,
  0x71,
  0x85,
  0x8a,
  0x94,
  0x95,
];

/** One mutation of the file's bytes. */
function mutate(r: Rng, file: Uint8Array, spots: number[]): Uint8Array {
  const kind = int(r, 6);
  const at = r.next() < 0.85 && spots.length ? pick(r, spots) : int(r, file.length);
  if (kind === 0) { // a byte replaced by an interesting one
    const c = file.slice();
    c[at] = pick(r, BYTES);
    return c;
  } else if (kind === 1) { // a bit flipped
    const c = file.slice();
    c[at] ^= 1 << int(r, 8);
    return c;
  } else if (kind === 2) { // a span deleted
    return new Uint8Array([...file.subarray(0, at), ...file.subarray(at + 1 + int(r, 16))]);
  } else if (kind === 3) { // a span duplicated in place
    const span = file.subarray(at, at + 1 + int(r, 40));
    return new Uint8Array([...file.subarray(0, at), ...span, ...file.subarray(at)]);
  } else if (kind === 4) { // cut
    return file.subarray(0, int(r, file.length));
  } else { // a 2- or 4-byte little-endian field set to a boundary value
    const c = file.slice();
    const v = pick(r, [0, 1, 0xffff, 0xffffffff, 0x7fffffff, c.length, c.length + 1]);
    const n = pick(r, [2, 4]);
    for (let k = 0; k < n && at + k < c.length; k++) c[at + k] = (v >>> (8 * k)) & 0xff;
    return c;
  }
}

Deno.test("fuzz: mutated PyTorch .bin files open or fail with TorchCheckpointError, never anything else", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mlc-torch-fuzz-" });
  let base: Uint8Array;
  try {
    await writeTorchFile(`${dir}/pytorch_model.bin`, [
      { name: "model.embed_tokens.weight", shape: [8, 4] },
      { name: "model.norm.weight", shape: [4] },
      { name: "lm_head.weight", shape: [8, 4] },
    ], { dtype: "F16", seed: 3 });
    base = await Deno.readFile(`${dir}/pytorch_model.bin`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const spots = hotSpots(base);
  const r = new Rng(SEED);
  const t0 = performance.now();
  const rss0 = Deno.memoryUsage().rss;
  const outcomes = { opened: 0, refused: 0 };
  const messages = new Set<string>();
  let i = 0;
  for (; i < CASES && performance.now() - t0 < TIME_LIMIT_MS; i++) {
    let file = mutate(r, base, spots);
    if (r.next() < 0.3) file = mutate(r, file, spots); // (two mutations)
    try {
      const ck = await openCheckpoint(memorySource({ "m/pytorch_model.bin": file }), "m/pytorch_model.bin");
      try {
        for (const name of ck.order) {
          const t = ck.tensors.get(name)!;
          await ck.read(name, 0, new Uint8Array(t.nbytes));
        }
      } finally {
        ck.close();
      }
      outcomes.opened++;
    } catch (e) {
      if (!(e instanceof TorchCheckpointError)) {
        throw new Error(`case ${i} (seed ${SEED}): ${(e as Error)?.name}: ${(e as Error)?.message}`);
      }
      outcomes.refused++;
      messages.add(e.message.replace(/^[^:]*: /, "").replace(/\d+/g, "N").slice(0, 60));
    }
  }
  const rss = Deno.memoryUsage().rss - rss0;
  if (Deno.env.get("FUZZ_VERBOSE")) console.log(i, outcomes, [...messages].join("\n"));
  assertOk(i >= 500, `only ${i} cases in ${TIME_LIMIT_MS} ms`);
  assertOk(outcomes.refused > i / 2 && outcomes.opened > 0, JSON.stringify(outcomes));
  assertOk(messages.size >= 10, [...messages].join("\n")); // (many different refusals, not one catch-all)
  assertOk(rss < 150e6, `RSS grew by ${rss} bytes`);
});
