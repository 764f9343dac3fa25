/**
 * AdamW on plain Float32Arrays, the onnxruntime engine's optimizer: the same
 * update as the tfjs one in optimizer.ts (bias-corrected moments, decoupled
 * weight decay for all but biases and LayerNorm, global-norm clipping).
 * Weights stay in JS memory between steps and are fed to the training graph
 * as inputs; one fused loop per tensor touches each value once.
 */
import { decays, type AdamWOptions } from './optimizer.ts';

export interface ArrayAdamW {
  step: number;
  readonly m: Map<string, Float32Array>;
  readonly v: Map<string, Float32Array>;
  /** Updates `weights` in place from `grads`; returns the pre-clip global gradient norm. */
  apply(weights: ReadonlyMap<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>, lr: number): number;
}

export function globalNorm(grads: ReadonlyMap<string, Float32Array>): number {
  let sum = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
  return Math.sqrt(sum);
}

/** One tensor's update, kept monomorphic and free of closures so V8 compiles a tight loop. */
function update(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, b1: number, b2: number, eps: number, c1: number, c2: number, decay: number, scale: number): void {
  const a1 = 1 - b1;
  const a2 = 1 - b2;
  const ic1 = 1 / c1;
  const ic2 = 1 / c2;
  for (let i = 0; i < w.length; i++) {
    const gi = g[i] * scale;
    const mi = b1 * m[i] + a1 * gi;
    const vi = b2 * v[i] + a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= lr * ((mi * ic1) / (Math.sqrt(vi * ic2) + eps) + decay * w[i]);
  }
}

export function createArrayAdamW(shapes: ReadonlyMap<string, number>, opts: AdamWOptions): ArrayAdamW {
  const b1 = opts.beta1 ?? 0.9;
  const b2 = opts.beta2 ?? 0.999;
  const eps = opts.epsilon ?? 1e-8;
  const wd = opts.weightDecay ?? 0;
  const clip = opts.clipNorm ?? 0;
  const m = new Map([...shapes].map(([name, size]) => [name, new Float32Array(size)]));
  const v = new Map([...shapes].map(([name, size]) => [name, new Float32Array(size)]));
  const state: ArrayAdamW = {
    step: 0,
    m,
    v,
    apply(weights, grads, lr) {
      const norm = globalNorm(grads);
      const scale = clip > 0 && norm > clip ? clip / norm : 1;
      state.step += 1;
      const c1 = 1 - b1 ** state.step;
      const c2 = 1 - b2 ** state.step;
      for (const [name, g] of grads) {
        const w = weights.get(name);
        const mm = m.get(name);
        const vv = v.get(name);
        if (w && mm && vv) update(w, g, mm, vv, lr, b1, b2, eps, c1, c2, wd > 0 && decays(name) ? wd : 0, scale);
      }
      return norm;
    },
  };
  return state;
}
