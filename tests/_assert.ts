// Minimal assertions on node:assert (no JSR here).
import assert from "node:assert/strict";

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.deepStrictEqual(actual, expected, msg);
}

/** Asserts that `fn` throws an error whose message matches `re`. */
export function assertThrows(fn: () => unknown, re: RegExp): void {
  assert.throws(
    fn,
    (e: Error) => re.test(e.message) || assert.fail(`message "${e.message}" does not match ${re}`),
  );
}

/** Asserts that `fn` rejects with an error whose message matches `re`. */
export async function assertRejects(fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(
    fn,
    (e: Error) => re.test(e.message) || assert.fail(`message "${e.message}" does not match ${re}`),
  );
}

/** Asserts a truthy value. */
export function assertOk(v: unknown, msg?: string): void {
  assert.ok(v, msg);
}
