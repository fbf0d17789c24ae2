/**
 * Command-line interface, in MLC's habits:
 *
 * ```sh
 * deno run --allow-read=MODEL --allow-write=OUT cli.ts convert_weight MODEL --quantization q4f16_1 -o OUT
 * deno run --allow-read=MODEL --allow-write=OUT cli.ts gen_config MODEL --quantization q4f16_1 --conv-template llama-3 -o OUT
 * ```
 *
 * Needs only read access to the source and write access to the output.
 *
 * @module
 */
import { processIo, UsageError } from "./src/cli/_common.ts";
import { COMMANDS } from "./src/cli/commands.ts";

const USAGE = `Usage: cli.ts <command> [options]

Commands:
${Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(16)}${c.summary}`).join("\n")}

Run "cli.ts <command> --help" for the options of a command.`;

/**
 * Runs the CLI with `args`; returns the exit code.
 *
 * @example
 * ```ts ignore
 * import { main } from "./cli.ts";
 * await main(["convert_weight", "--help"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const io = processIo();
  const [cmd, ...rest] = args;
  if (!cmd || cmd === "-h" || cmd === "--help") {
    io.out(USAGE);
    return cmd ? 0 : 2;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    io.err(`Unknown command "${cmd}". Valid commands: ${Object.keys(COMMANDS).join(", ")}`);
    return 2;
  }
  try {
    return await c.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`Error: ${e.message}\n\n${e.help}`);
      return 2;
    }
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      io.err(`Error: ${(e as Error).message}`);
      return 2;
    }
    if (
      e instanceof TypeError &&
      /parseArgs|Unknown option|ERR_PARSE_ARGS/.test(String((e as { code?: string }).code ?? e.message))
    ) {
      io.err(`Error: ${e.message}`);
      return 2;
    }
    io.err(`Error: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
