/**
 * One look at the validation rows: thresholds (tuned or fixed at 0.5), the
 * macro-F1 they give, the same at 0.5 for comparison, and the unweighted BCE.
 * The trainer judges every epoch by it and the job ships the kept epoch's
 * thresholds from it, so both see the same numbers.
 */
import { sigmoid } from '../model/runtime/classifier.ts';
import { ANY_TAG_COUNT, tagCountOf, type TagCount } from '../model/runtime/select-tags.ts';
import { bceWithLogits } from './losses.ts';
import { applyThresholds, multiLabelMetrics, type MultiLabelMetrics } from './metrics.ts';
import type { Recipe } from './recipe.ts';
import { MACRO_F1_WEIGHT, refineThresholds, tuneThresholds, type ThresholdChoice } from './thresholds.ts';

export interface ValidationScore {
  readonly thresholds: ThresholdChoice[];
  /** With `thresholds`. */
  readonly metrics: MultiLabelMetrics;
  readonly macroF1At05: number;
  readonly loss: number;
}

/** The bounds the run's bundle ships: learned from the labeled rows (train and validation) or none, as the recipe says. */
export function tagCountFor(recipe: Pick<Recipe, 'tagCount'>, targets: readonly Uint8Array[], rows: readonly number[]): TagCount {
  if (recipe.tagCount === 'any') return ANY_TAG_COUNT;
  return tagCountOf(rows.map((r) => targets[r].reduce((a, b) => a + b, 0)));
}

export function fixedThresholds(labels: readonly string[]): ThresholdChoice[] {
  return labels.map(() => ({ threshold: 0.5, f1: 0, how: 'default' as const }));
}

/** `logits` are rows × labels in the order of `truth`. */
export function scoreValidation(
  logits: Float32Array,
  truth: readonly Uint8Array[],
  labels: readonly string[],
  rule: Pick<Recipe, 'thresholds' | 'rareLabelFloor'> & Partial<Pick<Recipe, 'thresholdObjective'>>,
  count: TagCount = ANY_TAG_COUNT,
): ValidationScore {
  const width = labels.length;
  // Float64, as serving decides: see BundleEvaluation.probs.
  const probs = Float64Array.from(logits, sigmoid);
  const perLabel = rule.thresholds === 'tuned' ? tuneThresholds(probs, truth, width, { rareFloor: rule.rareLabelFloor }) : fixedThresholds(labels);
  const objective = rule.thresholdObjective ?? 'f1';
  const thresholds =
    rule.thresholds === 'tuned' && objective !== 'f1' ? refineThresholds(probs, truth, perLabel, count, { macroWeight: objective === 'subset-macro' ? MACRO_F1_WEIGHT : 0, rareFloor: rule.rareLabelFloor }) : perLabel;
  const metrics = multiLabelMetrics(truth, applyThresholds(probs, truth.length, thresholds.map((t) => t.threshold), count), labels);
  const macroF1At05 = multiLabelMetrics(truth, applyThresholds(probs, truth.length, labels.map(() => 0.5)), labels).macro_f1;
  const flat = new Float32Array(truth.length * width);
  truth.forEach((t, i) => flat.set(t, i * width));
  return { thresholds, metrics, macroF1At05, loss: bceWithLogits(logits, flat) };
}
