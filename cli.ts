/**
 * Command-line interface, in MLC's habits:
 *
 * ```sh
 * deno run --allow-read=MODEL,OUT --allow-write=OUT cli.ts convert_weight MODEL --quantization q4f16_1 -o OUT
 * deno run --allow-read=MODEL,OUT --allow-write=OUT cli.ts gen_config MODEL --quantization q4f16_1 --conv-template llama-3 -o OUT
 * ```
 *
 * Needs only read access to the source and read/write access to the output. Every command
 * takes `--json`, `--quiet` and `--help`; exit codes: 0 done, 1 failed or refused, 2 usage
 * error, 3 missing permission, 130 interrupted (SIGINT), 143 terminated (SIGTERM).
 *
 * @module
 */
import denoJson from "./deno.json" with { type: "json" };
import { closestNames } from "./src/suggest.ts";
import {
  COMMANDS,
  EXIT_CODES,
  interrupts,
  type Io,
  processIo,
  reportError,
  UsageError,
} from "./src/cli/mod.ts";

/** The package version (deno.json). */
export const VERSION: string = denoJson.version;

function usage(): string {
  return `Usage: cli.ts <command> [options]

Commands:
${Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(16)}${c.summary}`).join("\n")}

Options:
  -h, --help      this help
  --version       print the version (with --json: as JSON)

Run "cli.ts <command> --help" for the options of a command. Every command takes --json
(machine-readable result on stdout), --quiet (nothing but errors) and --help.
Exit codes: 0 done, 1 failed or refused, 2 usage error, 3 missing permission,
130 interrupted (SIGINT), 143 terminated (SIGTERM).`;
}

function version(io: Io, json: boolean): number {
  if (json) io.out(JSON.stringify({ name: denoJson.name, version: VERSION, deno: Deno.version.deno }));
  else io.out(`mlc-convert ${VERSION} (${denoJson.name}, Deno ${Deno.version.deno})`);
  return EXIT_CODES.ok;
}

/** The usage error for an unknown command or a leading option, with the closest command. */
function unknownCommand(cmd: string): UsageError {
  if (cmd.startsWith("-")) {
    return new UsageError(`unknown option ${cmd} (options go after the command; see "cli.ts --help")`);
  }
  const near = closestNames(cmd, Object.keys(COMMANDS), { count: 1, maxDistance: 3 });
  return new UsageError(
    `unknown command "${cmd}"${near.length ? ` (did you mean ${near[0]}?)` : ""}. Commands: ${
      Object.keys(COMMANDS).join(", ")
    }`,
  );
}

/**
 * Runs the CLI with `args`; returns the exit code.
 *
 * @example
 * ```ts ignore
 * import { main } from "./cli.ts";
 * await main(["convert_weight", "--help"]);
 * ```
 */
export async function main(args: string[], io: Io = processIo()): Promise<number> {
  const [cmd, ...rest] = args;
  const json = args.includes("--json");
  if (!cmd) {
    io.err(usage());
    return EXIT_CODES.usage;
  }
  if (cmd === "-h" || cmd === "--help" || cmd === "help") {
    io.out(usage());
    return EXIT_CODES.ok;
  }
  if (cmd === "--version" || cmd === "-V") return version(io, json);
  const c = COMMANDS[cmd];
  if (!c) return reportError(io, json, unknownCommand(cmd));
  try {
    return await c.run(rest, io);
  } catch (e) {
    // (commands built with defineCommand report their own errors; this is for any other)
    await interrupts.settle();
    return reportError(io, json, e);
  }
}

if (import.meta.main) {
  interrupts.install();
  Deno.exit(await main(Deno.args));
}
