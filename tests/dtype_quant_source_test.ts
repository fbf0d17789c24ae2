import { assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { decodeQuantSource, e4m3fnToNumber, e5m2ToNumber, f16ToNumber } from "../src/dtype.ts";
import {
  encodeSafetensors,
  QUANT_SOURCE_DTYPES,
  readSafetensorsHeader,
  unsupportedDtypeReason,
} from "../src/safetensors.ts";
import { memorySource } from "../src/io/memory.ts";

Deno.test("dtype: float8_e4m3fn decodes every pattern (bias 7, no infinity, 0x7f/0xff NaN, max 448)", () => {
  // Spot values of the OCP FP8 E4M3 table (torch.float8_e4m3fn / ml_dtypes.float8_e4m3fn).
  assertEquals(e4m3fnToNumber(0x00), 0);
  assertEquals(Object.is(e4m3fnToNumber(0x80), -0), true);
  assertEquals(e4m3fnToNumber(0x01), 2 ** -9); // smallest subnormal
  assertEquals(e4m3fnToNumber(0x07), 7 * 2 ** -9); // largest subnormal
  assertEquals(e4m3fnToNumber(0x08), 2 ** -6); // smallest normal
  assertEquals(e4m3fnToNumber(0x38), 1);
  assertEquals(e4m3fnToNumber(0x39), 1.125);
  assertEquals(e4m3fnToNumber(0xc0), -2);
  assertEquals(e4m3fnToNumber(0x78), 256); // S.1111.000 is finite in the fn variant
  assertEquals(e4m3fnToNumber(0x7e), 448);
  assertEquals(e4m3fnToNumber(0xfe), -448);
  assertEquals(Number.isNaN(e4m3fnToNumber(0x7f)), true);
  assertEquals(Number.isNaN(e4m3fnToNumber(0xff)), true);
  // Exactly two NaN patterns; the 126 positive finite values are strictly increasing.
  let nans = 0;
  for (let b = 0; b < 256; b++) if (Number.isNaN(e4m3fnToNumber(b))) nans++;
  assertEquals(nans, 2);
  for (let b = 1; b < 0x7f; b++) {
    assertEquals(e4m3fnToNumber(b) > e4m3fnToNumber(b - 1), true, `0x${b.toString(16)}`);
  }
  for (let b = 0; b < 0x7f; b++) assertEquals(e4m3fnToNumber(b | 0x80), -e4m3fnToNumber(b));
});

Deno.test("dtype: float8_e5m2 decodes every pattern as the top byte of a float16", () => {
  for (let b = 0; b < 256; b++) {
    const want = f16ToNumber(b << 8);
    const got = e5m2ToNumber(b);
    assertEquals(Number.isNaN(want) ? Number.isNaN(got) : Object.is(got, want), true, `0x${b.toString(16)}`);
  }
  assertEquals(e5m2ToNumber(0x3c), 1);
  assertEquals(e5m2ToNumber(0x7b), 57344); // largest finite
  assertEquals(e5m2ToNumber(0x7c), Infinity);
  assertEquals(e5m2ToNumber(0x01), 2 ** -16);
});

Deno.test("dtype: decodeQuantSource reads int32 little-endian, int8 signed, uint8 and FP8", () => {
  const i32 = new Uint8Array([0x78, 0x56, 0x34, 0x12, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x80]);
  assertEquals([...decodeQuantSource(i32, "int32", 3)], [0x12345678, -1, -(2 ** 31)]);
  assertEquals([...decodeQuantSource(new Uint8Array([0x7f, 0x80, 0xff]), "int8", 3)], [127, -128, -1]);
  assertEquals([...decodeQuantSource(new Uint8Array([0x7f, 0x80, 0xff]), "uint8", 3)], [127, 128, 255]);
  assertEquals([...decodeQuantSource(new Uint8Array([0x38, 0xb8, 0x7e]), "float8_e4m3fn", 3)], [1, -1, 448]);
  assertEquals([...decodeQuantSource(new Uint8Array([0x3c, 0xc0]), "float8_e5m2", 2)], [1, -2]);
  // a subarray view at an odd offset decodes from its own start
  const view = new Uint8Array([9, 1, 0, 0, 0]).subarray(1);
  assertEquals([...decodeQuantSource(view, "int32", 1)], [1]);
  assertThrows(
    () => decodeQuantSource(new Uint8Array(7), "int32", 2),
    /^2 int32 elements need 8 bytes, got 7$/,
  );
});

Deno.test("safetensors: F8_E4M3, F8_E5M2, I32, I8 and U8 entries parse with their item sizes", async () => {
  const bytes = encodeSafetensors([
    { name: "w", stDtype: "F8_E4M3", shape: [2, 3], data: new Uint8Array(6).fill(0x38) },
    { name: "e5", stDtype: "F8_E5M2", shape: [4], data: new Uint8Array(4) },
    { name: "qweight", stDtype: "I32", shape: [2, 2], data: new Uint8Array(16) },
    { name: "s8", stDtype: "I8", shape: [3], data: new Uint8Array(3) },
    { name: "u8", stDtype: "U8", shape: [1, 5], data: new Uint8Array(5) },
  ]);
  const f = await memorySource({ "m.safetensors": bytes }).open("m.safetensors");
  const h = await readSafetensorsHeader(f, "m.safetensors");
  assertEquals(h.entries.map((e) => [e.name, e.stDtype, e.nbytes, QUANT_SOURCE_DTYPES[e.stDtype]]), [
    ["w", "F8_E4M3", 6, "float8_e4m3fn"],
    ["e5", "F8_E5M2", 4, "float8_e5m2"],
    ["qweight", "I32", 16, "int32"],
    ["s8", "I8", 3, "int8"],
    ["u8", "U8", 5, "uint8"],
  ]);
  const w = h.byName.get("w")!;
  const buf = new Uint8Array(w.nbytes);
  await f.readAt(w.offset, buf);
  assertEquals([...decodeQuantSource(buf, QUANT_SOURCE_DTYPES[w.stDtype], 6)], [1, 1, 1, 1, 1, 1]);
  // An I32 tensor whose byte size is that of 4-byte items only: 3 elements, 8 bytes, is refused.
  const bad = encodeSafetensors([{ name: "q", stDtype: "I32", shape: [3], data: new Uint8Array(8) }]);
  const g = await memorySource({ "b.safetensors": bad }).open("b.safetensors");
  await assertRejects(
    () => readSafetensorsHeader(g, "b.safetensors"),
    /b\.safetensors: tensor "q": 8 data bytes but shape \[3\] x I32 needs 12$/,
  );
});

Deno.test("safetensors: refusing a pre-quantized dtype names the checkpoint kind", () => {
  assertEquals(unsupportedDtypeReason("F64"), "which is not supported (expected F16, BF16 or F32)");
  assertEquals(unsupportedDtypeReason("F8_E4M3").includes("pre-quantized FP8 checkpoint"), true);
  assertEquals(unsupportedDtypeReason("I32").includes("q4f16_autoawq with --source-format awq"), true);
});
