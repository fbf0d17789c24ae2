/**
 * Chat templates rendered with a budget. A `chat_template` comes from the checkpoint, so it is
 * untrusted input: a template with nested loops of 1e10 iterations, a `range(10**12)` or a
 * loop that floods output must give up in a fraction of a second with bounded memory, not
 * hang. `@huggingface/jinja`'s interpreter is run with hooks on its own evaluation steps:
 * every step is counted (and the clock read every 1,024 steps); every string, list and mapping
 * a step produces is measured (each at most a limit, and all strings together at most another);
 * `range` is bounded before it builds its list; and the filters and methods whose output can be
 * far larger than their input (`join`, `indent`, `replace`, `tojson(indent=...)`) are checked
 * before they run.
 *
 * @module
 */
// deno-lint-ignore-file no-explicit-any -- the interpreter's internals are typed private
import { Environment, Interpreter, Template } from "@huggingface/jinja";

/** Limits of one rendering. */
export interface TemplateBudget {
  /** Evaluation steps (statements and expressions). */
  steps: number;
  /** Milliseconds of wall time. */
  ms: number;
  /** Characters of one string value (the output included). */
  maxString: number;
  /** Characters of all strings produced, together. */
  maxProduced: number;
  /** Items of one list or mapping (`range` included). */
  maxItems: number;
  /** Characters of the template's source. */
  maxSource: number;
}

/** The default budget: a real chat template renders a probe conversation in well under 1% of it. */
export const DEFAULT_TEMPLATE_BUDGET: Readonly<TemplateBudget> = {
  steps: 50_000,
  ms: 250,
  maxString: 1 << 20,
  maxProduced: 16 << 20,
  maxItems: 10_000,
  maxSource: 1 << 20,
};

/** Error when a rendering exceeds its budget. */
export class TemplateBudgetError extends Error {
  /** Which limit (`steps`, `ms`, `maxString`, ...). */
  readonly limit: keyof TemplateBudget;
  /** Creates the error. */
  constructor(limit: keyof TemplateBudget, message: string) {
    super(message);
    this.name = "TemplateBudgetError";
    this.limit = limit;
  }
}

/** Python's `strftime` for the codes chat templates use (as `@huggingface/jinja`'s own). */
function strftimeNow(format: string): string {
  const d = new Date();
  const pad2 = (n: number) => (n < 10 ? "0" : "") + n;
  return format.replace(
    /%[YmdbBHM%]/g,
    (t) =>
      t === "%Y"
        ? String(d.getFullYear())
        : t === "%m"
        ? pad2(d.getMonth() + 1)
        : t === "%d"
        ? pad2(d.getDate())
        : t === "%b"
        ? new Intl.DateTimeFormat(undefined, { month: "short" }).format(d)
        : t === "%B"
        ? new Intl.DateTimeFormat(undefined, { month: "long" }).format(d)
        : t === "%H"
        ? pad2(d.getHours())
        : t === "%M"
        ? pad2(d.getMinutes())
        : "%",
  );
}

const n = (x: number) => x.toLocaleString("en-US");

/** The meter of one rendering. */
class Meter {
  steps = 0;
  produced = 0;
  readonly deadline: number;
  constructor(readonly b: TemplateBudget) {
    this.deadline = performance.now() + b.ms;
  }
  step(): void {
    if (++this.steps > this.b.steps) {
      throw new TemplateBudgetError(
        "steps",
        `more than ${n(this.b.steps)} evaluation steps (a loop that runs away)`,
      );
    }
    if ((this.steps & 1023) === 0 && performance.now() > this.deadline) {
      throw new TemplateBudgetError("ms", `more than ${n(this.b.ms)} ms`);
    }
  }
  chars(len: number, what = "a string of"): void {
    if (len > this.b.maxString) {
      throw new TemplateBudgetError(
        "maxString",
        `${what} ${n(len)} characters (limit ${n(this.b.maxString)})`,
      );
    }
  }
  items(len: number, what: string): void {
    if (len > this.b.maxItems) {
      throw new TemplateBudgetError("maxItems", `${what} of ${n(len)} items (limit ${n(this.b.maxItems)})`);
    }
  }
  /** Measures a value a step produced. */
  value(v: any): any {
    switch (v?.type) {
      case "StringValue":
        this.chars(v.value.length);
        this.produced += v.value.length;
        if (this.produced > this.b.maxProduced) {
          throw new TemplateBudgetError(
            "maxProduced",
            `more than ${n(this.b.maxProduced)} characters of output in all (a template that floods)`,
          );
        }
        break;
      case "ArrayValue":
      case "TupleValue":
        this.items(v.value.length, "a list");
        break;
      case "ObjectValue":
        this.items(v.value.size, "a mapping");
    }
    return v;
  }
}

/** The bounded `range`: its length is checked before the list is built. */
function boundedRange(meter: Meter) {
  return (start: number, stop?: number, step = 1): number[] => {
    if (stop === undefined) [start, stop] = [0, start];
    if (![start, stop, step].every(Number.isFinite)) throw new Error("range() arguments must be numbers");
    if (step === 0) throw new Error("range() step must not be zero");
    meter.items(Math.max(0, Math.ceil((stop - start) / step)), "range()");
    const out: number[] = [];
    for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
    return out;
  };
}

