/**
 * The CLI's command registry.
 *
 * @module
 */
import type { Io } from "./_common.ts";
import { convertWeightCommand } from "./convert_weight.ts";
import { demoCommand } from "./demo.ts";
import { genConfigCommand } from "./gen_config.ts";
import { verifyCommand } from "./verify.ts";

/** A CLI command. */
export interface Command {
  /** One-line description. */
  summary: string;
  /** Runs it; returns the exit code. */
  run(args: string[], io: Io): Promise<number>;
}

/** All commands by name. */
export const COMMANDS: Record<string, Command> = {
  convert_weight: {
    summary: "convert a Hugging Face checkpoint to MLC weights (tensor cache)",
    run: convertWeightCommand,
  },
  gen_config: {
    summary: "generate mlc-chat-config.json and copy or convert the tokenizer files",
    run: genConfigCommand,
  },
  verify: {
    summary: "check shard md5s; with --source, tensor errors against the source model",
    run: verifyCommand,
  },
  demo: { summary: "convert the bundled tiny Llama to q4f16_1 and print the summary", run: demoCommand },
};
