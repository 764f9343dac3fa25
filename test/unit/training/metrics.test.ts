import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyThresholds, multiLabelMetrics, toMatrix } from '../../../src/training/metrics.ts';

const labels = ['a', 'b', 'c'];

test('metrics on a hand-computed example', () => {
  const truth = toMatrix([['a'], ['a', 'b'], ['c'], []], labels);
  const pred = toMatrix([['a'], ['a'], ['b', 'c'], []], labels);
  const m = multiLabelMetrics(truth, pred, labels);
  // Rows 1 and 4 match exactly.
  assert.equal(m.subset_accuracy, 0.5);
  // a: tp 2; b: fn 1, fp 1; c: tp 1. 12 cells, 2 wrong.
  assert.equal(m.hamming_loss, 2 / 12);
  assert.deepEqual(m.per_label.a, { precision: 1, recall: 1, f1: 1, support: 2 });
  assert.deepEqual(m.per_label.b, { precision: 0, recall: 0, f1: 0, support: 1 });
  assert.deepEqual(m.per_label.c, { precision: 1, recall: 1, f1: 1, support: 1 });
  assert.equal(m.macro_f1, 2 / 3);
  // micro: tp 3, fp 1, fn 1 → 6/8.
  assert.equal(m.micro_f1, 0.75);
  assert.equal(m.samples, 4);
});

test('a label never present nor predicted scores 0 in macro-F1 (sklearn zero_division=0)', () => {
  const truth = toMatrix([['a'], ['a']], labels);
  const m = multiLabelMetrics(truth, truth, labels);
  assert.equal(m.macro_f1, 1 / 3);
  assert.equal(m.micro_f1, 1);
  assert.equal(m.subset_accuracy, 1);
});

test('empty input gives zeros, mismatched shapes throw', () => {
  const m = multiLabelMetrics([], [], labels);
  assert.equal(m.subset_accuracy, 0);
  assert.equal(m.hamming_loss, 0);
  assert.throws(() => multiLabelMetrics(toMatrix([['a']], labels), [], labels), RangeError);
});

test('applyThresholds uses each label its own threshold, inclusive', () => {
  const rows = applyThresholds(Float32Array.from([0.3, 0.5, 0.9, 0.1, 0.49, 0.95]), 2, [0.3, 0.5, 0.96]);
  assert.deepEqual(rows.map((r) => [...r]), [
    [1, 1, 0],
    [0, 0, 0],
  ]);
});

test('toMatrix ignores names outside the label set', () => {
  assert.deepEqual([...toMatrix([['b', 'zzz']], labels)[0]], [0, 1, 0]);
});
