/**
 * What every command shares: parsing and `--help` from its spec, the output channels of
 * `--json` and `--quiet`, one error style (`error: MESSAGE` on stderr, and with `--json` a
 * result `{"ok": false, "exit_code": N, "error": MESSAGE}` on stdout) and the exit-code table
 * ({@link EXIT_CODES}). A command is a spec plus a function of a {@link CommandContext}.
 *
 * @module
 */
import { type CommandSpec, formatHelp, type OptionValues, parseCommandArgs } from "./_args.ts";
import { CliError, type Command, EXIT_CODES, exitCodeOf, type Io, UsageError } from "./_common.ts";
import { escapeControl, safeLine } from "../text.ts";
import { interrupts } from "./_interrupt.ts";

/** What a command's body gets. */
export interface CommandContext<S extends CommandSpec> {
  /** Option values. */
  readonly values: OptionValues<S>;
  /** Positional arguments. */
  readonly positionals: string[];
  /** `--json` was given: the result goes to stdout as JSON, human text to stderr. */
  readonly json: boolean;
  /** `--quiet` was given: nothing is printed but errors (and the JSON result). */
  readonly quiet: boolean;
  /** The underlying channels. */
  readonly io: Io;
  /** Prints a line of the human-readable result: stdout (stderr with `--json`; nothing with `--quiet`). */
  out(line: string): void;
  /** Prints a log line on stderr (nothing with `--quiet`). */
  log(line: string): void;
  /** Prints the JSON result on stdout (with `--json` only). */
  result(value: unknown): void;
}

/** A command: its spec, a one-line summary and its body (returns the exit code). */
export interface CommandDefinition<S extends CommandSpec> {
  /** The command line. */
  spec: S;
  /** One line for the command list. */
  summary: string;
  /** The body. */
  run(ctx: CommandContext<S>): Promise<number>;
}

/**
 * Prints an error in the CLI's style: `error: MESSAGE` on stderr (for a usage error, a pointer
 * to `--help`), and with `json` the result `{"ok": false, "exit_code": N, "error": MESSAGE}` on
 * stdout. Returns `exitCode`.
 *
 * @example
 * ```ts
 * import { reportError } from "./_command.ts";
 * const lines: string[] = [];
 * const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l), progress() {}, isTerminal: false };
 * if (reportError(io, true, new Error("bad"), 1) !== 1) throw new Error();
 * if (lines[0] !== "error: bad" || JSON.parse(lines[1]).exit_code !== 1) throw new Error(lines.join());
 * ```
 */
export function reportError(io: Io, json: boolean, e: unknown, exitCode: number = exitCodeOf(e)): number {
  const message = e instanceof Error ? e.message : String(e);
  io.err(safeLine(`error: ${message}`));
  if (e instanceof UsageError) {
    if (e.help) io.err(`\n${e.help}`);
    else if (e.command) io.err(`Run "${e.command} --help" for the options.`);
  }
  const details = e instanceof CliError ? e.details : undefined;
  if (json) io.out(JSON.stringify({ ok: false, exit_code: exitCode, error: message, ...details }, null, 2));
  return exitCode;
}

/**
 * Makes a {@link Command} of a definition: parses the arguments (usage errors exit 2, with
 * suggestions), prints the help for `-h/--help`, runs the body with the channels `--json` and
 * `--quiet` ask for, and turns errors into the error style and exit code.
 *
 * @example
 * ```ts
 * import { defineCommand } from "./_command.ts";
 * const hello = defineCommand({
 *   spec: { name: "hello", usage: "[options]", description: "Says hello.", positionals: [], options: {} },
 *   summary: "says hello",
 *   run: (ctx) => {
 *     ctx.out("hello");
 *     ctx.result({ ok: true });
 *     return Promise.resolve(0);
 *   },
 * });
 * const out: string[] = [];
 * const io = { out: (l: string) => out.push(l), err: () => {}, progress() {}, isTerminal: false };
 * if (await hello.run(["--json"], io) !== 0 || out.join() !== '{\n  "ok": true\n}') throw new Error(out.join());
 * ```
 */
export function defineCommand<S extends CommandSpec>(def: CommandDefinition<S>): Command {
  return {
    summary: def.summary,
    async run(args: string[], rawIo: Io): Promise<number> {
      const io = hygienicIo(rawIo);
      const json = args.includes("--json");
      let ctx: CommandContext<S>;
      try {
        const { values, positionals } = parseCommandArgs(def.spec, args);
        if (values.help) {
          io.out(formatHelp(def.spec));
          return EXIT_CODES.ok;
        }
        ctx = makeContext(io, values, positionals);
      } catch (e) {
        return reportError(io, json, e);
      }
      const unset = interrupts.setReporter((code, message) => reportError(io, ctx.json, message, code));
      try {
        return await def.run(ctx);
      } catch (e) {
        await interrupts.settle();
        return reportError(io, ctx.json, e);
      } finally {
        unset();
      }
    },
  };
}

function makeContext<S extends CommandSpec>(
  io: Io,
  values: OptionValues<S>,
  positionals: string[],
): CommandContext<S> {
  const { json, quiet } = values;
  return {
    values,
    positionals,
    json,
    quiet,
    io,
    out: (l) => quiet ? undefined : json ? io.err(safeLine(l)) : io.out(safeLine(l)),
    log: (l) => quiet ? undefined : io.err(safeLine(l)),
    result: (v) => json ? io.out(JSON.stringify(v, null, 2)) : undefined,
  };
}

/**
 * `io` with control characters escaped in everything printed (newlines and tabs kept: line
 * breaks are ours; the progress line's redraw codes are added after this): names from a
 * checkpoint can never drive the terminal. JSON stays valid (the escapes are JSON's own `\u00XX`).
 *
 * @example
 * ```ts
 * import { hygienicIo } from "./_command.ts";
 * const lines: string[] = [];
 * const push = (l: string) => void lines.push(l);
 * const io = hygienicIo({ out: push, err: () => {}, progress: push, isTerminal: false });
 * io.out("a\u001b[2Jb");
 * io.progress("a line above the bar\n[#### ] 40% \u009b");
 * if (lines[0] !== "a\\u001b[2Jb") throw new Error(lines[0]);
 * if (lines[1] !== "a line above the bar\n[#### ] 40% \\u009b") throw new Error(lines[1]);
 * ```
 */
export function hygienicIo(io: Io): Io {
  return {
    out: (l) => io.out(escapeControl(l, { keepLines: true })),
    err: (l) => io.err(escapeControl(l, { keepLines: true })),
    progress: (l) => io.progress(escapeControl(l, { keepLines: true })),
    isTerminal: io.isTerminal,
  };
}
