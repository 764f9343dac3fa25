import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../../../src/common/rng.ts';
import { createArrayAdamW } from '../../../src/training/adamw-arrays.ts';
import { createParallelAdamW, splitHalves } from '../../../src/training/adamw-parallel.ts';

const shapes = new Map([
  ['bert.embeddings.word_embeddings.weight', 3000],
  ['bert.encoder.layer.0.intermediate.dense.weight', 2048],
  ['bert.encoder.layer.0.output.dense.weight', 2048],
  ['bert.encoder.layer.0.attention.output.LayerNorm.weight', 64],
  ['classifier.weight', 650],
  ['classifier.bias', 13],
]);
const options = { lr: 1e-3, weightDecay: 0.01, clipNorm: 1 };

function randomMaps(seed: number): { weights: Map<string, Float32Array>; grads: () => Map<string, Float32Array> } {
  const rng = createRng(seed);
  const weights = new Map([...shapes].map(([n, size]) => [n, Float32Array.from({ length: size }, () => rng() - 0.5)]));
  const grads = () =>
    new Map(
      [...shapes].map(([n, size]) => {
        // One gradient is a view into a larger buffer, as accumulated ones can be: it must be copied, not transferred.
        const data = Float32Array.from({ length: size + 8 }, () => (rng() - 0.5) * 3);
        return [n, n === 'classifier.bias' ? data.subarray(4, 4 + size) : data.subarray(0, size).slice()];
      }),
    );
  return { weights, grads };
}

test('two threads give bit-for-bit the weights, moments and norms of one', async () => {
  const one = createArrayAdamW(shapes, options);
  const two = createParallelAdamW(shapes, options, 0);
  assert.equal(two.threads, 2);
  const a = randomMaps(5);
  const b = randomMaps(5);
  const ga = randomMaps(9).grads;
  const gb = randomMaps(9).grads;
  for (let step = 0; step < 5; step++) {
    const norm = one.apply(a.weights, ga(), 1e-3);
    assert.equal(await two.apply(b.weights, gb(), 1e-3), norm);
  }
  assert.equal(two.step, 5);
  for (const n of shapes.keys()) {
    assert.deepEqual(b.weights.get(n), a.weights.get(n), n);
    assert.deepEqual(two.m.get(n), one.m.get(n), n);
    assert.deepEqual(two.v.get(n), one.v.get(n), n);
  }
  await two.close();
  await two.close();
});

test('small models, and models one tensor dominates, stay on one thread', async () => {
  assert.equal(createParallelAdamW(shapes, options).threads, 1);
  const dominated = new Map([...shapes, ['ngram.weight', 100_000]]);
  assert.equal(createParallelAdamW(dominated, options, 0).threads, 1);
  const single = createParallelAdamW(shapes, options);
  const { weights, grads } = randomMaps(1);
  assert.ok(Number.isFinite(await single.apply(weights, grads(), 1e-3)));
  await single.close();
});

test('the halves are balanced, largest tensors first', () => {
  const theirs = splitHalves(shapes);
  const total = [...shapes.values()].reduce((x, y) => x + y, 0);
  const share = [...theirs].reduce((x, n) => x + shapes.get(n)!, 0) / total;
  assert.ok(share > 0.4 && share < 0.6, `worker share ${share}`);
  assert.ok(theirs.has('bert.embeddings.word_embeddings.weight'));
});
