import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFingerprint } from '../../../../src/training/steps/train.ts';
import { livetagRecipe } from '../../../../src/training/recipe.ts';

type Run = Parameters<typeof runFingerprint>[0];

test('resume fingerprint: a frozen n-gram table is part of it; runs without one keep their old fingerprint', () => {
  const run = {
    initial: { recipe: livetagRecipe('scratch', 0), config: { hiddenSize: 8 }, frozenLayers: 0, maxLength: 16, tokenizerJson: '{}', initFrom: 'scratch', weights: new Map() },
    rows: [{ key: 'a', labels: ['price'] }, { key: 'b', labels: [] }],
    labels: ['price'],
    plan: { trainRows: [0], valRows: [1], testRows: [] },
  } as unknown as Run;
  const plain = runFingerprint(run, 13, 'onnxruntime');
  assert.equal(runFingerprint(run, 13, 'onnxruntime', []), plain);
  const frozen = runFingerprint(run, 13, 'onnxruntime', ['ngram.weight']);
  assert.notEqual(frozen, plain);
  assert.equal(runFingerprint(run, 13, 'onnxruntime', ['ngram.weight']), frozen);
  assert.notEqual(runFingerprint(run, 14, 'onnxruntime'), plain);
});

test('resume fingerprint: relabelling a validation row changes it (the checkpoint\'s best epoch was scored on the old labels)', () => {
  const run = (valLabels: string[]) =>
    ({
      initial: { recipe: livetagRecipe('scratch', 0), config: { hiddenSize: 8 }, frozenLayers: 0, maxLength: 16, tokenizerJson: '{}', initFrom: 'scratch', weights: new Map() },
      rows: [{ key: 'a', labels: ['price'] }, { key: 'b', labels: valLabels }],
      labels: ['price', 'size'],
      plan: { trainRows: [0], valRows: [1], testRows: [] },
    }) as unknown as Run;
  assert.equal(runFingerprint(run([]), 13, 'onnxruntime'), runFingerprint(run([]), 13, 'onnxruntime'));
  assert.notEqual(runFingerprint(run(['size']), 13, 'onnxruntime'), runFingerprint(run([]), 13, 'onnxruntime'));
});

test('resume fingerprint without a starting graph: the starting weights themselves, not the path they came from', () => {
  const run = (bias: number) =>
    ({
      initial: { recipe: livetagRecipe('scratch', 0), config: { hiddenSize: 8 }, frozenLayers: 0, maxLength: 16, tokenizerJson: '{}', initFrom: 'bundle /models/encoder', weights: new Map([['classifier.bias', { shape: [1], data: Float32Array.of(bias) }]]) },
      rows: [{ key: 'a', labels: ['price'] }, { key: 'b', labels: [] }],
      labels: ['price'],
      plan: { trainRows: [0], valRows: [1], testRows: [] },
    }) as unknown as Run;
  assert.equal(runFingerprint(run(0.5), 13, 'onnxruntime'), runFingerprint(run(0.5), 13, 'onnxruntime'));
  assert.notEqual(runFingerprint(run(0.5), 13, 'onnxruntime'), runFingerprint(run(0.25), 13, 'onnxruntime'), 'the encoder at that path was replaced');
});
