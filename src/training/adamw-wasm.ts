/**
 * AdamW's per-element update as one WebAssembly SIMD function. V8 runs the
 * plain-JS loop of adamw-arrays.ts one element at a time (a square root and
 * a division each, ~5 ns here), so the update took a fifth of a small
 * model's step and 30% of a bert-base step even split over two threads. Four
 * lanes at once in wasm are 4–5× faster on one thread, in cache and out.
 *
 * Wasm reads only its own memory, so the optimizer keeps the weights and
 * both moments there (an arena sized once, never grown, so views into it stay
 * valid) and copies each gradient in, a chunk at a time.
 *
 * The module is written out byte by byte (wasm-simd.ts).
 */
import { F32, get, I32, i32Const, instantiate, kernelModule, lazyKernel, load, set, simd, store, V128 } from './wasm-simd.ts';

/** One step's constants, the same for every tensor. */
export interface AdamWStepConstants {
  readonly lr: number;
  readonly b1: number;
  readonly b2: number;
  readonly eps: number;
  /** Bias corrections 1 − β^t. */
  readonly c1: number;
  readonly c2: number;
  /** Global-norm clip factor for the gradients (1 when not clipping). */
  readonly scale: number;
}

export interface AdamWArena {
  /** A zeroed view of `n` floats in the arena, 16-byte aligned. */
  alloc(n: number): Float32Array;
  /**
   * adamwUpdate of adamw-arrays.ts, bit for bit: `w`, `m` and `v` must be
   * views from alloc, `g` may be any array of the same length.
   */
  update(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, k: AdamWStepConstants, decay: number): void;
}

/**
 * The step's constants folded as PyTorch's AdamW applies them (the same
 * update, 1.4× faster here than the textbook form): the clip scale into the
 * moment rates, the bias corrections into the step size and 1/√c2, the
 * decoupled decay into one factor w·(1 − lr·decay). Rounded to float32, as
 * the kernel receives them: [b1, a1, b2, a2, step, invSqrtC2, eps, keep].
 */
export function foldedConstants(k: AdamWStepConstants, decay: number): number[] {
  const a1 = (1 - k.b1) * k.scale;
  const a2 = (1 - k.b2) * k.scale * k.scale;
  return [k.b1, a1, k.b2, a2, k.lr / k.c1, 1 / Math.sqrt(k.c2), k.eps, 1 - k.lr * decay].map(Math.fround);
}

/** Gradient floats copied in per kernel call: 1 MiB stays in cache beside the weights it meets. */
const CHUNK = 1 << 18;
/** wasm32 addresses 4 GiB; beyond this the optimizer stays in JS rather than fail to allocate. */
const MAX_ARENA_BYTES = 3 * 2 ** 30;

/**
 * (w, g, m, v: byte addresses; bytes: the length, a multiple of 16;
 * b1, a1, b2, a2, step, invSqrtC2, eps, keep: adamwUpdate's folded constants)
 *   m ← b1·m + a1·g;  v ← b2·v + a2·g²;  w ← w·keep − step·m / (√v·invSqrtC2 + eps)
 */
function adamwModule(): Uint8Array {
  const [splat, sqrt, add, sub, mul, div] = [0x13, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7].map((op) => simd(op));
  // Locals: params 0–3 addresses, 4 bytes, 5–12 constants; 13–20 the constants splatted, 21 offset, 22 g, 23 m, 24 v.
  const [W, G, M, V, BYTES, CONST, SPLAT, I, GI, MI, VI] = [0, 1, 2, 3, 4, 5, 13, 21, 22, 23, 24];
  const [B1, A1, B2, A2, STEP, ISC, EPS, KEEP] = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => SPLAT + k);
  const at = (base: number): number[] => [...get(base), ...get(I), 0x6a /* i32.add */];
  const body = [
    ...[0, 1, 2, 3, 4, 5, 6, 7].flatMap((k) => [...get(CONST + k), ...splat, ...set(SPLAT + k)]),
    0x02, 0x40, 0x03, 0x40, // block, loop
    ...get(I), ...get(BYTES), 0x4f /* i32.ge_u */, 0x0d, 1, // br_if out
    ...at(G), ...load, ...set(GI),
    ...at(M), ...load, ...get(B1), ...mul, ...get(GI), ...get(A1), ...mul, ...add, ...set(MI),
    ...at(M), ...get(MI), ...store,
    ...at(V), ...load, ...get(B2), ...mul, ...get(GI), ...get(GI), ...mul, ...get(A2), ...mul, ...add, ...set(VI),
    ...at(V), ...get(VI), ...store,
    ...at(W), ...at(W), ...load, ...get(KEEP), ...mul,
    ...get(STEP), ...get(MI), ...mul, ...get(VI), ...sqrt, ...get(ISC), ...mul, ...get(EPS), ...add, ...div, ...sub, ...store,
    ...get(I), ...i32Const(16), 0x6a, ...set(I), // i += 16
    0x0c, 0, 0x0b, 0x0b, // br loop, end loop, end block
  ];
  return kernelModule({ name: 'adamw', params: [I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, F32], locals: [[8, V128], [1, I32], [3, V128]], body });
}

const kernel = lazyKernel(adamwModule);

const padded = (n: number): number => Math.ceil(n / 4) * 4;

/**
 * An arena for `floats` floats of views (each rounded up to 4) plus the
 * gradient chunk; undefined where the runtime lacks wasm SIMD or the arena
 * would not fit in wasm32 memory.
 */
export function createAdamWArena(floats: number): AdamWArena | undefined {
  const bytes = (floats + CHUNK) * 4;
  const module = bytes <= MAX_ARENA_BYTES ? kernel() : null;
  if (!module) return undefined;
  const { memory, run } = instantiate(module, bytes, 'adamw');
  const scratch = new Float32Array(memory.buffer, 0, CHUNK);
  let next = CHUNK * 4;
  return {
    alloc(n) {
      const view = new Float32Array(memory.buffer, next, n);
      next += padded(n) * 4;
      if (next > memory.buffer.byteLength) throw new RangeError(`AdamW arena full (${memory.buffer.byteLength} bytes)`);
      return view;
    },
    update(w, g, m, v, k, decay) {
      const constants = foldedConstants(k, decay);
      for (let from = 0; from < w.length; from += CHUNK) {
        const n = Math.min(CHUNK, w.length - from);
        scratch.set(g.subarray(from, from + n));
        // The lanes past the end read zeros and write only the view's own padding.
        scratch.fill(0, n, padded(n));
        run(w.byteOffset + from * 4, 0, m.byteOffset + from * 4, v.byteOffset + from * 4, padded(n) * 4, ...constants);
      }
    },
  };
}
