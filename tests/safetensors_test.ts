import { assertEquals, assertRejects } from "./_assert.ts";
import { encodeSafetensors, readSafetensorsHeader } from "../src/safetensors.ts";
import { memorySource } from "../src/io/memory.ts";
import { openCheckpoint } from "../src/checkpoint.ts";

function withHeader(header: unknown, dataBytes: number, lenOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, lenOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

async function header(bytes: Uint8Array) {
  const f = await memorySource({ "m.safetensors": bytes }).open("m.safetensors");
  return readSafetensorsHeader(f, "m.safetensors");
}

Deno.test("safetensors: reads entries in header order with absolute offsets", async () => {
  const bytes = encodeSafetensors([
    { name: "b", stDtype: "F16", shape: [2], data: new Uint8Array(4) },
    { name: "a", stDtype: "F32", shape: [1, 1], data: new Uint8Array(4) },
  ]);
  const h = await header(bytes);
  assertEquals(h.entries.map((e) => [e.name, e.stDtype, e.shape, e.nbytes]), [["b", "F16", [2], 4], [
    "a",
    "F32",
    [1, 1],
    4,
  ]]);
  assertEquals(h.entries[1].offset - h.entries[0].offset, 4);
});

Deno.test("safetensors: header validation names the file, tensor and problem", async () => {
  const t = (dtype: string, shape: number[], off: number[]) => ({ w: { dtype, shape, data_offsets: off } });
  await assertRejects(() => header(new Uint8Array(4)), /m.safetensors: file is too small/);
  await assertRejects(() => header(withHeader({}, 0, 200_000_000n)), /exceeds the 100000000-byte limit/);
  await assertRejects(() => header(withHeader({}, 0, 50n)), /runs past the end of the file/);
  const bad = withHeader({}, 0);
  bad[8] = 0x7b;
  bad[9] = 0x7b;
  await assertRejects(() => header(bad), /header is not valid JSON/);
  await assertRejects(() => header(withHeader(t("Q4", [2], [0, 4]), 4)), /tensor "w": unknown dtype "Q4"/);
  await assertRejects(
    () => header(withHeader(t("F16", [2], [0, 6]), 6)),
    /6 data bytes but shape \[2\] x F16 needs 4/,
  );
  await assertRejects(
    () => header(withHeader(t("F16", [2], [0, 4]), 2)),
    /run past the end of the data area.*truncated/,
  );
  await assertRejects(
    () =>
      header(withHeader({
        a: { dtype: "F16", shape: [2], data_offsets: [0, 4] },
        b: { dtype: "F16", shape: [2], data_offsets: [2, 6] },
      }, 6)),
    /tensors "a" and "b" overlap/,
  );
  await assertRejects(
    () => header(withHeader(t("F16", [-1], [0, 4]), 4)),
    /shape holds -1, not a non-negative integer/,
  );
});

Deno.test("checkpoint: sharded index keeps JSON key order; single file uses data-offset order", async () => {
  const f1 = encodeSafetensors([{ name: "z", stDtype: "BF16", shape: [1], data: new Uint8Array([1, 2]) }]);
  const f2 = encodeSafetensors([
    { name: "b", stDtype: "BF16", shape: [1], data: new Uint8Array([3, 4]) },
    { name: "a", stDtype: "BF16", shape: [1], data: new Uint8Array([5, 6]) },
  ]);
  const store = memorySource({
    "m/model.safetensors.index.json": JSON.stringify({
      weight_map: { z: "f1.safetensors", b: "f2.safetensors", a: "f2.safetensors" },
    }),
    "m/f1.safetensors": f1,
    "m/f2.safetensors": f2,
  });
  const ck = await openCheckpoint(store, "m/model.safetensors.index.json");
  assertEquals(ck.order, ["z", "b", "a"]);
  const buf = new Uint8Array(2);
  await ck.read("a", 0, buf);
  assertEquals([...buf], [5, 6]);
  const single = await openCheckpoint(memorySource({ "x.safetensors": f2 }), "x.safetensors");
  assertEquals(single.order, ["b", "a"]);
  await assertRejects(
    () =>
      openCheckpoint(
        memorySource({
          "m/i.json": JSON.stringify({ weight_map: { q: "f1.safetensors" } }),
          "m/f1.safetensors": f1,
        }),
        "m/i.json",
      ),
    /index lists tensors that are not in their files: q \(in m\/f1.safetensors\)/,
  );
  await assertRejects(
    () =>
      openCheckpoint(
        memorySource({ "m/i.json": JSON.stringify({ weight_map: { q: "../x.safetensors" } }) }),
        "m/i.json",
      ),
    /points outside the model directory/,
  );
});
