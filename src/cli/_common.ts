/**
 * Shared CLI plumbing: output channels, usage errors, permission checks.
 *
 * @module
 */

/** Where the CLI prints. */
export interface Io {
  /** stdout line. */
  out(line: string): void;
  /** stderr line. */
  err(line: string): void;
  /** Rewritable progress line on stderr (empty string clears it). */
  progress(line: string): void;
  /** Whether stderr is a terminal. */
  isTerminal: boolean;
}

/**
 * The process's stdout/stderr.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { processIo } from "./_common.ts";
 * const io = processIo();
 * assert.equal(io.isTerminal, Deno.stderr.isTerminal());
 * io.out("hello"); // (a line on stdout)
 * ```
 */
export function processIo(): Io {
  const enc = new TextEncoder();
  return {
    out: (l) => console.log(l),
    err: (l) => console.error(l),
    progress: (l) => Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${l}`)),
    isTerminal: Deno.stderr.isTerminal(),
  };
}

/**
 * Exit codes of every command (documented in the README):
 * 0 done; 1 the conversion or check failed, or an input was refused (bad model, plan problems,
 * OUT holding other files, damaged shards); 2 usage error (unknown option or value, missing
 * argument); 3 a permission is missing (Deno's, or the file system's); 130 interrupted (SIGINT,
 * Ctrl-C); 143 terminated (SIGTERM).
 */
export const EXIT_CODES = {
  ok: 0,
  failed: 1,
  usage: 2,
  permission: 3,
  sigint: 130,
  sigterm: 143,
} as const;

/** An error with the exit code it ends the command with. */
export class CliError extends Error {
  /** The process exit code. */
  readonly exitCode: number;
  /** Fields added to the `--json` error result (e.g. full lists the message shows capped). */
  readonly details?: Record<string, unknown>;
  /** Creates the error. */
  constructor(message: string, exitCode: number = EXIT_CODES.failed, details?: Record<string, unknown>) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
    this.details = details;
  }
}

/** A command-line usage error (exit code 2). */
export class UsageError extends CliError {
  /** How to run the command whose `--help` to point at (`cli.ts verify`; empty when unknown). */
  readonly command: string;
  /** A help text to print after the message (older callers pass it instead of a command). */
  readonly help: string;
  /**
   * Creates the error; `commandOrHelp` is the command name (`verify`), how to run it
   * (`deno task bench`), or a help text to print (several lines).
   */
  constructor(message: string, commandOrHelp = "") {
    super(message, EXIT_CODES.usage);
    this.name = "UsageError";
    const isHelp = commandOrHelp.includes("\n");
    this.command = isHelp || !commandOrHelp
      ? ""
      : commandOrHelp.includes(" ")
      ? commandOrHelp
      : `cli.ts ${commandOrHelp}`;
    this.help = isHelp ? commandOrHelp : "";
  }
}

/** A missing permission (exit code 3); the message has the `deno run` line to use. */
export class PermissionError extends CliError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, EXIT_CODES.permission);
    this.name = "PermissionError";
  }
}

/**
 * The exit code an error ends a command with (see {@link EXIT_CODES}).
 *
 * @example
 * ```ts
 * import { exitCodeOf, UsageError } from "./_common.ts";
 * if (exitCodeOf(new UsageError("x")) !== 2) throw new Error();
 * if (exitCodeOf(new Error("x")) !== 1) throw new Error();
 * ```
 */
export function exitCodeOf(e: unknown): number {
  if (e instanceof CliError) return e.exitCode;
  if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
    return EXIT_CODES.permission;
  }
  return EXIT_CODES.failed;
}

/**
 * Human-readable byte count (decimal units).
 *
 * @example
 * ```ts
 * import { formatBytes } from "./_common.ts";
 * if (formatBytes(2_500_000) !== "2.50 MB" || formatBytes(512) !== "512 B") throw new Error();
 * ```
 */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${Math.round(n)} B`;
}

/**
 * Human-readable rate in the unit that fits (so a small model never shows `0.00 GB/s`).
 *
 * @example
 * ```ts
 * import { formatRate } from "./_common.ts";
 * if (formatRate(2_310_000_000) !== "2.31 GB/s") throw new Error();
 * if (formatRate(4_200_000) !== "4.20 MB/s") throw new Error();
 * if (formatRate(0) !== "0 B/s") throw new Error();
 * ```
 */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Number.isFinite(bytesPerSecond) ? bytesPerSecond : 0)}/s`;
}

/**
 * Human-readable duration: `0.42 s`, `12 s`, `3:05`, `1:02:03`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./_common.ts";
 * if (formatDuration(0.424) !== "0.42 s" || formatDuration(185) !== "3:05") throw new Error();
 * if (formatDuration(3723) !== "1:02:03") throw new Error();
 * ```
 */
