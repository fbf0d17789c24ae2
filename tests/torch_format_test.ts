// The PyTorch reader (src/formats/): what real torch.save files hold (storage offsets, strided
// views, shared storages, None keys), reads of every tensor against the safetensors twins, and
// refusals: hostile pickles (dangerous globals by every opcode that names one, __reduce__
// gadgets through allowlisted names, persistent ids that are not storages, recursion bombs,
// truncated streams), malformed archives (entries outside the archive, lying sizes, compressed
// entries), big-endian and legacy files. Nothing in a checkpoint is ever run: the payloads
// would create a marker file, and the tests check that it does not exist.
import { assertEquals, assertOk } from "./_assert.ts";
import { openCheckpoint } from "../src/checkpoint.ts";
import { readStrided } from "../src/formats/strided.ts";
import { readTorchCheckpoint } from "../src/formats/torch.ts";
import { denoSource, openRandomAccess } from "../src/io/deno_fs.ts";
import { memorySource } from "../src/io/memory.ts";
import {
  encodeStateDictPickle,
  encodeStoredZip,
  zipBytes,
  type ZipRecord,
} from "../src/testing/torch_writer.ts";

const FIX = new URL("./fixtures/torch/", import.meta.url).pathname;
const enc = (s: string) => new TextEncoder().encode(s);
/** Bytes of strings (a byte a character: "\x85" is the opcode byte 0x85), arrays and byte arrays. */
const cat = (...parts: (Uint8Array | string | number[])[]) => {
  const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const bs = parts.map((p) =>
    typeof p === "string" ? latin1(p) : p instanceof Uint8Array ? p : new Uint8Array(p)
  );
  const out = new Uint8Array(bs.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const b of bs) {
    out.set(b, o);
    o += b.length;
  }
  return out;
};

/** Reads `bytes` as a PyTorch file named `name`; resolves to the error message, or "" when read. */
async function refusal(bytes: Uint8Array, name = "m/pytorch_model.bin"): Promise<string> {
  const f = await memorySource({ [name]: bytes }).open(name);
  return await readTorchCheckpoint(f, name).then(() => "", (e) => e.message);
}

/** A torch.save archive holding `pkl` and storages `data/<key>`. */
function archive(
  pkl: Uint8Array,
  storages: Record<string, Uint8Array> = {},
  extra: ZipRecord[] = [],
): Uint8Array {
  return zipBytes(encodeStoredZip([
    { name: "archive/data.pkl", data: pkl },
    ...Object.entries(storages).map(([k, data]) => ({ name: `archive/data/${k}`, data })),
    ...extra,
  ]));
}

const ONE = {
  name: "w",
  storageClass: "HalfStorage",
  key: "0",
  numel: 4,
  offset: 0,
  shape: [2, 2],
  stride: [2, 1],
};
const VALID = archive(encodeStateDictPickle([ONE]), { "0": new Uint8Array(8) });

Deno.test("torch reader: views of real torch.save files (offsets, strides, shared storage, None)", async () => {
  const path = `${FIX}views/torch/pytorch_model.bin`;
  const f = await openRandomAccess(path);
  const c = await readTorchCheckpoint(f, path);
  f.close();
  const by = new Map(c.entries.map((e) => [e.name, e]));
  const l0 = "model.layers.0.";
  // q, k, v: row slices of one storage (k starts 32 x 32 bf16 elements after q)
  assertEquals(
    by.get(`${l0}self_attn.k_proj.weight`)!.offset - by.get(`${l0}self_attn.q_proj.weight`)!.offset,
    2048,
  );
  assertEquals(
    by.get(`${l0}self_attn.v_proj.weight`)!.offset - by.get(`${l0}self_attn.k_proj.weight`)!.offset,
    1024,
  );
  assertEquals(
    by.get(`${l0}mlp.up_proj.weight`)!.offset - by.get(`${l0}mlp.gate_proj.weight`)!.offset,
    48 * 32 * 2,
  );
  // a transposed view and a column-strided one keep their strides; contiguous ones have none
  assertEquals(by.get(`${l0}self_attn.o_proj.weight`)!.strides, [1, 32]);
  assertEquals(by.get(`${l0}mlp.down_proj.weight`)!.strides, [96, 2]);
  assertEquals(by.get(`${l0}self_attn.q_proj.weight`)!.strides, undefined);
  // tied: one storage
  assertEquals(by.get("lm_head.weight")!.offset, by.get("model.embed_tokens.weight")!.offset);
  assertEquals(c.skipped, ["model.rotary_emb.inv_freq"]);
  assertEquals(c.entries.length, 21);
  assertEquals(c.entries[0].name, `${l0}self_attn.q_proj.weight`); // pickled order
  assertEquals(by.get("model.norm.weight")!.stDtype, "BF16");
});

