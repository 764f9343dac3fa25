/**
 * Multi-label losses on logits. All are means over rows × labels, as
 * PyTorch's reductions, so a loss value reads the same as in the user's
 * notebook.
 */
import { LivetagError } from '../common/errors.ts';
import { TORCH_LOG_FLOOR } from '../model/build/training-graph.ts';
import { tf } from './tf-backend.ts';

/**
 * max(log x, floor) as PyTorch's BCELoss clamps it, with the gradient dy/x where log x > floor and
 * 0 elsewhere: tf.maximum over tf.log gives 0·(1/0) = NaN at x = 0 (a saturated sigmoid's 1 − p).
 */
function logFloor(x: tf.Tensor): tf.Tensor {
  // customGrad passes the save function after the inputs; its typing cannot say so.
  const f = tf.customGrad(((v: tf.Tensor, save: tf.GradSaveFunc) => {
    const logX = tf.log(v);
    save([v, logX]);
    return {
      value: tf.maximum(logX, TORCH_LOG_FLOOR),
      gradFunc: (dy: tf.Tensor, [saved, savedLog]: tf.Tensor[]) => tf.where(tf.greater(savedLog, TORCH_LOG_FLOOR), tf.div(dy, saved), tf.zerosLike(saved)),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor;
}

export type LossName = 'bce' | 'focal' | 'asl' | 'sigmoid-bce';

export interface LossOptions {
  readonly name: LossName;
  /** Per-label weight of positive terms (BCEWithLogits' pos_weight); bce only. */
  readonly posWeight?: readonly number[];
  /** Focal loss focusing parameter. */
  readonly gamma?: number;
  /** Asymmetric loss: focusing for negatives and positives, and the probability margin shifted off negatives. */
  readonly gammaNeg?: number;
  readonly gammaPos?: number;
  readonly clip?: number;
}


function powInt(x: tf.Tensor, n: number): tf.Tensor {
  if (!Number.isInteger(n) || n < 0) return tf.pow(x, n);
  let out: tf.Tensor = tf.onesLike(x);
  for (let i = 0; i < n; i++) out = tf.mul(out, x);
  return out;
}

export function computeLoss(logits: tf.Tensor2D, targets: tf.Tensor2D, opts: LossOptions): tf.Scalar {
  return tf.tidy(() => {
    const y = targets;
    const notY = tf.sub(1, y);
    switch (opts.name) {
      case 'bce': {
        // -log σ(z) = softplus(-z), -log(1-σ(z)) = softplus(z): stable for any logit.
        const pos = tf.mul(y, tf.softplus(tf.neg(logits)));
        const weighted = opts.posWeight ? tf.mul(pos, tf.tensor1d([...opts.posWeight])) : pos;
        return tf.mean(tf.add(weighted, tf.mul(notY, tf.softplus(logits)))) as tf.Scalar;
      }
      case 'sigmoid-bce': {
        // The user's setup exactly: sigmoid, then BCELoss on probabilities.
        const p = tf.sigmoid(logits);
        const logP = logFloor(p);
        const log1mP = logFloor(tf.sub(1, p));
        return tf.neg(tf.mean(tf.add(tf.mul(y, logP), tf.mul(notY, log1mP)))) as tf.Scalar;
      }
      case 'focal': {
        // Lin et al. 2017: down-weights easy examples by (1 - p_t)^γ.
        const gamma = opts.gamma ?? 2;
        const p = tf.sigmoid(logits);
        const pos = tf.mul(tf.mul(y, powInt(tf.sub(1, p), gamma)), tf.softplus(tf.neg(logits)));
        const neg = tf.mul(tf.mul(notY, powInt(p, gamma)), tf.softplus(logits));
        return tf.mean(tf.add(pos, neg)) as tf.Scalar;
      }
      case 'asl': {
        // Ridnik et al. 2021: strong focusing and a probability margin on
        // negatives only, so the many easy negatives of rare tags stop
        // dominating the gradient while positives keep full weight.
        const gNeg = opts.gammaNeg ?? 4;
        const gPos = opts.gammaPos ?? 0;
        const clip = opts.clip ?? 0.05;
        const p = tf.sigmoid(logits);
        const pm = clip > 0 ? tf.relu(tf.sub(p, clip)) : p;
        const pos = tf.mul(tf.mul(y, powInt(tf.sub(1, p), gPos)), tf.softplus(tf.neg(logits)));
        const logNotPm = tf.log(tf.maximum(tf.sub(1, pm), 1e-8));
        const neg = tf.mul(tf.mul(notY, powInt(pm, gNeg)), tf.neg(logNotPm));
        return tf.mean(tf.add(pos, neg)) as tf.Scalar;
      }
      default:
        throw new LivetagError('LT_TRAINING', `unknown loss ${String(opts.name)}`);
    }
  });
}

/**
 * Positive weight per label: sqrt(negatives / positives), capped. The full
 * ratio (~250 for a tag with 10 of 2,500 rows) makes a handful of rows
 * dominate every step and diverges; the square root keeps rare tags heard
 * without that.
 */
export function positiveWeights(counts: readonly number[], rows: number, cap = 10): number[] {
  return counts.map((pos) => (pos === 0 ? 1 : Math.min(cap, Math.max(1, Math.sqrt((rows - pos) / pos)))));
}

/** Plain-JS mean BCE-with-logits, for checking tfjs against onnxruntime outputs. */
export function bceWithLogits(logits: ArrayLike<number>, targets: ArrayLike<number>, posWeight?: readonly number[]): number {
  const width = posWeight?.length ?? 0;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const z = logits[i];
    const y = targets[i];
    const sp = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
    const w = width > 0 ? posWeight![i % width] : 1;
    sum += w * y * sp(-z) + (1 - y) * sp(z);
  }
  return logits.length === 0 ? 0 : sum / logits.length;
}
