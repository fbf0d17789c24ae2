/**
 * A small client of the Hugging Face Hub's HTTP API (the documented endpoints the conversion and
 * the upload use): retries with backoff, redirects followed by hand (each host checked against
 * Deno's net permission, the token sent to the Hub's own host only), and errors that say what
 * to do (401, 403, 404, gated).
 *
 * @module
 */

/** Default endpoint (overridden by `HF_ENDPOINT`, as Hugging Face's own clients do). */
export const DEFAULT_ENDPOINT = "https://huggingface.co";

/** Options of {@link HubClient}. */
export interface HubClientOptions {
  /** Base URL (default {@link DEFAULT_ENDPOINT}). */
  endpoint?: string;
  /** Access token (`HF_TOKEN`) for private and gated repositories. */
  token?: string;
  /** Attempts per request on network errors, 429 and 5xx (default 6). */
  retries?: number;
  /** First backoff in ms, doubled each attempt up to 10 s (default 250). */
  backoffMs?: number;
}

/** A file of a repository at a commit, from the tree listing. */
export interface RepoFile {
  /** Path in the repository (`/`-separated). */
  readonly path: string;
  /** Size in bytes. */
  readonly size: number;
  /** Git blob id (sha1 of `blob <size>\0<content>`). */
  readonly oid: string;
  /** For files stored with LFS: the content's sha256 (hex). */
  readonly sha256?: string;
}

/** A repository at a revision. */
export interface RepoInfo {
  /** `owner/name`. */
  readonly repo: string;
  /** The commit sha the revision points at. */
  readonly sha: string;
  /** Whether the repository is private. */
  readonly private: boolean;
  /** `false`, `"auto"` or `"manual"`. */
  readonly gated: false | string;
}

