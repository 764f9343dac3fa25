import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBertOnnx } from '../../../src/model/build/onnx-graph.ts';
import { buildTrainingGraph } from '../../../src/model/build/training-graph.ts';
import { createGraphSession, type Feed } from '../../../src/model/runtime/graph-session.ts';
import { charVocab, shapeConfig } from '../../../src/model/build/random-bundle.ts';
import { buildWordPieceTokenizerJson, createTextEncoder } from '../../../src/model/tokenizer.ts';
import { randomWeights, type WeightMap } from '../../../src/model/weights.ts';
import { HIDDEN_OUTPUT_NAME, OUTPUT_NAME } from '../../../src/model/onnx-names.ts';

/** Pooler and classifier in plain JS on each row's [CLS] hidden state: the reference head. */
function headLogits(w: WeightMap, hidden: Float32Array, rows: number, seq: number, width: number): Float32Array {
  const affine = (x: Float32Array, name: string): Float32Array => {
    const W = w.get(`${name}.weight`)!;
    const b = w.get(`${name}.bias`)!.data;
    const [out, inp] = W.shape;
    return Float32Array.from({ length: out }, (_, o) => b[o] + x.reduce((s, v, i) => s + v * W.data[o * inp + i], 0));
  };
  const logits: number[] = [];
  for (let r = 0; r < rows; r++) {
    const cls = hidden.slice(r * seq * width, r * seq * width + width);
    logits.push(...affine(affine(cls, 'bert.pooler.dense').map(Math.tanh), 'classifier'));
  }
  return Float32Array.from(logits);
}

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('the last layer on [CLS] alone gives the logits of the whole layer: standard, fused, int8 and fp16 serving graphs and the training graph', async () => {
  const vocab = charVocab();
  const config = shapeConfig('tiny', vocab.length, 13);
  const weights = randomWeights(config, 5, 0.2);
  const enc = createTextEncoder(buildWordPieceTokenizerJson(vocab), 64);
  // Ragged lengths, so padded keys must stay masked for the [CLS] query too.
  const batch = await enc.encode(['这个多少钱', 'M码还有吗？黑色有没有货，什么时候发货', '666', '主播好看吗']);
  const dims = [batch.batchSize, batch.seqLength];
  const feeds: Record<string, Feed> = {
    input_ids: { type: 'int64', data: batch.inputIds, dims },
    attention_mask: { type: 'int64', data: batch.attentionMask, dims },
    token_type_ids: { type: 'int64', data: batch.tokenTypeIds, dims },
  };
  const run = async (model: Uint8Array, output: string, weightInputs: readonly string[] = []): Promise<Float32Array> => {
    const session = await createGraphSession(model, { threads: 1 });
    const withWeights = { ...feeds };
    for (const name of weightInputs) withWeights[name] = { type: 'float32', data: weights.get(name)!.data, dims: weights.get(name)!.shape };
    try {
      return (await session.run(withWeights, [output]))[output];
    } finally {
      await session.release();
    }
  };
  // An encoder prefix of every layer outputs all positions: the whole last layer, the reference.
  const hidden = await run(buildBertOnnx(config, weights, { hiddenAfterLayers: config.numLayers }), HIDDEN_OUTPUT_NAME);
  assert.equal(hidden.length, batch.batchSize * batch.seqLength * config.hiddenSize);
  const expected = headLogits(weights, hidden, batch.batchSize, batch.seqLength, config.hiddenSize);

  const plain = await run(buildBertOnnx(config, weights), OUTPUT_NAME);
  assert.ok(maxDiff(plain, expected) <= 1e-5, `standard graph: max |Δlogit| ${maxDiff(plain, expected)}`);
  const fused = await run(buildBertOnnx(config, weights, { fused: true }), OUTPUT_NAME);
  assert.ok(maxDiff(fused, expected) <= 1e-4, `fused graph: max |Δlogit| ${maxDiff(fused, expected)}`);
  // int8: the [CLS] query is quantized on its own scale, not the whole sequence's; both int8 graphs stay within quantization's error of the exact logits.
  const int8 = { fused: true, precision: 'int8' } as const;
  const [q, qWhole] = [await run(buildBertOnnx(config, weights, int8), OUTPUT_NAME), await run(buildBertOnnx(config, weights, { ...int8, wholeLastLayer: true }), OUTPUT_NAME)];
  // Here 0.044 (whole layer) and 0.060 ([CLS] only) with 7-bit weights, on an AVX2 CPU without VNNI (full-range weights saturated there: 0.25).
  assert.ok(maxDiff(qWhole, expected) <= 0.1, `int8, whole layer: max |Δlogit| ${maxDiff(qWhole, expected)}`);
  assert.ok(maxDiff(q, expected) <= 0.1, `int8, [CLS] only: max |Δlogit| ${maxDiff(q, expected)}`);
  const half = { fused: true, precision: 'fp16' } as const;
  const [h, hWhole] = [await run(buildBertOnnx(config, weights, half), OUTPUT_NAME), await run(buildBertOnnx(config, weights, { ...half, wholeLastLayer: true }), OUTPUT_NAME)];
  // Half precision, with the [CLS] layer's mask bias cast to float16 (here 0.0020 and 0.0021).
  assert.ok(maxDiff(hWhole, expected) <= 0.01, `fp16, whole layer: max |Δlogit| ${maxDiff(hWhole, expected)}`);
  assert.ok(maxDiff(h, expected) <= 0.01, `fp16, [CLS] only: max |Δlogit| ${maxDiff(h, expected)}`);
  const training = buildTrainingGraph(config, weights, { loss: { name: 'bce' }, frozenLayers: 0, forwardOnly: true });
  const trained = await run(training.bytes, OUTPUT_NAME, training.trainable);
  assert.ok(maxDiff(trained, expected) <= 1e-5, `training graph: max |Δlogit| ${maxDiff(trained, expected)}`);
});
