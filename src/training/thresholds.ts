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

/** Validation texts whose whole tag set the thresholds and bounds get right. */
function exactMatches(probs: ArrayLike<number>, truth: ReadonlyArray<ArrayLike<number>>, thresholds: readonly number[], count: TagCount): number {
  const width = thresholds.length;
  let hits = 0;
  for (let i = 0; i < truth.length; i++) {
    const chosen = selectTags(probs, i * width, thresholds, count);
    let positives = 0;
    for (let j = 0; j < width; j++) if (truth[i][j] > 0) positives++;
    if (chosen.length === positives && chosen.every((j) => truth[i][j] > 0)) hits++;
  }
  return hits;
}

/**
 * Per-label F1 thresholds serve each label alone; a text is served well only
 * when its whole tag set is right, and a rare label's F1-best threshold,
 * low because a miss costs its F1 more than a false alarm, wrongly adds a
 * tag to many texts. Coordinate ascent from the F1 choices: each label in
 * turn (`sweeps` passes) takes the grid threshold that gets the most
 * validation texts exactly right under the tag-count bounds; among ties the
 * one closest to its F1 choice, so a label moves only for a gain. Labels
 * without validation positives keep their default; floored ones stay at or
 * above their floor.
 */
export function refineForExactMatch(
  probs: ArrayLike<number>,
  truth: ReadonlyArray<ArrayLike<number>>,
  start: readonly ThresholdChoice[],
  count: TagCount,
  opts: Pick<TuneOptions, 'lowest' | 'highest' | 'step'> & { readonly sweeps?: number } = {},
): ThresholdChoice[] {
  const width = start.length;
  const grid = thresholdGrid(opts);
  const thresholds = start.map((c) => c.threshold);
  for (let sweep = 0; sweep < (opts.sweeps ?? 2); sweep++) {
    for (let j = 0; j < width; j++) {
      if (start[j].how === 'default') continue;
      const floor = start[j].how === 'floored' ? start[j].threshold : 0;
      let best = { hits: -1, distance: Infinity, t: thresholds[j] };
      for (const t of grid) {
        if (t < floor) continue;
        thresholds[j] = t;
        const hits = exactMatches(probs, truth, thresholds, count);
        const distance = Math.abs(t - start[j].threshold);
        if (hits > best.hits || (hits === best.hits && distance < best.distance)) best = { hits, distance, t };
      }
      thresholds[j] = best.t;
    }
  }
  return start.map((c, j) => (c.how === 'default' ? c : { ...c, threshold: thresholds[j], f1: labelF1(probs, truth, width, j, thresholds[j]) }));
}
