/**
 * MLC habits: MLC's `--device` names, MLC's log line format and its closing lines of
 * `convert_weight`, so that scripts written for `mlc_llm` keep working.
 *
 * @module
 */
import { ARCHITECTURES } from "../arch/registry.ts";
import { IMPORT_QUANTIZATIONS, QUANTIZATIONS, UNSUPPORTED_QUANTIZATIONS } from "../quant/schemes.ts";
import type { OptionSpec } from "./_args.ts";

/** MLC's (TVM's) GPU device names: here "a real GPU adapter if any", like `auto`. */
export const MLC_GPU_DEVICES: readonly string[] = ["cuda", "metal", "vulkan", "rocm", "opencl"];

/** A `--device` value mapped to one of ours. */
export interface DeviceChoice {
  /** Our device name. */
  device: string;
  /** A one-line note when an MLC name was mapped (undefined for our own names). */
  note?: string;
}

/**
 * Maps `--device` to one of `ours`: our names pass; MLC's `cuda`, `metal`, `vulkan`, `rocm`,
 * `opencl` (with an optional `:N` index) mean "a real GPU adapter if any, else cpu" (`auto`:
 * WebGPU on a real GPU; WebGPU picks the adapter, so the index is not used); `cpu:N` and
 * `webgpu:N` are `cpu` and `webgpu`. Returns undefined for anything else.
 *
 * @example
 * ```ts
 * import { mapMlcDevice } from "./_mlc.ts";
 * const ours = ["auto", "cpu", "webgpu", "reference"];
 * if (mapMlcDevice("cuda:0", ours)?.device !== "auto") throw new Error();
 * if (mapMlcDevice("cpu", ours)?.note !== undefined) throw new Error();
 * if (mapMlcDevice("cdua", ours) !== undefined) throw new Error();
 * ```
 */
export function mapMlcDevice(value: string, ours: readonly string[]): DeviceChoice | undefined {
  if (ours.includes(value)) return { device: value };
  const m = /^([a-z]+)(?::(\d+))?$/.exec(value);
  if (!m) return undefined;
  const [, name, index] = m;
  if (MLC_GPU_DEVICES.includes(name) && ours.includes("auto")) {
    return {
      device: "auto",
      note:
        `--device ${value} (MLC's name): using a real GPU adapter through WebGPU if there is one, else cpu ` +
        `(as --device auto${index !== undefined ? "; WebGPU picks the adapter, the index is not used" : ""})`,
    };
  }
  if (index !== undefined && ours.includes(name)) {
    return { device: name, note: `--device ${value} (MLC's name): using ${name} (the index is not used)` };
  }
  return undefined;
}

/**
 * The `--device` option of a command whose devices are `ours`: MLC's names are accepted too
 * (see {@link mapMlcDevice}); a wrong value gets the closest of ours as a suggestion.
 *
 * @example
 * ```ts
 * import { deviceOption } from "./_mlc.ts";
 * const o = deviceOption(["auto", "cpu"], "auto", "where to quantize");
 * if (o.check!("metal") !== undefined || o.check!("tpu") !== "") throw new Error();
 * ```
 */
export function deviceOption(
  ours: readonly string[],
  fallback: string,
  help: string,
): OptionSpec & { default: string } {
  return {
    type: "string",
    metavar: "D",
    default: fallback,
    choices: ours,
    alsoSuggest: [...MLC_GPU_DEVICES, ...(ours.includes("webgpu") ? ["webgpu"] : [])],
    choicesNote: `(and MLC's ${MLC_GPU_DEVICES.join(", ")}, cpu or webgpu, with an optional :N)`,
    help,
    check: (v) => mapMlcDevice(v, ours) ? undefined : "",
  };
}

/** MLC's `--quantization` option (required; a known but unsupported scheme says why). */
export const QUANTIZATION_OPTION: OptionSpec & { required: true } = {
  type: "string",
  metavar: "Q",
  required: true,
  choices: [...Object.keys(QUANTIZATIONS), ...Object.keys(IMPORT_QUANTIZATIONS)],
  check: (v: string) => UNSUPPORTED_QUANTIZATIONS[v] ? `not supported: ${UNSUPPORTED_QUANTIZATIONS[v]}` : "",
  help: `one of: ${Object.keys(QUANTIZATIONS).join(", ")}; pre-quantized checkpoints: ${
    Object.keys(IMPORT_QUANTIZATIONS).join(", ")
  }`,
};

