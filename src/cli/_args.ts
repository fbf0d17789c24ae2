/**
 * Command-line parsing from a declaration: options, positionals, help text, and usage errors
 * with "did you mean" suggestions (for mistyped flags and values) instead of a parser's raw
 * text. Every command also gets `--json`, `--quiet` and `-h, --help`.
 *
 * @module
 */
import { closestNames } from "../suggest.ts";
import { UsageError } from "./_common.ts";

/** One option of a command. */
export interface OptionSpec {
  /** `string` takes a value (`--name V` or `--name=V`); `boolean` is a switch. */
  type: "string" | "boolean";
  /** One-letter alias (`o` for `-o`). */
  short?: string;
  /** Placeholder of the value in the help (default `V`). */
  metavar?: string;
  /** Help text; `\n` starts an indented continuation line. */
  help: string;
  /** Default value of a string option. */
  default?: string;
  /** Valid values (a wrong one gets the closest as a suggestion). */
  choices?: readonly string[];
  /** More names to suggest for a wrong value (other accepted forms), besides `choices`. */
  alsoSuggest?: readonly string[];
  /** Said after the list of valid choices (other accepted forms). */
  choicesNote?: string;
  /**
   * Checks a value that is not one of `choices` (or any value, without `choices`): undefined
   * when it is valid after all, else the reason it is not ("" for none beyond "not a choice").
   */
  check?: (value: string) => string | undefined;
  /** Required (an error names every missing required option at once). */
  required?: boolean;
}

/** A command's command line. */
export interface CommandSpec {
  /** Command name (`convert_weight`). */
  name: string;
  /** How it is run, for the help and error messages (default `cli.ts NAME`). */
  program?: string;
  /** Usage line after the command name (`CONFIG --quantization Q -o OUT [options]`). */
  usage: string;
  /** Paragraph under the usage line. */
  description: string;
  /** Positional arguments, in order; all required. */
  positionals: readonly { name: string; help: string }[];
  /** Options by long name (without `--`). */
  options: Readonly<Record<string, OptionSpec>>;
  /** Help of the common `--json` option (what the JSON holds). */
  jsonHelp?: string;
  /** Only `-h, --help` of the common options (a script without `--json` and `--quiet`). */
  helpOnly?: boolean;
}

/** The value type of an option. */
export type OptionValue<O extends OptionSpec> = O["type"] extends "boolean" ? boolean
  : O extends { default: string } | { required: true } ? string
  : string | undefined;

/** Parsed values of a spec's options (plus the common ones). */
export type OptionValues<S extends CommandSpec> =
  & { -readonly [K in keyof S["options"]]: OptionValue<S["options"][K]> }
  & CommonValues;

/** The options every command has. */
export interface CommonValues {
  /** Machine-readable result on stdout. */
  json: boolean;
  /** No output but errors. */
  quiet: boolean;
  /** Print the help. */
  help: boolean;
}

/** A parsed command line. */
export interface ParsedArgs<S extends CommandSpec> {
  /** Option values. */
  values: OptionValues<S>;
  /** Positional arguments. */
  positionals: string[];
}

const COMMON: Record<keyof CommonValues, OptionSpec> = {
  json: { type: "boolean", help: "machine-readable result on stdout (human text goes to stderr)" },
  quiet: { type: "boolean", help: "print nothing but errors" },
  help: { type: "boolean", short: "h", help: "this help" },
};

function allOptions(spec: CommandSpec): Record<string, OptionSpec> {
  if (spec.helpOnly) return { ...spec.options, help: COMMON.help };
  const json = spec.jsonHelp ? { ...COMMON.json, help: spec.jsonHelp } : COMMON.json;
  return { ...spec.options, ...COMMON, json };
}

/**
 * Parses `args` against `spec`. Throws {@link UsageError} for an unknown option (with the
 * closest names), a missing or unexpected value, a value outside `choices`, a wrong number of
 * positionals, or missing required options. With `--help` anywhere, only unknown options are
 * errors (the caller prints the help).
 *
 * @example
 * ```ts
 * import { parseCommandArgs } from "./_args.ts";
 * const spec = {
 *   name: "demo", usage: "[options]", description: "", positionals: [],
 *   options: { device: { type: "string", default: "auto", choices: ["auto", "cpu"], help: "" } },
 * } as const;
 * const { values } = parseCommandArgs(spec, ["--device=cpu", "--json"]);
 * if (values.device !== "cpu" || !values.json || values.quiet) throw new Error();
 * try {
 *   parseCommandArgs(spec, ["--devce", "cpu"]);
 *   throw new Error("accepted");
 * } catch (e) {
 *   if (!(e as Error).message.includes("did you mean --device?")) throw e;
 * }
 * ```
 */
