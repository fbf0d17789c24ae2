// The crash-safe output directory in-process: what OUT holds at every point of the commit,
// what a run recognises as a previous conversion, stale and live staging directories.
import { createHash } from "node:crypto";
import { assertEquals, assertOk, assertRejects } from "./_assert.ts";
import {
  type CommitStep,
  inspectOutputDir,
  stageOutputDir,
  STAGING_MARKER,
  STAGING_PREFIX,
} from "../src/io/staged_dir.ts";

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

/** Writes a fake conversion (shard texts `tag-i`, both cache JSONs) through `write`. */
async function conversion(write: (name: string, text: string) => Promise<void>, tag: string, shards: number) {
  const records = [];
  for (let i = 0; i < shards; i++) {
    const text = `${tag}-${i}`;
    await write(`params_shard_${i}.bin`, text);
    records.push({ dataPath: `params_shard_${i}.bin`, nbytes: text.length, md5sum: md5(text) });
  }
  const json = JSON.stringify({ metadata: { tag }, records });
  await write("ndarray-cache.json", json);
  await write("tensor-cache.json", json);
}

/** The tag of the conversion OUT's cache JSONs describe ("none" without one), after checking every shard they name. */
function described(out: string): string {
  const tags = new Set<string>();
  for (const j of ["tensor-cache.json", "ndarray-cache.json"]) {
    let text;
    try {
      text = Deno.readTextFileSync(`${out}/${j}`);
    } catch {
      continue;
    }
    const cache = JSON.parse(text);
    for (const r of cache.records) {
      const data = Deno.readTextFileSync(`${out}/${r.dataPath}`);
      assertEquals(md5(data), r.md5sum, `${j} -> ${r.dataPath}`);
    }
    tags.add(cache.metadata.tag);
  }
  assertOk(tags.size <= 1, [...tags].join());
  return [...tags][0] ?? "none";
}

const list = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("staged commit: at every step OUT holds the complete old conversion, the complete new one, or no cache JSON; every stale shard goes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/out`;
    await Deno.mkdir(out);
    await conversion((n, t) => Deno.writeTextFile(`${out}/${n}`, t), "old", 3);
    await Deno.writeTextFile(`${out}/params_shard_9.bin`, "older, not in any cache JSON");
    await Deno.writeTextFile(`${out}/mlc-chat-config.json`, "{}");
    const seen: [CommitStep, string][] = [];
    const staged = await stageOutputDir(out, { onStep: (s) => void seen.push([s, described(out)]) });
    assertEquals(staged.before.previous, [
      "ndarray-cache.json",
      "params_shard_0.bin",
      "params_shard_1.bin",
      "params_shard_2.bin",
      "params_shard_9.bin",
      "tensor-cache.json",
    ]);
    assertEquals(staged.state, "open");
    await conversion((n, t) => staged.store.writeTextFile(n, t), "new", 2);
    assertEquals(described(out), "old");
    assertEquals(await staged.commit(), [
      "params_shard_0.bin",
      "params_shard_1.bin",
      "ndarray-cache.json",
      "tensor-cache.json",
    ]);
    assertEquals(seen, [
      ["staged", "old"],
      ["old-json-removed", "none"],
      ["stale-shards-removed", "none"],
      ["shard-moved", "none"],
      ["json-moved", "new"],
      ["committed", "new"],
    ]);
    assertEquals(list(out), [
      "mlc-chat-config.json",
      "ndarray-cache.json",
      "params_shard_0.bin",
      "params_shard_1.bin",
      "tensor-cache.json",
    ]);
    assertEquals(staged.state, "committed");
    await assertRejects(() => staged.commit(), /is committed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("staged output: an aborted run leaves OUT as it was; a staging directory is locked while its run lives, stale after, and only ours is removed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/out`;
    const s1 = await stageOutputDir(out);
    await s1.store.writeTextFile("params_shard_0.bin", "partial");
    const markerPath = `${s1.path}/${STAGING_MARKER}`;
    const marker = JSON.parse(await Deno.readTextFile(markerPath));
    assertEquals([marker.tool, marker.pid, typeof marker.started], ["mlc-convert", Deno.pid, "string"]);
    // (this process holds the marker locked: a second run sees a live run and is refused)
    const state = await inspectOutputDir(out);
    assertEquals(state.live.map((l) => [l.name, l.owner.pid]), [[s1.path.slice(out.length + 1), Deno.pid]]);
    await assertRejects(
      () => stageOutputDir(out),
      new RegExp(`^Another mlc-convert run \\(pid ${Deno.pid}(, on \\S+)?.* is writing into ${out}`),
    );
    await s1.abort();
    assertEquals(list(out), []);
    // a killed run's directory: our marker, nobody holding it (written here without a lock)
    const stale = `${out}/${STAGING_PREFIX}killed`;
    await Deno.mkdir(stale);
    await Deno.writeTextFile(`${stale}/${STAGING_MARKER}`, JSON.stringify({ ...marker, pid: 1 }));
    await Deno.writeTextFile(`${stale}/params_shard_0.bin`, "left by kill -9");
    // not ours: no marker, another tool's marker, a file or a symlink with the prefix
    const foreign = [
      `${STAGING_PREFIX}nomarker`,
      `${STAGING_PREFIX}othertool`,
      `${STAGING_PREFIX}file`,
      `${STAGING_PREFIX}link`,
    ];
    await Deno.mkdir(`${out}/${foreign[0]}`);
    await Deno.mkdir(`${out}/${foreign[1]}`);
    await Deno.writeTextFile(
      `${out}/${foreign[1]}/${STAGING_MARKER}`,
      JSON.stringify({ tool: "other", pid: 1 }),
    );
    await Deno.writeTextFile(`${out}/${foreign[2]}`, "x");
    await Deno.symlink(stale, `${out}/${foreign[3]}`);
    // names we write, whatever they are (a symlink too: it is replaced, not followed); a directory named like one is not
    await Deno.symlink("/nonexistent", `${out}/tokenizer.json`);
    await Deno.mkdir(`${out}/tensor-cache.json`);
    const st = await inspectOutputDir(out);
    assertEquals([st.stale, st.live, st.foreign.sort(), st.genConfig, st.unexpected], [
      [`${STAGING_PREFIX}killed`],
      [],
      foreign.sort(),
      ["tokenizer.json"],
      ["tensor-cache.json/"],
    ]);
    await assertRejects(
      () => stageOutputDir(out),
      /holds files that are not a previous conversion: tensor-cache\.json\/\./,
    );
    await Deno.remove(`${out}/tensor-cache.json`);
    const s2 = await stageOutputDir(out);
    assertEquals(s2.removedStale, [`${STAGING_PREFIX}killed`]);
    await s2.abort();
    assertEquals(list(out), [...foreign, "tokenizer.json"].sort());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
