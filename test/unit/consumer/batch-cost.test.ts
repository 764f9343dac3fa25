import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBatchCost, DEFAULT_OVERHEAD_TOKENS, splitByLength } from '../../../src/consumer/batch-cost.ts';

test('the fit finds the fixed part of a batch in padded tokens, and keeps the default until it can', () => {
  const cost = createBatchCost();
  // 2 ms per batch + 0.1 ms per padded token: the fixed part is worth 20 tokens.
  for (let i = 0; i < 15; i++) cost.observe(10 + 37 * i, 2 + 0.1 * (10 + 37 * i));
  assert.equal(cost.overheadTokens(), DEFAULT_OVERHEAD_TOKENS, 'too few samples');
  for (let i = 15; i < 60; i++) cost.observe(10 + ((37 * i) % 500), 2 + 0.1 * (10 + ((37 * i) % 500)));
  assert.ok(Math.abs(cost.overheadTokens() - 20) < 1e-6, `${cost.overheadTokens()}`);

  const same = createBatchCost(5);
  for (let i = 0; i < 40; i++) same.observe(100, 3 + (i % 2));
  assert.equal(same.overheadTokens(), 5, 'batches of one size say nothing about the fixed part');
  same.observe(Number.NaN, 1);
  same.observe(10, Number.POSITIVE_INFINITY);
  assert.equal(same.overheadTokens(), 5);
});

/** Every way to cut sorted lengths into consecutive batches, the cheapest cost. */
function bruteForce(sorted: number[], overhead: number): number {
  let best = Infinity;
  const n = sorted.length;
  for (let mask = 0; mask < 1 << (n - 1); mask++) {
    let cost = 0;
    let start = 0;
    for (let j = 1; j <= n; j++) {
      if (j === n || mask & (1 << (j - 1))) {
        cost += overhead + (j - start) * sorted[j - 1];
        start = j;
      }
    }
    best = Math.min(best, cost);
  }
  return best;
}

test('splitting by length finds the cheapest consecutive batches', () => {
  assert.deepEqual(splitByLength([3, 3, 3, 4, 20, 21], 5), [4, 6]);
  assert.deepEqual(splitByLength([3, 3, 3, 4, 20, 21], 1000), [6], 'a costly batch is never worth it');
  assert.deepEqual(splitByLength([7, 7, 7, 7], 0), [4], 'equal lengths stay one batch, even at no overhead');
  assert.deepEqual(splitByLength([5], 3), [1]);
  let seed = 11;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let trial = 0; trial < 200; trial++) {
    const sorted = Array.from({ length: 1 + Math.floor(rnd() * 10) }, () => 1 + Math.floor(rnd() * 40)).sort((a, b) => a - b);
    const overhead = Math.floor(rnd() * 60);
    const ends = splitByLength(sorted, overhead);
    assert.equal(ends.at(-1), sorted.length);
    let cost = 0;
    let start = 0;
    for (const end of ends) {
      assert.ok(end > start);
      cost += overhead + (end - start) * sorted[end - 1];
      start = end;
    }
    assert.equal(cost, bruteForce(sorted, overhead), `trial ${trial}: ${sorted} at ${overhead}`);
  }
});