/** MLC's `--model-type` option (`auto`: config.json's `model_type`). */
export const MODEL_TYPE_OPTION: OptionSpec & { default: string } = {
  type: "string",
  metavar: "T",
  default: "auto",
  choices: ["auto", ...Object.keys(ARCHITECTURES)],
  help: "architecture (auto: config.json's model_type)",
};

/**
 * Python's `"%.{digits}f" % x`: rounds the exact binary value half to even (JavaScript's
 * `toFixed` rounds an exact tie up).
 *
 * @example
 * ```ts
 * import { pyFixed } from "./_mlc.ts";
 * if (pyFixed(4.0625, 3) !== "4.062" || pyFixed(4.0635, 3) !== "4.064") throw new Error();
 * ```
 */
export function pyFixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  if (!Number.isFinite(x) || Math.abs(x) >= 1e21) return s;
  const exact = Math.abs(x).toFixed(Math.min(100, digits + 60)); // (exact for these magnitudes)
  const rest = exact.slice(exact.indexOf(".") + 1 + digits);
  if (!/^50*$/.test(rest)) return s;
  // an exact tie: round to even
  const down = (Math.sign(x) * Number(exact.slice(0, exact.length - rest.length))).toFixed(digits);
  const lastDigit = Number(down.replace(/\D/g, "").slice(-1));
  return lastDigit % 2 === 0 ? down : s;
}

/**
 * A line in MLC's log format (`[2024-01-31 12:00:00] INFO convert_weight: message`, the
 * `[{asctime}] {levelname} ...: {message}` of `mlc_llm/support/logging.py`, with the command
 * in place of Python's file and line).
 *
 * @example
 * ```ts
 * import { mlcLogLine } from "./_mlc.ts";
 * const l = mlcLogLine("convert_weight", "Total parameters: 1,234", new Date(2024, 0, 31, 12, 0, 5));
 * if (l !== "[2024-01-31 12:00:05] INFO convert_weight: Total parameters: 1,234") throw new Error(l);
 * ```
 */
export function mlcLogLine(source: string, message: string, date: Date = new Date(), level = "INFO"): string {
  const p = (n: number) => String(n).padStart(2, "0");
  const d = date;
  const stamp = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
  return `[${stamp}] ${level} ${source}: ${message}`;
}

/**
 * Python's `str(pathlib.Path(p))` for a POSIX path: no `.` components, no repeated or
 * trailing `/` (MLC prints the output directory this way).
 *
 * @example
 * ```ts
 * import { pyPathStr } from "./_mlc.ts";
 * if (pyPathStr("./dist//out/") !== "dist/out" || pyPathStr(".") !== ".") throw new Error();
 * ```
 */
export function pyPathStr(p: string): string {
  const abs = p.startsWith("/");
  const parts = p.split("/").filter((c) => c !== "" && c !== ".");
  const s = (abs ? "/" : "") + parts.join("/");
  return s || ".";
}

/** Numbers of MLC's closing lines. */
export interface MlcSummary {
  /** Bytes of the parameters written (MLC's `total_bytes`, the `ParamBytes` metadata). */
  paramBytes: number;
  /** Parameters of the source model (MLC's `total_params`). */
  totalParams: number;
  /** The output directory as given. */
  output: string;
}

/**
 * MLC's closing lines of `convert_weight`, with MLC's wording and number formats
 * (`python/mlc_llm/interface/convert_weight.py`, `_convert_args`, the four `logger.info` calls
 * after "Log necessary statistics"), without MLC's color codes.
 *
 * @example
 * ```ts
 * import { mlcClosingLines } from "./_mlc.ts";
 * const l = mlcClosingLines({ paramBytes: 2 ** 30, totalParams: 2 ** 31, output: "out/" });
 * if (l.join("|") !== "Parameter size after quantization: 1.000 GB|Total parameters: 2,147,483,648|" +
 *   "Bits per parameter: 4.000|Saved to directory: out") throw new Error(l.join("|"));
 * ```
 */
export function mlcClosingLines(s: MlcSummary): string[] {
  return [
    `Parameter size after quantization: ${pyFixed(s.paramBytes / 1024 ** 3, 3)} GB`,
    `Total parameters: ${s.totalParams.toLocaleString("en-US")}`,
    `Bits per parameter: ${pyFixed((s.paramBytes * 8) / s.totalParams, 3)}`,
    `Saved to directory: ${pyPathStr(s.output)}`,
  ];
}
