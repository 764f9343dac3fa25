/**
 * Which labels a row gets from its probabilities: the per-label thresholds,
 * then the tag-count bounds the training data showed. Serving, evaluation and
 * the training report all decide through here, so what a bundle scores on
 * its test split is what `livetag serve` publishes.
 */

/** How many tags a row may carry; learned from the labeled rows (see tagCountOf). */
export interface TagCount {
  readonly min: number;
  /** null: no upper bound. */
  readonly max: number | null;
}

/** Unbounded: thresholds alone decide (a bundle without `tagCount`). */
export const ANY_TAG_COUNT: TagCount = Object.freeze({ min: 0, max: null });

/**
 * Log-odds, clamped only where a double runs out: a clamp at 1e-7 made every logit past ±16
 * (the default model reaches 16) equal, so the bounds then ranked labels by threshold alone.
 */
function logit(p: number): number {
  const q = Math.min(1 - Number.EPSILON / 2, Math.max(Number.MIN_VALUE, p));
  return Math.log(q) - Math.log1p(-q);
}

/**
 * Bounds a later text is held to: at least one tag when every labeled row had
 * one (a data set whose every text is tagged, often through an "other"
 * label), at most one when no row had two (exclusive classes such as
 * sentiment). Rows without labels anywhere keep the lower bound at 0, so a
 * chat with untagged chit-chat never has a tag forced on it.
 */
export function tagCountOf(labelCounts: Iterable<number>): TagCount {
  let min = Infinity;
  let max = 0;
  for (const n of labelCounts) {
    min = Math.min(min, n);
    max = Math.max(max, n);
  }
  if (min === Infinity) return ANY_TAG_COUNT;
  return { min: min >= 1 ? 1 : 0, max: max <= 1 ? 1 : null };
}

/**
 * Column indices of the tags for one row, `probs[offset … offset+width)`.
 * Labels over their threshold are taken; when that is fewer than `count.min`
 * or more than `count.max`, labels are ranked by how far their logit is above
 * (or below) their own threshold's: thresholds differ per label, so the raw
 * probability would favour a label whose threshold is simply lower.
 */
export function selectTags(probs: ArrayLike<number>, offset: number, thresholds: readonly number[], count: TagCount = ANY_TAG_COUNT): number[] {
  const width = thresholds.length;
  const over: number[] = [];
  for (let j = 0; j < width; j++) if (probs[offset + j] >= thresholds[j]) over.push(j);
  const max = count.max ?? width;
  if (over.length >= count.min && over.length <= max) return over;
  // A NaN score (a broken model) is never chosen, not even to meet a lower bound: a row of NaN gets no tag.
  const margin = (j: number): number => logit(probs[offset + j]) - logit(thresholds[j]);
  const ranked = [...Array(width).keys()].filter((j) => !Number.isNaN(probs[offset + j])).sort((a, b) => margin(b) - margin(a));
  const keep = Math.min(Math.max(over.length, count.min), max);
  return ranked.slice(0, keep).sort((a, b) => a - b);
}
