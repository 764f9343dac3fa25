import { importError } from './checkpoint-tensor.ts';

/**
 * A restricted reader of Python pickles: it interprets the opcodes that a
 * state dict saved by torch.save uses and builds plain values, and it never
 * runs anything. A GLOBAL is resolved only through `resolve`, which knows
 * the few names a checkpoint may mention (tensor rebuilders, storage types,
 * OrderedDict); every other name, and every opcode outside the list, is
 * refused with its byte position. Each opcode consumes input, so the work is
 * linear in the file's size, and every length is checked against the bytes
 * left before anything is sliced.
 */

/** A Python tuple (lists are plain arrays). */
export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

/** A name a pickle referred to by GLOBAL, already judged allowed by the caller. */
export interface PyGlobal {
  readonly module: string;
  readonly name: string;
  /** What REDUCE does with it; a global without a call can only be passed around (e.g. a storage type). */
  readonly call?: (args: readonly unknown[]) => unknown;
}

export interface PickleHooks {
  resolve(module: string, name: string): PyGlobal;
  persistentLoad(pid: unknown): unknown;
}

const MARK = Symbol('mark');

export interface PickleResult {
  readonly value: unknown;
  /** Byte offset just past STOP: legacy checkpoints put several pickles and raw data one after another. */
  readonly end: number;
}

