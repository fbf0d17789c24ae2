/**
 * Progress of a long run on stderr: a bar with percentage, bytes, rate and ETA, redrawn in
 * place on a terminal (throttled, and repainted on a timer so the line always shows the time
 * left and comes back if something else cleared it); periodic plain lines when stderr is not
 * a terminal; JSON lines with `--json`; nothing with `--quiet`.
 *
 * @module
 */
import type { ConvertProgress } from "../convert.ts";
import { formatBytes, formatDuration, formatRate, type Io } from "./_common.ts";

/** A progress event: `convertWeight`'s (`verify` gives counts only, with no bytes). */
export type ProgressEvent = ConvertProgress;

/** How progress is shown. */
export type ProgressMode = "bar" | "lines" | "json" | "off";

/**
 * The mode for a run: nothing with `quiet`, a bar when stderr is a terminal, else JSON lines
 * with `json`, else plain lines.
 *
 * @example
 * ```ts
 * import { progressMode } from "./_progress.ts";
 * const io = { out() {}, err() {}, progress() {}, isTerminal: false };
 * if (progressMode(io, { quiet: false, json: true }) !== "json") throw new Error();
 * ```
 */
export function progressMode(io: Io, opts: { quiet: boolean; json: boolean }): ProgressMode {
  if (opts.quiet) return "off";
  if (io.isTerminal) return "bar";
  return opts.json ? "json" : "lines";
}

/** Options of {@link ProgressRenderer}. */
export interface ProgressOptions {
  /** How to show it. */
  mode: ProgressMode;
  /** Where (the bar uses `io.progress`, lines `io.err`). */
  io: Io;
  /** Milliseconds clock (default `performance.now`). */
  now?: () => number;
  /** Terminal width (default: the console's, else 80). */
  columns?: () => number;
  /** Least time between two bar redraws for events (default 100 ms). */
  barIntervalMs?: number;
  /** Bar repaint period without events (default 500 ms). */
  repaintMs?: number;
  /** Time between two plain or JSON lines (default 10 s). */
  lineIntervalMs?: number;
  /** What `total` counts, for the lines (default "parameters"). */
  itemName?: string;
  /** Starts no timer (the caller calls {@link ProgressRenderer.tick}); for tests. */
  manualTimer?: boolean;
}

/** Renders {@link ProgressEvent}s in the chosen mode. */
export class ProgressRenderer {
  readonly #o: Required<Omit<ProgressOptions, "manualTimer">>;
  readonly #manual: boolean;
  #last: ProgressEvent | undefined;
  #lastAt = 0;
  #drawnAt = -Infinity;
  #lineAt: number | undefined;
  #lines = 0;
  #drawn = "";
  #timer: ReturnType<typeof setInterval> | undefined;
  #finished = false;

