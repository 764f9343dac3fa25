/**
 * Step: calibrate thresholds. Scores the kept epoch on validation and takes
 * the thresholds the recipe ships (tuned per label, or 0.5) from the same
 * numbers the trainer chose the epoch by.
 */
import type { TagCount } from '../../model/runtime/select-tags.ts';
import type { MultiLabelMetrics } from '../metrics.ts';
import type { Recipe } from '../recipe.ts';
import type { ThresholdChoice } from '../thresholds.ts';
import { scoreValidation } from '../validation-score.ts';

export interface CalibrateInput {
  /** The kept weights' logits on the validation rows, in the order of `truth`. */
  readonly valLogits: Float32Array;
  readonly truth: readonly Uint8Array[];
  readonly labels: readonly string[];
  readonly recipe: Pick<Recipe, 'thresholds' | 'rareLabelFloor'> & Partial<Pick<Recipe, 'thresholdObjective'>>;
  /** Tag-count bounds the bundle ships (validation-score.ts tagCountFor). */
  readonly tagCount: TagCount;
  readonly keptEpoch: number;
}

export interface Calibration {
  readonly choices: readonly ThresholdChoice[];
  /** One per label, in label order: what the manifest ships. */
  readonly thresholds: readonly number[];
  readonly tagCount: TagCount;
  /** Validation metrics with those thresholds and bounds. */
  readonly metrics: MultiLabelMetrics;
}

export function calibrateThresholds(input: CalibrateInput, log: (line: string) => void): Calibration {
  const score = scoreValidation(input.valLogits, input.truth, input.labels, input.recipe, input.tagCount);
  log(`kept epoch ${input.keptEpoch}: validation macro-F1 ${score.metrics.macro_f1.toFixed(4)}`);
  return { choices: score.thresholds, thresholds: score.thresholds.map((t) => t.threshold), tagCount: input.tagCount, metrics: score.metrics };
}
