/**
 * "No such file" errors that work with and without Deno: `Deno.errors.NotFound` where Deno
 * runs (what callers catch), else an `Error` named `NotFound` (in a browser).
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
const deno = (globalThis as any).Deno as typeof Deno | undefined;

/**
 * A "no such file" error for `message`.
 *
 * @example
 * ```ts
 * import { isNotFound, notFoundError } from "./not_found.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(isNotFound(notFoundError("No such file: a.json")), true);
 * ```
 */
export function notFoundError(message: string): Error {
  if (deno?.errors?.NotFound) return new deno.errors.NotFound(message);
  const e = new Error(message);
  e.name = "NotFound";
  return e;
}

/**
 * Whether `e` says a file does not exist (from Deno, a browser store or {@link notFoundError}).
 *
 * @example
 * ```ts
 * import { isNotFound } from "./not_found.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(isNotFound(new Error("x")), false);
 * ```
 */
export function isNotFound(e: unknown): boolean {
  if (deno?.errors?.NotFound && e instanceof deno.errors.NotFound) return true;
  return e instanceof Error && (e.name === "NotFound" || e.name === "NotFoundError");
}
