/**
 * `verify --logits`: one prefill of fixed token ids in MLC's own runtime (a prebuilt model
 * library, {@link openChat}) and in our reference forward pass ({@link ReferenceModel}) on the
 * same converted directory; the logits must agree. A semantic check of a conversion that does
 * not depend on byte identity: a wrong layout, scale or name changes the logits by about their
 * own size.
 *
 * @module
 */
import { denoSource } from "../io/deno_fs.ts";
import { ReferenceModel } from "../forward/model.ts";
import { openChat } from "./session.ts";

/**
 * Largest accepted |runtime - reference| relative to the logits' scale (max |reference logit|,
 * at least 1). The runtime computes in float32 on the GPU, the reference accumulates in float64
 * on the same dequantized weights: on TinyLlama-1.1B (22 layers, sums of 2048 to 5632 products)
 * the difference is about 4e-6; a wrong weight or layout gives differences of the order of the
 * logits themselves. 1e-3 sits between, with room for other adapters' float32 orderings.
 */
export const LOGITS_TOLERANCE = 1e-3;

/** What {@link compareLogits} measured. */
export interface LogitsReport {
  /** Whether the logits agree (max |diff| within tolerance, same top-1). */
  ok: boolean;
  /** The token ids of the prefill. */
  tokens: number[];
  /** The adapter the runtime ran on. */
  adapter: string;
  /** max |runtime - reference| over the vocabulary. */
  maxAbsDiff: number;
  /** max |reference logit| (the scale of the tolerance). */
  scale: number;
  /** Accepted max |diff| ({@link LOGITS_TOLERANCE} x scale). */
  tolerance: number;
  /** Top-5 ids of the runtime. */
  runtimeTop5: number[];
  /** Top-5 ids of the reference. */
  referenceTop5: number[];
  /** How many of the runtime's top 5 are in the reference's top 5. */
  top5Overlap: number;
  /** Seconds of the runtime's load + prefill, and of the reference pass. */
  seconds: { runtime: number; reference: number };
}

/**
 * The `k` largest values' indices, largest first (the first index on ties).
 *
 * @example
 * ```ts
 * import { topK } from "./logits.ts";
 * const t = topK([0.5, 3, -1, 3, 2], 3);
 * if (t.join() !== "1,3,4") throw new Error(t.join());
 * ```
 */
export function topK(v: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[b] - v[a] || a - b).slice(0, k);
}

/**
 * Compares two logit vectors (runtime, reference) as `verify --logits` reports them.
 *
 * @example
 * ```ts
 * import { logitsAgreement } from "./logits.ts";
 * const r = logitsAgreement([1, 5, 2], [1, 5.000001, 2]);
 * if (!r.ok || r.top5Overlap !== 3 || r.scale !== 5.000001) throw new Error(JSON.stringify(r));
 * ```
 */
export function logitsAgreement(
  runtime: ArrayLike<number>,
  reference: ArrayLike<number>,
): Pick<
  LogitsReport,
  "ok" | "maxAbsDiff" | "scale" | "tolerance" | "runtimeTop5" | "referenceTop5" | "top5Overlap"
> {
  if (runtime.length !== reference.length) {
    throw new Error(`the runtime gave ${runtime.length} logits, the reference ${reference.length}`);
  }
  let maxAbsDiff = 0, scale = 1;
  for (let i = 0; i < runtime.length; i++) {
    const d = Math.abs(runtime[i] - reference[i]);
    // NaN fails the comparison below (max stays NaN)
    maxAbsDiff = Number.isNaN(d) ? NaN : Math.max(maxAbsDiff, d);
    scale = Math.max(scale, Math.abs(reference[i]));
  }
  const runtimeTop5 = topK(runtime, 5), referenceTop5 = topK(reference, 5);
  const top5Overlap = runtimeTop5.filter((i) => referenceTop5.includes(i)).length;
  const tolerance = LOGITS_TOLERANCE * scale;
  const ok = maxAbsDiff <= tolerance && runtimeTop5[0] === referenceTop5[0];
  return { ok, maxAbsDiff, scale, tolerance, runtimeTop5, referenceTop5, top5Overlap };
}

/** Options of {@link compareLogits}. */
export interface CompareLogitsOptions {
  /** The converted directory. */
  dir: string;
  /** The prebuilt model library. */
  modelLib: string;
  /** Token ids of the prefill. */
  tokens: number[];
  /** The runtime's loading messages. */
  onLog?: (line: string) => void;
}

/** Runs one prefill in MLC's runtime and in the reference pass, and compares the logits. */
export async function compareLogits(opts: CompareLogitsOptions): Promise<LogitsReport> {
  const ref = await ReferenceModel.open(denoSource(), opts.dir);
  const bad = opts.tokens.find((t) => !Number.isInteger(t) || t < 0 || t >= ref.vocab);
  if (bad !== undefined || opts.tokens.length === 0) {
    ref.close();
    throw new Error(
      bad === undefined ? "no token ids" : `token id ${bad} is out of range (vocabulary of ${ref.vocab})`,
    );
  }
  const t0 = performance.now();
  const chat = await openChat({ dir: opts.dir, modelLib: opts.modelLib, onLog: opts.onLog });
  let runtime: Float32Array;
  try {
    await chat.forwardGreedy(opts.tokens, true);
    runtime = chat.lastLogits()!;
  } finally {
    await chat.close();
  }
  const t1 = performance.now();
  let reference: Float32Array;
  try {
    reference = await ref.forward(opts.tokens);
  } finally {
    ref.close();
  }
  const t2 = performance.now();
  return {
    ...logitsAgreement(runtime, reference),
    tokens: [...opts.tokens],
    adapter: chat.adapter,
    seconds: { runtime: (t1 - t0) / 1000, reference: (t2 - t1) / 1000 },
  };
}
