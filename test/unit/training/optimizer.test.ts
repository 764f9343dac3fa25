import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAdamW, decays, learningRateAt } from '../../../src/training/optimizer.ts';
import { initTfBackend, tf } from '../../../src/training/tf-backend.ts';

test('AdamW step: bias-corrected Adam plus decoupled weight decay', async () => {
  await initTfBackend();
  const w = tf.variable(tf.tensor1d([1, -2]), true, 'opt-test/x.weight');
  const b = tf.variable(tf.tensor1d([0.5]), true, 'opt-test/x.bias');
  const opt = createAdamW(new Map([['x.weight', w], ['x.bias', b]]), { lr: 0.1, weightDecay: 0.01 });
  const g = { [w.name]: tf.tensor1d([0.2, -0.4]), [b.name]: tf.tensor1d([1]) };
  const norm = opt.apply(g, 0.1);
  assert.ok(Math.abs(norm - Math.sqrt(0.04 + 0.16 + 1)) < 1e-6);
  // First step: m̂ = g, v̂ = g², so the Adam update is sign(g) (up to eps).
  const wv = w.dataSync();
  assert.ok(Math.abs(wv[0] - (1 - 0.1 * (1 + 0.01 * 1))) < 1e-5, `${wv[0]}`);
  assert.ok(Math.abs(wv[1] - (-2 - 0.1 * (-1 + 0.01 * -2))) < 1e-5, `${wv[1]}`);
  // Biases are not decayed.
  assert.ok(Math.abs(b.dataSync()[0] - (0.5 - 0.1)) < 1e-5);
  opt.dispose();
  tf.dispose([w, b, ...Object.values(g)]);
});

test('gradient clipping scales the whole update', async () => {
  await initTfBackend();
  const w = tf.variable(tf.tensor1d([0]), true, 'opt-test/clip.weight');
  const opt = createAdamW(new Map([['clip.weight', w]]), { lr: 1, clipNorm: 1, epsilon: 0 });
  // After clipping g = 1 exactly; Adam's first step is still ±lr.
  opt.apply({ [w.name]: tf.tensor1d([10]) }, 1);
  assert.ok(Math.abs(w.dataSync()[0] + 1) < 1e-6);
  opt.dispose();
  w.dispose();
});

test('warmup then linear decay to zero; constant stays constant', () => {
  const s = { kind: 'linear' as const, warmupSteps: 10, totalSteps: 110 };
  assert.ok(Math.abs(learningRateAt(0, 1, s) - 0.1) < 1e-12);
  assert.equal(learningRateAt(9, 1, s), 1);
  assert.equal(learningRateAt(10, 1, s), 1);
  assert.equal(learningRateAt(60, 1, s), 0.5);
  assert.equal(learningRateAt(110, 1, s), 0);
  assert.equal(learningRateAt(77, 2e-5, { kind: 'constant', warmupSteps: 0, totalSteps: 1 }), 2e-5);
  assert.equal(decays('bert.encoder.layer.0.attention.output.LayerNorm.weight'), false);
  assert.equal(decays('classifier.bias'), false);
  assert.equal(decays('classifier.weight'), true);
});
