/**
 * Multi-label metrics over 0/1 matrices (rows × labels). Pure functions: the
 * trainer, `livetag eval` and the champion/challenger decision all use these,
 * so a number in a report means the same thing everywhere.
 */

import { ANY_TAG_COUNT, selectTags, type TagCount } from '../model/runtime/select-tags.ts';

export type LabelMatrix = ReadonlyArray<ArrayLike<number>>;

export interface LabelScores {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly support: number;
}

export interface MultiLabelMetrics {
  readonly subset_accuracy: number;
  readonly micro_f1: number;
  readonly macro_f1: number;
  readonly hamming_loss: number;
  readonly samples: number;
  readonly per_label: Record<string, LabelScores>;
}

function checkShape(truth: LabelMatrix, pred: LabelMatrix, width: number): void {
  if (truth.length !== pred.length) throw new RangeError(`${truth.length} truth rows but ${pred.length} predicted rows`);
  for (let i = 0; i < truth.length; i++) {
    if (truth[i].length !== width || pred[i].length !== width) throw new RangeError(`row ${i} is not ${width} labels wide`);
  }
}

/** F1 from counts; 0 when the label is neither present nor predicted (sklearn's zero_division=0). */
export function f1FromCounts(tp: number, fp: number, fn: number): number {
  const denom = 2 * tp + fp + fn;
  return denom === 0 ? 0 : (2 * tp) / denom;
}

export function confusionCounts(truth: LabelMatrix, pred: LabelMatrix, width: number): { tp: number[]; fp: number[]; fn: number[] } {
  checkShape(truth, pred, width);
  const tp = new Array<number>(width).fill(0);
  const fp = new Array<number>(width).fill(0);
  const fn = new Array<number>(width).fill(0);
  for (let i = 0; i < truth.length; i++) {
    for (let j = 0; j < width; j++) {
      const t = truth[i][j] > 0;
      const p = pred[i][j] > 0;
      if (t && p) tp[j]++;
      else if (p) fp[j]++;
      else if (t) fn[j]++;
    }
  }
  return { tp, fp, fn };
}

/**
 * Macro-F1 averages every label equally, rare ones included: the number that
 * shows whether the long tail is learned at all. Labels absent from the truth
 * and never predicted count as 0, as sklearn does with zero_division=0.
 */
export function multiLabelMetrics(truth: LabelMatrix, pred: LabelMatrix, labels: readonly string[]): MultiLabelMetrics {
  const width = labels.length;
  const { tp, fp, fn } = confusionCounts(truth, pred, width);
  const n = truth.length;
  let exact = 0;
  let wrong = 0;
  for (let i = 0; i < n; i++) {
    let same = true;
    for (let j = 0; j < width; j++) {
      if (truth[i][j] > 0 !== pred[i][j] > 0) {
        same = false;
        wrong++;
      }
    }
    if (same) exact++;
  }
  const perLabel: Record<string, LabelScores> = {};
  let macro = 0;
  for (let j = 0; j < width; j++) {
    const precision = tp[j] + fp[j] === 0 ? 0 : tp[j] / (tp[j] + fp[j]);
    const recall = tp[j] + fn[j] === 0 ? 0 : tp[j] / (tp[j] + fn[j]);
    const f1 = f1FromCounts(tp[j], fp[j], fn[j]);
    perLabel[labels[j]] = { precision, recall, f1, support: tp[j] + fn[j] };
    macro += f1;
  }
  const sum = (a: number[]): number => a.reduce((s, x) => s + x, 0);
  return {
    subset_accuracy: n === 0 ? 0 : exact / n,
    micro_f1: f1FromCounts(sum(tp), sum(fp), sum(fn)),
    macro_f1: width === 0 ? 0 : macro / width,
    hamming_loss: n === 0 || width === 0 ? 0 : wrong / (n * width),
    samples: n,
    per_label: perLabel,
  };
}

/** Applies per-label thresholds, then the tag-count bounds, to probabilities (rows × labels, flattened), as serving does. */
export function applyThresholds(probs: ArrayLike<number>, rows: number, thresholds: readonly number[], count: TagCount = ANY_TAG_COUNT): Uint8Array[] {
  const width = thresholds.length;
  const out: Uint8Array[] = [];
  for (let i = 0; i < rows; i++) {
    const row = new Uint8Array(width);
    for (const j of selectTags(probs, i * width, thresholds, count)) row[j] = 1;
    out.push(row);
  }
  return out;
}

/** Rows of label names → 0/1 matrix in `labels` order; names outside `labels` are ignored. */
export function toMatrix(rows: ReadonlyArray<readonly string[]>, labels: readonly string[]): Uint8Array[] {
  const index = new Map(labels.map((l, i) => [l, i]));
  return rows.map((names) => {
    const row = new Uint8Array(labels.length);
    for (const n of names) {
      const j = index.get(n);
      if (j !== undefined) row[j] = 1;
    }
    return row;
  });
}
