/**
 * PyTorch checkpoints (`pytorch_model.bin`, the zip format `torch.save` writes since torch
 * 1.6) read without PyTorch and without running anything: the zip's central directory gives
 * each stored entry's byte range, and `data.pkl` is interpreted by a small pickle machine
 * ({@link unpickle}) whose globals are an allowlist: `collections.OrderedDict`, the tensor
 * and parameter rebuild functions of `torch._utils`, the storage classes and the dtypes.
 * Each tensor becomes a byte range of its storage entry (storage offset, shape and element
 * strides), read on demand like a safetensors tensor. Several tensors may share one storage
 * (tied weights, or views of one fused tensor).
 *
 * @module
 */
import type { RandomAccessFile } from "../io/types.ts";
import { describePy, PickleError, type PyDict, type PyGlobal, type PyValue, unpickle } from "./_pickle.ts";
import { readZipEntries, type ZipEntry, ZipError } from "./_zip.ts";

/** One tensor of a PyTorch checkpoint, as a range of the file. */
export interface TorchTensorEntry {
  /** Key in the state dict. */
  readonly name: string;
  /** Dtype, by its safetensors name (`F16`, `BF16`, `F32`, `I64`, ...). */
  readonly stDtype: string;
  /** Shape. */
  readonly shape: readonly number[];
  /** Absolute file offset of element `[0, ..., 0]`. */
  readonly offset: number;
  /** Bytes of the tensor's elements (`numel x item size`). */
  readonly nbytes: number;
  /**
   * Element strides, present only when the tensor is not contiguous (a transposed or strided
   * view): element `idx` lies at `offset + sum(idx[d] * strides[d]) * item`.
   */
  readonly strides?: readonly number[];
}

/** What {@link readTorchCheckpoint} found. */
export interface TorchCheckpoint {
  /** Tensors in the state dict's (pickled) order. */
  readonly entries: readonly TorchTensorEntry[];
  /** Keys whose value is `None` (MLC's loader skips them with a warning). */
  readonly skipped: readonly string[];
}

/** Error for a PyTorch checkpoint that is refused; names the file. */
export class TorchCheckpointError extends Error {
  /** Creates the error. */
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = "TorchCheckpointError";
  }
}

/** Storage classes (as `torch.save` names them) and their dtypes with item sizes. */
const STORAGES: Readonly<Record<string, readonly [string, number]>> = {
  HalfStorage: ["F16", 2],
  BFloat16Storage: ["BF16", 2],
  FloatStorage: ["F32", 4],
  DoubleStorage: ["F64", 8],
  LongStorage: ["I64", 8],
  IntStorage: ["I32", 4],
  ShortStorage: ["I16", 2],
  CharStorage: ["I8", 1],
  ByteStorage: ["U8", 1],
  BoolStorage: ["BOOL", 1],
  UInt16Storage: ["U16", 2],
  UInt32Storage: ["U32", 4],
  UInt64Storage: ["U64", 8],
  Float8_e4m3fnStorage: ["F8_E4M3", 1],
  Float8_e5m2Storage: ["F8_E5M2", 1],
  UntypedStorage: ["U8", 1],
};

/** dtypes a pickle may name as values (never called). */
const DTYPES = [
  "float16",
  "bfloat16",
  "float32",
  "float64",
  "int64",
  "int32",
  "int16",
  "int8",
  "uint8",
  "bool",
  "float8_e4m3fn",
  "float8_e5m2",
];

/** The globals a checkpoint may name; anything else is refused. */
const ALLOWED = new Set<string>([
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state",
  ...Object.keys(STORAGES).map((s) => `torch.${s}`),
  ...DTYPES.map((d) => `torch.${d}`),
]);

/** Largest `data.pkl` accepted (a state dict of 100k tensors pickles to about 15 MB). */
const MAX_PICKLE_BYTES = 256 << 20;
/** torch's legacy (pre-1.6) magic number, pickled first as a LONG1: 0x1950a86a20f9469cfc6c. */
const LEGACY_MAGIC = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

interface Storage {
  readonly key: string;
  readonly stDtype: string;
  readonly item: number;
  readonly numel: number;
  readonly entry: ZipEntry;
}

interface TensorView {
  readonly storage: Storage;
  readonly storageOffset: number;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
}

const isObj = (v: PyValue, type: string): v is { kind: "object"; type: string; value: unknown } =>
  v !== null && typeof v === "object" && !(v instanceof Uint8Array) && v.kind === "object" && v.type === type;

