// A local fake of the Hugging Face Hub's HTTP API on 127.0.0.1, written from the Hub's documented
// endpoints (huggingface_hub's HfApi / file_download / lfs / _commit_api and the Hub API docs):
//   GET  /api/models/{repo}/revision/{rev}             model info (sha, private, gated)
//   GET  /api/models/{repo}/tree/{rev}?recursive=true  files: {type, path, size, oid, lfs: {oid, size}}; Link rel="next" pages
//   GET  /{repo}/resolve/{rev}/{path}                  regular files: the bytes (Range too); LFS: 302 to a CDN URL
//   POST /api/repos/create                             {type, name, organization, private}; 409 when it exists
//   POST /api/models/{repo}/branch/{rev}               create a branch from main
//   POST /api/models/{repo}/preupload/{rev}            {files: [{path, size, sample}]} -> uploadMode lfs|regular
//   POST /{repo}.git/info/lfs/objects/batch            git-lfs batch API (basic transfer, upload + verify actions)
//   POST /api/models/{repo}/commit/{rev}               NDJSON: header, file (base64), lfsFile, deletedFile
// Errors as the Hub sends them: 401 + X-Error-Code RepoNotFound (missing or private, no access),
// 401/403 + GatedRepo, 404 + RevisionNotFound / EntryNotFound, 401 "Invalid credentials in
// Authorization header" for a bad token.
// Read in huggingface/huggingface_hub at ee0a4510f: hf_api.py L3325 (model_info URL), L4099-4100
// (list_repo_tree: recursive, paginate), L4734 (create_repo), L7121 (create_branch);
// _commit_api.py L742-767 (preupload: chunks of 256, path/sample/size -> uploadMode, shouldIgnore,
// oid), L920-990 (commit NDJSON lines), L1049 (application/x-ndjson); lfs.py L185-199 (batch URL
// and payload: operation, transfers, objects, hash_algo, ref); utils/_http.py L803-874 (errors).
import { gitBlobSha1 } from "../src/hub/_hash.ts";
import { createHash } from "node:crypto";

const sha256 = (d: Uint8Array) => createHash("sha256").update(d).digest("hex");
const enc = new TextEncoder();

export interface FakeRepo {
  private: boolean;
  gated: boolean;
  /** branch or tag -> commit sha */
  refs: Map<string, string>;
  /** commit sha -> files */
  commits: Map<string, Map<string, Uint8Array>>;
  /** commit sha -> NDJSON header summary */
  summaries: Map<string, string>;
}

export interface LogEntry {
  method: string;
  path: string;
  range?: string;
  auth?: string;
}

/** The fake Hub. Tokens: `hf_read` reads everything but gated repos, `hf_granted` reads gated ones too, `hf_write` writes. */
export class FakeHub {
  readonly url: string;
  readonly repos = new Map<string, FakeRepo>();
  /** LFS storage: sha256 -> bytes */
  readonly lfs = new Map<string, Uint8Array>();
  readonly log: LogEntry[] = [];
  /** Files above this size (or *.safetensors, *.bin) are LFS files (10 MB, as the Hub's preupload). */
  lfsThreshold = 10 << 20;
  /** Tree listing page size. */
  pageSize = 1000;
  /** Faults: break the first response for path longer than N bytes after N bytes (once). */
  readonly dropAfter = new Map<string, number>();
  /** The responses broken by `dropAfter`: where they started and the byte they broke at. */
  readonly dropped: { path: string; start: number; at: number }[] = [];
  /** Faults: serve these paths' bytes with one byte flipped. */
  readonly corrupt = new Set<string>();
  /** Faults: answer the next N requests with 503. */
  fail503 = 0;
  /** Serve at most this many bytes per range response (a server may send less than asked). */
  maxRange = Infinity;
  /** The CDN's base URL (the Hub's own when started without `cdn`). */
  cdnUrl = "";
  readonly #server: Deno.HttpServer;
  #cdnServer?: Deno.HttpServer;
  #counter = 0;

