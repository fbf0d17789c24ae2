// The zip output of the browser stores (src/browser/zip.ts): stored entries with data
// descriptors, files opened while another streams held back and written after it, the same
// bytes into memory or into a sink, CRC-32 (zip's check value), and unfinished files refused.
import { assertEquals, assertRejects } from "./_assert.ts";
import { unzip } from "./_zip.ts";
import { crc32 } from "../src/crc32.ts";
import { zipOutput } from "../src/browser/zip.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Two files written interleaved (b opened while a streams), then a text file. */
async function fill(out: ReturnType<typeof zipOutput>): Promise<void> {
  const a = await out.create("params_shard_0.bin");
  const b = await out.create("params_shard_1.bin");
  await a.write(enc("aaa"));
  await b.write(enc("bb"));
  const reused = enc("AA");
  await a.write(reused);
  reused.fill(0); // (the caller may reuse a chunk once write resolves)
  await b.write(enc("BB"));
  await b.close(); // (b is complete before a: held back until a ends)
  await a.close();
  await out.writeTextFile("tensor-cache.json", "{}");
}

Deno.test("zip output: interleaved files come out whole, in creation order, with CRC and descriptors", async () => {
  assertEquals(crc32(0, enc("123456789")), 0xcbf43926); // the CRC-32 check value
  assertEquals(crc32(crc32(0, enc("1234")), enc("56789")), 0xcbf43926);
  const out = zipOutput();
  await fill(out);
  const zip = new Uint8Array(await (await out.finish())!.arrayBuffer());
  const files = unzip(zip);
  assertEquals([...files.keys()], ["params_shard_0.bin", "params_shard_1.bin", "tensor-cache.json"]);
  assertEquals([...files.values()].map(dec), ["aaaAA", "bbBB", "{}"]);
  assertEquals(out.names, [...files.keys()]);
  // 3 entries: local header 30 + name + data + descriptor 16, central 46 + name, end 22
  const names = 18 + 18 + 17;
  assertEquals(zip.length, 3 * (30 + 16 + 46) + 2 * names + 5 + 4 + 2 + 22);
});

Deno.test("zip output: a sink receives the same bytes; an unclosed file is refused at finish", async () => {
  const mem = zipOutput();
  await fill(mem);
  const want = new Uint8Array(await (await mem.finish())!.arrayBuffer());
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let closed = false;
  const streamed = zipOutput({
    write: (c) => Promise.resolve(void chunks.push(c)),
    close: () => Promise.resolve(void (closed = true)),
  });
  await fill(streamed);
  assertEquals(await streamed.finish(), undefined);
  assertEquals(closed, true);
  assertEquals(new Uint8Array(await new Blob(chunks).arrayBuffer()), want);

  const open = zipOutput();
  await open.create("params_shard_0.bin");
  await assertRejects(() => open.finish(), /params_shard_0.bin was never closed/);
});