export function parseCommandArgs<S extends CommandSpec>(spec: S, args: readonly string[]): ParsedArgs<S> {
  const opts = allOptions(spec);
  const values: Record<string, string | boolean | undefined> = {};
  for (const [k, o] of Object.entries(opts)) values[k] = o.type === "boolean" ? false : o.default;
  const positionals: string[] = [];
  const given = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-" || /^-\d/.test(a)) {
      positionals.push(a);
      continue;
    }
    const [name, inline] = splitOption(spec, opts, a);
    const o = opts[name];
    if (o.type === "boolean") {
      if (inline !== undefined) {
        throw new UsageError(`option --${name} takes no value (got "${inline}")`, invocation(spec));
      }
      values[name] = true;
    } else {
      const v = inline ?? args[i + 1];
      if (v === undefined || (inline === undefined && isOptionLike(opts, v))) {
        throw new UsageError(`option --${name} needs a value${metavarHint(o)}`, invocation(spec));
      }
      if (inline === undefined) i++;
      values[name] = v;
    }
    given.add(name);
  }
  if (values.help) return { values: values as OptionValues<S>, positionals };
  for (const name of given) checkValue(spec, name, opts[name], values[name]);
  checkRequired(spec, opts, values, positionals);
  return { values: values as OptionValues<S>, positionals };
}

/** The option name and inline value of `arg` (`--name=V`, `--name`, `-o`, `-oV`). */
function splitOption(spec: CommandSpec, opts: Record<string, OptionSpec>, arg: string): [string, string?] {
  if (arg.startsWith("--")) {
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (opts[name]) return eq < 0 ? [name] : [name, arg.slice(eq + 1)];
    throw unknownOption(spec, opts, `--${name}`, name);
  }
  const short = arg[1];
  const name = Object.keys(opts).find((k) => opts[k].short === short);
  if (!name) throw unknownOption(spec, opts, arg, arg.slice(1));
  return arg.length > 2 ? [name, arg.slice(2).replace(/^=/, "")] : [name];
}

function unknownOption(spec: CommandSpec, opts: Record<string, OptionSpec>, shown: string, name: string) {
  const near = closestNames(name, Object.keys(opts), {
    count: 3,
    maxDistance: name.length > 4 ? 3 : 2,
    bestOnly: true,
  });
  const hint = near.length ? ` (did you mean ${orList(near.map((n) => `--${n}`))}?)` : "";
  return new UsageError(`unknown option ${shown}${hint}`, invocation(spec));
}

function orList(xs: string[]): string {
  return xs.length < 2 ? xs.join("") : `${xs.slice(0, -1).join(", ")} or ${xs.at(-1)}`;
}

function isOptionLike(opts: Record<string, OptionSpec>, v: string): boolean {
  if (v.startsWith("--")) return true;
  return /^-[a-zA-Z]$/.test(v) && Object.values(opts).some((o) => o.short === v[1]);
}

function metavarHint(o: OptionSpec): string {
  return o.choices ? ` (one of: ${o.choices.join(", ")})` : "";
}

function checkValue(spec: CommandSpec, name: string, o: OptionSpec, v: unknown): void {
  if (typeof v !== "string" || o.choices?.includes(v)) return;
  const problem = o.check ? o.check(v) : o.choices ? "" : undefined;
  if (problem === undefined) return;
  const what = `invalid value for --${name}: "${v}"`;
  if (!o.choices) throw new UsageError(`${what}${problem ? ` (${problem})` : ""}`, invocation(spec));
  const near = closestNames(v, [...o.choices, ...(o.alsoSuggest ?? [])], {
    count: 3,
    maxDistance: Math.max(2, Math.floor(v.length / 3)),
    bestOnly: true,
  });
  const why = problem
    ? ` (${problem})`
    : near.length
    ? ` (did you mean ${orList(near.map((n) => `"${n}"`))}?)`
    : "";
  const note = o.choicesNote ? ` ${o.choicesNote}` : "";
  throw new UsageError(`${what}${why}. Valid choices: ${o.choices.join(", ")}${note}`, invocation(spec));
}

