/**
 * AdamW (Loshchilov and Hutter) with a linear warmup then linear decay, the
 * schedule BERT fine-tuning is known to need: tfjs ships Adam, whose L2
 * penalty goes through the adaptive denominator, but not decoupled decay.
 */
import { tf } from './tf-backend.ts';

export interface AdamWOptions {
  readonly lr: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
  readonly weightDecay?: number;
  /** Global gradient-norm clip; 0 disables. */
  readonly clipNorm?: number;
}

export interface Schedule {
  readonly warmupSteps: number;
  readonly totalSteps: number;
  /** 'constant' reproduces a plain optimizer without a schedule. */
  readonly kind: 'linear' | 'constant';
}

export function learningRateAt(step: number, base: number, s: Schedule): number {
  if (s.kind === 'constant') return base;
  if (s.warmupSteps > 0 && step < s.warmupSteps) return (base * (step + 1)) / s.warmupSteps;
  const decaySteps = Math.max(1, s.totalSteps - s.warmupSteps);
  return base * Math.max(0, (s.totalSteps - step) / decaySteps);
}

/** HF's convention: biases and LayerNorm weights are not decayed. */
export function decays(name: string): boolean {
  return !(name.endsWith('.bias') || name.includes('LayerNorm'));
}

export interface OptimizerState {
  step: number;
  readonly m: Map<string, tf.Variable>;
  readonly v: Map<string, tf.Variable>;
}

export interface AdamW {
  readonly state: OptimizerState;
  /** Applies one update; returns the pre-clip global gradient norm. */
  apply(grads: Record<string, tf.Tensor>, lr: number): number;
  dispose(): void;
}

export function createAdamW(variables: ReadonlyMap<string, tf.Variable>, opts: AdamWOptions): AdamW {
  const b1 = opts.beta1 ?? 0.9;
  const b2 = opts.beta2 ?? 0.999;
  const eps = opts.epsilon ?? 1e-8;
  const wd = opts.weightDecay ?? 0;
  const clip = opts.clipNorm ?? 0;
  const state: OptimizerState = { step: 0, m: new Map(), v: new Map() };
  for (const [name, variable] of variables) {
    const zeros = tf.zerosLike(variable);
    state.m.set(name, tf.variable(zeros, false));
    state.v.set(name, tf.variable(zeros, false));
    zeros.dispose();
  }
  const byId = new Map([...variables].map(([name, variable]) => [variable.name, name]));

  return {
    state,
    apply(grads, lr) {
      const entries = Object.entries(grads).map(([id, g]) => [byId.get(id) ?? id, g] as const);
      // One read-back per step for the norm, not one per variable.
      const squared = tf.tidy(() => tf.addN(entries.map(([, g]) => tf.sum(tf.square(g)))));
      const norm = Math.sqrt(squared.dataSync()[0]);
      squared.dispose();
      const scale = clip > 0 && norm > clip ? clip / norm : 1;
      state.step += 1;
      const t = state.step;
      const c1 = 1 - b1 ** t;
      const c2 = 1 - b2 ** t;
      tf.tidy(() => {
        for (const [name, g0] of entries) {
          const w = variables.get(name);
          if (!w) continue;
          const g = scale === 1 ? g0 : tf.mul(g0, scale);
          const m = state.m.get(name)!;
          const v = state.v.get(name)!;
          m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
          v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
          let update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
          if (wd > 0 && decays(name)) update = tf.add(update, tf.mul(w, wd));
          w.assign(tf.sub(w, tf.mul(update, lr)));
        }
      });
      return norm;
    },
    dispose() {
      for (const t of [...state.m.values(), ...state.v.values()]) t.dispose();
    },
  };
}
