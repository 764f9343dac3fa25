import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBertOnnx } from '../../../src/model/build/onnx-graph.ts';
import { opTypeCounts } from '../../../src/model/onnx-reader.ts';
import { createOrtRunner } from '../../../src/model/runtime/onnx-session.ts';
import { charVocab, shapeConfig } from '../../../src/model/build/random-bundle.ts';
import { buildWordPieceTokenizerJson, createTextEncoder } from '../../../src/model/tokenizer.ts';
import { randomWeights } from '../../../src/model/weights.ts';

test('the fused graph (EmbedLayerNormalization, Attention, SkipLayerNormalization, BiasGelu) matches the standard one within 1e-4', async () => {
  const vocab = charVocab();
  const config = shapeConfig('tiny', vocab.length, 13);
  // Larger than default init so differences would show.
  const weights = randomWeights(config, 11, 0.2);
  const plain = buildBertOnnx(config, weights);
  const fused = buildBertOnnx(config, weights, { fused: true });
  const ops = opTypeCounts(fused);
  // The last layer attends from [CLS] alone, which the packed Attention cannot: standard attention there.
  assert.equal(ops['com.microsoft.Attention'], config.numLayers - 1);
  assert.equal(ops.Softmax, 1);
  assert.equal(ops['com.microsoft.SkipLayerNormalization'], 2 * config.numLayers);
  assert.equal(ops['com.microsoft.BiasGelu'], config.numLayers);
  assert.equal(ops['com.microsoft.EmbedLayerNormalization'], 1);
  assert.equal(ops.LayerNormalization, undefined);

  const enc = createTextEncoder(buildWordPieceTokenizerJson(vocab), 64);
  // Ragged lengths: padding must be masked the same way in both graphs.
  const batch = await enc.encode(['这个多少钱', 'M码还有吗？黑色有没有货，什么时候发货', '666', '主播好看']);
  const [a, b] = await Promise.all([createOrtRunner(plain, { threads: 1 }), createOrtRunner(fused, { threads: 1 })]);
  try {
    const la = await a.run(batch);
    const lb = await b.run(batch);
    const worst = la.reduce((m, v, i) => Math.max(m, Math.abs(v - lb[i])), 0);
    assert.ok(worst <= 1e-4, `max |Δlogit| ${worst}`);
  } finally {
    await Promise.all([a.release(), b.release()]);
  }
});
