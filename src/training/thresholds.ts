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
  const lowest = opts.lowest ?? 0.02;
  const highest = opts.highest ?? 0.98;
  const step = opts.step ?? 0.01;
  const fallback = opts.fallback ?? 0.5;
  const grid: number[] = [];
  for (let t = lowest; t <= highest + 1e-9; t += step) grid.push(Math.round(t * 1000) / 1000);
  const rows = truth.length;
  const out: ThresholdChoice[] = [];
  for (let j = 0; j < width; j++) {
    let positives = 0;
    for (let i = 0; i < rows; i++) if (truth[i][j] > 0) positives++;
    if (positives === 0) {
      out.push({ threshold: fallback, f1: 0, how: 'default' });
      continue;
    }
    const f1At = (t: number): number => {
      let tp = 0;
      let fp = 0;
      let fn = 0;
      for (let i = 0; i < rows; i++) {
        const p = probs[i * width + j] >= t;
        const y = truth[i][j] > 0;
        if (p && y) tp++;
        else if (p) fp++;
        else if (y) fn++;
      }
      return f1FromCounts(tp, fp, fn);
    };
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
