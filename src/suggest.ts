/**
 * "Did you mean" suggestions: the names closest to a mistyped one.
 *
 * @module
 */

/**
 * Edit distance (Levenshtein, a swap of neighbours counting as one edit) of `a` and `b` after `norm` (default: lower case, with `-`, `_` and `.`
 * treated alike).
 *
 * @example
 * ```ts
 * import { editDistance } from "./suggest.ts";
 * if (editDistance("devce", "device") !== 1) throw new Error();
 * if (editDistance("Llama-3", "llama_3") !== 0) throw new Error();
 * if (editDistance("cdua", "cuda") !== 1) throw new Error();
 * ```
 */
export function editDistance(a: string, b: string, norm: (s: string) => string = normName): number {
  const x = norm(a);
  const y = norm(b);
  // optimal string alignment: Levenshtein plus the swap of two neighbours ("cdua" -> "cuda")
  let prev2: number[] = [];
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) {
        cur[j] = Math.min(cur[j], prev2[j - 2] + 1);
      }
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[y.length];
}

function normName(s: string): string {
  return s.toLowerCase().replace(/[-_.]/g, "_");
}

/**
 * The `candidates` closest to `name`, best first: prefix matches, then substring matches,
 * then by edit distance (ties keep the order of `candidates`). With `maxDistance`, only candidates within that distance (or sharing
 * a prefix with `name`) are returned, so that a wild guess gets no suggestion; with `bestOnly`,
 * only those as close as the closest.
 *
 * @example
 * ```ts
 * import { closestNames } from "./suggest.ts";
 * const s = closestNames("cdua", ["auto", "cpu", "cuda", "webgpu"], { count: 1, maxDistance: 2 });
 * if (s[0] !== "cuda") throw new Error(s.join());
 * if (closestNames("zzzzzz", ["cpu"], { maxDistance: 2 }).length !== 0) throw new Error();
 * const q = closestNames("q4f16", ["q0f16", "q4f16_0", "q4f16_1"], { bestOnly: true });
 * if (q.join() !== "q4f16_0,q4f16_1") throw new Error(q.join());
 * ```
 */
export function closestNames(
  name: string,
  candidates: Iterable<string>,
  opts: { count?: number; maxDistance?: number; bestOnly?: boolean } = {},
): string[] {
  const lower = name.toLowerCase();
  const scored: { n: string; score: number }[] = [];
  for (const n of candidates) {
    const ln = n.toLowerCase();
    const prefix = lower.length > 0 && (ln.startsWith(lower) || lower.startsWith(ln));
    const bonus = prefix ? -2 : lower.length > 0 && ln.includes(lower) ? -1 : 0;
    const d = editDistance(name, n);
    if (opts.maxDistance !== undefined && d > opts.maxDistance && !prefix) continue;
    scored.push({ n, score: d + bonus });
  }
  scored.sort((a, b) => a.score - b.score); // (stable: ties keep the candidates' order)
  const best = opts.bestOnly ? scored.filter((s) => s.score === scored[0].score) : scored;
  return best.slice(0, opts.count ?? 5).map((s) => s.n);
}
