/**
 * AdamW on plain Float32Arrays, the onnxruntime engine's optimizer: the same
 * update as the tfjs one in optimizer.ts (bias-corrected moments, decoupled
 * weight decay for all but biases and LayerNorm, global-norm clipping).
 * Weights stay in this process's memory between steps and are fed to the
 * training graph as inputs; one fused pass per tensor touches each value
 * once, in wasm SIMD where it can (adamw-wasm.ts), else in the JS loop here.
 */
import { createAdamWArena, foldedConstants, type AdamWStepConstants } from './adamw-wasm.ts';
import { decays, type AdamWOptions } from './optimizer.ts';
import type { SummedRows } from './row-gradients.ts';

export interface ArrayAdamW {
  step: number;
  readonly m: Map<string, Float32Array>;
  readonly v: Map<string, Float32Array>;
  /** Where the dense update runs. */
  readonly kernel: 'wasm SIMD' | 'JS';
  /**
   * Updates `weights` from `grads` and, for tables whose gradient came as
   * summed rows, from `rows` (only those rows move, as a sparse-row tensor's
   * do); see createArrayAdamW for the arrays it swaps in. Returns the pre-clip
   * global norm, from `sumsq` (Σ of `grads`' squares) when the caller has it
   * already (the training graph's GRAD_SUMSQ_OUTPUT), else summed here.
   */
  apply(weights: Map<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>, lr: number, sumsq?: number, rows?: ReadonlyMap<string, SummedRows>): number;
}

/** Four running sums, so the adds do not wait on each other (1.5× faster here than one). */
export function sumOfSquares(g: Float32Array): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n = g.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += g[i] * g[i];
    s1 += g[i + 1] * g[i + 1];
    s2 += g[i + 2] * g[i + 2];
    s3 += g[i + 3] * g[i + 3];
  }
  for (; i < n; i++) s0 += g[i] * g[i];
  return s0 + s1 + s2 + s3;
}

/**
 * One tensor's update (elements `from` to `to`), kept monomorphic and free of
 * closures so V8 compiles a tight loop; the SIMD kernel of adamw-wasm.ts is
 * the same update four lanes at a time. Every operation rounds to float32, in
 * the kernel's order, so the two give the same bits (tested), whichever runs
 * a tensor: the sparse rows here and the dense tensors there move alike.
 */
export function adamwUpdate(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, k: AdamWStepConstants, decay: number, from = 0, to = w.length): void {
  const [b1, a1, b2, a2, step, invSqrtC2, eps, keep] = foldedConstants(k, decay);
  const f = Math.fround;
  for (let i = from; i < to; i++) {
    const gi = g[i];
    const mi = f(f(b1 * m[i]) + f(a1 * gi));
    const vi = f(f(b2 * v[i]) + f(f(gi * gi) * a2));
    m[i] = mi;
    v[i] = vi;
    w[i] = f(w[i] * keep) - f(f(step * mi) / f(f(f(Math.sqrt(vi)) * invSqrtC2) + eps));
  }
}

/**
 * The update for a table whose rows a batch mostly leaves alone (the n-gram
 * table): only rows with a non-zero gradient move, moments included, with
 * the step's bias corrections (TensorFlow's LazyAdam, PyTorch's SparseAdam
 * plus decoupled decay). A dense update would decay and drift the 99% of
 * rows the batch never read. Gradient row i of `values` belongs to table
 * row `rowOf(i)`: every row of a dense gradient, or the rows a batch
 * touched (row-gradients.ts).
 */
function adamwUpdateRows(w: Float32Array, m: Float32Array, v: Float32Array, values: Float32Array, width: number, rowOf: (i: number) => number, k: AdamWStepConstants, decay: number): void {
  for (let from = 0, i = 0; from < values.length; from += width, i++) {
    let touched = false;
    for (let j = from; j < from + width; j++) if (values[j] !== 0) touched = true;
    if (!touched) continue;
    const at = rowOf(i) * width;
    adamwUpdate(w.subarray(at, at + width), values.subarray(from, from + width), m.subarray(at, at + width), v.subarray(at, at + width), k, decay);
  }
}

/**
 * Every tensor of `grads` but those in `skip`: row by row where `sparseRows`
 * names a row width, else whole.
 */
