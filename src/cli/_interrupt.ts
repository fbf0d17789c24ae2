/**
 * Ctrl-C (SIGINT) and `kill` (SIGTERM): run the registered cleanups (remove the staging
 * directory), print one line and exit with 130 or 143. A critical section (the commit of a
 * conversion, a few renames) is finished first, so an interrupt never stops it halfway.
 *
 * @module
 */
import { EXIT_CODES } from "./_common.ts";

/** A signal the CLI handles. */
export type InterruptSignal = "SIGINT" | "SIGTERM";

/** Undoes what an interrupted command left; returns what it did (for the message), if anything. */
export type Cleanup = () => Promise<string | undefined>;

/** How the exit is reported (stderr line, and a JSON result with `--json`). */
export type InterruptReporter = (exitCode: number, message: string) => void;

/** Exit code of an interrupt by `signal`. */
export function interruptExitCode(signal: InterruptSignal): number {
  return signal === "SIGINT" ? EXIT_CODES.sigint : EXIT_CODES.sigterm;
}

/**
 * The process's interrupt handling. Listeners are added while a cleanup is registered (or
 * after {@link Interrupts.install}) and removed when none is, so that code using it in-process
 * (tests, the benchmark) leaves no listener behind.
 */
export class Interrupts {
  readonly #cleanups = new Set<Cleanup>();
  #installed = false;
  #permanent = false;
  #critical = 0;
  #criticalDone: (() => void)[] = [];
  #signal: InterruptSignal | undefined;
  #signalled: Promise<InterruptSignal>;
  #resolveSignalled!: (s: InterruptSignal) => void;
  #reporter: InterruptReporter | undefined;
  readonly #exit: (code: number) => void;
  readonly #listeners: Record<InterruptSignal, () => void> = {
    SIGINT: () => void this.#handle("SIGINT"),
    SIGTERM: () => void this.#handle("SIGTERM"),
  };

  /** Handling with `exit` (default `Deno.exit`). */
  constructor(exit: (code: number) => void = (c) => Deno.exit(c)) {
    this.#exit = exit;
    this.#signalled = new Promise((r) => (this.#resolveSignalled = r));
  }

  /** Keeps the listeners for the life of the process (the CLI's entry point). */
  install(): void {
    this.#permanent = true;
    this.#listen();
  }

  /** Sets who reports the exit (the running command); returns a function that unsets it. */
  setReporter(r: InterruptReporter): () => void {
    this.#reporter = r;
    return () => {
      if (this.#reporter === r) this.#reporter = undefined;
    };
  }

  /** Registers `cleanup` until the returned function is called. */
  guard(cleanup: Cleanup): () => void {
    this.#cleanups.add(cleanup);
    this.#listen();
    return () => {
      this.#cleanups.delete(cleanup);
      if (!this.#cleanups.size && !this.#permanent) this.#unlisten();
    };
  }

  /** Resolves with the signal once one arrived (the test pause points wait on it). */
  get signalled(): Promise<InterruptSignal> {
    return this.#signalled;
  }

  /** The signal received, if any. */
  get received(): InterruptSignal | undefined {
    return this.#signal;
  }

  /**
   * Runs `fn` to its end even if a signal arrives meanwhile (the exit waits for it). After a
   * signal, a new critical section never starts: the process is about to exit.
   */
  async critical<T>(fn: () => Promise<T>): Promise<T> {
    await this.settle();
    this.#critical++;
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await fn() };
    } catch (error) {
      outcome = { ok: false, error };
    } finally {
      if (--this.#critical === 0) { for (const r of this.#criticalDone.splice(0)) r(); }
    }
    await this.settle(); // (a signal came meanwhile: the handler exits now)
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  /**
   * Returns at once when no signal arrived; otherwise never (the handler is exiting), so that
   * a command failing because its cleanup ran does not report or exit in the handler's stead.
   */
  async settle(): Promise<void> {
    if (this.#signal) await new Promise<never>(() => {});
  }

  async #handle(signal: InterruptSignal): Promise<void> {
    if (this.#signal) return; // (a second Ctrl-C while cleaning up)
    this.#signal = signal;
    this.#resolveSignalled(signal);
    if (this.#critical) await new Promise<void>((r) => this.#criticalDone.push(r));
    const did: string[] = [];
    for (const c of [...this.#cleanups]) {
      try {
        const m = await c();
        if (m) did.push(m);
      } catch (e) {
        did.push(`cleanup failed: ${(e as Error).message}`);
      }
    }
    const code = interruptExitCode(signal);
    const message = `interrupted by ${signal}${did.length ? `: ${did.join("; ")}` : ""}`;
    if (this.#reporter) this.#reporter(code, message);
    else console.error(`error: ${message}`);
    this.#exit(code);
  }

  #listen(): void {
    if (this.#installed) return;
    this.#installed = true;
    for (const s of ["SIGINT", "SIGTERM"] as const) {
      try {
        Deno.addSignalListener(s, this.#listeners[s]);
      } catch { /* (SIGTERM is not a signal on Windows) */ }
    }
  }

  #unlisten(): void {
    if (!this.#installed) return;
    this.#installed = false;
    for (const s of ["SIGINT", "SIGTERM"] as const) {
      try {
        Deno.removeSignalListener(s, this.#listeners[s]);
      } catch { /* (not added) */ }
    }
  }
}

/** The process's interrupt handling (one per process: signals are process-wide). */
export const interrupts: Interrupts = new Interrupts();

/**
 * A test hook: when the environment variable `MLC_CONVERT_TEST_PAUSE` names `point` (and the
 * process may read it; nothing is asked otherwise), prints `test-pause: POINT` on stderr and
 * waits: until a signal arrives with `resume` (the commit's points: the commit then goes on
 * while the exit waits for it), else for ever (the signal's handler exits). A test interrupts
 * or kills the process at exactly that point. Without the variable it returns at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { testPause, testSetting } from "./_interrupt.ts";
 * if (testSetting("MLC_CONVERT_TEST_PAUSE") === undefined) {
 *   assert.equal(await testPause("commit-staged", true), undefined); // (returns at once)
 * }
 * ```
 */
export async function testPause(point: string, resume = false): Promise<void> {
  if (testSetting("MLC_CONVERT_TEST_PAUSE") !== point) return;
  Deno.stderr.writeSync(new TextEncoder().encode(`test-pause: ${point}\n`));
  await interrupts.signalled;
  if (!resume) await new Promise<never>(() => {});
}

/**
 * The value of a test-only environment variable, or undefined when it is unset or the process
 * has no permission to read it (checked first: never prompts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { testSetting } from "./_interrupt.ts";
 * const granted = Deno.permissions.querySync({ name: "env", variable: "HOME" }).state === "granted";
 * assert.equal(testSetting("HOME"), granted ? Deno.env.get("HOME") : undefined);
 * ```
 */
export function testSetting(name: string): string | undefined {
  const state = Deno.permissions.querySync({ name: "env", variable: name }).state;
  return state === "granted" ? Deno.env.get(name) : undefined;
}