class Reader {
  pos: number;
  private readonly view: DataView;
  constructor(readonly buf: Uint8Array, start: number, readonly where: string) {
    this.pos = start;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number): number {
    if (n < 0 || n > this.buf.length - this.pos) importError(`${this.where}: pickle wants ${n} bytes at byte ${this.pos}, the file has ${this.buf.length - this.pos} left`);
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8(): number { return this.buf[this.need(1)]; }
  u16(): number { return this.view.getUint16(this.need(2), true); }
  u32(): number { return this.view.getUint32(this.need(4), true); }
  i32(): number { return this.view.getInt32(this.need(4), true); }
  u64(): number {
    const v = this.view.getBigUint64(this.need(8), true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? importError(`${this.where}: pickle length ${v} at byte ${this.pos - 8} is impossible`) : Number(v);
  }
  f64be(): number { return this.view.getFloat64(this.need(8), false); }
  bytes(n: number): Uint8Array { const at = this.need(n); return this.buf.subarray(at, at + n); }
  line(): string {
    const nl = this.buf.indexOf(0x0a, this.pos);
    if (nl < 0 || nl - this.pos > 4096) importError(`${this.where}: pickle text argument at byte ${this.pos} has no end`);
    return new TextDecoder('latin1').decode(this.bytes(nl - this.pos + 1).subarray(0, -1));
  }
}

/** Little-endian two's complement; a number when it is safe, a bigint up to 16 bytes (the legacy magic number), refused beyond. */
function signedLE(b: Uint8Array, where: string): number | bigint {
  if (b.length > 16) return importError(`${where}: pickle integer of ${b.length} bytes is too large`);
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b.length > 0 && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

function text(r: Reader, n: number): string {
  const bytes = r.bytes(n);
  try {
    return utf8.decode(bytes);
  } catch {
    return importError(`${r.where}: pickle string before byte ${r.pos} is not UTF-8`);
  }
}

/** Reads one pickle starting at `start`. */
export function readPickle(buf: Uint8Array, hooks: PickleHooks, where: string, start = 0): PickleResult {
  return new Machine(new Reader(buf, start, where), hooks).run();
}

class Machine {
  private readonly stack: unknown[] = [];
  private readonly memo = new Map<number, unknown>();
  constructor(private readonly r: Reader, private readonly hooks: PickleHooks) {}

  run(): PickleResult {
    for (;;) {
      const op = this.r.u8();
      if (op === 0x2e) return { value: this.pop(), end: this.r.pos }; // STOP
      if (!(this.scalar(op) || this.container(op) || this.object(op) || this.memoOp(op))) {
        this.fail(`opcode 0x${op.toString(16).padStart(2, '0')} is not allowed (only tensor records and storages are read; nothing is executed)`);
      }
    }
  }

  private fail(msg: string): never {
    return importError(`${this.r.where}: pickle ${msg} (byte ${this.r.pos - 1})`);
  }
  private pop(): unknown {
    const s = this.stack;
    return s.length === 0 || s[s.length - 1] === MARK ? this.fail('stack underflow') : s.pop();
  }
  private top(): unknown {
    return this.stack.length === 0 ? this.fail('stack underflow') : this.stack[this.stack.length - 1];
  }
  private popMark(): unknown[] {
    const at = this.stack.lastIndexOf(MARK);
    if (at < 0) this.fail('has no MARK');
    const items = this.stack.slice(at + 1);
    this.stack.length = at;
    return items;
  }
  private key(k: unknown): unknown {
    return typeof k === 'string' || typeof k === 'number' || typeof k === 'boolean' || k === null ? k : this.fail('dict key that is not a string or number');
  }
  private setItems(d: unknown, kv: unknown[]): void {
    if (!(d instanceof Map)) this.fail('sets an item on something that is not a dict');
    if (kv.length % 2) this.fail('SETITEMS with an odd number of values');
    for (let i = 0; i < kv.length; i += 2) (d as Map<unknown, unknown>).set(this.key(kv[i]), kv[i + 1]);
  }
  private append(list: unknown, items: unknown[]): void {
    if (!Array.isArray(list)) this.fail('appends to something that is not a list');
    for (const item of items) (list as unknown[]).push(item);
  }

  private scalar(op: number): boolean {
    const { r, stack } = this;
    switch (op) {
      case 0x80: r.u8(); return true; // PROTO
      case 0x95: r.u64(); return true; // FRAME: a framing hint only
      case 0x4e: stack.push(null); return true; // NONE
      case 0x88: stack.push(true); return true;
      case 0x89: stack.push(false); return true;
      case 0x4a: stack.push(r.i32()); return true; // BININT
      case 0x4b: stack.push(r.u8()); return true; // BININT1
      case 0x4d: stack.push(r.u16()); return true; // BININT2
      case 0x8a: stack.push(signedLE(r.bytes(r.u8()), r.where)); return true; // LONG1
      case 0x47: stack.push(r.f64be()); return true; // BINFLOAT
      case 0x58: stack.push(text(r, r.u32())); return true; // BINUNICODE
      case 0x8c: stack.push(text(r, r.u8())); return true; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(r, r.u64())); return true; // BINUNICODE8
      case 0x54: stack.push(latin1.decode(r.bytes(r.i32()))); return true; // BINSTRING
      case 0x55: stack.push(latin1.decode(r.bytes(r.u8()))); return true; // SHORT_BINSTRING
      case 0x42: stack.push(r.bytes(r.u32())); return true; // BINBYTES
      case 0x43: stack.push(r.bytes(r.u8())); return true; // SHORT_BINBYTES
      case 0x8e: stack.push(r.bytes(r.u64())); return true; // BINBYTES8
      default: return false;
    }
  }

  private container(op: number): boolean {
    const stack = this.stack;
    switch (op) {
      case 0x28: stack.push(MARK); return true;
      case 0x30: this.pop(); return true; // POP
      case 0x31: this.popMark(); return true; // POP_MARK
      case 0x32: stack.push(this.top()); return true; // DUP
      case 0x29: stack.push(new PyTuple([])); return true; // EMPTY_TUPLE
      case 0x74: stack.push(new PyTuple(this.popMark())); return true; // TUPLE
      case 0x85: stack.push(new PyTuple([this.pop()])); return true; // TUPLE1
      case 0x86: { const b = this.pop(); const a = this.pop(); stack.push(new PyTuple([a, b])); return true; }
      case 0x87: { const c = this.pop(); const b = this.pop(); const a = this.pop(); stack.push(new PyTuple([a, b, c])); return true; }
      case 0x5d: stack.push([]); return true; // EMPTY_LIST
      case 0x6c: stack.push(this.popMark()); return true; // LIST
      case 0x61: { const v = this.pop(); this.append(this.top(), [v]); return true; } // APPEND
      case 0x65: { const items = this.popMark(); this.append(this.top(), items); return true; } // APPENDS
      case 0x7d: stack.push(new Map()); return true; // EMPTY_DICT
      case 0x64: { const d = new Map(); this.setItems(d, this.popMark()); stack.push(d); return true; } // DICT
      case 0x73: { const v = this.pop(); const k = this.pop(); this.setItems(this.top(), [k, v]); return true; } // SETITEM
      case 0x75: { const kv = this.popMark(); this.setItems(this.top(), kv); return true; } // SETITEMS
      default: return false;
    }
  }

  private object(op: number): boolean {
    const { r, stack, hooks } = this;
    switch (op) {
      case 0x63: { const module = r.line(); stack.push(hooks.resolve(module, r.line())); return true; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = this.pop();
        const module = this.pop();
        if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL without two strings');
        stack.push(hooks.resolve(module as string, name as string));
        return true;
      }
      case 0x52: { // REDUCE
        const args = this.pop();
        const fn = this.pop() as PyGlobal;
        if (!(args instanceof PyTuple)) this.fail('REDUCE without an argument tuple');
        if (typeof fn !== 'object' || fn === null || typeof fn.call !== 'function') this.fail('REDUCE of something that is not an allowed callable');
        stack.push(fn.call!((args as PyTuple).items));
        return true;
      }
      case 0x62: { // BUILD: only a dict's attribute state (OrderedDict._metadata) is accepted, and dropped
        const state = this.pop();
        if (!(this.top() instanceof Map) || !(state instanceof Map || state === null)) this.fail('BUILD of an object other than a dict is not allowed');
        return true;
      }
      case 0x51: stack.push(hooks.persistentLoad(this.pop())); return true; // BINPERSID
      default: return false;
    }
  }

  private memoOp(op: number): boolean {
    const { r, memo } = this;
    const get = (k: number): unknown => (memo.has(k) ? memo.get(k) : this.fail(`memo ${k} was never stored`));
    switch (op) {
      case 0x71: memo.set(r.u8(), this.top()); return true; // BINPUT
      case 0x72: memo.set(r.u32(), this.top()); return true; // LONG_BINPUT
      case 0x94: memo.set(memo.size, this.top()); return true; // MEMOIZE
      case 0x70: memo.set(Number(r.line()), this.top()); return true; // PUT
      case 0x68: this.stack.push(get(r.u8())); return true; // BINGET
      case 0x6a: this.stack.push(get(r.u32())); return true; // LONG_BINGET
      case 0x67: this.stack.push(get(Number(r.line()))); return true; // GET
      default: return false;
    }
  }
}