function intsOf(v: PyValue, what: string): number[] {
  if (v === null || typeof v !== "object" || v instanceof Uint8Array || v.kind !== "tuple") {
    throw new PickleError(`${what} is ${describePy(v)}, not a tuple of integers`);
  }
  return v.items.map((x) => {
    if (typeof x !== "number" || !Number.isSafeInteger(x) || x < 0) {
      throw new PickleError(`${what} holds ${describePy(x)}, not a non-negative integer`);
    }
    return x;
  });
}

/** `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`. */
function rebuildTensor(args: readonly PyValue[]): PyValue {
  if (args.length !== 6 && args.length !== 7) {
    throw new PickleError(
      `torch._utils._rebuild_tensor_v2 called with ${args.length} arguments (expected 6 or 7)`,
    );
  }
  const [storage, offset, size, stride, requiresGrad, hooks] = args;
  if (!isObj(storage, "storage")) {
    throw new PickleError(`torch._utils._rebuild_tensor_v2 called on ${describePy(storage)}, not a storage`);
  }
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
    throw new PickleError(`tensor storage offset is ${describePy(offset)}`);
  }
  const shape = intsOf(size, "tensor size");
  const strides = intsOf(stride, "tensor stride");
  if (shape.length !== strides.length) {
    throw new PickleError(
      `tensor size (${shape.length} dims) and stride (${strides.length}) differ in length`,
    );
  }
  if (typeof requiresGrad !== "boolean") {
    throw new PickleError(`requires_grad is ${describePy(requiresGrad)}`);
  }
  if (
    hooks !== null &&
    (typeof hooks !== "object" || hooks instanceof Uint8Array || hooks.kind !== "dict" || hooks.entries.size)
  ) {
    throw new PickleError(`tensor with backward hooks (${describePy(hooks)}) is not supported`);
  }
  const view: TensorView = {
    storage: storage.value as Storage,
    storageOffset: offset,
    shape,
    stride: strides,
  };
  return { kind: "object", type: "tensor", value: view };
}

function callAllowed(fn: PyGlobal, args: readonly PyValue[]): PyValue {
  switch (fn.name) {
    case "collections.OrderedDict":
      if (args.length) throw new PickleError("collections.OrderedDict called with arguments");
      return { kind: "dict", type: "collections.OrderedDict", entries: new Map(), depth: 1 };
    case "torch._utils._rebuild_tensor_v2":
      return rebuildTensor(args);
    case "torch._utils._rebuild_parameter":
    case "torch._utils._rebuild_parameter_with_state":
      if (args.length < 1 || !isObj(args[0], "tensor")) {
        throw new PickleError(
          `${fn.name} called on ${args.length ? describePy(args[0]) : "nothing"}, not a tensor`,
        );
      }
      return args[0];
  }
  throw new PickleError(
    `calling ${fn.name} is not allowed (only collections.OrderedDict and the rebuild functions)`,
  );
}

/** The persistent id `('storage', storage_class, key, location, numel)` of a storage. */
function loadStorage(
  pid: PyValue,
  prefix: string,
  zip: ReadonlyMap<string, ZipEntry>,
  seen: Map<string, Storage>,
): PyValue {
  const items =
    pid !== null && typeof pid === "object" && !(pid instanceof Uint8Array) && pid.kind === "tuple"
      ? pid.items
      : undefined;
  if (!items || items[0] !== "storage" || items.length !== 5) {
    throw new PickleError(`persistent id ${describePy(pid)} is not a storage reference`);
  }
  const [, cls, key, location, numel] = items;
  const clsName =
    cls !== null && typeof cls === "object" && !(cls instanceof Uint8Array) && cls.kind === "global"
      ? cls.name
      : "";
  const dt = STORAGES[clsName.replace(/^torch\./, "")];
  if (!clsName.startsWith("torch.") || !dt) {
    throw new PickleError(`storage reference with class ${describePy(cls)}, not a storage class`);
  }
  if (typeof key !== "string" || typeof location !== "string") {
    throw new PickleError(
      `storage reference with key ${describePy(key)} and location ${describePy(location)}`,
    );
  }
  if (typeof numel !== "number" || !Number.isSafeInteger(numel) || numel < 0) {
    throw new PickleError(`storage ${key} has ${describePy(numel)} elements`);
  }
  const entry = zip.get(`${prefix}/data/${key}`);
  if (!entry) throw new PickleError(`storage ${key}: the archive has no entry ${prefix}/data/${key}`);
  if (entry.size !== numel * dt[1]) {
    throw new PickleError(
      `storage ${key}: ${numel} x ${dt[0]} elements need ${
        numel * dt[1]
      } bytes, but its entry holds ${entry.size}`,
    );
  }
  const prev = seen.get(key);
  if (prev && prev.stDtype !== dt[0]) {
    throw new PickleError(`storage ${key} is referenced as ${prev.stDtype} and as ${dt[0]}`);
  }
  const storage = prev ?? { key, stDtype: dt[0], item: dt[1], numel, entry };
  seen.set(key, storage);
  return { kind: "object", type: "storage", value: storage };
}

