import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecider } from '../../../../src/model/runtime/classifier.ts';
import { ANY_TAG_COUNT, selectTags, tagCountOf } from '../../../../src/model/runtime/select-tags.ts';
import { applyThresholds } from '../../../../src/training/metrics.ts';
import { scoreValidation } from '../../../../src/training/validation-score.ts';

const logit = (p: number): number => Math.log(p / (1 - p));

test('tagCountOf: bounds follow the labeled rows', () => {
  assert.deepEqual(tagCountOf([1, 2, 3, 1]), { min: 1, max: null }, 'every row tagged, some several');
  assert.deepEqual(tagCountOf([1, 1, 1]), { min: 1, max: 1 }, 'exclusive classes');
  assert.deepEqual(tagCountOf([0, 1, 2]), { min: 0, max: null }, 'untagged rows exist: nothing forced');
  assert.deepEqual(tagCountOf([0, 1, 1]), { min: 0, max: 1 });
  assert.deepEqual(tagCountOf([]), ANY_TAG_COUNT, 'no rows: thresholds alone');
});

test('selectTags: within the bounds the thresholds alone decide', () => {
  const probs = [0.9, 0.2, 0.6];
  assert.deepEqual(selectTags(probs, 0, [0.5, 0.5, 0.5]), [0, 2]);
  assert.deepEqual(selectTags(probs, 0, [0.5, 0.5, 0.5], { min: 1, max: null }), [0, 2]);
  assert.deepEqual(selectTags([0.1, 0.2, 0.3], 0, [0.5, 0.5, 0.5], ANY_TAG_COUNT), [], 'unbounded: no tag is a valid answer');
});

test('selectTags: too few tags takes the label furthest over (or least under) its own threshold, not the highest probability', () => {
  // Label 0 has the higher probability, but label 1 is nearer its (lower) threshold.
  const probs = [0.45, 0.3, 0.05];
  const thresholds = [0.9, 0.35, 0.5];
  assert.deepEqual(selectTags(probs, 0, thresholds, { min: 1, max: null }), [1]);
  // Row offsets: the second row of a flat batch.
  assert.deepEqual(selectTags([0, 0, 0, ...probs], 3, thresholds, { min: 1, max: null }), [1]);
});

test('selectTags: too many tags keeps the best margins (exclusive classes → one)', () => {
  const probs = [0.7, 0.95, 0.6];
  const thresholds = [0.2, 0.9, 0.5];
  // Margins: 0 → logit(.7)-logit(.2) ≈ 2.23; 1 → logit(.95)-logit(.9) ≈ 0.75; 2 → ≈ 0.41.
  assert.deepEqual(selectTags(probs, 0, thresholds, { min: 1, max: 1 }), [0]);
  assert.deepEqual(selectTags(probs, 0, thresholds, { min: 0, max: 2 }), [0, 1]);
});

test('the serving decider and the training metrics decide alike', () => {
  const labels = ['price', 'size', 'stock'];
  const thresholds = [0.9, 0.35, 0.5];
  const count = { min: 1, max: null };
  const rows = [
    [0.45, 0.3, 0.05],
    [0.95, 0.6, 0.1],
    [0.1, 0.1, 0.8],
  ];
  const served = createDecider(labels, thresholds, count)(Float32Array.from(rows.flat().map(logit)), rows.length);
  const scored = applyThresholds(rows.flat(), rows.length, thresholds, count);
  assert.deepEqual(
    served.map((c) => c.tags.map((t) => t.label).sort()),
    scored.map((r) => labels.filter((_, j) => r[j] === 1).sort()),
  );
  assert.deepEqual(served[0].tags.map((t) => t.label), ['size'], 'a row under every threshold still gets its nearest label');
  assert.ok(Math.abs(served[0].tags[0].score - 0.3) < 1e-6, 'the tag keeps its probability as its score');
  // Without bounds the same row gets nothing, as before tag counts existed.
  assert.deepEqual(createDecider(labels, thresholds)(Float32Array.from(rows[0].map(logit)), 1)[0].tags, []);
});

test('the bounds rank by the model past ±16 logits too (not by threshold once probabilities saturate), and a NaN score is never the label forced in', () => {
  const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
  // At most one tag, both over: b is far more confident although its threshold is higher.
  assert.deepEqual(selectTags([sigmoid(17), sigmoid(30)], 0, [0.3, 0.6], { min: 0, max: 1 }), [1]);
  // At least one, none over: a is far closer to its threshold.
  assert.deepEqual(selectTags([sigmoid(-17), sigmoid(-40)], 0, [0.6, 0.3], { min: 1, max: 1 }), [0]);
  for (const probs of [[Number.NaN, 0.2, 0.1], [0.1, 0.2, Number.NaN]]) assert.deepEqual(selectTags(probs, 0, [0.5, 0.5, 0.5], { min: 1, max: null }), [1], JSON.stringify(probs));
  assert.deepEqual(selectTags([Number.NaN, Number.NaN, Number.NaN], 0, [0.5, 0.5, 0.5], { min: 1, max: null }), [], 'a row of NaN gets no tag, not the first label');
  assert.deepEqual(selectTags([Number.NaN, 0.9, 0.8], 0, [0.5, 0.5, 0.5], { min: 0, max: 1 }), [1], 'nor a place under the upper bound');
});

test('training\'s validation scoring decides saturated logits as serving does (probabilities in float64: in float32 both are 1 and the bounds fell back to label order)', () => {
  // At most one tag; both over 0.5; the second is far more confident, and the truth.
  const score = scoreValidation(Float32Array.of(20, 30, -5), [Uint8Array.of(0, 1, 0)], ['a', 'b', 'c'], { thresholds: 'fixed', rareLabelFloor: 0 }, { min: 0, max: 1 });
  const served = createDecider(['a', 'b', 'c'], [0.5, 0.5, 0.5], { min: 0, max: 1 })(Float32Array.of(20, 30, -5), 1);
  assert.deepEqual(served[0].tags.map((t) => t.label), ['b']);
  assert.equal(score.metrics.subset_accuracy, 1, 'validation picked b too');
});
