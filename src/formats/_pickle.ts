/**
 * A small pickle machine that only builds data: numbers, strings, bytes, tuples, lists and
 * dicts. Nothing is ever imported or executed. Every global the stream names (`GLOBAL`,
 * `STACK_GLOBAL`, `INST`) goes through {@link PickleHooks.global}, which refuses anything not
 * on its allowlist; calls (`REDUCE`, `NEWOBJ`), `BUILD` and persistent ids go through the
 * other hooks, which only know how to make what a checkpoint needs. The machine is
 * iterative (no recursion), and bounds its stack, its marks, its memo and the nesting of the
 * values it builds, so a hostile stream is refused with a message rather than exhausting
 * memory or the call stack.
 *
 * @module
 */

/** A Python tuple. */
export interface PyTuple {
  readonly kind: "tuple";
  readonly items: readonly PyValue[];
  /** Nesting depth of the value (1 for a tuple of scalars). */
  readonly depth: number;
}

/** A Python list. */
export interface PyList {
  readonly kind: "list";
  readonly items: PyValue[];
  depth: number;
}

/** A Python dict (or OrderedDict), in insertion order. */
export interface PyDict {
  readonly kind: "dict";
  /** The class that made it (`builtins.dict` for `{}`). */
  readonly type: string;
  readonly entries: Map<PyValue, PyValue>;
  depth: number;
}

/** A global the allowlist accepted (a class, function or constant, by its dotted name). */
export interface PyGlobal {
  readonly kind: "global";
  /** `module.name`. */
  readonly name: string;
}

/** A value made by a hook (a storage, a tensor, ...). */
export interface PyObject {
  readonly kind: "object";
  /** What it is (for messages). */
  readonly type: string;
  /** The hook's payload. */
  readonly value: unknown;
}

/** Any value the machine builds. */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyTuple
  | PyList
  | PyDict
  | PyGlobal
  | PyObject;

/** What the machine asks its owner; each hook throws a {@link PickleError} to refuse. */
export interface PickleHooks {
  /** Resolves `module.name` (refuses anything not allowlisted). */
  global(module: string, name: string): PyGlobal;
  /** `REDUCE` / `NEWOBJ`: calls an allowlisted global with positional arguments. */
  call(fn: PyGlobal, args: readonly PyValue[]): PyValue;
  /** `BINPERSID` / `PERSID`: the object a persistent id stands for. */
  persistentLoad(pid: PyValue): PyValue;
  /** `BUILD`: applies `state` to `obj`. */
  build(obj: PyValue, state: PyValue): void;
}

/** Error for a refused or malformed pickle. */
export class PickleError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "PickleError";
  }
}

/** Limits on what one stream may build. */
export interface PickleLimits {
  /** Values on the stack (default 1 << 20). */
  maxStack?: number;
  /** Open marks (default 1000). */
  maxMarks?: number;
  /** Memo entries (default 1 << 20). */
  maxMemo?: number;
  /** Nesting of containers (default 100). */
  maxDepth?: number;
}

/**
 * A short description of a value for messages (never walks into it).
 *
 * @example
 * ```ts
 * import { describePy } from "./_pickle.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(describePy({ kind: "global", name: "posix.system" }), "global posix.system");
 * ```
 */
export function describePy(v: PyValue): string {
  if (v === null) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number" || typeof v === "bigint") return `int ${v}`;
  if (typeof v === "string") return `str ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v)}`;
  if (v instanceof Uint8Array) return `bytes (${v.length})`;
  switch (v.kind) {
    case "tuple":
      return `tuple of ${v.items.length}`;
    case "list":
      return `list of ${v.items.length}`;
    case "dict":
      return `${v.type} of ${v.entries.size}`;
    case "global":
      return `global ${v.name}`;
    case "object":
      return v.type;
  }
}