export function updateTensors(
  grads: ReadonlyMap<string, Float32Array>,
  state: { readonly weights: ReadonlyMap<string, Float32Array>; readonly m: ReadonlyMap<string, Float32Array>; readonly v: ReadonlyMap<string, Float32Array> },
  k: AdamWStepConstants,
  decayOf: (name: string) => number,
  sparseRows: ReadonlyMap<string, number>,
  skip?: { has(name: string): boolean },
): void {
  for (const [name, g] of grads) {
    const w = state.weights.get(name);
    const m = state.m.get(name);
    const v = state.v.get(name);
    if (skip?.has(name) || !w || !m || !v) continue;
    const width = sparseRows.get(name);
    if (width) adamwUpdateRows(w, m, v, g, width, (i) => i, k, decayOf(name));
    else adamwUpdate(w, g, m, v, k, decayOf(name));
  }
}

/** The optimizer's settings with their defaults, and each tensor's decay. */
export function adamwSettings(opts: AdamWOptions): { b1: number; b2: number; eps: number; clip: number; decayOf: (name: string) => number } {
  const wd = opts.weightDecay ?? 0;
  return { b1: opts.beta1 ?? 0.9, b2: opts.beta2 ?? 0.999, eps: opts.epsilon ?? 1e-8, clip: opts.clipNorm ?? 0, decayOf: (name) => (wd > 0 && decays(name) ? wd : 0) };
}

/** Step `t`'s constants from the pre-clip global norm. */
export function stepConstants(settings: ReturnType<typeof adamwSettings>, t: number, lr: number, norm: number): AdamWStepConstants {
  const { b1, b2, eps, clip } = settings;
  return { lr, b1, b2, eps, c1: 1 - b1 ** t, c2: 1 - b2 ** t, scale: clip > 0 && norm > clip ? clip / norm : 1 };
}

export interface ArrayAdamWOptions {
  /** Tensors updated row by row, only where the gradient is non-zero (name → row width). */
  readonly sparseRows?: ReadonlyMap<string, number>;
  /** `js` keeps every tensor on the scalar loop (the reference the SIMD kernel is tested against). */
  readonly kernel?: 'simd' | 'js';
}

/**
 * The dense tensors' moments live in a wasm arena (adamw-wasm.ts), and so do
 * their weights once `apply` has seen them: it copies each weight into the
 * arena the first time and sets the arena's view into `weights` in its place,
 * so read weights from the map after an update, never from an array kept
 * from before. Sparse-row tensors, and every tensor where wasm SIMD is
 * missing or the arena would not fit, stay on the scalar loop.
 */
export function createArrayAdamW(shapes: ReadonlyMap<string, number>, opts: AdamWOptions, o: ArrayAdamWOptions = {}): ArrayAdamW {
  const settings = adamwSettings(opts);
  const sparseRows = o.sparseRows ?? new Map<string, number>();
  const dense = [...shapes].filter(([name]) => !sparseRows.has(name));
  const arena = o.kernel === 'js' ? undefined : createAdamWArena(dense.reduce((a, [, size]) => a + 3 * (Math.ceil(size / 4) * 4), 0));
  const slots = new Map(arena ? dense.map(([name, size]) => [name, arena.alloc(size)]) : []);
  const zeros = (name: string, size: number): Float32Array => (slots.has(name) ? arena!.alloc(size) : new Float32Array(size));
  const m = new Map([...shapes].map(([name, size]) => [name, zeros(name, size)]));
  const v = new Map([...shapes].map(([name, size]) => [name, zeros(name, size)]));
  const state: ArrayAdamW = {
    step: 0,
    m,
    v,
    kernel: arena ? 'wasm SIMD' : 'JS',
    apply(weights, grads, lr, sumsq, rows = new Map()) {
      let total = sumsq ?? [...grads.values()].reduce((a, g) => a + sumOfSquares(g), 0);
      for (const r of rows.values()) total += sumOfSquares(r.values);
      const norm = Math.sqrt(total);
      state.step += 1;
      const k = stepConstants(settings, state.step, lr, norm);
      for (const [name, g] of grads) {
        const slot = slots.get(name);
        const w = weights.get(name);
        if (!slot || !w) continue;
        if (w !== slot) {
          slot.set(w);
          weights.set(name, slot);
        }
        arena!.update(slot, g, m.get(name)!, v.get(name)!, k, settings.decayOf(name));
      }
      updateTensors(grads, { weights, m, v }, k, settings.decayOf, sparseRows, slots);
      for (const [name, r] of rows) {
        const w = weights.get(name);
        if (w) adamwUpdateRows(w, m.get(name)!, v.get(name)!, r.values, r.width, (i) => r.rows[i], k, settings.decayOf(name));
      }
      return norm;
    },
  };
  return state;
}
