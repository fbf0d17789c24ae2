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
 * import assert from "node:assert/strict";
 * import { dumpPyJson, PyFloat } from "./pyjson.ts";
 * assert.equal(dumpPyJson({ a: [1], b: new PyFloat(2) }, 4), '{\n    "a": [\n        1\n    ],\n    "b": 2.0\n}');
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
  const p = new PyJsonParser(text);
  const v = p.value();
  p.ws();
  if (p.i !== text.length) p.fail("trailing characters");
  return v;
}

/** Python json.loads' literals beyond JSON's: NaN, Infinity, -Infinity. */
const PY_LITERALS: readonly [string, () => PyJson][] = [
  ["true", () => true],
  ["false", () => false],
  ["null", () => null],
  ["NaN", () => new PyFloat(NaN)],
  ["Infinity", () => new PyFloat(Infinity)],
  ["-Infinity", () => new PyFloat(-Infinity)],
];

/** A recursive-descent reader of {@link parsePyJson}'s grammar, at offset `i` of `text`. */
class PyJsonParser {
  i = 0;
  constructor(readonly text: string) {}

  ws(): void {
    const { text } = this;
    while (this.i < text.length) {
      const c = text.charCodeAt(this.i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.i++;
      else break;
    }
  }

  fail(what: string): never {
    const line = this.text.slice(0, this.i).split("\n").length;
    throw new SyntaxError(`${what} at line ${line} (offset ${this.i})`);
  }

  value(): PyJson {
    this.ws();
    const c = this.text[this.i];
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return this.str();
    for (const [word, make] of PY_LITERALS) {
      if (this.text.startsWith(word, this.i)) {
        this.i += word.length;
        return make();
      }
    }
    return this.number();
  }

  /** `,` (true: more follows) or the closing `end` (false), after whitespace. */
  #next(end: string): boolean {
    this.ws();
    const c = this.text[this.i];
    if (c === "," || c === end) this.i++;
    else this.fail(`expected ',' or '${end}'`);
    return c === ",";
  }

  object(): Record<string, PyJson> {
    this.i++;
    const obj: Record<string, PyJson> = {};
    this.ws();
    if (this.text[this.i] === "}") {
      this.i++;
      return obj;
    }
    do {
      this.ws();
      if (this.text[this.i] !== '"') this.fail("expected a string key");
      const k = this.str();
      this.ws();
      if (this.text[this.i] !== ":") this.fail("expected ':'");
      this.i++;
      const v = this.value();
      Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
    } while (this.#next("}"));
    return obj;
  }

  array(): PyJson[] {
    this.i++;
    const arr: PyJson[] = [];
    this.ws();
    if (this.text[this.i] === "]") {
      this.i++;
      return arr;
    }
    do arr.push(this.value()); while (this.#next("]"));
    return arr;
  }

  number(): PyJson {
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.i, this.i + 64));
    if (!m) return this.fail("unexpected character");
    this.i += m[0].length;
    const num = Number(m[0]);
    return m[1] !== undefined || m[2] !== undefined ? new PyFloat(num) : num;
  }

  /** A string: find the closing quote, then let JSON.parse decode the escapes. */
  str(): string {
    const { text } = this;
    const start = this.i++;
    while (this.i < text.length) {
      const c = text[this.i];
      if (c === "\\") this.i += 2;
      else if (c === '"') break;
      else this.i++;
    }
    if (this.i >= text.length) this.fail("unterminated string");
    this.i++;
    return JSON.parse(text.slice(start, this.i));
  }
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
