// The vendored copies in tests/fixtures/{real-mlc,spec} and their provenance. The tests read only these
// copies: a plain clone has no ../shared. Whether the copies still equal ../shared is checked by
// `tools/sync_fixtures.ts --check`, which .ci/run runs where ../shared exists (not a test: the suite
// needs no ../shared).
import { assertEquals, assertOk } from "./_assert.ts";
import { checkFixtures, VENDORED, vendoredPath } from "../tools/sync_fixtures.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);

Deno.test("tests/fixtures: every verbatim real-MLC file has the bytes and sha256 its SOURCE.md gives", async () => {
  const sets = VENDORED.filter((p) => p.endsWith("/SOURCE.md"));
  let checked = 0;
  for (const source of sets) {
    const dir = new URL(vendoredPath(source).replace(/SOURCE\.md$/, ""), FIXTURES);
    const table = (await Deno.readTextFile(new URL("SOURCE.md", dir))).split("\n")
      .filter((l) => l.startsWith("| ") && !l.startsWith("| file here"))
      .map((l) => l.split("|").map((c) => c.trim()));
    for (const row of table) {
      // | file here | repository | path | read at | last changed | git blob | bytes | sha256… |
      const [file, bytes, sha] = [row[1], row[row.length - 3], row[row.length - 2].replace(/…$/, "")];
      let data: Uint8Array<ArrayBuffer>;
      try {
        data = await Deno.readFile(new URL(file, dir));
      } catch {
        continue; // (a file of the set that is not vendored: logs, reference copies)
      }
      const hex = [...new Uint8Array(await crypto.subtle.digest("SHA-256", data))]
        .map((x) => x.toString(16).padStart(2, "0")).join("");
      assertEquals([data.length, hex.slice(0, sha.length)], [Number(bytes), sha], `${source}: ${file}`);
      checked++;
    }
  }
  assertEquals(checked, 23); // the verbatim files vendored (the rest are written here, SOURCE.md says how)
});

Deno.test("tests/fixtures: every vendored file is present (the tests need no ../shared)", async () => {
  for (const rel of VENDORED) {
    const st = await Deno.stat(new URL(`./fixtures/${vendoredPath(rel)}`, import.meta.url));
    assertOk(st.isFile && st.size > 0, rel);
  }
  assertEquals(vendoredPath("fixtures/real-mlc/INDEX.md"), "real-mlc/INDEX.md");
  assertEquals(vendoredPath("spec/conv_templates.json"), "spec/conv_templates.json");
});

Deno.test("sync_fixtures --check: a changed copy and an unlisted file are reported", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const shared = `${dir}/shared/`;
    const fixtures = `${dir}/fixtures/`;
    const rel = VENDORED[1];
    for (
      const [root, path, text] of [
        [shared, rel, "a"],
        [fixtures, vendoredPath(rel), "b"],
        [fixtures, "real-mlc/extra.json", "{}"],
      ]
    ) {
      await Deno.mkdir(`${root}${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.writeTextFile(`${root}${path}`, text);
    }
    const problems = await checkFixtures(shared, fixtures);
    assertOk(problems.includes(`${rel}: tests/fixtures/ copy differs from ${shared}`), problems.join("\n"));
    assertOk(
      problems.includes("real-mlc/extra.json: in tests/fixtures/ but not listed in tools/sync_fixtures.ts"),
    );
    assertOk(problems.includes(`${VENDORED[0]}: missing in ${shared}`));
    assertEquals(problems.length, VENDORED.length + 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
