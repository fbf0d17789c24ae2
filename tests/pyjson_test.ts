import { assertEquals } from "./_assert.ts";
import { dumpPyJson, parsePyJson, PyFloat, pyFloatRepr } from "../src/pyjson.ts";

Deno.test("pyFloatRepr matches Python repr(float)", () => {
  const cases: [number, string][] = [
    [1e-5, "1e-05"],
    [162560, "162560.0"],
    [4.571428571428571, "4.571428571428571"],
    [1e16, "1e+16"],
    [9999999999999998, "9999999999999998.0"],
    [1e-4, "0.0001"],
    [0.00001234, "1.234e-05"],
    [123456789012345680, "1.2345678901234568e+17"],
    [-0.5, "-0.5"],
    [0, "0.0"],
    [-0, "-0.0"],
    [1.5e300, "1.5e+300"],
    [5e-324, "5e-324"],
    [0.1, "0.1"],
    [10000, "10000.0"],
    [500000, "500000.0"],
  ];
  for (const [x, s] of cases) assertEquals(pyFloatRepr(x), s, `repr(${x})`);
});

Deno.test("dumpPyJson: json.dumps(indent=4) layout, ensure_ascii, empty containers", () => {
  const text = dumpPyJson({
    a: [1, 2],
    b: {},
    c: [],
    d: 'é😀\n"',
    e: new PyFloat(2),
    f: 1.5,
    g: null,
    h: true,
  }, 4);
  assertEquals(
    text,
    '{\n    "a": [\n        1,\n        2\n    ],\n    "b": {},\n    "c": [],\n    "d": "\\u00e9\\ud83d\\ude00\\n\\"",\n' +
      '    "e": 2.0,\n    "f": 1.5,\n    "g": null,\n    "h": true\n}',
  );
});

Deno.test("parsePyJson keeps int/float and key order; round trip", () => {
  const src = '{"z": 1, "rope_theta": 10000.0, "eps": 1e-05, "a": [1.0, 2], "n": null}';
  const v = parsePyJson(src) as Record<string, unknown>;
  assertEquals(Object.keys(v), ["z", "rope_theta", "eps", "a", "n"]);
  assertEquals(v.rope_theta instanceof PyFloat, true);
  assertEquals(typeof v.z, "number");
  assertEquals(
    dumpPyJson(v, null),
    '{"z": 1, "rope_theta": 10000.0, "eps": 1e-05, "a": [1.0, 2], "n": null}',
  );
});
