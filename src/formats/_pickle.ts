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
  const maxStack = limits.maxStack ?? 1 << 20;
  const maxMarks = limits.maxMarks ?? 1000;
  const maxMemo = limits.maxMemo ?? 1 << 20;
  const maxDepth = limits.maxDepth ?? 100;
  const r = new Reader(data);
  let stack: PyValue[] = [];
  const marks: PyValue[][] = [];
  const memo = new Map<number, PyValue>();
  let op = 0;
  let at = 0;
  const where = () => `opcode 0x${op.toString(16).padStart(2, "0")} at byte ${at}`;
  const push = (v: PyValue) => {
    if (stack.length >= maxStack) throw new PickleError(`more than ${maxStack} values on the stack`);
    stack.push(v);
  };
  const pop = (): PyValue => {
    if (stack.length === 0) throw new PickleError(`${where()} pops an empty stack`);
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length === 0) throw new PickleError(`${where()} needs a value on the stack`);
    return stack[stack.length - 1];
  };
  const popMark = (): PyValue[] => {
    const items = stack;
    if (marks.length === 0) throw new PickleError(`${where()} has no matching MARK`);
    stack = marks.pop()!;
    return items;
  };
  const nest = (items: readonly PyValue[]): number => {
    let d = 0;
    for (const v of items) d = Math.max(d, depthOf(v));
    if (d + 1 > maxDepth) {
      throw new PickleError(`values nested more than ${maxDepth} levels deep (${where()})`);
    }
    return d + 1;
  };
  const tuple = (items: PyValue[]): PyTuple => ({ kind: "tuple", items, depth: nest(items) });
  const memoPut = (k: number, v: PyValue) => {
    if (!memo.has(k) && memo.size >= maxMemo) throw new PickleError(`more than ${maxMemo} memo entries`);
    memo.set(k, v);
  };
  const memoGet = (k: number): PyValue => {
    if (!memo.has(k)) throw new PickleError(`${where()} reads memo ${k}, which was never stored`);
    return memo.get(k)!;
  };
  const listOf = (v: PyValue): PyList => {
    if (v === null || typeof v !== "object" || v instanceof Uint8Array || v.kind !== "list") {
      throw new PickleError(`${where()} appends to ${describePy(v)}, not a list`);
    }
    return v;
  };
  const dictOf = (v: PyValue): PyDict => {
    if (v === null || typeof v !== "object" || v instanceof Uint8Array || v.kind !== "dict") {
      throw new PickleError(`${where()} sets items on ${describePy(v)}, not a dict`);
    }
    return v;
  };
  const setItems = (d: PyDict, items: PyValue[]) => {
    if (items.length % 2) throw new PickleError(`${where()} has an odd number of key/value items`);
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i];
      if (k !== null && typeof k === "object" && !(k instanceof Uint8Array) && k.kind !== "tuple") {
        throw new PickleError(`${where()}: unhashable dict key (${describePy(k)})`);
      }
      d.entries.set(k, items[i + 1]);
    }
    d.depth = Math.max(d.depth, nest(items));
  };
  const callable = (v: PyValue, opName: string): PyGlobal => {
    if (v === null || typeof v !== "object" || v instanceof Uint8Array || v.kind !== "global") {
      throw new PickleError(
        `${opName} of ${describePy(v)} is not allowed (only allowlisted globals are called)`,
      );
    }
    return v;
  };
  const argsOf = (v: PyValue, opName: string): readonly PyValue[] => {
    if (v === null || typeof v !== "object" || v instanceof Uint8Array || v.kind !== "tuple") {
      throw new PickleError(`${opName} arguments are ${describePy(v)}, not a tuple`);
    }
    return v.items;
  };

  for (;;) {
    at = r.pos;
    if (at >= data.length) throw new PickleError(`the stream ends at byte ${at} without STOP (truncated)`);
    op = r.u8();
    switch (op) {
      case 0x80: { // PROTO
        const p = r.u8();
        if (p > 5) throw new PickleError(`unsupported pickle protocol ${p}`);
        break;
      }
      case 0x95: // FRAME
        r.u64();
        break;
      case 0x2e: { // STOP
        const v = pop();
        if (stack.length || marks.length) {
          throw new PickleError(
            `STOP at byte ${at} leaves ${stack.length} values and ${marks.length} marks behind`,
          );
        }
        return v;
      }
      case 0x28: // MARK
        if (marks.length >= maxMarks) {
          throw new PickleError(`more than ${maxMarks} open MARKs (at byte ${at})`);
        }
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4b: // BININT1
        push(r.u8());
        break;
      case 0x4d: // BININT2
        push(r.u16());
        break;
      case 0x4a: // BININT
        push(r.i32());
        break;
      case 0x8a: // LONG1
        push(decodeLong(r.bytes(r.u8())));
        break;
      case 0x8b: { // LONG4
        const n = r.i32();
        if (n < 0) throw new PickleError(`LONG4 with negative length at byte ${at}`);
        push(decodeLong(r.bytes(n)));
        break;
      }
      case 0x49: // INT
      case 0x4c: // LONG
        push(parseTextInt(r.line(), at));
        break;
      case 0x46: { // FLOAT
        const s = r.line();
        const v = Number(s);
        if (Number.isNaN(v) && !/^[-+]?nan$/i.test(s)) {
          throw new PickleError(`invalid float ${JSON.stringify(s)}`);
        }
        push(v);
        break;
      }
      case 0x47: // BINFLOAT
        push(r.dv.getFloat64(r.need(8), false));
        break;
      case 0x58: // BINUNICODE
        push(r.utf8(r.u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(r.utf8(r.u8()));
        break;
      case 0x8d: // BINUNICODE8
        push(r.utf8(r.u64()));
        break;
      case 0x56: { // UNICODE (raw-unicode-escape; only plain text accepted)
        const s = r.line();
        if (s.includes("\\")) {
          throw new PickleError(`UNICODE at byte ${at} uses escapes, which are not supported`);
        }
        push(s);
        break;
      }
      case 0x53: // STRING
        push(parseQuoted(r.line(), at));
        break;
      case 0x54: { // BINSTRING
        const n = r.i32();
        if (n < 0) throw new PickleError(`BINSTRING with negative length at byte ${at}`);
        push(r.bytes(n).slice());
        break;
      }
      case 0x55: // SHORT_BINSTRING
        push(r.bytes(r.u8()).slice());
        break;
      case 0x42: // BINBYTES
        push(r.bytes(r.u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        push(r.bytes(r.u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        push(r.bytes(r.u64()).slice());
        break;
      case 0x29: // EMPTY_TUPLE
        push(tuple([]));
        break;
      case 0x85: // TUPLE1
        push(tuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        push(tuple([pop(), b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop();
        push(tuple([pop(), b, c]));
        break;
      }
      case 0x74: // TUPLE
        push(tuple(popMark()));
        break;
      case 0x5d: // EMPTY_LIST
        push({ kind: "list", items: [], depth: 1 });
        break;
      case 0x6c: { // LIST
        const items = popMark();
        push({ kind: "list", items, depth: nest(items) });
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        const l = listOf(top());
        l.items.push(v);
        l.depth = Math.max(l.depth, nest([v]));
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const l = listOf(top());
        for (const v of items) l.items.push(v);
        l.depth = Math.max(l.depth, nest(items));
        break;
      }
      case 0x7d: // EMPTY_DICT
        push({ kind: "dict", type: "builtins.dict", entries: new Map(), depth: 1 });
        break;
      case 0x64: { // DICT
        const d: PyDict = { kind: "dict", type: "builtins.dict", entries: new Map(), depth: 1 };
        setItems(d, popMark());
        push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(), k = pop();
        setItems(dictOf(top()), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(dictOf(top()), items);
        break;
      }
      case 0x70: // PUT
        memoPut(Number(parseTextInt(r.line(), at)), top());
        break;
      case 0x71: // BINPUT
        memoPut(r.u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memoPut(r.u32(), top());
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size, top());
        break;
      case 0x67: // GET
        push(memoGet(Number(parseTextInt(r.line(), at))));
        break;
      case 0x68: // BINGET
        push(memoGet(r.u8()));
        break;
      case 0x6a: // LONG_BINGET
        push(memoGet(r.u32()));
        break;
      case 0x63: { // GLOBAL
        const module = r.line();
        push(hooks.global(module, r.line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== "string" || typeof name !== "string") {
          throw new PickleError(`STACK_GLOBAL at byte ${at} with non-string names`);
        }
        push(hooks.global(module, name));
        break;
      }
      case 0x69: { // INST: a global, then a call; both checked
        const module = r.line();
        const fn = hooks.global(module, r.line());
        push(hooks.call(fn, popMark()));
        break;
      }
      case 0x6f: { // OBJ
        const items = popMark();
        if (items.length === 0) throw new PickleError(`OBJ at byte ${at} without a class`);
        push(hooks.call(callable(items[0], "OBJ"), items.slice(1)));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        push(hooks.call(callable(pop(), "REDUCE"), argsOf(args, "REDUCE")));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        push(hooks.call(callable(pop(), "NEWOBJ"), argsOf(args, "NEWOBJ")));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop(), args = pop();
        const cls = callable(pop(), "NEWOBJ_EX");
        if (dictOf(kwargs).entries.size) {
          throw new PickleError(`NEWOBJ_EX of ${cls.name} with keyword arguments`);
        }
        push(hooks.call(cls, argsOf(args, "NEWOBJ_EX")));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        hooks.build(top(), state);
        break;
      }
      case 0x51: // BINPERSID
        push(hooks.persistentLoad(pop()));
        break;
      case 0x50: // PERSID
        push(hooks.persistentLoad(r.line()));
        break;
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        throw new PickleError(`extension-registry opcode 0x${op.toString(16)} at byte ${at} is not allowed`);
      case 0x8f: // EMPTY_SET
      case 0x90: // ADDITEMS
      case 0x91: // FROZENSET
      case 0x96: // BYTEARRAY8
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        throw new PickleError(
          `opcode 0x${op.toString(16)} at byte ${at} is not used by checkpoints and not allowed`,
        );
      default:
        throw new PickleError(`unknown opcode 0x${op.toString(16).padStart(2, "0")} at byte ${at}`);
    }
  }
}
