// HF:// sources and the upload verb against a fake Hub on 127.0.0.1 (tests/_hub_server.ts, written
// from the Hub's documented API): same bytes as from disk, resume after a dropped connection,
// integrity and access errors, the HF cache layout of --download, the commit an upload makes and
// the second upload that skips everything, and the exact permissions the CLI asks for.
import { createHash } from "node:crypto";
import { assertEquals, assertOk } from "./_assert.ts";
import { FakeHub } from "./_hub_server.ts";
import { STUB_TOKENIZERS } from "./_genconfig_helpers.ts";
import { main } from "../cli.ts";
import type { Io } from "../src/cli/_common.ts";
import { llamaHfTensors, TINY_LLAMA_CONFIG, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";
import {
  downloadSnapshot,
  HttpRangeFile,
  HubClient,
  openHubSource,
  parseHubRef,
  snapshotFiles,
} from "../src/hub/mod.ts";

const cfg = { ...TINY_LLAMA_CONFIG } as Record<string, unknown>;
const SHARD1 = "model-00001-of-00002.safetensors";
const SHARD2 = "model-00002-of-00002.safetensors";
const sha256Hex = (d: Uint8Array) => createHash("sha256").update(d).digest("hex");
const ENV = ["HF_ENDPOINT", "HF_TOKEN", "HF_HUB_CACHE", "HF_HOME", "MLC_CONVERT_TEST_HUB_BACKOFF_MS"];

interface Run {
  code: number;
  out: string;
  err: string;
}

async function cli(args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), progress: () => {}, isTerminal: false };
  const code = await main(args, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function readDirFiles(dir: string): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) files[e.name] = await Deno.readFile(`${dir}/${e.name}`);
  }
  return files;
}

function assertSameFiles(a: Record<string, Uint8Array>, b: Record<string, Uint8Array>): void {
  assertEquals(Object.keys(a).sort(), Object.keys(b).sort());
  for (const k of Object.keys(a)) {
    assertOk(a[k].length === b[k].length && a[k].every((x, i) => x === b[k][i]), k);
  }
}