function checkRequired(
  spec: CommandSpec,
  opts: Record<string, OptionSpec>,
  values: Record<string, unknown>,
  positionals: string[],
): void {
  const want = spec.positionals.length;
  if (positionals.length > want) {
    const extra = positionals.slice(want).map((p) => `"${p}"`).join(", ");
    throw new UsageError(
      want
        ? `expected ${want} argument(s) (${names(spec)}), got also ${extra}`
        : `unexpected argument(s) ${extra}`,
      invocation(spec),
    );
  }
  const missing = [
    ...spec.positionals.slice(positionals.length).map((p) => p.name),
    ...Object.entries(opts).filter(([k, o]) => o.required && values[k] === undefined).map(([k, o]) =>
      o.short ? `--${k}/-${o.short}` : `--${k}`
    ),
  ];
  if (missing.length) {
    throw new UsageError(`the following arguments are required: ${missing.join(", ")}`, invocation(spec));
  }
}

/** How `spec`'s command is run (`cli.ts NAME`, or its `program`). */
function invocation(spec: CommandSpec): string {
  return spec.program ?? `cli.ts ${spec.name}`;
}

function names(spec: CommandSpec): string {
  return spec.positionals.map((p) => p.name).join(" ");
}

/**
 * An integer option value within `[min, max]`; `fallback` when not given.
 *
 * @example
 * ```ts
 * import { intValue } from "./_args.ts";
 * if (intValue("8", "threads", "convert_weight", { min: 1, max: 256 }, 2) !== 8) throw new Error();
 * if (intValue(undefined, "threads", "convert_weight", { min: 1 }, 2) !== 2) throw new Error();
 * ```
 */
export function intValue(
  v: string | undefined,
  name: string,
  command: string,
  range: { min?: number; max?: number },
  fallback: number,
): number {
  if (v === undefined) return fallback;
  const n = /^[+-]?\d+$/.test(v.trim()) ? Number(v) : NaN;
  const { min = -Infinity, max = Infinity } = range;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const span = Number.isFinite(max) ? `from ${min} to ${max}` : `>= ${min}`;
    throw new UsageError(`invalid value for --${name}: "${v}" (an integer ${span})`, command);
  }
  return n;
}

const HELP_WIDTH = 100;

/**
 * `text` broken at spaces into lines of at most `width` characters (a longer word stays whole).
 *
 * @example
 * ```ts
 * import { wrapText } from "./_args.ts";
 * if (wrapText("a bb ccc dddd", 6).join("|") !== "a bb|ccc|dddd") throw new Error();
 * ```
 */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

/**
 * The help text of a command, from its spec.
 *
 * @example
 * ```ts
 * import { formatHelp } from "./_args.ts";
 * const h = formatHelp({ name: "x", usage: "[options]", description: "Does x.", positionals: [], options: {} });
 * if (!h.startsWith("Usage: cli.ts x [options]") || !h.includes("--quiet")) throw new Error(h);
 * ```
 */
export function formatHelp(spec: CommandSpec): string {
  const rows: [string, string][] = spec.positionals.map((p) => [p.name, p.help]);
  const args = rows.length ? rows.length : 0;
  for (const [k, o] of Object.entries(allOptions(spec))) {
    const flag = `${o.short ? `-${o.short}, ` : ""}--${k}`;
    const meta = o.type === "string" ? ` ${o.metavar ?? "V"}` : "";
    const extra = [
      o.required ? "required" : "",
      o.default && o.type === "string" ? `default: ${o.default}` : "",
    ].filter(Boolean).join("; ");
    rows.push([flag + meta, extra ? `${o.help} (${extra})` : o.help]);
  }
  const w = Math.min(32, Math.max(...rows.map(([f]) => f.length)) + 3);
  const pad = " ".repeat(w + 2);
  const fmt = ([f, h]: [string, string]) => {
    const [first, ...more] = h.split("\n").flatMap((l) => wrapText(l, HELP_WIDTH - w - 2));
    return [`  ${f.padEnd(w)}${f.length >= w ? `\n${pad}` : ""}${first}`, ...more.map((m) => pad + m)].join(
      "\n",
    );
  };
  const parts = [`Usage: ${invocation(spec)} ${spec.usage}`, "", spec.description, ""];
  if (args) parts.push("Arguments:", ...rows.slice(0, args).map(fmt), "");
  parts.push("Options:", ...rows.slice(args).map(fmt));
  return parts.join("\n");
}
