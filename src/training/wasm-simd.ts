/**
 * The few pieces that write a one-function WebAssembly SIMD module byte by
 * byte (the training engine's AdamW update and dropout masks): a kernel of a
 * few dozen instructions reads more clearly spelled out beside the JS loop it
 * replaces than as a binary blob or a compiler toolchain in the build.
 */

export const [I32, F32, V128] = [0x7f, 0x7d, 0x7b];

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    const b = n & 0x7f;
    n >>>= 7;
    out.push(n ? b | 0x80 : b);
  } while (n);
  return out;
}

/** Signed LEB128, what i32.const takes (unsigned LEB misreads 64–127 as negative). */
function signedLeb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const name = (s: string): number[] => [...leb(s.length), ...Buffer.from(s)];
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];

/** A SIMD instruction (prefix 0xfd) with its immediates. */
export const simd = (op: number, ...imm: number[]): number[] => [0xfd, ...leb(op), ...imm];
export const get = (i: number): number[] => [0x20, ...leb(i)];
export const set = (i: number): number[] => [0x21, ...leb(i)];
export const i32Const = (n: number): number[] => [0x41, ...signedLeb(n)];
/** v128.load / v128.store with a 16-byte alignment hint and offset 0. */
export const load = simd(0x00, 4, 0);
export const store = simd(0x0b, 4, 0);

export interface KernelSpec {
  readonly name: string;
  readonly params: readonly number[];
  /** Extra locals as [count, type] runs. */
  readonly locals: readonly (readonly [number, number])[];
  /** The function body's instructions, without its closing `end`. */
  readonly body: readonly number[];
}

/** A module importing its memory as env.memory and exporting one function of no results. */
export function kernelModule(k: KernelSpec): Uint8Array {
  const code = [...vec(k.locals.map(([n, t]) => [...leb(n), t])), ...k.body, 0x0b];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec(k.params.map((t) => [t])), 0]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 1]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name(k.name), 0x00, 0]])),
    ...section(10, vec([[...leb(code.length), ...code]])),
  ]);
}

// The project's lib is ES2022 without "dom", which is what declares WebAssembly; the members used here instead.
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
};

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

export const PAGE = 65536;

/**
 * The module `build` writes, compiled once on first use; null where the
 * runtime lacks wasm SIMD (the callers then stay in JS).
 */
export function lazyKernel(build: () => Uint8Array): () => object | null {
  let compiled: object | null | undefined;
  return () => {
    if (compiled === undefined) {
      const bytes = build();
      compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    }
    return compiled;
  };
}

/** A memory of at least `bytes` and the module's function on it. */
export function instantiate(module: object, bytes: number, fn: string): { memory: WasmMemory; run: (...args: number[]) => void } {
  const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / PAGE)) });
  return { memory, run: new WebAssembly.Instance(module, { env: { memory } }).exports[fn] as (...args: number[]) => void };
}