/** An error answer of the Hub (or a network failure after the retries). */
export class HubError extends Error {
  /** HTTP status (0 for a network failure). */
  readonly status: number;
  /** The Hub's `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `GatedRepo`, ...), or "". */
  readonly code: string;
  /** Creates the error. */
  constructor(message: string, status: number, code = "") {
    super(message);
    this.name = "HubError";
    this.status = status;
    this.code = code;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const enc = encodeURIComponent;

/**
 * Whether Deno lets this process connect to `url`'s host (never prompts).
 *
 * @example
 * ```ts
 * import { netAllowed } from "./client.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(typeof netAllowed(new URL("https://huggingface.co")), "boolean");
 * ```
 */
export function netAllowed(url: URL): boolean {
  return Deno.permissions.querySync({ name: "net", host: url.host }).state === "granted";
}

/** The Hub's HTTP API. */
export class HubClient {
  /** The endpoint, without a trailing `/`. */
  readonly endpoint: string;
  readonly #token?: string;
  readonly #retries: number;
  readonly #backoff: number;

  /**
   * Creates a client.
   *
   * @example
   * ```ts
   * import { HubClient } from "@mlc-deno/convert/hub";
   * import { deepStrictEqual } from "node:assert/strict";
   * deepStrictEqual(new HubClient({ endpoint: "http://127.0.0.1:8080/" }).endpoint, "http://127.0.0.1:8080");
   * ```
   */
  constructor(opts: HubClientOptions = {}) {
    this.endpoint = (opts.endpoint || DEFAULT_ENDPOINT).replace(/\/+$/, "");
    this.#token = opts.token || undefined;
    this.#retries = opts.retries ?? 6;
    this.#backoff = opts.backoffMs ?? 250;
  }

  /** Whether a token is set. */
  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  /** URL of `path` under the endpoint. */
  url(path: string): string {
    return `${this.endpoint}${path}`;
  }

  /** The `resolve` URL of a file at a commit. */
  resolveUrl(repo: string, rev: string, path: string): string {
    return this.url(`/${repo}/resolve/${enc(rev)}/${path.split("/").map(enc).join("/")}`);
  }

  /** Waits before attempt `n` (1-based) of a retry. */
  backoff(n: number): Promise<void> {
    return sleep(Math.min(10_000, this.#backoff * 2 ** (n - 1)));
  }

  /** Attempts per request. */
  get retries(): number {
    return this.#retries;
  }

  /**
   * Sends a request: retries network errors, 429 and 5xx with backoff; follows redirects (the
   * token only to the endpoint's host; a host Deno does not allow fails naming the flag); error
   * statuses become a {@link HubError} saying what `what` (e.g. `HF://x/y: config.json`) needs.
   * Returns the final response and its URL.
   */
  async request(
    url: string,
    init: RequestInit & { headers?: Record<string, string> },
    what: string,
  ): Promise<{ res: Response; url: string }> {
    for (let attempt = 1;; attempt++) {
      let res: Response;
      let at = url;
      try {
        ({ res, url: at } = await this.#follow(url, init, what));
      } catch (e) {
        if (e instanceof HubError || e instanceof Deno.errors.NotCapable || attempt >= this.#retries) {
          throw e instanceof TypeError
            ? new HubError(`${what}: ${this.endpoint} unreachable after ${attempt} attempts: ${e.message}`, 0)
            : e;
        }
        await this.backoff(attempt);
        continue;
      }
      if ((res.status === 429 || res.status >= 500) && attempt < this.#retries) {
        await res.body?.cancel();
        const after = Number(res.headers.get("retry-after"));
        await (after > 0 && after < 30 ? sleep(after * 1000) : this.backoff(attempt));
        continue;
      }
      if (!res.ok) throw await this.#error(res, what);
      return { res, url: at };
    }
  }

  async #follow(url: string, init: RequestInit & { headers?: Record<string, string> }, what: string) {
    let at = new URL(url);
    for (let hops = 0; hops < 10; hops++) {
      if (!netAllowed(at)) {
        throw new Deno.errors.NotCapable(
          `${what}: the Hub sent this request to ${at.host}, which Deno's --allow-net does not allow; ` +
            `add it: --allow-net=...,${at.host}`,
        );
      }
      const headers: Record<string, string> = { ...init.headers };
      const own = at.origin === new URL(this.endpoint).origin;
      if (own && this.#token) headers.authorization = `Bearer ${this.#token}`;
      const res = await fetch(at, { ...init, headers, redirect: "manual" });
      const loc = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && loc) {
        await res.body?.cancel();
        at = new URL(loc, at);
        continue;
      }
      return { res, url: at.href };
    }
    throw new HubError(`${what}: too many redirects`, 0);
  }

  async #error(res: Response, what: string): Promise<HubError> {
    let detail = "";
    try {
      const text = (await res.text()).slice(0, 400);
      try {
        const j = JSON.parse(text);
        detail = typeof j?.error === "string" ? j.error : text;
      } catch {
        detail = text;
      }
    } catch { /* body unreadable */ }
    const code = res.headers.get("x-error-code") ?? "";
    const tail = detail ? ` (the Hub says: ${detail.trim()})` : "";
    const tokenHint = this.#token
      ? "the token in HF_TOKEN has no access to it"
      : "set HF_TOKEN to an access token (https://huggingface.co/settings/tokens)";
    let m: string;
    if (code === "GatedRepo") {
      m = `gated model: accept its conditions on its page while logged in, then ${
        this.#token ? "use a token of that account in HF_TOKEN" : "set HF_TOKEN to a token of that account"
      } (403)`;
    } else if (code === "RevisionNotFound") m = "revision not found (404)";
    else if (code === "EntryNotFound") m = "file not found in the repository (404)";
    else if (res.status === 401 && this.#token && code !== "RepoNotFound") {
      m = "HF_TOKEN was refused: the token is invalid or expired (401)";
    } else if (res.status === 401 || code === "RepoNotFound") {
      m = `repository not found, or private: ${tokenHint} (${res.status})`;
    } else if (res.status === 403) m = `access denied: ${tokenHint} (403)`;
    else if (res.status === 404) m = "not found (404)";
    else m = `HTTP ${res.status} ${res.statusText}`;
    return new HubError(`${what}: ${m}${tail}`, res.status, code);
  }

  /** GET a JSON document. */
  async getJson<T>(path: string, what: string): Promise<{ value: T; res: Response }> {
    const { res } = await this.request(this.url(path), { headers: { accept: "application/json" } }, what);
    return { value: await res.json() as T, res };
  }

  /** POST a JSON body, returns the JSON answer. */
  async postJson<T>(
    path: string,
    body: unknown,
    what: string,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const { res } = await this.request(this.url(path), {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    }, what);
    const text = await res.text();
    return (text ? JSON.parse(text) : {}) as T;
  }

  /**
   * The repository at `revision` (`GET /api/models/{repo}/revision/{revision}`).
   *
   * @example
   * ```ts ignore
   * const info = await new HubClient().modelInfo("gpt2", "main");
   * console.log(info.sha);
   * ```
   */
  async modelInfo(repo: string, revision: string): Promise<RepoInfo> {
    const what = `HF://${repo}@${revision}`;
    const { value: j } = await this.getJson<Record<string, unknown>>(
      `/api/models/${repo}/revision/${enc(revision)}`,
      what,
    );
    if (typeof j.sha !== "string" || !/^[0-9a-f]{40}$/.test(j.sha)) {
      throw new HubError(`${what}: the Hub's model info has no commit sha`, 200);
    }
    return {
      repo,
      sha: j.sha,
      private: j.private === true,
      gated: typeof j.gated === "string" ? j.gated : false,
    };
  }

  /**
   * Every file of the repository at commit `sha`, with sizes and LFS sha256s
   * (`GET /api/models/{repo}/tree/{sha}?recursive=true`, following `Link: rel="next"` pages).
   */
  async listFiles(repo: string, sha: string): Promise<RepoFile[]> {
    const what = `HF://${repo}@${sha}`;
    const files: RepoFile[] = [];
    let next: string | undefined = this.url(
      `/api/models/${repo}/tree/${enc(sha)}?recursive=true&expand=false`,
    );
    while (next) {
      const { res } = await this.request(next, { headers: { accept: "application/json" } }, what);
      const page = await res.json() as Record<string, unknown>[];
      if (!Array.isArray(page)) throw new HubError(`${what}: the tree listing is not a list`, 200);
      for (const e of page) {
        if (e.type !== "file") continue;
        const lfs = e.lfs as { oid?: unknown; size?: unknown } | undefined;
        // (the paths and ids name files in the cache: nothing that could point elsewhere)
        if (
          typeof e.path !== "string" || !Number.isSafeInteger(e.size) || (e.size as number) < 0 ||
          typeof e.oid !== "string" || !/^[0-9a-f]{40}$/.test(e.oid) ||
          e.path.split("/").some((p) => p === "" || p === "." || p === ".." || p.includes("\\")) ||
          (lfs && (typeof lfs.oid !== "string" || !/^[0-9a-f]{64}$/.test(lfs.oid)))
        ) {
          throw new HubError(`${what}: bad tree entry ${JSON.stringify(e).slice(0, 200)}`, 200);
        }
        files.push({
          path: e.path,
          size: e.size as number,
          oid: e.oid,
          ...(lfs ? { sha256: lfs.oid as string } : {}),
        });
      }
      const link = res.headers.get("link")?.match(/<([^>]+)>;\s*rel="next"/);
      next = link ? new URL(link[1], next).href : undefined;
    }
    return files;
  }
}
