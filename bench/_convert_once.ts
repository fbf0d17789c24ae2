// One conversion, run as its own process by bench/convert_bench.ts; prints a JSON line with
// seconds, GB/s of source read and peak RSS (VmHWM).
import { convertWeightCommand } from "../src/cli/convert_weight.ts";

const [model, out, quant, device, ...extra] = Deno.args;
let profile: string | undefined;
const io = {
  out: (l: string) => {
    if (l.startsWith("Profile")) profile = l;
  },
  err: (l: string) => console.error(l),
  progress: () => {},
  isTerminal: false,
};
const t0 = performance.now();
const code = await convertWeightCommand(
  [model, "--quantization", quant, "-o", out, "--device", device, "--overwrite", "--quiet", ...extra],
  io,
);
const seconds = (performance.now() - t0) / 1000;
const status = await Deno.readTextFile("/proc/self/status");
const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
console.log(JSON.stringify({ code, seconds, peakRss: hwm, profile }));
