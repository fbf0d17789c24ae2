/**
 * Python `str()` / `repr()` of JSON-like values, for log lines that match MLC's.
 *
 * @module
 */
import { PyFloat, pyFloatRepr } from "../pyjson.ts";

/**
 * Python `repr()` of a JSON-like value (`None`, `True`, `'text'`, `[1, 2]`, `{'a': 1.0}`).
 *
 * @example
 * ```ts
 * import { pyRepr } from "./pystr.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(pyRepr({ a: [1, null], b: "x" }), "{'a': [1, None], 'b': 'x'}");
 * ```
 */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (v instanceof PyFloat) return pyFloatRepr(v.value);
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : pyFloatRepr(v);
  if (typeof v === "string") {
    const q = v.includes("'") && !v.includes('"') ? '"' : "'";
    const body = v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll("\t", "\\t").replaceAll(
      "\r",
      "\\r",
    );
    return q + (q === "'" ? body.replaceAll("'", "\\'") : body) + q;
  }
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(", ")}]`;
  if (typeof v === "object") {
    return `{${
      Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(", ")
    }}`;
  }
  return String(v);
}

/**
 * Python `str()`: like {@link pyRepr} except that a top-level string prints as is.
 *
 * @example
 * ```ts
 * import { pyStr } from "./pystr.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(pyStr(true), "True");
 * ```
 */
export function pyStr(v: unknown): string {
  return typeof v === "string" ? v : pyRepr(v);
}