function depthOf(v: PyValue): number {
  return v !== null && typeof v === "object" && !(v instanceof Uint8Array) && "depth" in v ? v.depth : 0;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Reads the byte stream (every read bounds-checked). */
class Reader {
  pos = 0;
  readonly dv: DataView;
  constructor(readonly data: Uint8Array) {
    this.dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }
  need(n: number): number {
    if (n < 0 || this.pos + n > this.data.length) {
      throw new PickleError(`the stream ends inside an opcode (needs ${n} bytes at byte ${this.pos})`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8(): number {
    return this.data[this.need(1)];
  }
  u16(): number {
    return this.dv.getUint16(this.need(2), true);
  }
  i32(): number {
    return this.dv.getInt32(this.need(4), true);
  }
  u32(): number {
    return this.dv.getUint32(this.need(4), true);
  }
  u64(): number {
    const v = this.dv.getBigUint64(this.need(8), true);
    if (v > BigInt(this.data.length)) {
      throw new PickleError(`length ${v} at byte ${this.pos - 8} exceeds the stream`);
    }
    return Number(v);
  }
  bytes(n: number): Uint8Array {
    const at = this.need(n);
    return this.data.subarray(at, at + n);
  }
  line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) throw new PickleError(`the stream ends inside a text opcode (at byte ${this.pos})`);
    const s = String.fromCharCode(...this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
  utf8(n: number): string {
    const b = this.bytes(n);
    try {
      return UTF8.decode(b);
    } catch {
      throw new PickleError(`invalid UTF-8 string at byte ${this.pos - n}`);
    }
  }
}

/** Little-endian two's complement bytes (LONG1 / LONG4) as a number when safe, else a bigint. */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function parseTextInt(s: string, at: number): PyValue {
  const t = s.endsWith("L") ? s.slice(0, -1) : s;
  if (t === "00") return false;
  if (t === "01") return true;
  if (!/^[-+]?\d+$/.test(t)) throw new PickleError(`invalid integer ${JSON.stringify(s)} at byte ${at}`);
  const v = BigInt(t);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Protocol 0/1 `STRING`: a quoted Python literal (only the escapes Python's repr writes). */
function parseQuoted(s: string, at: number): Uint8Array {
  const q = s[0];
  if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) {
    throw new PickleError(`STRING at byte ${at} is not quoted`);
  }
  const body = s.slice(1, -1);
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (body[i] !== "\\") {
      out.push(c & 0xff);
      continue;
    }
    const e = body[++i];
    const simple: Record<string, number> = { n: 10, r: 13, t: 9, "\\": 92, "'": 39, '"': 34 };
    if (e in simple) out.push(simple[e]);
    else if (e === "x" && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
      out.push(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else throw new PickleError(`STRING at byte ${at} has an unsupported escape \\${e}`);
  }
  return new Uint8Array(out);
}

/**
 * Runs a pickle stream with `hooks` and returns the value it builds.
 *
 * @example
 * ```ts
 * import { unpickle } from "./_pickle.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const noGlobals = {
 *   global(m: string, n: string): never { throw new Error(`refused ${m}.${n}`); },
 *   call(): never { throw new Error("no calls"); },
 *   persistentLoad(): never { throw new Error("no ids"); },
 *   build(): void { throw new Error("no build"); },
 * };
 * // pickle.dumps([1, "a"], protocol=2)
 * const v = unpickle(new Uint8Array([0x80, 2, 0x5d, 0x71, 0, 0x28, 0x4b, 1, 0x58, 1, 0, 0, 0, 0x61, 0x71, 1, 0x65, 0x2e]), noGlobals);
 * deepStrictEqual((v as { items: unknown[] }).items, [1, "a"]);
 * ```
 */
export function unpickle(data: Uint8Array, hooks: PickleHooks, limits: PickleLimits = {}): PyValue {
  const m = new Machine(data, hooks, limits);
  for (;;) {
    m.at = m.r.pos;
    if (m.at >= data.length) {
      throw new PickleError(`the stream ends at byte ${m.at} without STOP (truncated)`);
    }
    m.op = m.r.u8();
    if (m.op === 0x2e) return m.stop(); // STOP
    const run = OPCODES.get(m.op);
    if (!run) throw m.refusal();
    run(m);
  }
}

/** The pickle machine's state: the stack, its marks, the memo, where it is, its limits. */
class Machine {
  readonly r: Reader;
  stack: PyValue[] = [];
  readonly marks: PyValue[][] = [];
  readonly memo = new Map<number, PyValue>();
  op = 0;
  at = 0;
  readonly maxStack: number;
  readonly maxMarks: number;
  readonly maxMemo: number;
  readonly maxDepth: number;
  constructor(data: Uint8Array, readonly hooks: PickleHooks, limits: PickleLimits) {
    this.r = new Reader(data);
    this.maxStack = limits.maxStack ?? 1 << 20;
    this.maxMarks = limits.maxMarks ?? 1000;
    this.maxMemo = limits.maxMemo ?? 1 << 20;
    this.maxDepth = limits.maxDepth ?? 100;
  }
  where(): string {
    return `opcode 0x${this.op.toString(16).padStart(2, "0")} at byte ${this.at}`;
  }
  /** The error of an opcode without a handler: refused by kind, or unknown. */
  refusal(): PickleError {
    const { op, at } = this;
    if (op >= 0x82 && op <= 0x84) { // EXT1, EXT2, EXT4
      return new PickleError(`extension-registry opcode 0x${op.toString(16)} at byte ${at} is not allowed`);
    }
    // EMPTY_SET, ADDITEMS, FROZENSET, BYTEARRAY8, NEXT_BUFFER, READONLY_BUFFER
    if ([0x8f, 0x90, 0x91, 0x96, 0x97, 0x98].includes(op)) {
      return new PickleError(
        `opcode 0x${op.toString(16)} at byte ${at} is not used by checkpoints and not allowed`,
      );
    }
    return new PickleError(`unknown opcode 0x${op.toString(16).padStart(2, "0")} at byte ${at}`);
  }
  stop(): PyValue {
    const v = this.pop();
    if (this.stack.length || this.marks.length) {
      throw new PickleError(
        `STOP at byte ${this.at} leaves ${this.stack.length} values and ${this.marks.length} marks behind`,
      );
    }
    return v;
  }
  push(v: PyValue): void {
    if (this.stack.length >= this.maxStack) {
      throw new PickleError(`more than ${this.maxStack} values on the stack`);
    }
    this.stack.push(v);
  }
  pop(): PyValue {
    if (this.stack.length === 0) throw new PickleError(`${this.where()} pops an empty stack`);
    return this.stack.pop()!;
  }
  top(): PyValue {
    if (this.stack.length === 0) throw new PickleError(`${this.where()} needs a value on the stack`);
    return this.stack[this.stack.length - 1];
  }
  mark(): void {
    if (this.marks.length >= this.maxMarks) {
      throw new PickleError(`more than ${this.maxMarks} open MARKs (at byte ${this.at})`);
    }
    this.marks.push(this.stack);
    this.stack = [];
  }
  popMark(): PyValue[] {
    const items = this.stack;
    if (this.marks.length === 0) throw new PickleError(`${this.where()} has no matching MARK`);
    this.stack = this.marks.pop()!;
    return items;
  }
  nest(items: readonly PyValue[]): number {
    let d = 0;
    for (const v of items) d = Math.max(d, depthOf(v));
    if (d + 1 > this.maxDepth) {
      throw new PickleError(`values nested more than ${this.maxDepth} levels deep (${this.where()})`);
    }
    return d + 1;
  }
  tuple(items: PyValue[]): PyTuple {
    return { kind: "tuple", items, depth: this.nest(items) };
  }
  memoPut(k: number, v: PyValue): void {
    if (!this.memo.has(k) && this.memo.size >= this.maxMemo) {
      throw new PickleError(`more than ${this.maxMemo} memo entries`);
    }
    this.memo.set(k, v);
  }
  memoGet(k: number): PyValue {
    if (!this.memo.has(k)) throw new PickleError(`${this.where()} reads memo ${k}, which was never stored`);
    return this.memo.get(k)!;
  }
  listOf(v: PyValue): PyList {
    if (v === null || typeof v !== "object" || v instanceof Uint8Array || v.kind !== "list") {
      throw new PickleError(`${this.where()} appends to ${describePy(v)}, not a list`);
    }
    return v;
  }
  dictOf(v: PyValue): PyDict {
    if (v === null || typeof v !== "object" || v instanceof Uint8Array || v.kind !== "dict") {
      throw new PickleError(`${this.where()} sets items on ${describePy(v)}, not a dict`);
    }
    return v;
  }
  setItems(d: PyDict, items: PyValue[]): void {
    if (items.length % 2) throw new PickleError(`${this.where()} has an odd number of key/value items`);
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i];
      if (k !== null && typeof k === "object" && !(k instanceof Uint8Array) && k.kind !== "tuple") {
        throw new PickleError(`${this.where()}: unhashable dict key (${describePy(k)})`);
      }
      d.entries.set(k, items[i + 1]);
    }
    d.depth = Math.max(d.depth, this.nest(items));
  }
}

/** Only allowlisted globals (what the hooks' `global` returned) are called. */
function callable(v: PyValue, opName: string): PyGlobal {
  if (v === null || typeof v !== "object" || v instanceof Uint8Array || v.kind !== "global") {
    throw new PickleError(
      `${opName} of ${describePy(v)} is not allowed (only allowlisted globals are called)`,
    );
  }
  return v;
}

function argsOf(v: PyValue, opName: string): readonly PyValue[] {
  if (v === null || typeof v !== "object" || v instanceof Uint8Array || v.kind !== "tuple") {
    throw new PickleError(`${opName} arguments are ${describePy(v)}, not a tuple`);
  }
  return v.items;
}

type Op = (m: Machine) => void;

/** Framing, marks and the stack. */
const STACK_OPS: Record<number, Op> = {
  0x80: (m) => { // PROTO
    const p = m.r.u8();
    if (p > 5) throw new PickleError(`unsupported pickle protocol ${p}`);
  },
  0x95: (m) => void m.r.u64(), // FRAME
  0x28: (m) => m.mark(), // MARK
  0x30: (m) => void m.pop(), // POP
  0x31: (m) => void m.popMark(), // POP_MARK
  0x32: (m) => m.push(m.top()), // DUP
};

/** None, booleans, integers, floats. */
const SCALAR_OPS: Record<number, Op> = {
  0x4e: (m) => m.push(null), // NONE
  0x88: (m) => m.push(true), // NEWTRUE
  0x89: (m) => m.push(false), // NEWFALSE
  0x4b: (m) => m.push(m.r.u8()), // BININT1
  0x4d: (m) => m.push(m.r.u16()), // BININT2
  0x4a: (m) => m.push(m.r.i32()), // BININT
  0x8a: (m) => m.push(decodeLong(m.r.bytes(m.r.u8()))), // LONG1
  0x8b: (m) => { // LONG4
    const n = m.r.i32();
    if (n < 0) throw new PickleError(`LONG4 with negative length at byte ${m.at}`);
    m.push(decodeLong(m.r.bytes(n)));
  },
  0x49: (m) => m.push(parseTextInt(m.r.line(), m.at)), // INT
  0x4c: (m) => m.push(parseTextInt(m.r.line(), m.at)), // LONG
  0x46: (m) => { // FLOAT
    const s = m.r.line();
    const v = Number(s);
    if (Number.isNaN(v) && !/^[-+]?nan$/i.test(s)) {
      throw new PickleError(`invalid float ${JSON.stringify(s)}`);
    }
    m.push(v);
  },
  0x47: (m) => m.push(m.r.dv.getFloat64(m.r.need(8), false)), // BINFLOAT
};

/** Text and bytes. */
const STRING_OPS: Record<number, Op> = {
  0x58: (m) => m.push(m.r.utf8(m.r.u32())), // BINUNICODE
  0x8c: (m) => m.push(m.r.utf8(m.r.u8())), // SHORT_BINUNICODE
  0x8d: (m) => m.push(m.r.utf8(m.r.u64())), // BINUNICODE8
  0x56: (m) => { // UNICODE (raw-unicode-escape; only plain text accepted)
    const s = m.r.line();
    if (s.includes("\\")) {
      throw new PickleError(`UNICODE at byte ${m.at} uses escapes, which are not supported`);
    }
    m.push(s);
  },
  0x53: (m) => m.push(parseQuoted(m.r.line(), m.at)), // STRING
  0x54: (m) => { // BINSTRING
    const n = m.r.i32();
    if (n < 0) throw new PickleError(`BINSTRING with negative length at byte ${m.at}`);
    m.push(m.r.bytes(n).slice());
  },
  0x55: (m) => m.push(m.r.bytes(m.r.u8()).slice()), // SHORT_BINSTRING
  0x42: (m) => m.push(m.r.bytes(m.r.u32()).slice()), // BINBYTES
  0x43: (m) => m.push(m.r.bytes(m.r.u8()).slice()), // SHORT_BINBYTES
  0x8e: (m) => m.push(m.r.bytes(m.r.u64()).slice()), // BINBYTES8
};

/** Tuples, lists, dicts. */
const CONTAINER_OPS: Record<number, Op> = {
  0x29: (m) => m.push(m.tuple([])), // EMPTY_TUPLE
  0x85: (m) => m.push(m.tuple([m.pop()])), // TUPLE1
  0x86: (m) => { // TUPLE2
    const b = m.pop();
    m.push(m.tuple([m.pop(), b]));
  },
  0x87: (m) => { // TUPLE3
    const c = m.pop(), b = m.pop();
    m.push(m.tuple([m.pop(), b, c]));
  },
  0x74: (m) => m.push(m.tuple(m.popMark())), // TUPLE
  0x5d: (m) => m.push({ kind: "list", items: [], depth: 1 }), // EMPTY_LIST
  0x6c: (m) => { // LIST
    const items = m.popMark();
    m.push({ kind: "list", items, depth: m.nest(items) });
  },
  0x61: (m) => { // APPEND
    const v = m.pop();
    const l = m.listOf(m.top());
    l.items.push(v);
    l.depth = Math.max(l.depth, m.nest([v]));
  },
  0x65: (m) => { // APPENDS
    const items = m.popMark();
    const l = m.listOf(m.top());
    for (const v of items) l.items.push(v);
    l.depth = Math.max(l.depth, m.nest(items));
  },
  0x7d: (m) => m.push({ kind: "dict", type: "builtins.dict", entries: new Map(), depth: 1 }), // EMPTY_DICT
  0x64: (m) => { // DICT
    const d: PyDict = { kind: "dict", type: "builtins.dict", entries: new Map(), depth: 1 };
    m.setItems(d, m.popMark());
    m.push(d);
  },
  0x73: (m) => { // SETITEM
    const v = m.pop(), k = m.pop();
    m.setItems(m.dictOf(m.top()), [k, v]);
  },
  0x75: (m) => { // SETITEMS
    const items = m.popMark();
    m.setItems(m.dictOf(m.top()), items);
  },
};

/** The memo. */
const MEMO_OPS: Record<number, Op> = {
  0x70: (m) => m.memoPut(Number(parseTextInt(m.r.line(), m.at)), m.top()), // PUT
  0x71: (m) => m.memoPut(m.r.u8(), m.top()), // BINPUT
  0x72: (m) => m.memoPut(m.r.u32(), m.top()), // LONG_BINPUT
  0x94: (m) => m.memoPut(m.memo.size, m.top()), // MEMOIZE
  0x67: (m) => m.push(m.memoGet(Number(parseTextInt(m.r.line(), m.at)))), // GET
  0x68: (m) => m.push(m.memoGet(m.r.u8())), // BINGET
  0x6a: (m) => m.push(m.memoGet(m.r.u32())), // LONG_BINGET
};

/** Globals, calls, state and persistent ids: every one goes through the hooks' allowlist. */
const OBJECT_OPS: Record<number, Op> = {
  0x63: (m) => { // GLOBAL
    const module = m.r.line();
    m.push(m.hooks.global(module, m.r.line()));
  },
  0x93: (m) => { // STACK_GLOBAL
    const name = m.pop(), module = m.pop();
    if (typeof module !== "string" || typeof name !== "string") {
      throw new PickleError(`STACK_GLOBAL at byte ${m.at} with non-string names`);
    }
    m.push(m.hooks.global(module, name));
  },
  0x69: (m) => { // INST: a global, then a call; both checked
    const module = m.r.line();
    const fn = m.hooks.global(module, m.r.line());
    m.push(m.hooks.call(fn, m.popMark()));
  },
  0x6f: (m) => { // OBJ
    const items = m.popMark();
    if (items.length === 0) throw new PickleError(`OBJ at byte ${m.at} without a class`);
    m.push(m.hooks.call(callable(items[0], "OBJ"), items.slice(1)));
  },
  0x52: (m) => { // REDUCE
    const args = m.pop();
    m.push(m.hooks.call(callable(m.pop(), "REDUCE"), argsOf(args, "REDUCE")));
  },
  0x81: (m) => { // NEWOBJ
    const args = m.pop();
    m.push(m.hooks.call(callable(m.pop(), "NEWOBJ"), argsOf(args, "NEWOBJ")));
  },
  0x92: (m) => { // NEWOBJ_EX
    const kwargs = m.pop(), args = m.pop();
    const cls = callable(m.pop(), "NEWOBJ_EX");
    if (m.dictOf(kwargs).entries.size) {
      throw new PickleError(`NEWOBJ_EX of ${cls.name} with keyword arguments`);
    }
    m.push(m.hooks.call(cls, argsOf(args, "NEWOBJ_EX")));
  },
  0x62: (m) => { // BUILD
    const state = m.pop();
    m.hooks.build(m.top(), state);
  },
  0x51: (m) => m.push(m.hooks.persistentLoad(m.pop())), // BINPERSID
  0x50: (m) => m.push(m.hooks.persistentLoad(m.r.line())), // PERSID
};

/** Every opcode the machine runs (STOP aside); the rest are refused ({@link Machine.refusal}). */
const OPCODES: ReadonlyMap<number, Op> = new Map(
  [STACK_OPS, SCALAR_OPS, STRING_OPS, CONTAINER_OPS, MEMO_OPS, OBJECT_OPS].flatMap((g) =>
    Object.entries(g).map(([k, run]) => [Number(k), run] as const)
  ),
);
