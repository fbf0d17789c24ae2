// The vendored copies in tests/fixtures/{real-mlc,spec} equal the shared folder's files
// (tools/sync_fixtures.ts --check). Runs only where ../shared exists beside the repository: a plain
// clone has no shared folder, and the tests read the vendored copies.
import { assertEquals, assertOk } from "./_assert.ts";
import { checkFixtures, SHARED_DIR, VENDORED, vendoredPath } from "../tools/sync_fixtures.ts";

let hasShared = false;
try {
  hasShared = Deno.statSync(`${SHARED_DIR}fixtures/real-mlc`).isDirectory;
} catch { /* no ../shared: a plain clone */ }
if (!hasShared) console.log(`fixtures_sync_test: skipping the comparison (no ${SHARED_DIR})`);

Deno.test({
  name: "tests/fixtures: the vendored real-MLC fixtures and conv_templates.json equal ../shared" +
    (hasShared ? "" : " (SKIPPED: no ../shared beside the repository)"),
  ignore: !hasShared,
  async fn() {
    assertEquals(await checkFixtures(), []);
  },
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