  private constructor(server: Deno.HttpServer, url: string) {
    this.#server = server;
    this.url = url;
  }

  /** Starts the Hub; with `cdn`, LFS redirects go to a second server (another port: another origin). */
  static async start(opts: { cdn?: boolean } = {}): Promise<FakeHub> {
    const ref: { hub?: FakeHub } = {};
    const listen = () => {
      let listening!: (port: number) => void;
      const port = new Promise<number>((r) => listening = r);
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => listening(port) },
        (req) => ref.hub!.#handle(req),
      );
      return { server, port };
    };
    const main = listen();
    const hub = ref.hub = new FakeHub(main.server, `http://127.0.0.1:${await main.port}`);
    if (opts.cdn) {
      const cdn = listen();
      hub.#cdnServer = cdn.server;
      hub.cdnUrl = `http://127.0.0.1:${await cdn.port}`;
    }
    return hub;
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
    await this.#cdnServer?.shutdown();
  }

  isLfs(path: string, size: number): boolean {
    return size > this.lfsThreshold || /\.(safetensors|bin)$/.test(path);
  }

  #newSha(): string {
    return createHash("sha1").update(`commit ${++this.#counter} ${Math.random()}`).digest("hex");
  }

  /** Adds a repository with one commit on main; returns its sha. */
  addRepo(
    repo: string,
    files: Record<string, Uint8Array | string>,
    opts: { private?: boolean; gated?: boolean } = {},
  ): string {
    const sha = this.#newSha();
    const m = new Map<string, Uint8Array>();
    for (const [p, v] of Object.entries(files)) {
      const d = typeof v === "string" ? enc.encode(v) : v;
      m.set(p, d);
      if (this.isLfs(p, d.length)) this.lfs.set(sha256(d), d);
    }
    this.repos.set(repo, {
      private: opts.private ?? false,
      gated: opts.gated ?? false,
      refs: new Map([["main", sha]]),
      commits: new Map([[sha, m]]),
      summaries: new Map([[sha, "initial"]]),
    });
    return sha;
  }

  /** Files of a repository at a revision. */
  filesAt(repo: string, rev = "main"): Map<string, Uint8Array> {
    const r = this.repos.get(repo)!;
    return r.commits.get(r.refs.get(rev) ?? rev)!;
  }

  #json(v: unknown, status = 200, headers: Record<string, string> = {}): Response {
    return new Response(JSON.stringify(v), {
      status,
      headers: { "content-type": "application/json", ...headers },
    });
  }

  #err(status: number, code: string, message: string): Response {
    return this.#json({ error: message }, status, code ? { "x-error-code": code } : {});
  }

  #token(req: Request): string | undefined {
    return req.headers.get("authorization")?.match(/^Bearer (.+)$/)?.[1];
  }

  /** Read access: undefined when allowed, else the Hub's error answer. */
  #readable(req: Request, name: string, files: boolean): Response | undefined {
    const tok = this.#token(req);
    const known = tok === "hf_read" || tok === "hf_granted" || tok === "hf_write";
    if (tok && !known) return this.#err(401, "", "Invalid credentials in Authorization header");
    const r = this.repos.get(name);
    if (!r || (r.private && !known)) {
      return this.#err(tok && known ? 404 : 401, "RepoNotFound", "Repository Not Found");
    }
    if (files && r.gated && tok !== "hf_granted") {
      return this.#err(
        known ? 403 : 401,
        "GatedRepo",
        `Access to model ${name} is restricted. You must have access to it and be authenticated to access it.`,
      );
    }
    return undefined;
  }

  #writable(req: Request): Response | undefined {
    const tok = this.#token(req);
    if (!tok) return this.#err(401, "", "Invalid username or password.");
    if (tok !== "hf_write") {
      return this.#err(403, "", "You don't have the rights to write to this repository");
    }
    return undefined;
  }

  async #handle(req: Request): Promise<Response> {
    const u = new URL(req.url);
    const path = decodeURIComponent(u.pathname);
    this.log.push({
      method: req.method,
      path: u.pathname + u.search,
      range: req.headers.get("range") ?? undefined,
      auth: this.#token(req),
    });
    if (this.fail503 > 0) {
      this.fail503--;
      return new Response("busy", { status: 503 });
    }
    let m;
    if ((m = path.match(/^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/)) && req.method === "GET") {
      return this.#info(req, m[1], m[2]);
    }
    if ((m = path.match(/^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/)) && req.method === "GET") {
      return this.#tree(req, m[1], m[2], Number(u.searchParams.get("cursor") ?? 0));
    }
    if ((m = path.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/)) && req.method === "GET") {
      return await this.#resolve(req, m[1], m[2], m[3]);
    }
    if ((m = path.match(/^\/cdn\/([0-9a-f]{64})$/)) && req.method === "GET") {
      return this.#cdn(req, m[1], u.searchParams.get("path") ?? "");
    }
    if (path === "/api/repos/create" && req.method === "POST") return await this.#create(req);
    if ((m = path.match(/^\/api\/models\/([^/]+\/[^/]+)\/branch\/(.+)$/)) && req.method === "POST") {
      return this.#writable(req) ?? this.#branch(m[1], m[2]);
    }
    if ((m = path.match(/^\/api\/models\/([^/]+\/[^/]+)\/preupload\/(.+)$/)) && req.method === "POST") {
      return this.#writable(req) ?? this.#preupload(await req.json());
    }
    if ((m = path.match(/^\/([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/)) && req.method === "POST") {
      return this.#writable(req) ?? this.#batch(await req.json());
    }
    if ((m = path.match(/^\/lfs-upload\/([0-9a-f]{64})$/)) && req.method === "PUT") {
      const d = new Uint8Array(await req.arrayBuffer());
      if (sha256(d) !== m[1]) return this.#err(400, "", "sha256 mismatch");
      this.lfs.set(m[1], d);
      return new Response(null, { status: 200 });
    }
    if (path === "/lfs-verify" && req.method === "POST") {
      const { oid, size } = await req.json();
      return this.lfs.get(oid)?.length === size ? this.#json({}) : this.#err(404, "", "object not found");
    }
    if ((m = path.match(/^\/api\/models\/([^/]+\/[^/]+)\/commit\/(.+)$/)) && req.method === "POST") {
      return this.#writable(req) ?? this.#commit(m[1], m[2], await req.text());
    }
    return this.#err(404, "", `no route ${req.method} ${path}`);
  }

  #rev(name: string, rev: string): string | undefined {
    const r = this.repos.get(name)!;
    return r.refs.get(rev) ?? (r.commits.has(rev) ? rev : undefined);
  }

  #info(req: Request, name: string, rev: string): Response {
    const denied = this.#readable(req, name, false);
    if (denied) return denied;
    const sha = this.#rev(name, rev);
    if (!sha) return this.#err(404, "RevisionNotFound", `Invalid rev id: ${rev}`);
    const r = this.repos.get(name)!;
    return this.#json({
      id: name,
      sha,
      private: r.private,
      gated: r.gated ? "manual" : false,
      siblings: [...r.commits.get(sha)!.keys()].map((rfilename) => ({ rfilename })),
    });
  }

  async #treeEntry(p: string, d: Uint8Array): Promise<Record<string, unknown>> {
    if (!this.isLfs(p, d.length)) return { type: "file", path: p, size: d.length, oid: await gitBlobSha1(d) };
    const oid = sha256(d);
    const pointer = enc.encode(
      `version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${d.length}\n`,
    );
    return {
      type: "file",
      path: p,
      size: d.length,
      oid: await gitBlobSha1(pointer),
      lfs: { oid, size: d.length, pointerSize: pointer.length },
    };
  }

  async #tree(req: Request, name: string, rev: string, cursor: number): Promise<Response> {
    const denied = this.#readable(req, name, false);
    if (denied) return denied;
    const sha = this.#rev(name, rev);
    if (!sha) return this.#err(404, "RevisionNotFound", `Invalid rev id: ${rev}`);
    const files = [...this.repos.get(name)!.commits.get(sha)!].sort(([a], [b]) => a < b ? -1 : 1);
    const entries: Record<string, unknown>[] = [];
    const dirs = new Set<string>();
    for (const [p] of files) {
      const i = p.lastIndexOf("/");
      if (i > 0) dirs.add(p.slice(0, i));
    }
    for (const d of dirs) entries.push({ type: "directory", path: d, size: 0, oid: "0".repeat(40) });
    for (const [p, d] of files) entries.push(await this.#treeEntry(p, d));
    const page = entries.slice(cursor, cursor + this.pageSize);
    const headers: Record<string, string> = {};
    if (cursor + this.pageSize < entries.length) {
      headers.link = `<${this.url}/api/models/${name}/tree/${rev}?recursive=true&cursor=${
        cursor + this.pageSize
      }>; rel="next"`;
    }
    return this.#json(page, 200, headers);
  }

  async #resolve(req: Request, name: string, rev: string, path: string): Promise<Response> {
    const denied = this.#readable(req, name, true);
    if (denied) return denied;
    const sha = this.#rev(name, rev);
    if (!sha) return this.#err(404, "RevisionNotFound", `Invalid rev id: ${rev}`);
    const d = this.repos.get(name)!.commits.get(sha)!.get(path);
    if (!d) return this.#err(404, "EntryNotFound", `${path} does not exist on "${rev}"`);
    const headers = { "x-repo-commit": sha };
    if (this.isLfs(path, d.length)) {
      const oid = sha256(d);
      return new Response(null, {
        status: 302,
        headers: {
          ...headers,
          location: `${this.cdnUrl}/cdn/${oid}?path=${encodeURIComponent(path)}&sig=x`,
          "x-linked-etag": `"${oid}"`,
          "x-linked-size": String(d.length),
        },
      });
    }
    return this.#serve(req, this.#maybeCorrupt(path, d), path, {
      ...headers,
      etag: `"${await gitBlobSha1(d)}"`,
    });
  }

  #maybeCorrupt(path: string, d: Uint8Array): Uint8Array {
    if (!this.corrupt.has(path)) return d;
    const c = d.slice();
    c[c.length >> 1] ^= 0xff;
    return c;
  }

  #cdn(req: Request, oid: string, path: string): Response {
    const d = this.lfs.get(oid);
    if (!d) return this.#err(404, "", "no such object");
    return this.#serve(req, this.#maybeCorrupt(path, d), path, { etag: `"${oid}"` });
  }

  /** The bytes, honouring a single `Range: bytes=a-b`; with a drop fault, the body breaks after N bytes. */
  #serve(req: Request, d: Uint8Array, path: string, headers: Record<string, string>): Response {
    let start = 0;
    let end = d.length - 1;
    let status = 200;
    const range = req.headers.get("range")?.match(/^bytes=(\d+)-(\d*)$/);
    if (range) {
      start = Number(range[1]);
      end = Math.min(range[2] ? Number(range[2]) : d.length - 1, d.length - 1, start + this.maxRange - 1);
      if (start >= d.length || end < start) return new Response(null, { status: 416 });
      status = 206;
      headers = { ...headers, "content-range": `bytes ${start}-${end}/${d.length}` };
    }
    const body = d.slice(start, end + 1);
    const drop = this.dropAfter.get(path);
    headers = { ...headers, "content-length": String(body.length), "accept-ranges": "bytes" };
    if (drop === undefined || drop >= body.length) return new Response(body, { status, headers });
    this.dropAfter.delete(path);
    this.dropped.push({ path, start, at: start + drop });
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (!sent) {
          sent = true;
          c.enqueue(body.slice(0, drop));
          return new Promise((r) => setTimeout(r, 20));
        }
        c.error(new Error("connection dropped (fault injected by the test)"));
      },
    });
    return new Response(stream, { status, headers });
  }

  async #create(req: Request): Promise<Response> {
    const denied = this.#writable(req);
    if (denied) return denied;
    const b = await req.json();
    const name = b.organization ? `${b.organization}/${b.name}` : b.name;
    if (b.type !== "model") return this.#err(400, "", "only models");
    if (this.repos.has(name)) return this.#err(409, "", "You already created this model repo");
    const sha = this.#newSha();
    this.repos.set(name, {
      private: b.visibility === "private" || b.private === true,
      gated: false,
      refs: new Map([["main", sha]]),
      commits: new Map([[
        sha,
        new Map([[".gitattributes", enc.encode("*.bin filter=lfs diff=lfs merge=lfs -text\n")]]),
      ]]),
      summaries: new Map([[sha, "initial commit"]]),
    });
    return this.#json({ url: `${this.url}/${name}` });
  }

  #branch(name: string, rev: string): Response {
    const r = this.repos.get(name);
    if (!r) return this.#err(404, "RepoNotFound", "Repository Not Found");
    if (r.refs.has(rev)) return this.#err(409, "", "Branch already exists");
    r.refs.set(rev, r.refs.get("main")!);
    return this.#json({});
  }

  #preupload(b: { files: { path: string; size: number; sample: string }[] }): Response {
    return this.#json({
      files: b.files.map((f) => ({
        path: f.path,
        uploadMode: this.isLfs(f.path, f.size) ? "lfs" : "regular",
        shouldIgnore: false,
      })),
    });
  }

  #batch(b: { operation: string; objects: { oid: string; size: number }[] }): Response {
    return new Response(
      JSON.stringify({
        transfer: "basic",
        objects: b.objects.map((o) =>
          this.lfs.has(o.oid) ? { oid: o.oid, size: o.size } : {
            oid: o.oid,
            size: o.size,
            authenticated: true,
            actions: {
              upload: { href: `${this.url}/lfs-upload/${o.oid}`, header: { "x-fake-upload": "1" } },
              verify: { href: `${this.url}/lfs-verify`, header: {} },
            },
          }
        ),
      }),
      { headers: { "content-type": "application/vnd.git-lfs+json" } },
    );
  }

  #commit(name: string, rev: string, text: string): Response {
    const r = this.repos.get(name);
    if (!r) return this.#err(404, "RepoNotFound", "Repository Not Found");
    const head = r.refs.get(rev);
    if (!head) return this.#err(404, "RevisionNotFound", `Invalid rev id: ${rev}`);
    const files = new Map(r.commits.get(head)!);
    let summary = "";
    for (const line of text.split("\n").filter((l) => l.trim())) {
      const { key, value } = JSON.parse(line);
      if (key === "header") {
        summary = value.summary;
        if (value.parentCommit && value.parentCommit !== head) {
          return this.#err(412, "", "A commit has happened since. Please refresh and try again.");
        }
      } else if (key === "file") {
        files.set(value.path, Uint8Array.from(atob(value.content), (c) => c.charCodeAt(0)));
      } else if (key === "lfsFile") {
        const d = this.lfs.get(value.oid);
        if (!d || d.length !== value.size) return this.#err(400, "", `LFS object ${value.oid} not uploaded`);
        files.set(value.path, d);
      } else if (key === "deletedFile") {
        files.delete(value.path);
      } else return this.#err(400, "", `unknown key ${key}`);
    }
    const sha = this.#newSha();
    r.commits.set(sha, files);
    r.summaries.set(sha, summary);
    r.refs.set(rev, sha);
    return this.#json({ commitUrl: `${this.url}/${name}/commit/${sha}`, commitOid: sha });
  }
}
