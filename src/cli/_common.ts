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
 * import { processIo } from "./_common.ts";
 * processIo().out("hello");
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

/** A command-line usage error (exit code 2, prints the help). */
export class UsageError extends Error {
  /** The command's help text. */
  readonly help: string;
  /** Creates the error. */
  constructor(message: string, help: string) {
    super(message);
    this.name = "UsageError";
    this.help = help;
  }
}

/**
 * Human-readable byte count.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./_common.ts";
 * formatBytes(2_500_000); // "2.50 MB"
 * ```
 */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

function shellQuote(s: string): string {
  return /^[\w./=:@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Checks read/write permissions with `Deno.permissions.querySync`. When one is missing, prints
 * the exact `deno run --allow-read=... --allow-write=...` line to use and returns false.
 *
 * @example
 * ```ts
 * import { checkPermissions, processIo } from "./_common.ts";
 * checkPermissions(processIo(), { read: ["models/x"], write: [] });
 * ```
 */
export function checkPermissions(io: Io, need: { read: string[]; write: string[] }): boolean {
  const missing: string[] = [];
  for (const p of need.read) {
    if (Deno.permissions.querySync({ name: "read", path: p }).state !== "granted") missing.push(`read ${p}`);
  }
  for (const p of need.write) {
    if (Deno.permissions.querySync({ name: "write", path: p }).state !== "granted") {
      missing.push(`write ${p}`);
    }
  }
  if (!missing.length) return true;
  const script = import.meta.url.startsWith("file:")
    ? new URL("../../cli.ts", import.meta.url).pathname
    : "jsr:@mlc-deno/convert/cli";
  const cmd = [
    "deno",
    "run",
    ...(need.read.length ? [`--allow-read=${need.read.join(",")}`] : []),
    ...(need.write.length ? [`--allow-write=${need.write.join(",")}`] : []),
    script,
    ...Deno.args,
  ];
  io.err(`Missing permission: ${missing.join(", ")}. Run:`);
  io.err(`  ${cmd.map(shellQuote).join(" ")}`);
  return false;
}
