/**
 * `HF://owner/name[@revision]` references.
 *
 * @module
 */

/** A parsed `HF://` reference. */
export interface HubRef {
  /** `owner/name` (or a bare `name`). */
  readonly repo: string;
  /** The revision asked for (`main` when none was given): a branch, tag or commit sha. */
  readonly revision: string;
  /** The reference as the store's path prefix (`HF://owner/name` or `HF://owner/name@rev`). */
  readonly root: string;
}

const REPO = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

/**
 * Whether `s` is an `HF://` reference (case-insensitive scheme, as MLC's runtime accepts it).
 *
 * @example
 * ```ts
 * import { isHubRef } from "@mlc-deno/convert/hub";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(isHubRef("HF://mlc-ai/x"), true);
 * deepStrictEqual(isHubRef("models/x"), false);
 * ```
 */
export function isHubRef(s: string): boolean {
  return /^hf:\/\//i.test(s);
}

/**
 * Parses `HF://owner/name[@revision]` (a trailing `/` is ignored; a revision with `/`, such as
 * `refs/pr/1`, is written URL-encoded: `refs%2Fpr%2F1`).
 *
 * @example
 * ```ts
 * import { parseHubRef } from "@mlc-deno/convert/hub";
 * import { deepStrictEqual } from "node:assert/strict";
 * const r = parseHubRef("HF://meta-llama/Llama-3.2-1B@v1");
 * deepStrictEqual(r.repo, "meta-llama/Llama-3.2-1B");
 * deepStrictEqual(r.revision, "v1");
 * ```
 */
export function parseHubRef(s: string): HubRef {
  if (!isHubRef(s)) throw new Error(`${s}: not an HF:// reference`);
  const body = s.slice(5).replace(/\/+$/, "");
  const at = body.indexOf("@");
  const repo = at < 0 ? body : body.slice(0, at);
  const rev = at < 0 ? "main" : decodeURIComponent(body.slice(at + 1));
  if (!REPO.test(repo) || repo.includes("..") || (at >= 0 && !/^[^\s/]+(\/[^\s/]+)*$/.test(rev))) {
    throw new Error(
      `${s}: expected HF://owner/name or HF://owner/name@revision (a path inside the repository is not accepted)`,
    );
  }
  return { repo, revision: rev, root: `HF://${repo}${at < 0 ? "" : `@${body.slice(at + 1)}`}` };
}
