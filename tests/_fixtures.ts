// Helpers for tests that reproduce the real MLC outputs in tests/fixtures/real-mlc (copies of
// ../shared/fixtures/real-mlc kept in sync by tools/sync_fixtures.ts; SOURCE.md in each set gives
// the provenance of every file).
import { assertEquals } from "./_assert.ts";
import type { TensorCache } from "../src/cache_json.ts";
import type { ConversionPlan } from "../src/plan.ts";
import type { OutputStore } from "../src/io/types.ts";

/** Root of the real MLC fixtures. */
export const FIXTURES = new URL("./fixtures/real-mlc/", import.meta.url).pathname;

/** Reads a fixture cache JSON (as parsed JSON). */
export async function readFixtureCache(set: string, file = "tensor-cache.json"): Promise<TensorCache> {
  return JSON.parse(await Deno.readTextFile(`${FIXTURES}${set}/${file}`));
}

/** The cache a plan predicts (records without md5), in the fixture's JSON shape. */
export function planAsCache(plan: ConversionPlan): TensorCache {
  return {
    metadata: { ParamSize: plan.paramSize, ParamBytes: plan.paramBytes, BitsPerParam: plan.bitsPerParam },
    records: plan.shardSizes.map((n, i) => ({
      dataPath: `params_shard_${i}.bin`,
      format: "raw-shard" as const,
      nbytes: n,
      records: plan.outputs.filter((o) => o.shard === i).map((o) => ({
        name: o.name,
        shape: [...o.shape],
        dtype: o.dtype,
        format: "f32-to-bf16",
        nbytes: o.nbytes,
        byteOffset: o.byteOffset,
      })),
      md5sum: "",
    })),
  };
}

/** Asserts equality of everything but md5 sums: records, shard layout and metadata. */
export function assertCacheMatches(actual: TensorCache, expected: TensorCache): void {
  const strip = (c: TensorCache) => ({
    metadata: c.metadata,
    records: c.records.map((s) => ({ ...s, md5sum: undefined })),
  });
  const a = strip(actual);
  const e = strip(expected);
  assertEquals(a.records.length, e.records.length, "number of shards");
  for (let i = 0; i < e.records.length; i++) {
    assertEquals(
      a.records[i].records.map((r) => r.name),
      e.records[i].records.map((r) => r.name),
      `shard ${i} names`,
    );
    assertEquals(a.records[i], e.records[i], `shard ${i}`);
  }
  assertEquals(a.metadata, e.metadata, "metadata");
}

/** An OutputStore that keeps only the sizes of shard files (the writer hashes the bytes itself). */
export function discardOutput(): OutputStore & { sizes: Map<string, number>; texts: Map<string, string> } {
  const sizes = new Map<string, number>();
  const texts = new Map<string, string>();
  return {
    sizes,
    texts,
    create(name) {
      let n = 0;
      return Promise.resolve({
        write(chunk: Uint8Array) {
          n += chunk.length;
          return Promise.resolve();
        },
        close() {
          sizes.set(name, n);
          return Promise.resolve();
        },
      });
    },
    writeTextFile(name, text) {
      texts.set(name, text);
      return Promise.resolve();
    },
  };
}
