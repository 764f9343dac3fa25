import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bceWithLogits, computeLoss, positiveWeights } from '../../../src/training/losses.ts';
import { initTfBackend, tf } from '../../../src/training/tf-backend.ts';

const z = [2.0, -1.0, 0.5, -3.0, 0.0, 1.5];
const y = [1, 0, 0, 1, 1, 0];

async function loss(name: Parameters<typeof computeLoss>[2]): Promise<number> {
  await initTfBackend();
  return tf.tidy(() => computeLoss(tf.tensor2d(z, [2, 3]), tf.tensor2d(y, [2, 3]), name).dataSync()[0]);
}

test('bce matches the closed form, with and without positive weights', async () => {
  const expected = bceWithLogits(z, y);
  assert.ok(Math.abs((await loss({ name: 'bce' })) - expected) < 1e-6);
  const pw = [2, 1, 3];
  const weighted = bceWithLogits(z, y, pw);
  assert.ok(Math.abs((await loss({ name: 'bce', posWeight: pw })) - weighted) < 1e-6);
  assert.ok(weighted > expected);
});

test('sigmoid-bce (the seed recipe) equals bce for unsaturated logits', async () => {
  assert.ok(Math.abs((await loss({ name: 'sigmoid-bce' })) - bceWithLogits(z, y)) < 1e-5);
});

test('focal with gamma 0 and ASL without focusing or clip reduce to bce', async () => {
  const bce = bceWithLogits(z, y);
  assert.ok(Math.abs((await loss({ name: 'focal', gamma: 0 })) - bce) < 1e-5);
  assert.ok(Math.abs((await loss({ name: 'asl', gammaNeg: 0, gammaPos: 0, clip: 0 })) - bce) < 1e-5);
  // Focusing only ever lowers the loss.
  assert.ok((await loss({ name: 'focal', gamma: 2 })) < bce);
  assert.ok((await loss({ name: 'asl' })) < bce);
});

test('bce gradient is (sigmoid(z) - y) / n', async () => {
  await initTfBackend();
  const logits = tf.tensor2d(z, [2, 3]);
  const g = tf.grad((x: tf.Tensor) => computeLoss(x as tf.Tensor2D, tf.tensor2d(y, [2, 3]), { name: 'bce' }))(logits).dataSync();
  z.forEach((v, i) => assert.ok(Math.abs(g[i] - (1 / (1 + Math.exp(-v)) - y[i]) / z.length) < 1e-6));
});

test('positive weights: sqrt(neg/pos), at least 1, capped', () => {
  assert.deepEqual(positiveWeights([50, 10, 1, 0, 90], 100, 5), [1, 3, 5, 1, 1]);
});

test('sigmoid-bce on saturated logits: the clamped loss, and a finite gradient (tf.maximum over tf.log gave 0·∞ = NaN)', async () => {
  await initTfBackend();
  const sat = [40, -120, 40, 0.5];
  const lab = [0, 1, 1, 0];
  const value = tf.tidy(() => computeLoss(tf.tensor2d(sat, [1, 4]), tf.tensor2d(lab, [1, 4]), { name: 'sigmoid-bce' }).dataSync()[0]);
  // Two cells at the floor (100 each), one at ~0, one at log(1 + e^0.5).
  assert.ok(Math.abs(value - (200 + Math.log1p(Math.exp(0.5))) / 4) < 1e-3, `loss ${value}`);
  const g = tf.tidy(() => tf.grad((x: tf.Tensor) => computeLoss(x as tf.Tensor2D, tf.tensor2d(lab, [1, 4]), { name: 'sigmoid-bce' }))(tf.tensor2d(sat, [1, 4])).dataSync());
  assert.ok([...g].every(Number.isFinite), `gradient ${[...g]}`);
  assert.ok(Math.abs(g[3] - (1 / (1 + Math.exp(-0.5)) - 0) / 4) < 1e-5, 'unsaturated cells keep the exact gradient');
});
