/**
 * The CLI's command registry (a new verb is one line here).
 *
 * @module
 */
import type { Command } from "./_common.ts";
import { chatCmd } from "./chat.ts";
import { convertWeightCmd } from "./convert_weight.ts";
import { demoCmd } from "./demo.ts";
import { genConfigCmd } from "./gen_config.ts";
import { uploadCmd } from "./upload.ts";
import { verifyCmd } from "./verify.ts";

export type { Command };

/** All commands by name. */
export const COMMANDS: Record<string, Command> = {
  convert_weight: convertWeightCmd,
  gen_config: genConfigCmd,
  verify: verifyCmd,
  demo: demoCmd,
  upload: uploadCmd,
  chat: chatCmd,
};