Deno.test("torch reader: every tensor reads the bytes of its safetensors twin, whole and in odd ranges", async () => {
  for (const c of ["bf16", "f16-sharded", "f32", "views"]) {
    const torchIndex = c === "f16-sharded" ? "pytorch_model.bin.index.json" : "pytorch_model.bin";
    const t = await openCheckpoint(denoSource(), `${FIX}${c}/torch/${torchIndex}`);
    const s = await openCheckpoint(denoSource(), `${FIX}${c}/safetensors/model.safetensors.index.json`);
    assertEquals(t.order, s.order);
    for (const name of s.order) {
      const n = s.tensors.get(name)!.nbytes;
      assertEquals(t.tensors.get(name)!.nbytes, n);
      const a = new Uint8Array(n), b = new Uint8Array(n);
      await t.read(name, 0, a);
      await s.read(name, 0, b);
      assertOk(a.every((v, i) => v === b[i]), `${c}: ${name}`);
      // part of a row, then a range across rows
      for (const [start, len] of [[2, 4], [n / 2 - 6, 12]]) {
        const part = new Uint8Array(len);
        await t.read(name, start, part);
        assertOk(part.every((v, i) => v === b[start + i]), `${c}: ${name} [${start}, +${len})`);
      }
    }
    t.close();
    s.close();
  }
});

Deno.test("strided reads: far runs are read one by one, near ones in shared windows", async () => {
  // a 3000 x 4 u16 matrix stored transposed (4 x 3000): rows 10..20 are 4 runs 6000 bytes apart
  const rows = 3000, cols = 4;
  const data = new Uint8Array(rows * cols * 2);
  const dv = new DataView(data.buffer);
  for (let c = 0; c < cols; c++) {
    for (let r = 0; r < rows; r++) dv.setUint16((c * rows + r) * 2, r * 10 + c, true);
  }
  const reads: number[] = [];
  const file = {
    size: data.length,
    close() {},
    readAt(o: number, b: Uint8Array) {
      reads.push(b.length);
      b.set(data.subarray(o, o + b.length));
      return Promise.resolve();
    },
  };
  const t = { offset: 0, shape: [rows, cols], strides: [1, rows], item: 2 };
  const out = new Uint8Array(10 * cols * 2);
  await readStrided(file, t, 10 * cols * 2, out);
  const got = new DataView(out.buffer);
  for (let r = 0; r < 10; r++) {
    for (let c = 0; c < cols; c++) assertEquals(got.getUint16((r * cols + c) * 2, true), (r + 10) * 10 + c);
  }
  assertEquals(reads, [20, 20, 20, 20]);
  // all rows: the runs touch, one window
  reads.length = 0;
  const all = new Uint8Array(data.length);
  await readStrided(file, t, 0, all);
  assertEquals(reads, [data.length]);
});

Deno.test("hostile: real torch.save files whose pickle names posix.system / builtins.eval are refused, nothing runs", async () => {
  const marker = "/tmp/mlc-convert-torch-fixture-pwned"; // what make_fixtures.py's payloads would touch
  await Deno.remove(marker).catch(() => {});
  for (const [file, global] of [["system.bin", "posix.system"], ["eval.bin", "__builtin__.eval"]]) {
    const path = `${FIX}hostile/${file}`;
    const f = await openRandomAccess(path);
    const msg = await readTorchCheckpoint(f, path).then(() => "", (e) => e.message);
    f.close();
    const stem = file.replace(".bin", "");
    assertEquals(
      msg,
      `${path}: ${stem}/data.pkl: refuses global ${global}: a state dict needs only collections.OrderedDict, ` +
        "torch._utils' rebuild functions, torch storage classes and dtypes (nothing is imported or run)",
    );
  }
  assertEquals(await Deno.stat(marker).then(() => true, () => false), false);
});