/** The width a filter call gives (`indent(8)`, `tojson(indent=8)`), from its evaluated arguments. */
function argOf(args: any[], kwargs: Map<string, any>, pos: number, name: string): any {
  return (args[pos] ?? kwargs.get(name))?.value;
}

/** Upper bound of `s.replace(old, new)`'s length. */
function replacedLength(s: string, from: unknown, to: unknown): number {
  if (typeof from !== "string" || typeof to !== "string") return s.length;
  const hits = from === "" ? s.length + 1 : Math.floor(s.length / from.length);
  return s.length + hits * Math.max(0, to.length - from.length);
}

/** Installs the meter's hooks on an interpreter's own evaluation methods. */
function meterInterpreter(it: any, meter: Meter): void {
  const evaluate = it.evaluate.bind(it);
  const evaluateBlock = it.evaluateBlock.bind(it);
  const applyFilter = it.applyFilter.bind(it);
  const evaluateCall = it.evaluateCallExpression.bind(it);
  const evalArgs = (args: any[], env: any): [any[], Map<string, any>] =>
    it.evaluateArguments(args ?? [], env);
  it.evaluate = (node: any, env: any) => {
    meter.step();
    return meter.value(evaluate(node, env));
  };
  it.evaluateBlock = (body: any, env: any) => {
    meter.step(); // (a loop's body is a block: an empty one is a step too)
    return meter.value(evaluateBlock(body, env));
  };
  it.applyFilter = (operand: any, filter: any, env: any) => {
    const name = filter?.type === "CallExpression" ? filter.callee?.value : filter?.value;
    if (name === "join" && operand?.type === "ArrayValue") {
      const [args, kw] = filter.type === "CallExpression" ? evalArgs(filter.args, env) : [[], new Map()];
      const sep = String(argOf(args, kw, 0, "d") ?? "");
      const total = operand.value.reduce((a: number, x: any) => a + String(x?.value ?? "").length, 0);
      meter.chars(total + sep.length * operand.value.length, "join() would make");
    } else if (filter?.type === "CallExpression" && operand?.type === "StringValue") {
      const [args, kw] = evalArgs(filter.args, env);
      const s: string = operand.value;
      if (name === "indent") {
        const width = Number(argOf(args, kw, 0, "width") ?? 4);
        meter.chars(s.length + (s.split("\n").length) * Math.max(0, width), "indent() would make");
      } else if (name === "replace") {
        meter.chars(
          replacedLength(s, argOf(args, kw, 0, "old"), argOf(args, kw, 1, "new")),
          "replace() would make",
        );
      }
    }
    if (name === "tojson" && filter?.type === "CallExpression") {
      const [args, kw] = evalArgs(filter.args, env);
      const indent = Number(argOf(args, kw, 0, "indent") ?? 0);
      if (indent > 64) throw new TemplateBudgetError("maxString", `tojson(indent=${n(indent)}) (limit 64)`);
    }
    return applyFilter(operand, filter, env);
  };
  it.evaluateCallExpression = (expr: any, env: any) => {
    const callee = expr?.callee;
    if (callee?.type === "MemberExpression" && !callee.computed && callee.property?.value === "replace") {
      const obj = it.evaluate(callee.object, env);
      if (obj?.type === "StringValue") {
        const [args] = evalArgs(expr.args, env);
        meter.chars(replacedLength(obj.value, args[0]?.value, args[1]?.value), "replace() would make");
      }
    }
    return evaluateCall(expr, env);
  };
}

/**
 * Renders a Jinja template (parsed by `@huggingface/jinja`, with its globals) within `budget`;
 * throws a {@link TemplateBudgetError} naming the limit it would exceed.
 *
 * @example
 * ```ts
 * import { renderWithBudget, TemplateBudgetError } from "./_template_budget.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(renderWithBudget("{% for m in messages %}{{ m }};{% endfor %}", { messages: ["a", "b"] }), "a;b;");
 * try {
 *   renderWithBudget("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", {});
 * } catch (e) {
 * deepStrictEqual(  e instanceof TemplateBudgetError, true); // range() of 100,000 items (limit 10,000)
 * }
 * ```
 */
export function renderWithBudget(
  source: string,
  vars: Record<string, unknown>,
  budget: Readonly<TemplateBudget> = DEFAULT_TEMPLATE_BUDGET,
): string {
  if (source.length > budget.maxSource) {
    throw new TemplateBudgetError(
      "maxSource",
      `a template of ${n(source.length)} characters (limit ${n(budget.maxSource)})`,
    );
  }
  const meter = new Meter(budget);
  const program = new Template(source).parsed;
  const env = new Environment();
  // the globals of Template.render (setupGlobals), with a bounded range
  const globals: Record<string, unknown> = {
    false: false,
    true: true,
    none: null,
    raise_exception: (args: unknown) => {
      throw new Error(String(args));
    },
    range: boundedRange(meter),
    strftime_now: strftimeNow,
    True: true,
    False: false,
    None: null,
  };
  for (const [k, v] of Object.entries({ ...globals, ...vars })) env.set(k, v);
  const it = new Interpreter(env);
  meterInterpreter(it, meter);
  return (it.run(program) as { value: string }).value;
}
