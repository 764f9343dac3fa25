/**
 * One look at the validation rows: thresholds (tuned or fixed at 0.5), the
 * macro-F1 they give, the same at 0.5 for comparison, and the unweighted BCE.
 * The trainer judges every epoch by it and the job ships the kept epoch's
 * thresholds from it, so both see the same numbers.
 */
import { sigmoid } from '../model/runtime/classifier.ts';
import { bceWithLogits } from './losses.ts';
import { applyThresholds, multiLabelMetrics, type MultiLabelMetrics } from './metrics.ts';
import type { Recipe } from './recipe.ts';
import { tuneThresholds, type ThresholdChoice } from './thresholds.ts';

export interface ValidationScore {
  readonly thresholds: ThresholdChoice[];
  /** With `thresholds`. */
  readonly metrics: MultiLabelMetrics;
  readonly macroF1At05: number;
  readonly loss: number;
}

export function fixedThresholds(labels: readonly string[]): ThresholdChoice[] {
  return labels.map(() => ({ threshold: 0.5, f1: 0, how: 'default' as const }));
}

/** `logits` are rows × labels in the order of `truth`. */
export function scoreValidation(logits: Float32Array, truth: readonly Uint8Array[], labels: readonly string[], mode: Recipe['thresholds']): ValidationScore {
  const width = labels.length;
  const probs = logits.map(sigmoid);
  const thresholds = mode === 'tuned' ? tuneThresholds(probs, truth, width) : fixedThresholds(labels);
  const metrics = multiLabelMetrics(truth, applyThresholds(probs, truth.length, thresholds.map((t) => t.threshold)), labels);
  const macroF1At05 = multiLabelMetrics(truth, applyThresholds(probs, truth.length, labels.map(() => 0.5)), labels).macro_f1;
  const flat = new Float32Array(truth.length * width);
  truth.forEach((t, i) => flat.set(t, i * width));
  return { thresholds, metrics, macroF1At05, loss: bceWithLogits(logits, flat) };
}