/** A tiny sharded llama in `dir/model` (with tokenizer files), served as org/tiny; env pointing at the fake Hub. */
async function withHub(fn: (hub: FakeHub, dir: string) => Promise<void>, cdn = false): Promise<void> {
  const dir = await Deno.makeTempDir();
  const hub = await FakeHub.start({ cdn });
  const saved = ENV.map((k) => [k, Deno.env.get(k)] as const);
  try {
    await writeCheckpoint(`${dir}/model`, cfg, llamaHfTensors(cfg), { dtype: "BF16", seed: 1, shards: 2 });
    await Deno.writeTextFile(`${dir}/model/tokenizer.json`, STUB_TOKENIZERS.byteLevel);
    await Deno.writeTextFile(`${dir}/model/tokenizer_config.json`, "{}");
    hub.addRepo("org/tiny", await readDirFiles(`${dir}/model`));
    for (const k of ENV) Deno.env.delete(k);
    Deno.env.set("HF_ENDPOINT", hub.url);
    Deno.env.set("HF_HUB_CACHE", `${dir}/cache`);
    Deno.env.set("MLC_CONVERT_TEST_HUB_BACKOFF_MS", "1");
    await fn(hub, dir);
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const convert = (src: string, out: string, ...extra: string[]) =>
  cli([
    "convert_weight",
    src,
    "--quantization",
    "q4f16_1",
    "-o",
    out,
    "--device",
    "cpu",
    "--threads",
    "1",
    ...extra,
  ]);

const cdnRanges = (hub: FakeHub, path: string) =>
  hub.log.filter((l) => l.path.startsWith("/cdn/") && l.path.includes(`path=${encodeURIComponent(path)}`))
    .map((l) => Number(l.range?.match(/^bytes=(\d+)-/)?.[1]));

Deno.test("hub: convert_weight HF:// by range reads gives the bytes of a local conversion, stores nothing, resumes a dropped connection", async () => {
  await withHub(async (hub, dir) => {
    const local = await convert(`${dir}/model`, `${dir}/out-local`);
    assertEquals(local.code, 0, local.err);
    // the first tensor-data response of shard 1 breaks after 5000 bytes
    hub.dropAfter.set(SHARD1, 5000);
    const r = await convert("HF://org/tiny", `${dir}/out-hub`);
    assertEquals(r.code, 0, r.err);
    assertOk(/Model: org\/tiny at [0-9a-f]{40} \(http:\/\/127\.0\.0\.1:\d+\)/.test(r.err), r.err);
    assertSameFiles(await readDirFiles(`${dir}/out-hub`), await readDirFiles(`${dir}/out-local`));
    // a conversion reads each safetensors file whole and in order: both sha256s were checked on the way
    assertOk(
      r.err.includes("sha256 checked while reading: 2 of 2 weight file(s)\n") ||
        r.err.endsWith("2 of 2 weight file(s)"),
      r.err,
    );
    // the resume asked for the byte the broken response had reached
    assertEquals(hub.dropped.length, 1);
    const starts = cdnRanges(hub, SHARD1);
    assertOk(starts.includes(hub.dropped[0].at), `range starts ${starts}, dropped at ${hub.dropped[0].at}`);
    // every weight read was a range request; nothing stored (no cache directory)
    assertOk(
      hub.log.filter((l) => l.path.startsWith("/cdn/")).every((l) => /^bytes=\d+-\d+$/.test(l.range ?? "")),
    );
    assertEquals(await Deno.stat(`${dir}/cache`).then(() => true, () => false), false);
  });
});

Deno.test("hub: convert_weight --dry-run on HF:// plans from the headers as from disk", async () => {
  await withHub(async (hub, dir) => {
    const a = await cli([
      "convert_weight",
      `${dir}/model`,
      "--quantization",
      "q4f16_1",
      "--dry-run",
      "--json",
    ]);
    const b = await cli([
      "convert_weight",
      "HF://org/tiny",
      "--quantization",
      "q4f16_1",
      "--dry-run",
      "--json",
    ]);
    assertEquals([a.code, b.code], [0, 0], b.err);
    assertEquals(JSON.parse(b.out), JSON.parse(a.out));
    // headers only: the CDN sent at most the windows the two header reads opened
    assertEquals(hub.log.filter((l) => l.path.startsWith("/cdn/")).length, 2);
  });
});

Deno.test("hub: gen_config HF:// writes what it writes from disk", async () => {
  await withHub(async (_hub, dir) => {
    const args = ["--quantization", "q4f16_1", "--conv-template", "llama-2"];
    const a = await cli(["gen_config", `${dir}/model`, ...args, "-o", `${dir}/g-local`]);
    assertEquals(a.code, 0, a.err);
    const b = await cli(["gen_config", "HF://org/tiny", ...args, "-o", `${dir}/g-hub`]);
    assertEquals(b.code, 0, b.err);
    assertSameFiles(await readDirFiles(`${dir}/g-hub`), await readDirFiles(`${dir}/g-local`));
    const c = await cli(["gen_config", "HF://org/tiny", ...args, "-o", `${dir}/g-dl`, "--download"]);
    assertEquals(c.code, 0, c.err);
    assertSameFiles(await readDirFiles(`${dir}/g-dl`), await readDirFiles(`${dir}/g-local`));
    assertOk((await Deno.stat(`${dir}/cache/models--org--tiny/refs/main`)).isFile);
  });
});

Deno.test("hub: verify --source HF:// compares with the source read from the Hub", async () => {
  await withHub(async (_hub, dir) => {
    assertEquals((await convert(`${dir}/model`, `${dir}/out`)).code, 0);
    const a = await cli(["verify", `${dir}/out`, "--source", `${dir}/model`, "--json"]);
    const b = await cli(["verify", `${dir}/out`, "--source", "HF://org/tiny", "--json"]);
    assertEquals([a.code, b.code], [0, 0], b.err);
    const [ra, rb] = [JSON.parse(a.out), JSON.parse(b.out)];
    assertOk(rb.ok && rb.tensors.length > 10, b.out);
    assertEquals(rb.tensors, ra.tensors);
  });
});

Deno.test("hub: --download fills the HF cache layout (blobs, refs, snapshot hard links) and a second run reads it from disk", async () => {
  await withHub(async (hub, dir) => {
    const sha = hub.repos.get("org/tiny")!.refs.get("main")!;
    hub.dropAfter.set(SHARD1, 3000); // the download resumes too
    // an earlier run left the first 1000 bytes of shard 2: this one continues after them
    const repo = `${dir}/cache/models--org--tiny`;
    const shard2 = hub.filesAt("org/tiny").get(SHARD2)!;
    await Deno.mkdir(`${repo}/blobs`, { recursive: true });
    await Deno.writeFile(`${repo}/blobs/${sha256Hex(shard2)}.incomplete`, shard2.subarray(0, 1000));
    const r = await convert("HF://org/tiny", `${dir}/out1`, "--download");
    assertEquals(r.code, 0, r.err);
    assertEquals(cdnRanges(hub, SHARD1).filter((s) => s === 3000).length, 1);
    assertEquals(cdnRanges(hub, SHARD2), [1000]);
    assertEquals(await Deno.readTextFile(`${repo}/refs/main`), sha);
    const snap = `${repo}/snapshots/${sha}`;
    assertEquals(
      Object.keys(await readDirFiles(snap)).sort(),
      [
        "config.json",
        SHARD1,
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
        "tokenizer.json",
        "tokenizer_config.json",
      ],
    );
    const st = await Deno.stat(`${snap}/${SHARD1}`);
    assertEquals(st.nlink, 2); // a hard link to its blob
    const blobs = [];
    for await (const e of Deno.readDir(`${repo}/blobs`)) blobs.push(e.name);
    assertEquals(blobs.length, 6);
    assertOk(blobs.every((b) => /^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(b)), String(blobs));
    const cdn = hub.log.filter((l) => l.path.startsWith("/cdn/")).length;
    const again = await convert("HF://org/tiny", `${dir}/out2`, "--download");
    assertEquals(again.code, 0, again.err);
    assertOk(/Downloaded 0 file\(s\) \(0 bytes\).*; 6 already there/.test(again.err), again.err);
    assertEquals(hub.log.filter((l) => l.path.startsWith("/cdn/")).length, cdn);
    assertSameFiles(await readDirFiles(`${dir}/out2`), await readDirFiles(`${dir}/out1`));
  });
});

Deno.test("hub: two downloads into one cache at once: the second waits for the first's lock and downloads nothing", async () => {
  await withHub(async (hub, dir) => {
    const client = new HubClient({ endpoint: hub.url, backoffMs: 1 });
    const src = await openHubSource("HF://org/tiny", client);
    const files = snapshotFiles([...src.files.values()]);
    const [a, b] = await Promise.all(
      [0, 1].map(() => downloadSnapshot(client, src.info, "main", files, `${dir}/c`)),
    );
    assertEquals(a.dir, b.dir);
    const lfs = files.filter((f) => f.sha256).reduce((n, f) => n + f.size, 0);
    const cdnBytes = hub.log.filter((l) => l.path.startsWith("/cdn/")).length;
    assertEquals(cdnBytes, 2); // one request per shard: nothing downloaded twice
    assertOk(a.bytes + b.bytes >= lfs && a.bytes + b.bytes < 2 * lfs, `${a.bytes} + ${b.bytes}`);
    assertSameFiles(await readDirFiles(a.dir), await readDirFiles(`${dir}/model`));
  });
});

Deno.test("hub: a wrong hash fails naming the file (sha256 with --download, git blob sha1 of a regular file)", async () => {
  await withHub(async (hub, dir) => {
    hub.corrupt.add(SHARD1);
    const r = await convert("HF://org/tiny", `${dir}/out`, "--download");
    assertEquals(r.code, 1);
    assertOk(r.err.includes(`HF://org/tiny/${SHARD1}: sha256 mismatch: the Hub lists `), r.err);
    const blobs = [];
    for await (const e of Deno.readDir(`${dir}/cache/models--org--tiny/blobs`)) blobs.push(e.name);
    assertOk(!blobs.some((b) => b.endsWith(".incomplete")), String(blobs));
    // range reads: the file read whole in order is hashed as it passes; the conversion fails before its commit
    const s = await convert("HF://org/tiny", `${dir}/out`);
    assertEquals(s.code, 1);
    assertOk(s.err.includes(`HF://org/tiny/${SHARD1}: sha256 mismatch: the Hub lists `), s.err);
    assertOk(s.err.includes("the bytes read hash to"), s.err);
    assertEquals([...Deno.readDirSync(`${dir}/out`)].map((e) => e.name), []); // the staging directory removed
    hub.corrupt.add("config.json");
    const c = await convert("HF://org/tiny", `${dir}/out2`);
    assertEquals(c.code, 1);
    assertOk(c.err.includes("HF://org/tiny/config.json: git blob sha1 mismatch"), c.err);
    assertEquals(await Deno.stat(`${dir}/out2`).then(() => true, () => false), false);
  });
});

Deno.test("hub: 401, 404, gated and a missing revision give clear errors", async () => {
  await withHub(async (hub, dir) => {
    hub.addRepo("org/secret", { "config.json": "{}" }, { private: true });
    hub.addRepo("org/gated", { "config.json": "{}" }, { gated: true });
    const a = await convert("HF://org/secret", `${dir}/o`);
    assertEquals(a.code, 1);
    assertOk(a.err.includes("HF://org/secret@main: repository not found, or private: set HF_TOKEN"), a.err);
    Deno.env.set("HF_TOKEN", "hf_read");
    const b = await convert("HF://org/nothing", `${dir}/o`);
    assertOk(
      b.err.includes(
        "HF://org/nothing@main: repository not found, or private: the token in HF_TOKEN has no access to it (404)",
      ),
      b.err,
    );
    const c = await convert("HF://org/gated", `${dir}/o`);
    assertOk(c.err.includes("HF://org/gated/config.json: gated model: accept its conditions"), c.err);
    assertOk(c.err.includes("(403)"), c.err);
    Deno.env.set("HF_TOKEN", "hf_granted");
    const d = await convert("HF://org/gated", `${dir}/o`);
    assertOk(d.err.includes("HF://org/gated/config.json: invalid") || d.err.includes("model_type"), d.err); // access granted: the config is read
    Deno.env.set("HF_TOKEN", "hf_expired");
    const t = await convert("HF://org/tiny", `${dir}/o`);
    assertOk(
      t.err.includes("HF://org/tiny@main: HF_TOKEN was refused: the token is invalid or expired (401)"),
      t.err,
    );
    Deno.env.set("HF_TOKEN", "hf_read");
    const e = await convert("HF://org/tiny@v9", `${dir}/o`);
    assertOk(e.err.includes("HF://org/tiny@v9: revision not found (404)"), e.err);
    assertEquals(hub.log.filter((l) => l.auth === "hf_granted").length > 0, true);
    // a listing naming a path outside the repository is refused before anything is read or written
    hub.addRepo("org/evil", { "config.json": "{}", "../../escape.json": "{}" });
    const f = await convert("HF://org/evil", `${dir}/o`, "--download");
    assertOk(f.err.includes("HF://org/evil@") && f.err.includes(": bad tree entry"), f.err);
    assertEquals(await Deno.stat(`${dir}/cache`).then(() => true, () => false), false);
  });
});

Deno.test("hub: retries 503s, pages the tree listing, and the token goes to the Hub only (not the CDN)", async () => {
  await withHub(async (hub) => {
    hub.pageSize = 2;
    hub.fail503 = 2;
    const client = new HubClient({ endpoint: hub.url, token: "hf_read", backoffMs: 1 });
    const src = await openHubSource(parseHubRef("HF://org/tiny"), client);
    assertEquals(src.files.size, 6);
    assertEquals(src.files.get(SHARD1)!.sha256!.length, 64);
    assertEquals(await src.listDir("HF://org/tiny"), [...src.files.keys()]);
    // a server that sends less than asked: the rest is asked for next
    hub.maxRange = 1000;
    const f = await src.open(`HF://org/tiny/${SHARD1}`);
    const part = new Uint8Array(5500);
    await f.readAt(100, part);
    f.close();
    const want = hub.filesAt("org/tiny").get(SHARD1)!.subarray(100, 5600);
    assertOk(part.every((x, i) => x === want[i]));
    assertEquals(cdnRanges(hub, SHARD1), [100, 1100, 2100, 3100, 4100, 5100]);
    assertEquals(hub.log.filter((l) => l.path.includes("cursor=")).length, 2);
    const cdn = hub.log.filter((l) => l.path.startsWith("/cdn/"));
    assertOk(cdn.length > 0 && cdn.every((l) => l.auth === undefined), JSON.stringify(cdn));
    const resolve = hub.log.filter((l) => l.path.includes("/resolve/"));
    assertOk(resolve.length > 0 && resolve.every((l) => l.auth === "hf_read"), JSON.stringify(resolve));
  }, true);
});

Deno.test("hub: range reads: readahead doubles on sequential reads, small gaps are read through, a jump stops the sha256", async () => {
  await withHub(async (hub) => {
    const big = new Uint8Array(6 << 20).map((_, i) => (i * 7919) >> 5);
    hub.addRepo("org/big", { "w.safetensors": big });
    const src = await openHubSource("HF://org/big", new HubClient({ endpoint: hub.url, backoffMs: 1 }));
    const ref = (name: string) => ({
      client: new HubClient({ endpoint: hub.url, backoffMs: 1 }),
      repo: "org/big",
      sha: src.info.sha,
      file: src.files.get(name)!,
      label: `HF://org/big/${name}`,
    });
    const ranges = () => hub.log.filter((l) => l.path.startsWith("/cdn/")).map((l) => l.range);
    // sequential: 1, 2, then the 3 MiB left; the whole file passed in order: sha256 checked
    const stats = { requests: 0, bytes: 0, resumes: 0, verified: [] as string[] };
    const f = new HttpRangeFile(ref("w.safetensors"), stats, 1 << 20);
    const buf = new Uint8Array(512 << 10);
    for (let at = 0; at < big.length; at += buf.length) await f.readAt(at, buf);
    assertEquals(ranges(), ["bytes=0-1048575", "bytes=1048576-3145727", "bytes=3145728-6291455"]);
    assertEquals([f.verified, stats.verified], [true, ["w.safetensors"]]);
    // a gap of 256 kB inside the response is read through (no request); a 3 MB jump is a new request
    hub.log.length = 0;
    const g = new HttpRangeFile(ref("w.safetensors"), stats, 1 << 20);
    const part = new Uint8Array(1000);
    await g.readAt(0, part);
    await g.readAt(256 << 10, part);
    assertOk(part.every((x, i) => x === big[(256 << 10) + i]));
    await g.readAt(4 << 20, part);
    assertEquals(ranges(), ["bytes=0-1048575", "bytes=4194304-5242879"]);
    for (let at = 4 << 20; at < big.length; at += buf.length) await g.readAt(at, buf);
    assertEquals(g.verified, false);
  });
});

Deno.test("hub: upload creates the expected commit, a second upload skips everything, a changed file is sent alone", async () => {
  await withHub(async (hub, dir) => {
    const out = `${dir}/out`;
    assertEquals((await convert(`${dir}/model`, out)).code, 0);
    const g = await cli([
      "gen_config",
      `${dir}/model`,
      "--quantization",
      "q4f16_1",
      "--conv-template",
      "llama-2",
      "-o",
      out,
    ]);
    assertEquals(g.code, 0, g.err);
    const up = (...extra: string[]) =>
      cli(["upload", out, "--repo", "me/tiny-MLC", "--base-model", "org/tiny@abc123", ...extra]);
    Deno.env.set("HF_TOKEN", "hf_write");
    // an incomplete conversion is refused before anything is sent
    await Deno.rename(`${out}/params_shard_0.bin`, `${dir}/shard0`);
    const incomplete = await up("--create");
    assertEquals(incomplete.code, 1);
    assertOk(
      incomplete.err.includes(
        `${out}/params_shard_0.bin: missing: the conversion is incomplete; nothing was uploaded`,
      ),
      incomplete.err,
    );
    assertEquals(hub.repos.has("me/tiny-MLC"), false);
    await Deno.rename(`${dir}/shard0`, `${out}/params_shard_0.bin`);
    Deno.env.set("HF_TOKEN", "hf_read");
    const denied = await up("--create");
    assertEquals(denied.code, 1);
    assertOk(denied.err.includes("HF://me/tiny-MLC"), denied.err);
    Deno.env.set("HF_TOKEN", "hf_write");
    const missing = await up();
    assertOk(missing.err.includes("to create it, add --create"), missing.err);
    const a = await up("--create", "--private", "--json");
    assertEquals(a.code, 0, a.err);
    assertEquals(hub.repos.get("me/tiny-MLC")!.private, true);
    const res = JSON.parse(a.out);
    const local = await readDirFiles(out);
    const remote = hub.filesAt("me/tiny-MLC");
    assertEquals([...remote.keys()].sort(), [".gitattributes", "README.md", ...Object.keys(local)].sort());
    for (const [k, v] of Object.entries(local)) assertSameFiles({ [k]: remote.get(k)! }, { [k]: v });
    const card = new TextDecoder().decode(remote.get("README.md"));
    assertOk(card.includes("base_model: org/tiny") && card.includes("at revision `abc123`"), card);
    assertOk(
      card.includes("| Quantization | `q4f16_1` |") && card.includes("mlc_llm chat HF://me/tiny-MLC"),
      card,
    );
    const shards = Object.keys(local).filter((n) => n.startsWith("params_shard_"));
    assertOk(shards.length > 0);
    assertEquals(hub.log.filter((l) => l.path.startsWith("/lfs-upload/")).length, shards.length);
    assertEquals(res.uploaded.length, Object.keys(local).length + 1);
    // again: nothing changed, nothing sent, no commit
    const before = hub.log.length;
    const b = await up("--json");
    assertEquals(b.code, 0, b.err);
    assertEquals(JSON.parse(b.out).commit, null);
    assertEquals(JSON.parse(b.out).skipped.length, Object.keys(local).length + 1);
    assertOk(
      !hub.log.slice(before).some((l) => l.path.includes("/commit/") || l.path.startsWith("/lfs-upload/")),
    );
    // one file changed: only it is committed
    await Deno.writeTextFile(
      `${out}/mlc-chat-config.json`,
      (await Deno.readTextFile(`${out}/mlc-chat-config.json`)) + " ",
    );
    const c = await up("--json");
    assertEquals(JSON.parse(c.out).uploaded, ["mlc-chat-config.json"]);
    assertEquals(hub.repos.get("me/tiny-MLC")!.commits.size, 3);
    // a shard an earlier upload left (a conversion with more shards) goes in the same commit
    hub.filesAt("me/tiny-MLC").set("params_shard_99.bin", new Uint8Array(3));
    await Deno.writeTextFile(
      `${out}/mlc-chat-config.json`,
      (await Deno.readTextFile(`${out}/mlc-chat-config.json`)) + " ",
    );
    const d = JSON.parse((await up("--json")).out);
    assertEquals([d.uploaded, d.deleted], [["mlc-chat-config.json"], ["params_shard_99.bin"]]);
    assertEquals(hub.filesAt("me/tiny-MLC").has("params_shard_99.bin"), false);
    // another branch: created from main, the files already there are skipped
    const e = JSON.parse((await up("--json", "--revision", "q4")).out);
    assertEquals([e.uploaded, e.skipped.length], [[], Object.keys(local).length + 1]);
    assertOk(hub.repos.get("me/tiny-MLC")!.refs.has("q4"));
  });
});

Deno.test("hub: the CLI prints the exact --allow-net/--allow-env it needs, and runs with just those", async () => {
  await withHub(async (hub, dir) => {
    const CLI = new URL("../cli.ts", import.meta.url).pathname;
    const run = async (perms: string[]) => {
      const p = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          ...perms,
          CLI,
          "convert_weight",
          "HF://org/tiny",
          "--quantization",
          "q4f16_1",
          "-o",
          `${dir}/o`,
        ],
        env: { HF_ENDPOINT: hub.url },
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: p.code, err: new TextDecoder().decode(p.stderr) };
    };
    const rw = [`--allow-read=${dir}/o`, `--allow-write=${dir}/o`];
    const a = await run(rw);
    assertEquals(a.code, 3, a.err);
    assertOk(a.err.includes("--allow-net=huggingface.co,cas-bridge.xethub.hf.co,"), a.err);
    assertOk(a.err.includes("--allow-env=HF_TOKEN,HF_HOME,HF_HUB_CACHE,HF_ENDPOINT "), a.err);
    const b = await run([...rw, "--allow-env=HF_TOKEN,HF_HOME,HF_HUB_CACHE,HF_ENDPOINT"]);
    assertEquals(b.code, 3, b.err);
    const host = new URL(hub.url).host;
    assertOk(b.err.includes(`Missing permission: net ${host}. Run:`), b.err);
    const flags = b.err.match(/ (--allow-[a-z]+=\S+)/g)!.map((s) => s.trim());
    assertEquals(flags, [
      ...rw,
      `--allow-net=${host}`,
      "--allow-env=HF_TOKEN,HF_HOME,HF_HUB_CACHE,HF_ENDPOINT",
    ]);
    // the fake Hub's CDN is another origin (a mirror's would be too): the first redirect there
    // names the host to add
    const c = await run(flags);
    assertEquals(c.code, 3, c.err);
    const cdn = new URL(hub.cdnUrl).host;
    assertOk(
      c.err.includes(`the Hub sent this request to ${cdn}, which Deno's --allow-net does not allow`),
      c.err,
    );
    const d = await run([...rw, `--allow-net=${host},${cdn}`, flags[3]]);
    assertEquals(d.code, 0, d.err);
    // upload: read access to OUT, the Hub and its LFS upload host, the same variables
    const u = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", CLI, "upload", `${dir}/o`, "--repo", "me/x"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const uerr = new TextDecoder().decode(u.stderr);
    assertEquals(u.code, 3, uerr);
    assertOk(
      uerr.includes(
        `--allow-read=${dir}/o --allow-net=huggingface.co,hf-hub-lfs-us-east-1.s3-accelerate.amazonaws.com ` +
          "--allow-env=HF_TOKEN,HF_HOME,HF_HUB_CACHE,HF_ENDPOINT ",
      ),
      uerr,
    );
    assertOk((await Deno.stat(`${dir}/o/tensor-cache.json`)).isFile);
  }, true);
});