/** Checks a view against its storage and turns it into a file range (strides only when needed). */
function entryOf(name: string, v: TensorView): TorchTensorEntry {
  const s = v.storage;
  const exact = v.shape.reduce((a, b) => a * BigInt(b), 1n) * BigInt(s.item);
  if (exact > BigInt(Number.MAX_SAFE_INTEGER)) {
    // (a stride-0 view can claim any size over one element; the reference refuses such shapes too)
    throw new PickleError(
      `tensor ${name}: size [${v.shape}] x ${s.stDtype} is ${exact} bytes, beyond any checkpoint (past 2^53)`,
    );
  }
  const numel = v.shape.reduce((a, b) => a * b, 1);
  if (numel > 0) {
    const last = v.storageOffset + v.shape.reduce((a, d, i) => a + (d - 1) * v.stride[i], 0);
    if (last >= s.numel) {
      throw new PickleError(
        `tensor ${name}: view (offset ${v.storageOffset}, size [${v.shape}], stride [${v.stride}]) reaches ` +
          `element ${last} of storage ${s.key}, which has ${s.numel}`,
      );
    }
  }
  let expect = 1;
  let contiguous = true;
  for (let d = v.shape.length - 1; d >= 0; d--) {
    if (v.shape[d] !== 1 && v.stride[d] !== expect) contiguous = false;
    expect *= v.shape[d];
  }
  return {
    name,
    stDtype: s.stDtype,
    shape: [...v.shape],
    offset: s.entry.dataOffset + v.storageOffset * s.item,
    nbytes: numel * s.item,
    ...(contiguous || numel === 0 ? {} : { strides: [...v.stride] }),
  };
}

/** Says why a file that is not a zip archive is not read. */
function notZip(head: Uint8Array): string {
  const legacy = head[0] === 0x80 && LEGACY_MAGIC.every((b, i) => head[2 + i] === b);
  if (legacy) {
    return "this is PyTorch's legacy serialization format (torch.save before torch 1.6, or " +
      "_use_new_zipfile_serialization=False), which is not read here. Re-save it with a newer torch " +
      "(torch.save(torch.load(path), path)) or convert it to safetensors";
  }
  if (new TextDecoder().decode(head.subarray(257, 262)) === "ustar") {
    return "this is PyTorch's tar serialization format (torch 0.3 and older), which is not read here; " +
      "re-save it with a newer torch or convert it to safetensors";
  }
  if (head[0] === 0x80) return "this is a bare pickle, not a torch.save zip archive; it is not read";
  return "not a PyTorch checkpoint: torch.save writes a zip archive, and this file does not start with one";
}

/** The archive's record prefix: the folder holding `data.pkl` (`archive`, or the file's stem). */
function recordPrefix(zip: ReadonlyMap<string, ZipEntry>, path: string): string {
  const pkls = [...zip.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    throw new TorchCheckpointError(
      path,
      pkls.length
        ? `the archive holds ${pkls.length} data.pkl records (${pkls.join(", ")})`
        : "the zip archive has no <name>/data.pkl record: it is not a torch.save checkpoint",
    );
  }
  return pkls[0].slice(0, -"/data.pkl".length);
}

async function readEntry(file: RandomAccessFile, e: ZipEntry): Promise<Uint8Array> {
  const b = new Uint8Array(e.size);
  await file.readAt(e.dataOffset, b);
  return b;
}