export function formatDuration(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const s = Math.round(seconds);
  const p = (n: number) => String(n).padStart(2, "0");
  const h = Math.floor(s / 3600);
  const m = Math.floor(s / 60) % 60;
  return h ? `${h}:${p(m)}:${p(s % 60)}` : `${m}:${p(s % 60)}`;
}

function shellQuote(s: string): string {
  return /^[\w./=:@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Paths a command needs to read and write. */
export interface PermissionNeeds {
  /** Paths to read. */
  read: string[];
  /** Paths to write. */
  write: string[];
  /** Hosts to connect to (`host` or `host:port`). */
  net?: string[];
  /** Environment variables to read. */
  env?: string[];
}

/**
 * Checks read/write permissions with `Deno.permissions.querySync` (never prompts). When one is
 * missing, throws a {@link PermissionError} whose message has the exact
 * `deno run --allow-read=... --allow-write=...` line to use.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requirePermissions } from "./_common.ts";
 * assert.doesNotThrow(() => requirePermissions({ read: [], write: [] })); // (nothing needed)
 * ```
 */
export function requirePermissions(need: PermissionNeeds): void {
  const missing: string[] = [];
  for (const p of need.read) {
    if (Deno.permissions.querySync({ name: "read", path: p }).state !== "granted") missing.push(`read ${p}`);
  }
  for (const p of need.write) {
    if (Deno.permissions.querySync({ name: "write", path: p }).state !== "granted") {
      missing.push(`write ${p}`);
    }
  }
  for (const h of need.net ?? []) {
    if (Deno.permissions.querySync({ name: "net", host: h }).state !== "granted") missing.push(`net ${h}`);
  }
  for (const v of need.env ?? []) {
    if (Deno.permissions.querySync({ name: "env", variable: v }).state !== "granted") {
      missing.push(`env ${v}`);
    }
  }
  if (!missing.length) return;
  const script = import.meta.url.startsWith("file:")
    ? new URL("../../cli.ts", import.meta.url).pathname
    : "jsr:@mlc-deno/convert/cli";
  const cmd = [
    "deno",
    "run",
    ...(need.read.length ? [`--allow-read=${need.read.join(",")}`] : []),
    ...(need.write.length ? [`--allow-write=${need.write.join(",")}`] : []),
    ...(need.net?.length ? [`--allow-net=${need.net.join(",")}`] : []),
    ...(need.env?.length ? [`--allow-env=${need.env.join(",")}`] : []),
    script,
    ...Deno.args,
  ];
  throw new PermissionError(
    `Missing permission: ${missing.join(", ")}. Run:\n  ${cmd.map(shellQuote).join(" ")}`,
  );
}

/**
 * Like {@link requirePermissions}, but prints the message to `io` and returns false instead
 * of throwing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkPermissions } from "./_common.ts";
 * const lines: string[] = [];
 * const io = { out: () => {}, err: (l: string) => lines.push(l), progress() {}, isTerminal: false };
 * const granted = Deno.permissions.querySync({ name: "read", path: "models/x" }).state === "granted";
 * assert.equal(checkPermissions(io, { read: ["models/x"], write: [] }), granted);
 * assert.equal(lines.length > 0, !granted); // (without it: the message and the line to run)
 * ```
 */
export function checkPermissions(io: Io, need: PermissionNeeds): boolean {
  try {
    requirePermissions(need);
    return true;
  } catch (e) {
    if (!(e instanceof PermissionError)) throw e;
    for (const l of e.message.split("\n")) io.err(l);
    return false;
  }
}

/** A CLI command. */
export interface Command {
  /** One-line description. */
  summary: string;
  /** Runs it; returns the exit code. */
  run(args: string[], io: Io): Promise<number>;
}