Deno.test("hostile: dangerous globals by GLOBAL, STACK_GLOBAL, INST and through __reduce__ gadgets", async () => {
  const dir = await Deno.makeTempDir();
  const marker = `${dir}/pwned`;
  const cmd = `touch ${marker}`;
  const str = (s: string) => cat([0x58], new Uint8Array(new Uint32Array([enc(s).length]).buffer), s);
  const cases: [string, Uint8Array, string][] = [
    [
      "GLOBAL posix.system + REDUCE",
      cat("cposix\nsystem\n(", str(cmd), "tR."),
      "refuses global posix.system",
    ],
    ["GLOBAL os.system (protocol 0)", cat(`cos\nsystem\n(S'${cmd}'\ntR.`), "refuses global os.system"],
    [
      "STACK_GLOBAL builtins.eval (protocol 4)",
      cat(
        [0x80, 4, 0x8c, 8],
        "builtins",
        [0x8c, 4],
        "eval",
        [0x93],
        str(`__import__('os').system('${cmd}')`),
        [0x85, 0x52, 0x2e],
      ),
      "refuses global builtins.eval",
    ],
    ["INST subprocess.Popen", cat("(", str(cmd), "isubprocess\nPopen\n."), "refuses global subprocess.Popen"],
    ["GLOBAL builtins.getattr", cat("cbuiltins\ngetattr\n."), "refuses global builtins.getattr"],
    ["GLOBAL torch.load (not on the list)", cat("ctorch\nload\n."), "refuses global torch.load"],
    // gadgets through allowed names
    [
      "REDUCE of a non-global (a string called)",
      cat([0x80, 2], str("os.system"), [0x29, 0x52, 0x2e]),
      'REDUCE of str "os.system" is not allowed (only allowlisted globals are called)',
    ],
    [
      "a storage class called",
      cat("ctorch\nFloatStorage\n)R."),
      "calling torch.FloatStorage is not allowed (only collections.OrderedDict and the rebuild functions)",
    ],
    [
      "OrderedDict called with arguments",
      cat("ccollections\nOrderedDict\n(", str(cmd), "tR."),
      "collections.OrderedDict called with arguments",
    ],
    [
      "_rebuild_tensor_v2 on a string",
      cat("ctorch._utils\n_rebuild_tensor_v2\n(", str("os.system"), "K\x00)))\x89NtR."),
      'torch._utils._rebuild_tensor_v2 called on str "os.system", not a storage',
    ],
    ["BUILD of a list", cat("]}b."), "BUILD of list of 0 with builtins.dict of 0 is not allowed"],
    [
      "persistent id that is not a storage",
      cat("(", str("module"), str("os"), "tQ."),
      "persistent id tuple of 2 is not a storage reference",
    ],
    ["text persistent id", cat("Pos.system\n."), 'persistent id str "os.system" is not a storage reference'],
    [
      "extension registry",
      cat([0x80, 2, 0x82, 1, 0x2e]),
      "extension-registry opcode 0x82 at byte 2 is not allowed",
    ],
  ];
  try {
    const why = ": a state dict needs only collections.OrderedDict, torch._utils' rebuild functions, " +
      "torch storage classes and dtypes (nothing is imported or run)";
    for (const [what, pkl, expected] of cases) {
      const msg = await refusal(archive(pkl));
      const full = expected.startsWith("refuses global") ? expected + why : expected;
      assertEquals(msg, `m/pytorch_model.bin: archive/data.pkl: ${full}`, what);
    }
    assertEquals(await Deno.stat(marker).then(() => true, () => false), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostile: recursion bombs, truncated and malformed streams are refused with limits named", async () => {
  const cases: [string, Uint8Array, string][] = [
    ["100000 open MARKs", cat("(".repeat(100000), "N."), "more than 1000 open MARKs (at byte 1000)"],
    [
      "lists nested 200 deep",
      cat("]".repeat(200), "a".repeat(199), "."),
      "values nested more than 100 levels deep (opcode 0x61 at byte 299)",
    ],
    [
      "a tuple nesting bomb",
      cat("N", "\x85".repeat(150), "."),
      "values nested more than 100 levels deep (opcode 0x85 at byte 101)",
    ],
    [
      "truncated (no STOP)",
      encodeStateDictPickle([ONE]).slice(0, -1),
      "the stream ends at byte 165 without STOP (truncated)",
    ],
    [
      "truncated inside an opcode",
      encodeStateDictPickle([ONE]).slice(0, 33),
      "the stream ends inside an opcode (needs 4 bytes at byte 31)",
    ],
    [
      "BINUNICODE longer than the stream",
      cat([0x58, 0xff, 0xff, 0xff, 0x7f], "x."),
      "the stream ends inside an opcode (needs 2147483647 bytes at byte 5)",
    ],
    ["memo read never stored", cat("h\x07."), "opcode 0x68 at byte 0 reads memo 7, which was never stored"],
    ["unknown opcode", cat("\xff"), "unknown opcode 0xff at byte 0"],
    ["POP of an empty stack", cat("0."), "opcode 0x30 at byte 0 pops an empty stack"],
    ["values left at STOP", cat("NN."), "STOP at byte 2 leaves 1 values and 0 marks behind"],
    ["not a dict", cat("]."), "the pickle holds list of 0, not a state dict"],
    [
      "a non-tensor value",
      cat("}(X\x01\x00\x00\x00wK\x05u."),
      'key "w" holds int 5, not a tensor (MLC reads a flat state dict of tensors)',
    ],
  ];
  for (const [what, pkl, expected] of cases) {
    const msg = await refusal(archive(pkl, { "0": new Uint8Array(8) }));
    assertEquals(msg, `m/pytorch_model.bin: archive/data.pkl: ${expected}`, what);
  }
});

Deno.test("hostile: archives with entries outside, lying sizes, compression, big-endian, legacy", async () => {
  const p = "m/pytorch_model.bin";
  assertEquals(await refusal(VALID), "");
  const centralAt = (bytes: Uint8Array, name: string) => {
    const n = enc(name);
    for (let i = 0; i < bytes.length - 46; i++) {
      const dv = new DataView(bytes.buffer, i);
      if (dv.getUint32(0, true) === 0x02014b50 && dv.getUint16(28, true) === n.length) {
        if (n.every((b, j) => bytes[i + 46 + j] === b)) return i;
      }
    }
    throw new Error(`no central entry ${name}`);
  };
  const patched = (name: string, field: number, value: number) => {
    const b = VALID.slice();
    new DataView(b.buffer).setUint32(centralAt(b, name) + field, value, true);
    return b;
  };
  // local header offset beyond the data area
  assertEquals(
    await refusal(patched("archive/data/0", 42, 0x7fff0000)),
    `${p}: entry archive/data/0: local header offset 2147418112 points outside the archive's data`,
  );
  // both sizes say 4096: the entry runs past the archive's data
  const big = patched("archive/data/0", 20, 4096);
  new DataView(big.buffer).setUint32(centralAt(big, "archive/data/0") + 24, 4096, true);
  const msg = await refusal(big);
  assertOk(
    /^m\/pytorch_model\.bin: entry archive\/data\/0: its 4096 bytes at offset \d+ run past the archive's data/
      .test(msg),
    msg,
  );
  // sizes that disagree
  assertEquals(
    await refusal(patched("archive/data/0", 20, 9)),
    `${p}: entry archive/data/0: stored size 9 differs from its size 8`,
  );
  // a storage claiming more elements than its entry holds
  assertEquals(
    await refusal(archive(encodeStateDictPickle([{ ...ONE, numel: 400 }]), { "0": new Uint8Array(8) })),
    `${p}: archive/data.pkl: storage 0: 400 x F16 elements need 800 bytes, but its entry holds 8`,
  );
  // a view past its storage
  assertEquals(
    await refusal(archive(encodeStateDictPickle([{ ...ONE, offset: 1 }]), { "0": new Uint8Array(8) })),
    `${p}: archive/data.pkl: tensor w: view (offset 1, size [2,2], stride [2,1]) reaches element 4 of storage 0, which has 4`,
  );
  // a storage record that does not exist
  assertEquals(
    await refusal(archive(encodeStateDictPickle([ONE]))),
    `${p}: archive/data.pkl: storage 0: the archive has no entry archive/data/0`,
  );
  // compressed (deflate) entry
  const deflated = VALID.slice();
  new DataView(deflated.buffer).setUint16(centralAt(deflated, "archive/data/0") + 10, 8, true);
  assertEquals(
    await refusal(deflated),
    `${p}: entry archive/data/0 is compressed (method 8); torch.save stores entries uncompressed`,
  );
  // no end record (truncated file)
  assertEquals(
    await refusal(VALID.slice(0, VALID.length - 30)),
    `${p}: no zip end-of-central-directory record: the file is truncated or not a zip archive`,
  );
  // big-endian
  assertEquals(
    await refusal(
      archive(encodeStateDictPickle([ONE]), { "0": new Uint8Array(8) }, [{
        name: "archive/byteorder",
        data: enc("big"),
      }]),
    ),
    `${p}: saved on a big-endian machine (byteorder 'big'); its tensors would need byte swapping, which is not ` +
      "supported: re-save it on a little-endian machine or convert it to safetensors",
  );
  // not a torch.save archive
  assertEquals(
    await refusal(zipBytes(encodeStoredZip([{ name: "x.txt", data: enc("hi") }]))),
    `${p}: the zip archive has no <name>/data.pkl record: it is not a torch.save checkpoint`,
  );
  assertEquals(
    await refusal(enc('{"w": 1}'.padEnd(600))),
    `${p}: not a PyTorch checkpoint: torch.save writes a zip archive, and this file does not start with one`,
  );
  // the legacy format, written by real torch.save(..., _use_new_zipfile_serialization=False)
  const legacy = await Deno.readFile(`${FIX}hostile/legacy.bin`);
  assertEquals(
    await refusal(legacy),
    `${p}: this is PyTorch's legacy serialization format (torch.save before torch 1.6, or ` +
      "_use_new_zipfile_serialization=False), which is not read here. Re-save it with a newer torch " +
      "(torch.save(torch.load(path), path)) or convert it to safetensors",
  );
});
