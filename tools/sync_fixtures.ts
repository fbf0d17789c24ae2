// Copies the real-MLC fixtures and the template data the tests read from the shared folder
// (../shared beside the repository) into tests/fixtures/, so the tests run in a plain clone.
//
//   deno run --allow-read --allow-write tools/sync_fixtures.ts           # copy (overwrite) the listed files
//   deno run --allow-read tools/sync_fixtures.ts --check                 # exit 1 if a copy differs or is extra
//   ... tools/sync_fixtures.ts [--check] --shared DIR                    # another shared folder
//
// .ci/run runs the check where ../shared exists (no test reads ../shared: a plain clone has none).

/** Files copied, relative to the shared folder (tests/fixtures/ drops the leading `fixtures/`). */
export const VENDORED: readonly string[] = [
  "fixtures/real-mlc/INDEX.md",
  ...set(
    "gemma-2b-it-q4f16_1",
    "hf-config.json",
    "mlc-chat-config.json",
    "ndarray-cache.json",
    "tokenizer_config.json",
  ),
  ...set(
    "gemma3-4b-it-q0bf16",
    "added_tokens.json",
    "hf-config.json",
    "mlc-chat-config.json",
    "tokenizer_config.json",
  ),
  ...set(
    "llama3-8b-instruct-q4f16_1",
    "hf-config.json",
    "mlc-chat-config.json",
    "ndarray-cache.unpartitioned.json",
    "tokenizer_config.json",
  ),
  ...set("mistral-7b-instruct-v0.3-config-only", "hf-config.json", "mlc-chat-config.json"),
  ...set("phi-msft-phi2-template-q4f16_1", "hf-config.json", "mlc-chat-config.json", "ndarray-cache.json"),
  ...set(
    "phi3-mini-128k-instruct-q4f16_1",
    "added_tokens.json",
    "hf-config.json",
    "mlc-chat-config.json",
    "ndarray-cache.json",
    "tokenizer_config.json",
  ),
  ...set(
    "qwen2-0.5b-medchat-q4f16_1",
    "added_tokens.json",
    "hf-config.json",
    "mlc-chat-config.json",
    "tensor-cache.json",
    "tokenizer_config.json",
  ),
  ...set(
    "smollm2-135m-instruct-q0f16",
    "hf-config.json",
    "mlc-chat-config.json",
    "ndarray-cache.json",
    "tensor-cache.json",
    "tokenizer_config.json",
  ),
  "spec/conv_templates.json",
];

function set(name: string, ...files: string[]): string[] {
  // SOURCE.md gives the provenance (repository, commit, sha256) of every file of the set.
  return ["SOURCE.md", ...files].map((f) => `fixtures/real-mlc/${name}/${f}`);
}

/** The repository's tests/fixtures/ folder. */
export const FIXTURES_DIR: string = new URL("../tests/fixtures/", import.meta.url).pathname;
/** The default shared folder: ../shared beside the repository. */
export const SHARED_DIR: string = new URL("../../shared/", import.meta.url).pathname;

async function readOrNull(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Where a VENDORED file lies under tests/fixtures/. */
export function vendoredPath(rel: string): string {
  return rel.replace(/^fixtures\//, "");
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function listFiles(dir: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const rel = `${prefix}${e.name}`;
      if (e.isDirectory) out.push(...await listFiles(`${dir}/${e.name}`, `${rel}/`));
      else out.push(rel);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out;
}

/**
 * Compares the vendored copies with the shared folder: one line per file that is missing, differs,
 * or sits in tests/fixtures/{real-mlc,spec}/ without being listed in VENDORED.
 */
export async function checkFixtures(shared = SHARED_DIR, fixtures = FIXTURES_DIR): Promise<string[]> {
  const problems: string[] = [];
  for (const rel of VENDORED) {
    const src = await readOrNull(`${shared}${rel}`);
    const copy = await readOrNull(`${fixtures}${vendoredPath(rel)}`);
    if (src === null) problems.push(`${rel}: missing in ${shared}`);
    else if (copy === null) problems.push(`${rel}: not copied to tests/fixtures/`);
    else if (!sameBytes(src, copy)) problems.push(`${rel}: tests/fixtures/ copy differs from ${shared}`);
  }
  const listed = new Set(VENDORED.map(vendoredPath));
  for (const top of ["real-mlc", "spec"]) {
    for (const rel of await listFiles(`${fixtures}${top}`, `${top}/`)) {
      if (!listed.has(rel)) {
        problems.push(`${rel}: in tests/fixtures/ but not listed in tools/sync_fixtures.ts`);
      }
    }
  }
  return problems;
}

/** Copies every VENDORED file from the shared folder into tests/fixtures/. */
export async function syncFixtures(shared = SHARED_DIR, fixtures = FIXTURES_DIR): Promise<number> {
  let bytes = 0;
  for (const rel of VENDORED) {
    const data = await Deno.readFile(`${shared}${rel}`);
    const dest = `${fixtures}${vendoredPath(rel)}`;
    await Deno.mkdir(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(dest, data);
    bytes += data.length;
  }
  return bytes;
}

if (import.meta.main) {
  const args = [...Deno.args];
  const check = args.includes("--check");
  const i = args.indexOf("--shared");
  const shared = i >= 0 ? args[i + 1].replace(/\/?$/, "/") : SHARED_DIR;
  if (check) {
    const problems = await checkFixtures(shared);
    for (const p of problems) console.error(`sync_fixtures: ${p}`);
    if (problems.length) {
      console.error("sync_fixtures: run `deno run --allow-read --allow-write tools/sync_fixtures.ts`");
      Deno.exit(1);
    }
    console.error(`sync_fixtures: ${VENDORED.length} files in tests/fixtures/ match ${shared}`);
  } else {
    const bytes = await syncFixtures(shared);
    console.error(`sync_fixtures: copied ${VENDORED.length} files (${bytes} bytes) from ${shared}`);
  }
}
