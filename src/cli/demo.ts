/**
 * `demo`: converts the bundled tiny Llama (examples/tiny-llama) to q4f16_1 and generates its
 * chat config, as a user would with MLC:
 * `convert_weight MODEL --quantization q4f16_1 -o OUT` then
 * `gen_config MODEL --quantization q4f16_1 --conv-template llama-2 -o OUT`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Io } from "./_common.ts";
import { convertWeightCommand } from "./convert_weight.ts";
import { genConfigCommand } from "./gen_config.ts";

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
  const out = values.output!;
  io.out(`$ convert_weight ${rel} --quantization q4f16_1 -o ${out} --device ${values.device} --overwrite`);
  const code = await convertWeightCommand(
    [rel, "--quantization", "q4f16_1", "-o", out, "--device", values.device!, "--overwrite"],
    io,
  );
  if (code !== 0) return code;
  io.out(`$ gen_config ${rel} --quantization q4f16_1 --conv-template llama-2 -o ${out}`);
  const quietIo: Io = { ...io, err: () => {} };
  const gc = await genConfigCommand([
    rel,
    "--quantization",
    "q4f16_1",
    "--conv-template",
    "llama-2",
    "-o",
    out,
  ], quietIo);
  if (gc !== 0) return gc;
  const files = [...Deno.readDirSync(out)].map((e) => e.name).filter((n) => !n.startsWith(".")).sort();
  io.out(`Output files in ${out}: ${files.join(", ")}`);
  return 0;
}
