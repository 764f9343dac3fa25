import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tuneThresholds } from '../../../src/training/thresholds.ts';

test('picks the middle of the best-F1 plateau per label', () => {
  // Label 0: positives at 0.8, 0.7; negatives at 0.2, 0.3 → any t in (0.3, 0.7] is perfect.
  // Label 1: no positives → default.
  const probs = Float32Array.from([0.8, 0.1, 0.7, 0.2, 0.2, 0.9, 0.3, 0.1]);
  const truth = [Uint8Array.of(1, 0), Uint8Array.of(1, 0), Uint8Array.of(0, 0), Uint8Array.of(0, 0)];
  const [a, b] = tuneThresholds(probs, truth, 2);
  assert.equal(a.how, 'tuned');
  assert.equal(a.f1, 1);
  assert.ok(a.threshold > 0.3 && a.threshold <= 0.7, `threshold ${a.threshold}`);
  assert.ok(Math.abs(a.threshold - 0.5) <= 0.011, `middle of the plateau, got ${a.threshold}`);
  assert.deepEqual(b, { threshold: 0.5, f1: 0, how: 'default' });
});

test('a low-scoring rare label gets a low threshold', () => {
  const probs = Float32Array.from([0.12, 0.05, 0.04, 0.03]);
  const truth = [Uint8Array.of(1), Uint8Array.of(0), Uint8Array.of(0), Uint8Array.of(0)];
  const [t] = tuneThresholds(probs, truth, 1);
  assert.equal(t.f1, 1);
  assert.ok(t.threshold > 0.05 && t.threshold <= 0.12);
});
