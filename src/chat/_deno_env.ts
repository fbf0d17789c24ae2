/**
 * What `@mlc-ai/web-llm` (a browser library) needs from Deno, installed for the time it runs
 * and removed after: no Node.js `process` (its bundled runtime takes the Node.js path when it
 * sees one), a `location`, a CacheStorage whose caches serve the model's files from disk (Deno's
 * Cache has no `add()`; nothing goes over the network), `GPUAdapter.requestAdapterInfo()` (the
 * old name of `adapter.info`), and a record of uncaptured WebGPU errors (without one, a binding
 * the adapter cannot hold "succeeds" with all-zero results).
 *
 * @module
 */

/** The origin the runtime sees; its URLs are answered from the files map, never fetched. */
export const CHAT_ORIGIN = "https://mlc-convert.invalid";

/** What {@link installWebLlmEnv} returns. */
export interface WebLlmEnv {
  /** Uncaptured WebGPU errors so far (messages). */
  readonly gpuErrors: string[];
  /** Puts back what was changed. */
  restore(): void;
}

type Files = ReadonlyMap<string, string>;

class FileCache {
  #added = new Set<string>();
  constructor(private files: Files) {}
  #path(req: RequestInfo | URL): string | undefined {
    return this.files.get(typeof req === "string" ? req : req instanceof URL ? req.href : req.url);
  }
  async match(req: RequestInfo | URL): Promise<Response | undefined> {
    const url = typeof req === "string" ? req : req instanceof URL ? req.href : req.url;
    const path = this.#path(req);
    if (!path || !this.#added.has(url)) return undefined;
    const f = await Deno.open(path, { read: true });
    return new Response(f.readable, { status: 200 });
  }
  async add(req: RequestInfo | URL): Promise<void> {
    const url = typeof req === "string" ? req : req instanceof URL ? req.href : req.url;
    const path = this.#path(req);
    if (!path) throw new Error(`the model does not have ${url.replace(CHAT_ORIGIN, "")}`);
    await Deno.stat(path);
    this.#added.add(url);
  }
  keys(): Promise<Request[]> {
    return Promise.resolve([...this.#added].map((u) => new Request(u)));
  }
  delete(req: RequestInfo | URL): Promise<boolean> {
    const url = typeof req === "string" ? req : req instanceof URL ? req.href : req.url;
    return Promise.resolve(this.#added.delete(url));
  }
}

function fileCaches(files: Files): unknown {
  const byScope = new Map<string, FileCache>();
  return {
    open(scope: string): Promise<FileCache> {
      if (!byScope.has(scope)) byScope.set(scope, new FileCache(files));
      return Promise.resolve(byScope.get(scope)!);
    },
    has: (scope: string) => Promise.resolve(byScope.has(scope)),
    delete: (scope: string) => Promise.resolve(byScope.delete(scope)),
  };
}

/**
 * Installs the environment; `files` maps each URL under {@link CHAT_ORIGIN} to a local path.
 *
 * @example
 * ```ts ignore
 * import { installWebLlmEnv } from "./_deno_env.ts";
 * const env = installWebLlmEnv(new Map());
 * env.restore();
 * ```
 */
export function installWebLlmEnv(files: Files): WebLlmEnv {
  const g = globalThis as Record<string, unknown>;
  const saved = ["process", "location", "caches"].map((k) =>
    [k, Object.getOwnPropertyDescriptor(g, k)] as const
  );
  const gpuErrors: string[] = [];
  delete g.process;
  Object.defineProperty(g, "location", {
    value: { origin: CHAT_ORIGIN, href: `${CHAT_ORIGIN}/` },
    configurable: true,
    writable: true,
  });
  Object.defineProperty(g, "caches", { value: fileCaches(files), configurable: true, writable: true });
  const proto = (g.GPUAdapter as { prototype: Record<string, unknown> } | undefined)?.prototype;
  const savedInfo = proto?.requestAdapterInfo;
  const savedDevice = proto?.requestDevice as ((d?: unknown) => Promise<GPUDevice>) | undefined;
  if (proto) {
    if (!savedInfo) {
      proto.requestAdapterInfo = function (this: GPUAdapter) {
        return Promise.resolve(this.info);
      };
    }
    proto.requestDevice = async function (this: GPUAdapter, desc?: unknown) {
      const device = await savedDevice!.call(this, desc);
      device.addEventListener("uncapturederror", (e) => {
        gpuErrors.push((e as GPUUncapturedErrorEvent).error.message);
      });
      return device;
    };
  }
  return {
    gpuErrors,
    restore() {
      for (const [k, d] of saved) {
        if (d) Object.defineProperty(g, k, d);
        else delete g[k];
      }
      if (proto) {
        if (!savedInfo) delete proto.requestAdapterInfo;
        proto.requestDevice = savedDevice;
      }
    },
  };
}
