/**
 * The command line's parts that `cli.ts` (the entry point) puts together: the command table,
 * the process I/O, exit codes, usage errors, error reporting and the interrupt guard. The
 * commands themselves live one per file in this folder.
 *
 * @module
 */
export { reportError } from "./_command.ts";
export { EXIT_CODES, type Io, processIo, UsageError } from "./_common.ts";
export { interrupts } from "./_interrupt.ts";
export { COMMANDS } from "./commands.ts";