  /** A renderer; nothing is printed before the first event. */
  constructor(opts: ProgressOptions) {
    this.#o = {
      now: () => performance.now(),
      columns: consoleColumns,
      barIntervalMs: 100,
      repaintMs: 500,
      lineIntervalMs: 10_000,
      itemName: "parameters",
      ...opts,
    };
    this.#manual = opts.manualTimer ?? false;
  }

  /** Takes an event (throttled). */
  update(p: ProgressEvent): void {
    if (this.#o.mode === "off" || this.#finished) return;
    const now = this.#o.now();
    const first = !this.#last;
    this.#last = { ...p };
    this.#lastAt = now;
    if (first) {
      this.#lineAt = now;
      this.#startTimer();
    }
    if (this.#o.mode === "bar") {
      if (now - this.#drawnAt >= this.#o.barIntervalMs) this.#draw(now);
    } else if (now - this.#lineAt! >= this.#o.lineIntervalMs) this.#line(now);
  }

  /** The timer's work: repaints the bar, or prints a line when one is due. */
  tick(): void {
    if (!this.#last || this.#finished) return;
    const now = this.#o.now();
    if (this.#o.mode === "bar") this.#draw(now);
    else if (this.#o.mode !== "off" && now - this.#lineAt! >= this.#o.lineIntervalMs) this.#line(now);
  }

  /** Prints `line` on stderr above the bar (the bar is redrawn under it, in the same write). */
  log(line: string): void {
    if (this.#o.mode === "bar" && this.#drawn) this.#o.io.progress(`${line}\n${this.#drawn}`);
    else this.#o.io.err(line);
  }

  /** Stops without a last line (an interrupt): clears the bar. */
  abandon(): void {
    if (this.#o.mode !== "bar") this.#finished = true;
    this.finish();
  }

  /**
   * Stops: clears the bar; in the line modes prints the last state, when a line was printed
   * before (a short run prints none: its result says it all).
   */
  finish(): void {
    if (this.#finished) {
      if (this.#timer !== undefined) clearInterval(this.#timer);
      return;
    }
    this.#finished = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (!this.#last) return;
    if (this.#o.mode === "bar") {
      if (this.#drawn) this.#o.io.progress("");
      this.#drawn = "";
    } else if (this.#o.mode !== "off" && this.#lines > 0) this.#line(this.#o.now());
  }

  #startTimer(): void {
    if (this.#manual || this.#o.mode === "off") return;
    const period = this.#o.mode === "bar" ? this.#o.repaintMs : Math.min(this.#o.lineIntervalMs, 1000);
    const t = setInterval(() => this.tick(), period);
    Deno.unrefTimer(t);
    this.#timer = t;
  }

  #draw(now: number): void {
    this.#drawnAt = now;
    this.#drawn = barLine(this.#state(now), this.#o.columns());
    this.#o.io.progress(this.#drawn);
  }

  #line(now: number): void {
    this.#lineAt = now;
    this.#lines++;
    const s = this.#state(now);
    if (this.#o.mode === "json") this.#o.io.err(JSON.stringify(jsonLine(s)));
    else this.#o.io.err(plainLine(s, this.#o.itemName));
  }

  #state(now: number): ProgressState {
    const p = this.#last!;
    const since = Math.max(0, (now - this.#lastAt) / 1000);
    return progressState(p, p.seconds + since, since);
  }
}

/** Derived numbers of an event at a moment. */
export interface ProgressState extends ProgressEvent {
  /** Seconds since the start, now. */
  elapsed: number;
  /** Fraction done (bytes, or items when there are no byte counts), 0..1. */
  fraction: number;
  /** Source bytes per second (0 when unknown). */
  rate: number;
  /** Seconds left (undefined when unknown). */
  eta: number | undefined;
}

/**
 * The derived numbers of `p`, `elapsed` seconds after the start and `since` seconds after
 * the event.
 *
 * @example
 * ```ts
 * import { progressState } from "./_progress.ts";
 * const s = progressState({ done: 1, total: 4, name: "a", bytesRead: 5e8, bytesTotal: 2e9, seconds: 1 }, 1, 0);
 * if (s.fraction !== 0.25 || s.rate !== 5e8 || s.eta !== 3) throw new Error(JSON.stringify(s));
 * ```
 */
export function progressState(p: ProgressEvent, elapsed: number, since: number): ProgressState {
  const byBytes = p.bytesTotal > 0;
  const fraction = Math.min(1, byBytes ? p.bytesRead / p.bytesTotal : p.total ? p.done / p.total : 0);
  const rate = byBytes && p.seconds > 0 ? p.bytesRead / p.seconds : 0;
  const perItem = !byBytes && p.done > 0 ? p.seconds / p.done : 0;
  const left = byBytes
    ? (rate > 0 ? (p.bytesTotal - p.bytesRead) / rate : undefined)
    : perItem
    ? (p.total - p.done) * perItem
    : undefined;
  const eta = left === undefined ? undefined : Math.max(0, left - since);
  return { ...p, elapsed, fraction, rate, eta };
}

/** Escapes control characters (a name from a checkpoint must not drive the terminal). */
function printable(s: string): string {
  // deno-lint-ignore no-control-regex
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
}

/**
 * The bar line, at most `columns - 1` wide.
 *
 * @example
 * ```ts
 * import { barLine, progressState } from "./_progress.ts";
 * const s = progressState({ done: 3, total: 8, name: "w", bytesRead: 1e9, bytesTotal: 2e9, seconds: 2 }, 2, 0);
 * const line = barLine(s, 100);
 * if (!line.startsWith(" 50% |##########----------| 1.00 GB / 2.00 GB  500.00 MB/s  ETA 2.00 s  [3/8] w")) {
 *   throw new Error(line);
 * }
 * ```
 */
export function barLine(s: ProgressState, columns: number): string {
  const pct = `${Math.floor(s.fraction * 100)}%`.padStart(4);
  const width = 20;
  const full = Math.round(s.fraction * width);
  const bar = `|${"#".repeat(full)}${"-".repeat(width - full)}|`;
  const amount = s.bytesTotal > 0 ? `${formatBytes(s.bytesRead)} / ${formatBytes(s.bytesTotal)}  ` : "";
  const rate = s.rate > 0 ? `${formatRate(s.rate)}  ` : "";
  const eta = `ETA ${s.eta === undefined ? "--" : formatDuration(s.eta)}`;
  const line = `${pct} ${bar} ${amount}${rate}${eta}  [${s.done}/${s.total}] ${printable(s.name)}`;
  const max = Math.max(20, columns - 1);
  return line.length <= max ? line : `${line.slice(0, max - 3)}...`;
}

/**
 * A plain progress line (stderr is not a terminal).
 *
 * @example
 * ```ts
 * import { plainLine, progressState } from "./_progress.ts";
 * const s = progressState({ done: 3, total: 8, name: "w", bytesRead: 1e9, bytesTotal: 2e9, seconds: 2 }, 2, 0);
 * const want = "progress: 50.0% (1.00 GB of 2.00 GB), 500.00 MB/s, ETA 2.00 s, 3/8 parameters, 2.00 s elapsed";
 * if (plainLine(s, "parameters") !== want) throw new Error(plainLine(s, "parameters"));
 * ```
 */
export function plainLine(s: ProgressState, itemName: string): string {
  const amount = s.bytesTotal > 0 ? ` (${formatBytes(s.bytesRead)} of ${formatBytes(s.bytesTotal)})` : "";
  const rate = s.rate > 0 ? `, ${formatRate(s.rate)}` : "";
  const eta = s.eta === undefined ? "" : `, ETA ${formatDuration(s.eta)}`;
  return `progress: ${
    (s.fraction * 100).toFixed(1)
  }%${amount}${rate}${eta}, ${s.done}/${s.total} ${itemName}, ` +
    `${formatDuration(s.elapsed)} elapsed`;
}

/**
 * A JSON progress line (`--json`, stderr is not a terminal).
 *
 * @example
 * ```ts
 * import { jsonLine, progressState } from "./_progress.ts";
 * const s = progressState({ done: 3, total: 8, name: "w", bytesRead: 1e9, bytesTotal: 2e9, seconds: 2 }, 2, 0);
 * if (jsonLine(s).percent !== 50 || jsonLine(s).eta_seconds !== 2) throw new Error();
 * ```
 */
export function jsonLine(s: ProgressState): Record<string, unknown> {
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    event: "progress",
    percent: r3(s.fraction * 100),
    done: s.done,
    total: s.total,
    name: s.name,
    bytes_read: s.bytesRead,
    bytes_total: s.bytesTotal,
    seconds: r3(s.elapsed),
    bytes_per_second: Math.round(s.rate),
    eta_seconds: s.eta === undefined ? null : r3(s.eta),
  };
}

function consoleColumns(): number {
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80;
  }
}
