import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../../../src/common/rng.ts';
import { assignSplits, iterativeStratify } from '../../../src/training/stratify.ts';

/** Imbalanced multi-label rows shaped like the tag data: one frequent label, a long tail. */
function synthetic(n: number, seed: number): number[][] {
  const rng = createRng(seed);
  const freq = [0.7, 0.25, 0.2, 0.15, 0.07, 0.05, 0.03, 0.02, 0.01, 0.005];
  return Array.from({ length: n }, () => freq.flatMap((p, l) => (rng() < p ? [l] : [])));
}

test('every label with >= 3 examples is in every split, proportions hold', () => {
  const rows = synthetic(1000, 7);
  // Force a label with exactly 3 examples: the case plain proportional allocation gets wrong.
  rows[0].push(42);
  rows[1].push(42);
  rows[2].push(42);
  const ratios = [0.6, 0.2, 0.2];
  const split = iterativeStratify(rows, { ratios, seed: 1 });
  const sizes = [0, 1, 2].map((s) => split.filter((x) => x === s).length);
  sizes.forEach((n, s) => assert.ok(Math.abs(n / rows.length - ratios[s]) < 0.02, `split ${s} has ${n} rows`));
  const labels = new Set(rows.flat());
  for (const l of labels) {
    const members = rows.flatMap((r, i) => (r.includes(l) ? [i] : []));
    if (members.length < 3) continue;
    for (const s of [0, 1, 2]) {
      const inSplit = members.filter((i) => split[i] === s).length;
      assert.ok(inSplit >= 1, `label ${l} (${members.length} rows) missing from split ${s}`);
      if (members.length >= 50) {
        assert.ok(Math.abs(inSplit / members.length - ratios[s]) < 0.05, `label ${l} split ${s}: ${inSplit}/${members.length}`);
      }
    }
  }
});

test('deterministic for a seed, different for another', () => {
  const rows = synthetic(300, 3);
  const a = iterativeStratify(rows, { ratios: [0.6, 0.2, 0.2], seed: 5 });
  const b = iterativeStratify(rows, { ratios: [0.6, 0.2, 0.2], seed: 5 });
  const c = iterativeStratify(rows, { ratios: [0.6, 0.2, 0.2], seed: 6 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('rows without labels are still split by the row ratios', () => {
  const rows = Array.from({ length: 100 }, () => [] as number[]);
  const split = iterativeStratify(rows, { ratios: [0.5, 0.5], seed: 1 });
  assert.equal(split.filter((s) => s === 0).length, 50);
});

test('assignSplits keeps pinned rows where they were and stratifies the new ones', () => {
  const rows = synthetic(200, 11);
  const keys = rows.map((_, i) => `k${i}`);
  const pinned = { k0: 'test', k1: 'train', k2: 'validation' } as const;
  const { split, pinned: n } = assignSplits(keys, rows, { ratios: [0.6, 0.2, 0.2], seed: 2, pinned });
  assert.equal(n, 3);
  assert.equal(split[0], 'test');
  assert.equal(split[1], 'train');
  assert.equal(split[2], 'validation');
  const test = split.filter((s) => s === 'test').length;
  assert.ok(test >= 35 && test <= 45, `test has ${test} rows`);
});
