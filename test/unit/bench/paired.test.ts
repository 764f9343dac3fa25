import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mean, paired, sd } from '../../../bench/lib/paired.ts';

test('paired: the mean split-by-split difference, its 95% t-interval and the splits ahead / level / behind', () => {
  assert.equal(mean([1, 2, 3]), 2);
  assert.equal(sd([1, 2, 3]), 1);
  // Differences 1, 0, −1: mean 0, sd 1, half-width t(2) · 1/√3 = 4.303 / 1.732.
  assert.equal(paired([1, 2, 3], [0, 2, 4]), '+0.0000 [−2.4843, +2.4843], 1/1/1');
  // Differences 0.02 and 0.04 on two splits: t(1) = 12.706.
  assert.equal(paired([0.52, 0.64], [0.5, 0.6]), '+0.0300 [−0.0971, +0.1571], 2/0/0');
});
