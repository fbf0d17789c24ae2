/**
 * `demo`: converts the bundled tiny Llama checkpoint (examples/tiny-llama) to q4f16_1.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Io } from "./_common.ts";
import { convertWeightCommand } from "./convert_weight.ts";

/** Runs the demo; returns the exit code. */
export async function demoCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      output: { type: "string", short: "o", default: "dist/tiny-llama-q4f16_1-MLC" },
      device: { type: "string", default: "auto" },
    },
  });
  const model = new URL("../../examples/tiny-llama", import.meta.url).pathname;
  const rel = model.startsWith(Deno.cwd() + "/") ? model.slice(Deno.cwd().length + 1) : model;
  io.out(`Demo: convert_weight ${rel} --quantization q4f16_1 -o ${values.output} --device ${values.device}`);
  return await convertWeightCommand(
    [rel, "--quantization", "q4f16_1", "-o", values.output!, "--device", values.device!, "--overwrite"],
    io,
  );
}
