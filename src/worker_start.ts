/**
 * Starting and stopping the program's workers (the pipeline's kernel and md5 workers, the
 * output's I/O worker): each body is a self-contained function (no imports, no captured
 * variables) run from a data: URL, after the self-contained helper functions it calls, so
 * starting a worker needs no read permission for module files (the CLI grants read access to
 * the model and output only).
 *
 * @module
 */
// deno-lint-ignore-file no-explicit-any

/**
 * Starts a module worker running `main` (a self-contained function) from a data: URL, after
 * the declarations of `helpers` (self-contained named functions `main` may call).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shutDown, startWorker } from "./worker_start.ts";
 * function twice(x: number): number {
 *   return 2 * x;
 * }
 * const w = startWorker(() => {
 *   const g = self as unknown as { onmessage: unknown; postMessage(m: unknown): void };
 *   g.onmessage = (e: MessageEvent) => g.postMessage(twice(e.data));
 * }, [twice]);
 * const answer = new Promise((resolve) => w.onmessage = (e) => resolve(e.data));
 * w.postMessage(21);
 * assert.equal(await answer, 42);
 * w.terminate();
 * ```
 */
export function startWorker(
  main: () => void,
  helpers: readonly ((...args: any[]) => unknown)[] = [],
): Worker {
  const code = `${helpers.map((f) => f.toString()).join("\n")}\n(${main.toString()})();`;
  return new Worker(`data:text/javascript,${encodeURIComponent(code)}`, { type: "module" });
}

/**
 * Asks workers to finish (a `close` message: they answer `{ closed: true }` and exit), waits
 * for their answers (at most `ms`), then terminates them. Exiting by themselves, between jobs,
 * spares the runtime tearing a busy worker down. (Replaces the workers' message handlers.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shutDown, startWorker } from "./worker_start.ts";
 * // (a helper, prepended to the worker's source)
 * function twice(x: number): number {
 *   return 2 * x;
 * }
 * const w = startWorker(() => {
 *   const g = self as unknown as { onmessage: unknown; postMessage(m: unknown): void; close(): void };
 *   g.onmessage = (e: { data: { type?: string } | number }) => {
 *     if (typeof e.data === "object" && e.data.type === "close") {
 *       g.postMessage({ closed: true });
 *       g.close();
 *     } else g.postMessage(twice(e.data as number));
 *   };
 * }, [twice]);
 * const answer = new Promise((resolve) => w.onmessage = (e) => resolve(e.data));
 * w.postMessage(21);
 * assert.equal(await answer, 42);
 * const t0 = performance.now();
 * await shutDown([w]); // (posts { type: "close" } and waits for { closed: true })
 * assert.ok(performance.now() - t0 < 1000); // (answered: no wait for the 1 s timeout)
 * ```
 */
export async function shutDown(workers: readonly Worker[], ms = 1000): Promise<void> {
  const answered = workers.map((w) =>
    new Promise<void>((resolve) => {
      w.onmessage = (e: MessageEvent<{ closed?: boolean }>) => {
        if (e.data?.closed) resolve();
      };
      w.onerror = (e) => {
        e.preventDefault();
        resolve();
      };
    })
  );
  for (const w of workers) w.postMessage({ type: "close" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(answered),
    new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
  ]);
  clearTimeout(timer);
  for (const w of workers) w.terminate();
}
