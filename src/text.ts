/**
 * Output hygiene for text that comes from inputs (tensor names, `model_type`, file names,
 * template text): control characters are escaped so that a name can never move the cursor,
 * clear the screen or hide text on a terminal or in a log; echoed strings and lists are capped
 * so that one bad name or 200,000 of them cannot make a line of megabytes.
 *
 * @module
 */

/** Longest echoed string (characters) before it is cut. */
export const MAX_ECHO = 200;

/** Items of a list shown before "and N more". */
export const MAX_LIST_ITEMS = 20;

/**
 * C0 and C1 controls, DEL, and the invisible format characters that reorder or hide text
 * (bidirectional overrides and isolates, zero-width characters, line/paragraph separators).
 * `\n` and `\t` are matched too (see {@link escapeControl}'s `keepLines`).
 */
const CONTROL_RE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/**
 * Escapes control and invisible format characters as `\u00XX` (valid inside a JSON string
 * too). With `keepLines`, newlines and tabs are kept (for whole messages whose lines are ours).
 *
 * @example
 * ```ts
 * import { escapeControl } from "./text.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(escapeControl("a\u001b[2Jb"), "a\\u001b[2Jb");
 * deepStrictEqual(escapeControl("x\ny", { keepLines: true }), "x\ny");
 * ```
 */
export function escapeControl(s: string, opts: { keepLines?: boolean } = {}): string {
  return s.replace(
    CONTROL_RE,
    (c) =>
      opts.keepLines && (c === "\n" || c === "\t")
        ? c
        : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * A string from an input, fit to echo: control characters escaped, cut to `max` characters
 * with the count of the rest.
 *
 * @example
 * ```ts
 * import { echo } from "./text.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(echo("x".repeat(1000), 10), "xxxxxxxxxx... (990 more characters)");
 * ```
 */
export function echo(s: string, max: number = MAX_ECHO): string {
  const cut = s.length > max
    ? `${s.slice(0, max)}... (${(s.length - max).toLocaleString("en-US")} more characters)`
    : s;
  return escapeControl(cut);
}

/**
 * A list of names from inputs, fit to echo: each {@link echo}ed, the first `max` joined by
 * `, `, then `and N more`.
 *
 * @example
 * ```ts
 * import { listOf } from "./text.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(listOf(["a", "b", "c"], 2), "a, b, and 1 more");
 * deepStrictEqual(listOf(Array.from({ length: 200_000 }, (_, i) => `t${i}`), 2), "t0, t1, and 199,998 more");
 * ```
 */
export function listOf(items: readonly string[], max: number = MAX_LIST_ITEMS): string {
  const shown = items.slice(0, max).map((s) => echo(s));
  const rest = items.length - shown.length;
  return rest > 0 ? `${shown.join(", ")}, and ${rest.toLocaleString("en-US")} more` : shown.join(", ");
}

/** Longest line printed (characters); a longer one is cut with a pointer to `--json`. */
export const MAX_LINE = 20_000;

/**
 * A line of our own output made safe for a terminal: controls escaped (newlines and tabs kept,
 * they are ours), and lines over {@link MAX_LINE} characters cut with a note.
 *
 * @example
 * ```ts
 * import { safeLine } from "./text.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(safeLine("error: bad name \u001b]0;x\u0007"), "error: bad name \\u001b]0;x\\u0007");
 * ```
 */
export function safeLine(s: string): string {
  const lines = escapeControl(s, { keepLines: true }).split("\n");
  return lines.map((l) =>
    l.length > MAX_LINE
      ? `${l.slice(0, MAX_LINE)}... (${(l.length - MAX_LINE).toLocaleString("en-US")} more characters; ` +
        `--json has the full text)`
      : l
  ).join("\n");
}
