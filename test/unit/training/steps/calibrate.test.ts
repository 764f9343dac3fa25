import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANY_TAG_COUNT } from '../../../../src/model/runtime/select-tags.ts';
import { calibrateThresholds } from '../../../../src/training/steps/calibrate.ts';

const labels = ['a', 'b', 'c'];
// Label a: positives score high but below 0.5, so tuning must lower its threshold.
// Label c: no positive in validation, so it keeps the default.
const logit = (p: number): number => Math.log(p / (1 - p));
const probs = [
  [0.4, 0.9, 0.1],
  [0.35, 0.2, 0.2],
  [0.05, 0.8, 0.1],
  [0.1, 0.1, 0.3],
];
const truth = [
  [1, 1, 0],
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 0],
].map((r) => Uint8Array.from(r));
const valLogits = Float32Array.from(probs.flat().map(logit));

test('tuned: per-label thresholds from validation, default where a label has no positive, kept epoch logged', () => {
  const lines: string[] = [];
  const c = calibrateThresholds({ valLogits, truth, labels, recipe: { thresholds: 'tuned', rareLabelFloor: 0 }, tagCount: ANY_TAG_COUNT, keptEpoch: 4 }, (l) => lines.push(l));
  assert.equal(c.thresholds.length, 3);
  assert.ok(c.thresholds[0] > 0.1 && c.thresholds[0] <= 0.35, `a: ${c.thresholds[0]}`);
  assert.deepEqual(c.choices.map((t) => t.how), ['tuned', 'tuned', 'default']);
  assert.equal(c.thresholds[2], 0.5);
  assert.equal(c.metrics.per_label.a.f1, 1);
  assert.deepEqual(lines, [`kept epoch 4: validation macro-F1 ${c.metrics.macro_f1.toFixed(4)}`]);
});

test('fixed: 0.5 for every label, whatever validation says', () => {
  const c = calibrateThresholds({ valLogits, truth, labels, recipe: { thresholds: 'fixed', rareLabelFloor: 0 }, tagCount: ANY_TAG_COUNT, keptEpoch: 1 }, () => {});
  assert.deepEqual(c.thresholds, [0.5, 0.5, 0.5]);
  assert.equal(c.metrics.per_label.a.f1, 0);
});
