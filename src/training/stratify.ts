/**
 * Iterative stratification for multi-label data (Sechidis, Tsoumakas and
 * Vlahavas, 2011): rarest labels are placed first, each example going to the
 * split that still wants the most of that label. A random split of many
 * imbalanced tags can leave a rare tag out of validation or test entirely,
 * making its threshold and its F1 meaningless; this does not.
 */
import { createRng } from '../common/rng.ts';

export interface StratifyOptions {
  /** Fractions per split, e.g. [0.6, 0.2, 0.2]; normalised to sum to 1. */
  readonly ratios: readonly number[];
  readonly seed: number;
  /**
   * Labels with at least this many examples get one in every split (default:
   * the number of splits). Plain proportional allocation gives a 3-example
   * label at 0.6/0.2/0.2 two train rows and one in val *or* test.
   */
  readonly minPerSplitFrom?: number;
}

function shuffle<T>(items: T[], rng: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/**
 * Assigns each row (given as its label indices) to a split index. Deterministic
 * for a seed and an input order.
 */
export function iterativeStratify(rows: ReadonlyArray<readonly number[]>, opts: StratifyOptions): number[] {
  const k = opts.ratios.length;
  if (k === 0) throw new RangeError('no splits requested');
  const total = opts.ratios.reduce((a, b) => a + b, 0);
  if (!(total > 0) || opts.ratios.some((r) => r < 0)) throw new RangeError('split ratios must be non-negative and not all zero');
  const ratios = opts.ratios.map((r) => r / total);
  const rng = createRng(opts.seed);
  const n = rows.length;
  const assignment = new Array<number>(n).fill(-1);
  const minFrom = opts.minPerSplitFrom ?? k;

  const labelRows = new Map<number, number[]>();
  rows.forEach((labels, i) => {
    for (const l of new Set(labels)) {
      if (!labelRows.has(l)) labelRows.set(l, []);
      labelRows.get(l)!.push(i);
    }
  });
  const order = shuffle([...Array(n).keys()], rng);
  const rank = new Array<number>(n);
  order.forEach((row, pos) => (rank[row] = pos));

  const wantRows = ratios.map((r) => r * n);
  const wantLabel = new Map<number, number[]>();
  const haveLabel = new Map<number, number[]>();
  for (const [l, members] of labelRows) {
    wantLabel.set(l, ratios.map((r) => r * members.length));
    haveLabel.set(l, new Array<number>(k).fill(0));
  }
  const remaining = new Map<number, number>([...labelRows].map(([l, m]) => [l, m.length]));

  const assign = (row: number, split: number): void => {
    assignment[row] = split;
    wantRows[split] -= 1;
    for (const l of new Set(rows[row])) {
      wantLabel.get(l)![split] -= 1;
      haveLabel.get(l)![split] += 1;
      remaining.set(l, remaining.get(l)! - 1);
    }
  };

  const pick = (candidates: number[], score: (s: number) => number[]): number => {
    let best: number[] = [];
    let bestKey: number[] | undefined;
    for (const s of candidates) {
      const key = score(s);
      const cmp = bestKey === undefined ? 1 : compareKeys(key, bestKey);
      if (cmp > 0) {
        best = [s];
        bestKey = key;
      } else if (cmp === 0) best.push(s);
    }
    return best.length === 1 ? best[0] : best[Math.floor(rng() * best.length)];
  };
  const splits = [...Array(k).keys()].filter((s) => ratios[s] > 0);

  for (;;) {
    // The label with the fewest unassigned examples goes next (ties: lowest id, for determinism).
    let label = -1;
    let fewest = Infinity;
    for (const [l, left] of remaining) {
      if (left > 0 && (left < fewest || (left === fewest && l < label))) {
        label = l;
        fewest = left;
      }
    }
    if (label < 0) break;
    const members = labelRows.get(label)!.filter((r) => assignment[r] < 0).sort((a, b) => rank[a] - rank[b]);
    const guarantee = labelRows.get(label)!.length >= minFrom;
    for (const row of members) {
      const have = haveLabel.get(label)!;
      const want = wantLabel.get(label)!;
      const split = pick(splits, (s) => [guarantee && have[s] === 0 ? 1 : 0, want[s], wantRows[s]]);
      assign(row, split);
    }
  }
  for (const row of order) {
    if (assignment[row] < 0) assign(row, pick(splits, (s) => [wantRows[s]]));
  }
  return assignment;
}

function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) {
    if (Math.abs(a[i] - b[i]) > 1e-9) return a[i] > b[i] ? 1 : -1;
  }
  return 0;
}

export const SPLIT_NAMES = ['train', 'validation', 'test'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

/**
 * Splits rows, keeping every row that an earlier run already placed where it
 * was (so the test split stays pinned and old and new models are compared on
 * the same rows), and stratifying only the rows not seen before.
 */
export function assignSplits(
  keys: readonly string[],
  labelIndices: ReadonlyArray<readonly number[]>,
  opts: StratifyOptions & { readonly pinned?: Readonly<Record<string, SplitName>> },
): { split: SplitName[]; pinned: number } {
  const split = new Array<SplitName>(keys.length);
  const fresh: number[] = [];
  let pinned = 0;
  keys.forEach((k, i) => {
    const p = opts.pinned?.[k];
    if (p) {
      split[i] = p;
      pinned++;
    } else fresh.push(i);
  });
  const assigned = iterativeStratify(
    fresh.map((i) => labelIndices[i]),
    opts,
  );
  fresh.forEach((i, n) => (split[i] = SPLIT_NAMES[assigned[n]]));
  return { split, pinned };
}
