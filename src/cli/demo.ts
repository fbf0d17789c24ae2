/**
 * `demo`: writes a tiny Llama (generated in code: src/cli/_demo_model.ts), converts it to q4f16_1
 * and generates its chat config, as a user would with MLC:
 * `convert_weight MODEL --quantization q4f16_1 -o OUT` then
 * `gen_config MODEL --quantization q4f16_1 --conv-template llama-2 -o OUT`.
 *
 * @module
 */
import { DEVICES } from "../device.ts";
import type { CommandSpec } from "./_args.ts";
import { type CommandContext, defineCommand } from "./_command.ts";
import type { Command, Io } from "./_common.ts";
import { convertWeightCmd } from "./convert_weight.ts";
import { genConfigCmd } from "./gen_config.ts";
import { deviceOption } from "./_mlc.ts";
import { writeDemoModel } from "./_demo_model.ts";

const SPEC = {
  name: "demo",
  usage: "[options]",
  description:
    "Write a tiny Llama (2 layers, random bf16 weights, generated in code) to MODEL, convert it to\n" +
    "q4f16_1 and generate its chat config (convert_weight, then gen_config --conv-template llama-2),\n" +
    "replacing an earlier demo's output.",
  positionals: [],
  options: {
    model: {
      type: "string",
      metavar: "MODEL",
      default: "dist/tiny-llama",
      help: "where the generated Hugging Face model is written (a directory of the demo's files only)",
    },
    output: {
      type: "string",
      short: "o",
      metavar: "OUT",
      default: "dist/tiny-llama-q4f16_1-MLC",
      help: "output directory",
    },
    device: deviceOption(DEVICES, "auto", `${DEVICES.join(" | ")} (as convert_weight)`),
  },
  jsonHelp: "print the results of both steps as one JSON object on stdout",
} as const satisfies CommandSpec;

type Ctx = CommandContext<typeof SPEC>;

/** Runs one step (a command) with the demo's `--quiet`/`--json`; returns its exit code and JSON result. */
async function step(ctx: Ctx, cmd: Command, args: string[]): Promise<{ code: number; json?: unknown }> {
  ctx.out(`$ ${args.join(" ")}`);
  const flags = [...(ctx.quiet ? ["--quiet"] : []), ...(ctx.json ? ["--json"] : [])];
  if (!ctx.json) return { code: await cmd.run([...args.slice(1), ...flags], ctx.io) };
  const captured: string[] = [];
  const io: Io = { ...ctx.io, out: (l) => captured.push(l) };
  const code = await cmd.run([...args.slice(1), ...flags], io);
  return { code, json: JSON.parse(captured.join("\n")) };
}

async function run(ctx: Ctx): Promise<number> {
  const model = ctx.values.model;
  await writeDemoModel(model);
  ctx.out(`Wrote the demo model (a tiny Llama, generated) to ${model}`);
  const out = ctx.values.output;
  const common = [model, "--quantization", "q4f16_1", "-o", out];
  const cw = await step(ctx, convertWeightCmd, ["convert_weight", ...common, "--device", ctx.values.device]);
  if (cw.code !== 0) {
    ctx.result({ ok: false, exit_code: cw.code, convert_weight: cw.json });
    return cw.code;
  }
  // (gen_config's MLC-style log lines would drown the summary: the demo shows its result only)
  const gc = await step(ctx, quietLogs(genConfigCmd), [
    "gen_config",
    ...common,
    "--conv-template",
    "llama-2",
  ]);
  if (gc.code !== 0) {
    ctx.result({ ok: false, exit_code: gc.code, convert_weight: cw.json, gen_config: gc.json });
    return gc.code;
  }
  const files = [...Deno.readDirSync(out)].map((e) => e.name).filter((n) => !n.startsWith(".")).sort();
  ctx.out(`Output files in ${out}: ${files.join(", ")}`);
  ctx.result({ ok: true, model, output: out, files, convert_weight: cw.json, gen_config: gc.json });
  return 0;
}

/** `cmd` with its log lines dropped (errors still shown). */
function quietLogs(cmd: Command): Command {
  return {
    ...cmd,
    run: (args, io) => cmd.run(args, { ...io, err: (l) => l.startsWith("error:") ? io.err(l) : undefined }),
  };
}

/** The `demo` command. */
export const demoCmd: Command = defineCommand({
  spec: SPEC,
  summary: "write a tiny Llama, convert it to q4f16_1 and print the summary",
  run,
});

/**
 * Runs the demo; returns the exit code.
 *
 * @example
 * ```ts ignore
 * import { demoCommand } from "./demo.ts";
 * import { processIo } from "./_common.ts";
 * await demoCommand(["-o", "dist/demo"], processIo());
 * ```
 */
export function demoCommand(args: string[], io: Io): Promise<number> {
  return demoCmd.run(args, io);
}
