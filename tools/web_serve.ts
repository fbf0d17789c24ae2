/**
 * Serves the converter page (web/) on 127.0.0.1 with the headers that make it cross-origin
 * isolated (COOP/COEP: SharedArrayBuffer, hence kernel workers), building the library bundle
 * first. `deno task web [--port N]`.
 *
 * @module
 */

const ROOT = new URL("../web/", import.meta.url);
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  png: "image/png",
};

/** Headers for a cross-origin isolated page. */
export const ISOLATION_HEADERS: Record<string, string> = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
};

/** Builds web/mlc-convert.js from src/browser/mod.ts (`deno bundle --platform browser`). */
export async function buildWebBundle(out = new URL("mlc-convert.js", ROOT).pathname): Promise<string> {
  const entry = new URL("../src/browser/mod.ts", import.meta.url).pathname;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "-o", out, entry],
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`deno bundle failed:\n${new TextDecoder().decode(stderr)}`);
  return out;
}

/** Options of {@link serveWeb}. */
export interface ServeWebOptions {
  /** Port (0: any free one). */
  port?: number;
  /** Whether to send the COOP/COEP headers (default true). */
  isolated?: boolean;
  /** Extra files by URL path (e.g. a test model): path -> local file. */
  extra?: Map<string, string>;
}

/** Serves web/ (GET and HEAD only, no directory listing, no path outside web/) on 127.0.0.1. */
export function serveWeb(opts: ServeWebOptions = {}): Deno.HttpServer<Deno.NetAddr> {
  const isolated = opts.isolated ?? true;
  return Deno.serve({ hostname: "127.0.0.1", port: opts.port ?? 0, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    const headers = new Headers(isolated ? ISOLATION_HEADERS : {});
    if ((req.method !== "GET" && req.method !== "HEAD") || path.split("/").includes("..")) {
      return new Response("not allowed", { status: 405, headers });
    }
    const file = opts.extra?.get(path) ??
      new URL(`.${path.endsWith("/") ? `${path}index.html` : path}`, ROOT).pathname;
    try {
      const data = await Deno.readFile(file);
      headers.set("Content-Type", TYPES[file.split(".").pop() ?? ""] ?? "application/octet-stream");
      headers.set("Cache-Control", "no-store");
      return new Response(data, { headers });
    } catch {
      return new Response("not found", { status: 404, headers });
    }
  });
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--port");
  const port = i >= 0 ? Number(Deno.args[i + 1]) : 8787;
  await buildWebBundle();
  const server = serveWeb({ port });
  console.log(`mlc-convert web app: http://127.0.0.1:${server.addr.port}/`);
}
