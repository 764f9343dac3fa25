import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBertConfig } from '../../../src/model/bert-config.ts';
import { toEncodedBatch } from '../../../src/model/build/id-batch.ts';
import { buildBertOnnx } from '../../../src/model/build/onnx-graph.ts';
import { createOrtRunner } from '../../../src/model/runtime/onnx-session.ts';
import { randomWeights } from '../../../src/model/weights.ts';
import { createFrozenFeatures, createIdFeatures } from '../../../src/training/features.ts';
import { initTfBackend, tf } from '../../../src/training/tf-backend.ts';
import { createTfBert } from '../../../src/training/tf-bert.ts';
import { predictLogits } from '../../../src/training/tf-engine.ts';

const config = parseBertConfig({
  vocabSize: 60,
  hiddenSize: 16,
  numLayers: 2,
  numHeads: 2,
  intermediateSize: 32,
  maxPositions: 24,
  typeVocabSize: 2,
  numLabels: 3,
  layerNormEps: 1e-12,
});
// Large weights make any layout or op mismatch show up in the logits.
const weights = randomWeights(config, 3, 0.5);
const ids = [
  Int32Array.of(2, 10, 11, 12, 13, 3),
  Int32Array.of(2, 20, 3),
  Int32Array.of(2, 30, 31, 3),
  Int32Array.of(2, 40, 41, 42, 43, 44, 45, 46, 3),
];

async function ortLogits(bytes: Uint8Array): Promise<Float32Array> {
  const runner = await createOrtRunner(bytes, { threads: 1 });
  try {
    return await runner.run(toEncodedBatch(ids));
  } finally {
    await runner.release();
  }
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('tfjs forward equals the ONNX graph (padding included)', async () => {
  await initTfBackend();
  const model = createTfBert(config, weights);
  try {
    const tfOut = predictLogits(model, createIdFeatures(ids), [0, 1, 2, 3]);
    const diff = maxDiff(tfOut, await ortLogits(buildBertOnnx(config, weights)));
    assert.ok(diff <= 1e-4, `max |Δ| ${diff}`);
  } finally {
    model.dispose();
  }
});

test('frozen lower layers from onnxruntime + top layers in tfjs equal the full model', async () => {
  await initTfBackend();
  const model = createTfBert(config, weights, 1);
  try {
    assert.ok(![...model.variables.keys()].some((n) => n.startsWith('bert.embeddings.') || n.startsWith('bert.encoder.layer.0.')));
    const features = await createFrozenFeatures(config, weights, 1, ids, { threads: 1, batchSize: 3 });
    const tfOut = predictLogits(model, features, [0, 1, 2, 3]);
    const diff = maxDiff(tfOut, await ortLogits(buildBertOnnx(config, weights)));
    assert.ok(diff <= 1e-4, `max |Δ| ${diff}`);
  } finally {
    model.dispose();
  }
});

test('export gives back the canonical weights; every trainable tensor gets a gradient', async () => {
  await initTfBackend();
  const model = createTfBert(config, weights);
  try {
    for (const [name, t] of model.exportWeights()) {
      assert.deepEqual(t.shape, weights.get(name)!.shape, name);
      assert.ok(maxDiff(t.data, weights.get(name)!.data) === 0, name);
    }
    const input = createIdFeatures(ids).input([0, 1, 2, 3]);
    const { grads, value } = tf.variableGrads(() => tf.mean(tf.square(model.logits(input))) as tf.Scalar, [...model.variables.values()]);
    assert.equal(Object.keys(grads).length, model.variables.size);
    for (const [id, g] of Object.entries(grads)) {
      const sum = tf.sum(tf.abs(g)).dataSync()[0];
      // The token-type row 1 is unused but the table as a whole gets a gradient.
      assert.ok(sum > 0 && Number.isFinite(sum), `${id}: gradient sum ${sum}`);
    }
    tf.dispose([value, ...Object.values(grads)]);
  } finally {
    model.dispose();
  }
});
