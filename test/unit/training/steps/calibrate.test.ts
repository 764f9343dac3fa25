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

test('exact-match: the shipped thresholds are refined for whole tag sets and the calibration metrics are theirs; f1 ships the per-label choices; subset-macro weighs both', () => {
  // Label y: three positives (0.2, 0.2, 0.8) and three negatives at 0.3. Its F1-best cut (≤ 0.2, F1 0.67 against 0.5)
  // keeps all positives and admits the three negatives, whose texts are then wrong; exact match gives up two positives instead.
  const p = [
    [0.9, 0.2],
    [0.9, 0.2],
    [0.9, 0.3],
    [0.9, 0.3],
    [0.9, 0.3],
    [0.9, 0.8],
    [0.9, 0.1],
  ];
  const t = [
    [1, 1],
    [1, 1],
    [1, 0],
    [1, 0],
    [1, 0],
    [1, 1],
    [1, 0],
  ].map((r) => Uint8Array.from(r));
  const input = { valLogits: Float32Array.from(p.flat().map(logit)), truth: t, labels: ['x', 'y'], tagCount: ANY_TAG_COUNT, keptEpoch: 2 };
  const f1 = calibrateThresholds({ ...input, recipe: { thresholds: 'tuned', thresholdObjective: 'f1', rareLabelFloor: 0 } }, () => {});
  const exact = calibrateThresholds({ ...input, recipe: { thresholds: 'tuned', thresholdObjective: 'exact-match', rareLabelFloor: 0 } }, () => {});
  assert.ok(f1.thresholds[1]! <= 0.2, `F1 keeps both positives: ${f1.thresholds[1]}`);
  assert.ok(exact.thresholds[1]! > 0.3 && exact.thresholds[1]! <= 0.8, `exact match gives up two positives to lose three false alarms: ${exact.thresholds[1]}`);
  assert.equal(f1.metrics.subset_accuracy, 4 / 7);
  assert.equal(exact.metrics.subset_accuracy, 5 / 7);
  assert.equal(exact.thresholds[0], f1.thresholds[0], 'a label already right everywhere keeps its F1 choice');
  // subset-macro: one more text right (+1/7) does not pay for y's F1 falling 0.67 → 0.5 (macro-F1 −0.083, weighed twice).
  const both = calibrateThresholds({ ...input, recipe: { thresholds: 'tuned', thresholdObjective: 'subset-macro', rareLabelFloor: 0 } }, () => {});
  assert.deepEqual(both.thresholds, f1.thresholds, 'y keeps its F1 choice');
  assert.equal(both.metrics.subset_accuracy, 4 / 7);
});
