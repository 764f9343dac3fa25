/**
 * Step: split. Rows placed by the previous run stay where they were (the
 * test split stays pinned, so champion and challenger are scored on the same
 * rows); new rows are stratified. The data and the assignment are written
 * beside the bundle for the next run and for `livetag eval`.
 */
import { LivetagError } from '../../common/errors.ts';
import type { LabeledRow } from '../data.ts';
import { writeRunData, type Splits } from '../run-dir.ts';
import { assignSplits, type SplitName } from '../stratify.ts';
import type { TrainValRows } from '../trainer.ts';

export interface SplitInput {
  readonly rows: readonly LabeledRow[];
  readonly labels: readonly string[];
  readonly ratios: readonly [number, number, number];
  readonly seed: number;
  /** The previous run's assignment, if it had one. */
  readonly previous?: Splits;
}

export interface SplitPlan extends TrainValRows {
  /** Split of each row, by row index. */
  readonly split: readonly SplitName[];
  readonly testRows: readonly number[];
  /** Rows kept where the previous run put them. */
  readonly pinned: number;
  /** Test rows that were test rows in the previous run. */
  readonly pinnedTest: number;
  readonly splits: Splits;
}

export function splitRows(input: SplitInput): SplitPlan {
  const { rows, labels, ratios, seed, previous } = input;
  const labelIndex = new Map(labels.map((l, i) => [l, i]));
  const assigned = assignSplits(
    rows.map((r) => r.key),
    rows.map((r) => r.labels.map((l) => labelIndex.get(l)!)),
    { ratios, seed, ...(previous ? { pinned: previous.assignments } : {}) },
  );
  const { pinned } = assigned;
  const split = keepSpellingsTogether(rows, assigned.split, previous);
  const idx = (name: SplitName): number[] => split.flatMap((s, i) => (s === name ? [i] : []));
  const testRows = idx('test');
  return {
    split,
    trainRows: idx('train'),
    valRows: idx('validation'),
    testRows,
    pinned,
    pinnedTest: previous ? testRows.filter((i) => previous.assignments[rows[i].key] === 'test').length : 0,
    splits: { version: 1, seed, ratios: [...ratios], assignments: Object.fromEntries(rows.map((r, i) => [r.key, split[i]])) },
  };
}

/**
 * Texts that differ only in whitespace ("这个 多少钱", "这个多少钱") are distinct rows but the
 * same model input: in train and test both, the test split would score what was trained on.
 * Each such group takes one split: a pinned member's (the previous run's), else its first's.
 */
function keepSpellingsTogether(rows: readonly LabeledRow[], assigned: readonly SplitName[], previous: Splits | undefined): SplitName[] {
  const split = [...assigned];
  const groups = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const key = r.text.replace(/\s+/gu, '');
    const members = groups.get(key);
    if (members) members.push(i);
    else groups.set(key, [i]);
  });
  const isPinned = (i: number): boolean => previous?.assignments[rows[i].key] !== undefined;
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const anchor = members.find(isPinned) ?? members[0];
    for (const i of members) if (!isPinned(i)) split[i] = split[anchor];
  }
  return split;
}

export async function splitData(input: SplitInput, runDir: string, log: (line: string) => void): Promise<SplitPlan> {
  const plan = splitRows(input);
  log(`split (seed ${input.seed}): train ${plan.trainRows.length}, validation ${plan.valRows.length}, test ${plan.testRows.length} (${plan.pinned} rows kept where the previous run put them)`);
  // Before training, not after: with no test rows the decision (and the report's test metrics, all 0) would rest on nothing.
  if (plan.testRows.length === 0) throw new LivetagError('LT_DATA', 'no test rows: the champion/challenger decision and the test metrics need some (more rows, or a larger test ratio in --split)');
  await writeRunData(runDir, input.rows, plan.split, plan.splits);
  return plan;
}