/** Runs `data.pkl` with the allowlist and returns the state dict it builds. */
function stateDict(
  pkl: Uint8Array,
  prefix: string,
  zip: ReadonlyMap<string, ZipEntry>,
): PyDict {
  const seen = new Map<string, Storage>();
  const top = unpickle(pkl, {
    global(module, name) {
      const full = `${module}.${name}`;
      if (!ALLOWED.has(full)) {
        throw new PickleError(
          `refuses global ${full}: a state dict needs only collections.OrderedDict, torch._utils' rebuild ` +
            "functions, torch storage classes and dtypes (nothing is imported or run)",
        );
      }
      return { kind: "global", name: full };
    },
    call: callAllowed,
    persistentLoad: (pid) => loadStorage(pid, prefix, zip, seen),
    build(obj, state) {
      // OrderedDict attributes (state_dict()._metadata); nothing else is built
      const isDict = (v: PyValue) =>
        v !== null && typeof v === "object" && !(v instanceof Uint8Array) && v.kind === "dict";
      if (!isDict(obj) || !(state === null || isDict(state))) {
        throw new PickleError(`BUILD of ${describePy(obj)} with ${describePy(state)} is not allowed`);
      }
    },
  });
  if (top === null || typeof top !== "object" || top instanceof Uint8Array || top.kind !== "dict") {
    throw new PickleError(`the pickle holds ${describePy(top)}, not a state dict`);
  }
  return top;
}

/**
 * Reads a `torch.save` zip checkpoint: its state dict's tensors as file ranges, in pickled
 * order. Nothing is executed: any global outside the allowlist, a call or `BUILD` of
 * anything else, a persistent id that is not a storage, a malformed stream or archive, a
 * big-endian checkpoint or the legacy (pre-1.6) format is refused with a message naming the
 * file (and the global, key or entry).
 *
 * @example
 * ```ts ignore
 * import { readTorchCheckpoint } from "./torch.ts";
 * import { openRandomAccess } from "../io/deno_fs.ts";
 * const ckpt = await readTorchCheckpoint(await openRandomAccess("pytorch_model.bin"), "pytorch_model.bin");
 * console.log(ckpt.entries.map((e) => `${e.name} ${e.stDtype} [${e.shape}]`));
 * ```
 */
export async function readTorchCheckpoint(file: RandomAccessFile, path: string): Promise<TorchCheckpoint> {
  const head = new Uint8Array(Math.min(file.size, 512));
  await file.readAt(0, head);
  if (!(head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04)) {
    throw new TorchCheckpointError(path, notZip(head));
  }
  let zip: Map<string, ZipEntry>;
  try {
    zip = await readZipEntries(file, path);
  } catch (e) {
    if (e instanceof ZipError) throw new TorchCheckpointError(path, e.message.slice(path.length + 2));
    throw e;
  }
  const prefix = recordPrefix(zip, path);
  const order = zip.get(`${prefix}/byteorder`);
  if (order) {
    const text = new TextDecoder().decode(await readEntry(file, order)).trim();
    if (text === "big") {
      throw new TorchCheckpointError(
        path,
        "saved on a big-endian machine (byteorder 'big'); its tensors would need byte swapping, which is " +
          "not supported: re-save it on a little-endian machine or convert it to safetensors",
      );
    }
    if (text !== "little") {
      throw new TorchCheckpointError(path, `unknown byteorder record ${JSON.stringify(text)}`);
    }
  }
  const pklEntry = zip.get(`${prefix}/data.pkl`)!;
  if (pklEntry.size > MAX_PICKLE_BYTES) {
    throw new TorchCheckpointError(
      path,
      `${prefix}/data.pkl is ${pklEntry.size} bytes (limit ${MAX_PICKLE_BYTES})`,
    );
  }
  const pkl = await readEntry(file, pklEntry);
  try {
    const dict = stateDict(pkl, prefix, zip);
    const entries: TorchTensorEntry[] = [];
    const skipped: string[] = [];
    for (const [k, v] of dict.entries) {
      if (typeof k !== "string") {
        throw new PickleError(`the state dict has a key ${describePy(k)}, not a string`);
      }
      if (v === null) skipped.push(k);
      else if (isObj(v, "tensor")) entries.push(entryOf(k, v.value as TensorView));
      else {
        throw new PickleError(
          `key ${JSON.stringify(k)} holds ${
            describePy(v)
          }, not a tensor (MLC reads a flat state dict of tensors)`,
        );
      }
    }
    return { entries, skipped };
  } catch (e) {
    if (e instanceof PickleError) throw new TorchCheckpointError(path, `${prefix}/data.pkl: ${e.message}`);
    throw e;
  }
}
