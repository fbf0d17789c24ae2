// A file-backed fake Hub for bench/hub_bench.ts: serves the files of DIR as the model repository
// REPO on 127.0.0.1 (model info, tree listing with LFS sha256s, resolve with a 302 for LFS files,
// Range reads straight from disk). Prints the port on stdout, then serves until killed.
//
//   deno run --allow-read --allow-write --allow-net=127.0.0.1 bench/_hub_file_server.ts DIR REPO
import { gitBlobSha1, sha256File } from "../src/hub/_hash.ts";

const [dir, repo] = Deno.args;
const SHA = "b".repeat(40);
const isLfs = (name: string, size: number) => name.endsWith(".safetensors") || size > 10 << 20;

// sha256s of the LFS files, computed once and kept beside the model
const sumsPath = `${dir}/.hub-sha256.json`;
let sums: Record<string, string> = {};
try {
  sums = JSON.parse(await Deno.readTextFile(sumsPath));
} catch { /* first run */ }
const entries: Record<string, unknown>[] = [];
for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
  if (!e.isFile || e.name.startsWith(".")) continue;
  const size = (await Deno.stat(`${dir}/${e.name}`)).size;
  if (isLfs(e.name, size)) {
    sums[e.name] ??= await sha256File(`${dir}/${e.name}`);
    entries.push({ type: "file", path: e.name, size, oid: "0".repeat(40), lfs: { oid: sums[e.name], size } });
  } else {
    entries.push({
      type: "file",
      path: e.name,
      size,
      oid: await gitBlobSha1(await Deno.readFile(`${dir}/${e.name}`)),
    });
  }
}
await Deno.writeTextFile(sumsPath, JSON.stringify(sums));

async function serveFile(req: Request, name: string): Promise<Response> {
  const path = `${dir}/${name}`;
  const size = (await Deno.stat(path)).size;
  const m = req.headers.get("range")?.match(/^bytes=(\d+)-(\d*)$/);
  const start = m ? Number(m[1]) : 0;
  const end = m && m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  const f = await Deno.open(path);
  await f.seek(start, Deno.SeekMode.Start);
  let left = end - start + 1;
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      const buf = new Uint8Array(Math.min(1 << 20, left));
      const n = await f.read(buf);
      if (!n) {
        f.close();
        c.close();
        return;
      }
      left -= n;
      c.enqueue(buf.subarray(0, n));
      if (left === 0) {
        f.close();
        c.close();
      }
    },
    cancel() {
      f.close();
    },
  });
  const headers: Record<string, string> = { "content-length": String(end - start + 1) };
  if (m) headers["content-range"] = `bytes ${start}-${end}/${size}`;
  return new Response(body, { status: m ? 206 : 200, headers });
}

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(port),
}, (req) => {
  const p = decodeURIComponent(new URL(req.url).pathname);
  if (p === `/api/models/${repo}/revision/main`) {
    return Response.json({ id: repo, sha: SHA, private: false, gated: false });
  }
  if (p === `/api/models/${repo}/tree/${SHA}`) return Response.json(entries);
  const r = p.match(/^\/([^/]+\/[^/]+)\/resolve\/[^/]+\/(.+)$/);
  if (r && r[1] === repo) {
    const e = entries.find((x) => x.path === r[2]);
    if (!e) return new Response("not found", { status: 404, headers: { "x-error-code": "EntryNotFound" } });
    if (e.lfs) return new Response(null, { status: 302, headers: { location: `/cdn/${r[2]}` } });
    return serveFile(req, r[2]);
  }
  const c = p.match(/^\/cdn\/(.+)$/);
  if (c) return serveFile(req, c[1]);
  return new Response("no route", { status: 404 });
});
