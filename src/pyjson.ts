/**
 * Python-compatible JSON: parse keeping the int/float distinction, print exactly like
 * Python's `json.dumps(obj, indent=N)` (ensure_ascii, `repr` floats, no trailing newline).
 *
 * @module
 */

/**
 * A JSON number that Python reads as a `float`, kept apart from `int` so that it prints back
 * with its `.0` (e.g. `10000.0`, `1e-05`). `valueOf` makes it usable in arithmetic.
 */
export class PyFloat {
  /** The numeric value. */
  readonly value: number;
  /** Wraps a number that must print as a Python float. */
  constructor(value: number) {
    this.value = value;
  }
  /** The plain number. */
  valueOf(): number {
    return this.value;
  }
  /** Python `repr(float)`. */
  toString(): string {
    return pyFloatRepr(this.value);
  }
}

/** A JSON value as Python sees it: numbers may be {@link PyFloat}. */
export type PyJson =
  | null
  | boolean
  | number
  | PyFloat
  | string
  | PyJson[]
  | { [key: string]: PyJson };

/**
 * Python's `repr(float)`: shortest round-trip digits, `.0` for integral values, exponent
 * form (`1e-05`, `1e+16`) outside [1e-4, 1e16).
 *
 * @example
 * ```ts
 * import { pyFloatRepr } from "./pyjson.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(pyFloatRepr(1e-5), "1e-05");
 * deepStrictEqual(pyFloatRepr(162560), "162560.0");
 * ```
 */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const e = x.toExponential(); // shortest round-trip digits, "d.ddde+N"
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(e);
  if (!m) throw new Error(`unexpected number format ${e}`);
  const sign = m[1];
  const digits = m[2] + (m[3] ?? "");
  const exp = Number(m[4]);
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      const intPart = digits.length > exp + 1 ? digits.slice(0, exp + 1) : digits.padEnd(exp + 1, "0");
      const frac = digits.length > exp + 1 ? digits.slice(exp + 1) : "0";
      return `${sign}${intPart}.${frac}`;
    }
    return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  }
  const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const es = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : `${Math.abs(exp)}`;
  return `${sign}${mant}e${exp < 0 ? "-" : "+"}${es}`;
}

function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i];
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (c < 0x20 || c > 0x7e) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

function pyNumber(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 2 ** 63) {
    return Object.is(x, -0) ? "0" : BigInt(x).toString();
  }
  return pyFloatRepr(x);
}

/**
 * Serializes like Python's `json.dumps(value, indent=indent)` with default separators and
 * `ensure_ascii=True`. A JS number prints as an int when integral, else as a float; wrap a
 * number in {@link PyFloat} to force float printing. Keys keep insertion order.
 * `undefined` members are skipped.
 *
 * @example
 * ```ts
 * import { dumpPyJson, PyFloat } from "./pyjson.ts";
 * dumpPyJson({ a: [1], b: new PyFloat(2) }, 4);
 * // '{\n    "a": [\n        1\n    ],\n    "b": 2.0\n}'
 * ```
 */
export function dumpPyJson(value: unknown, indent: number | null = 4): string {
  const nl = indent === null ? "" : "\n";
  const itemSep = indent === null ? ", " : ",";
  const rec = (v: unknown, level: number): string => {
    if (v === null || v === undefined) return "null";
    if (v instanceof PyFloat) return pyFloatRepr(v.value);
    if (typeof v === "number") return pyNumber(v);
    if (typeof v === "bigint") return v.toString();
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v === "string") return pyString(v);
    const pad = indent === null ? "" : " ".repeat(indent * (level + 1));
    const padEnd = indent === null ? "" : " ".repeat(indent * level);
    if (Array.isArray(v)) {
      if (v.length === 0) return "[]";
      return "[" + nl + v.map((x) => pad + rec(x, level + 1)).join(itemSep + nl) + nl + padEnd + "]";
    }
    if (typeof v === "object") {
      const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
      if (entries.length === 0) return "{}";
      return "{" + nl +
        entries.map(([k, x]) => pad + pyString(k) + ": " + rec(x, level + 1)).join(itemSep + nl) +
        nl + padEnd + "}";
    }
    throw new TypeError(`cannot serialize ${typeof v}`);
  };
  return rec(value, 0);
}

/**
 * Parses JSON keeping Python's number types: a number written with a fraction or exponent
 * becomes a {@link PyFloat}, others a plain number. Key order is kept.
 *
 * @example
 * ```ts
 * import { parsePyJson, PyFloat } from "./pyjson.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const v = parsePyJson('{"rope_theta": 10000.0}') as { rope_theta: PyFloat };
 * deepStrictEqual(v.rope_theta instanceof PyFloat, true);
 * ```
 */
export function parsePyJson(text: string): PyJson {
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const fail = (what: string): never => {
    const line = text.slice(0, i).split("\n").length;
    throw new SyntaxError(`${what} at line ${line} (offset ${i})`);
  };
  const value = (): PyJson => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const obj: Record<string, PyJson> = {};
      ws();
      if (text[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a string key");
        const k = str();
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        const v = value();
        Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const arr: PyJson[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    if (text.startsWith("true", i)) {
      i += 4;
      return true;
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return false;
    }
    if (text.startsWith("null", i)) {
      i += 4;
      return null;
    }
    if (text.startsWith("NaN", i)) {
      i += 3;
      return new PyFloat(NaN);
    }
    if (text.startsWith("Infinity", i)) {
      i += 8;
      return new PyFloat(Infinity);
    }
    if (text.startsWith("-Infinity", i)) {
      i += 9;
      return new PyFloat(-Infinity);
    }
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 64));
    if (!m) return fail("unexpected character");
    i += m[0].length;
    const num = Number(m[0]);
    return m[1] !== undefined || m[2] !== undefined ? new PyFloat(num) : num;
  };
  const str = (): string => {
    const start = i;
    // Find the closing quote, then let JSON.parse decode escapes.
    i++;
    while (i < n) {
      const c = text[i];
      if (c === "\\") i += 2;
      else if (c === '"') break;
      else i++;
    }
    if (i >= n) fail("unterminated string");
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const v = value();
  ws();
  if (i !== n) fail("trailing characters");
  return v;
}

/**
 * The plain number of a JSON number (int or {@link PyFloat}); `undefined` otherwise.
 *
 * @example
 * ```ts
 * import { num, PyFloat } from "./pyjson.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(num(new PyFloat(2)), 2);
 * deepStrictEqual(num("2"), undefined);
 * ```
 */
export function num(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (v instanceof PyFloat) return v.value;
  return undefined;
}
