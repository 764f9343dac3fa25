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
        if (!w || !mm || !vv) continue;
        const decay = wd > 0 && decays(name) ? wd : 0;
        for (let i = 0; i < w.length; i++) {
          const gi = g[i] * scale;
          const mi = (mm[i] = b1 * mm[i] + (1 - b1) * gi);
          const vi = (vv[i] = b2 * vv[i] + (1 - b2) * gi * gi);
          w[i] -= lr * (mi / c1 / (Math.sqrt(vi / c2) + eps) + decay * w[i]);
        }
      }
      return norm;
    },
  };
  return state;
}
