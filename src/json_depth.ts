/**
 * A linear, non-recursive check of how deep JSON text nests, run before a file from the model
 * directory is parsed or copied.
 *
 * @module
 */

/**
 * Whether JSON text nests `[`/`{` deeper than `limit` (strings skipped). Linear, no recursion;
 * run before a file is parsed or copied (a wild nesting is refused before it costs memory).
 *
 * @example
 * ```ts
 * import { nestsDeeperThan } from "./json_depth.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(nestsDeeperThan('{"a":[["]]]]"]]}', 3), false);
 * deepStrictEqual(nestsDeeperThan("[".repeat(200) + "]".repeat(200), 128), true);
 * ```
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
