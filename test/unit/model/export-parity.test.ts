import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isLivetagError } from '../../../src/common/errors.ts';
import { exportWithParity, maxAbsDiff, onnxLogits } from '../../../src/model/build/export-parity.ts';
import { buildBertOnnx } from '../../../src/model/build/onnx-graph.ts';
import type { BundleSpec } from '../../../src/model/build/write-bundle.ts';
import { buildWordPieceTokenizerJson } from '../../../src/model/tokenizer.ts';
import { randomWeights } from '../../../src/model/weights.ts';
import { tempDir, tinyBertConfig } from '../../helpers/shared.ts';

const config = tinyBertConfig({ vocabSize: 30 });
// Larger than BERT's 0.02 so the logits differ clearly between rows.
const weights = randomWeights(config, 5, 0.3);
const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...'的了很好我是这个吗呢价钱贵码大小快递发包邮'.split('')];
const spec: BundleSpec = {
  modelId: 'parity-test',
  labels: ['price', 'size', 'ship'],
  maxSequenceLength: 16,
  architecture: config,
  tokenizerJson: buildWordPieceTokenizerJson(vocab),
  head: 'trained',
  source: 'export-parity.test',
};
// Rows of different lengths, so padding inside a batch is part of what is compared.
const rows = [[2, 5, 9, 3], [2, 7, 3], [2, 11, 12, 13, 14, 15, 3], [2, 3]].map((r) => Int32Array.from(r));

async function reference(): Promise<Float32Array> {
  // Each row on its own: no padding at all on the reference side.
  const graph = buildBertOnnx(config, weights);
  const out = new Float32Array(rows.length * 3);
  for (const [i, r] of rows.entries()) out.set(await onnxLogits(graph, [r], { threads: 1 }), i * 3);
  return out;
}

test('an exported bundle that computes what the training side did passes, with the difference logged', async () => {
  const expected = await reference();
  const lines: string[] = [];
  const dir = join(tempDir(), 'bundle');
  const { bundle, parity } = await exportWithParity(dir, spec, weights, { rows, expected, tolerance: 1e-4, reference: 'tfjs' }, { threads: 1, log: (l) => lines.push(l) });
  assert.equal(bundle.manifest.modelId, 'parity-test');
  assert.equal(parity.rows, rows.length);
  assert.ok(parity.maxAbsDiff <= 1e-5, `max |Δ| ${parity.maxAbsDiff}`);
  assert.equal(parity.tolerance, 1e-4);
  assert.match(lines.join('\n'), /^parity tfjs ↔ onnxruntime on 4 rows: max \|Δlogit\| \S+ \(tolerance 0\.0001\)$/);
});

test('one training-side logit off by more than the tolerance is LT_PARITY, naming the bundle', async () => {
  const expected = await reference();
  expected[5] += 1e-3;
  const dir = join(tempDir(), 'bundle');
  await assert.rejects(
    exportWithParity(dir, spec, weights, { rows, expected, tolerance: 1e-4, reference: 'tfjs' }, { threads: 1 }),
    (err: unknown) => isLivetagError(err, 'LT_PARITY') && /disagrees with tfjs/.test(err.message) && err.message.includes(dir),
  );
});

test('NaN or a wrong number of logits never passes', async () => {
  const expected = await reference();
  const nan = Float32Array.from(expected);
  nan[0] = NaN;
  for (const bad of [nan, expected.subarray(3)]) {
    await assert.rejects(
      exportWithParity(join(tempDir(), 'bundle'), spec, weights, { rows, expected: bad, tolerance: 1, reference: 'tfjs' }, { threads: 1 }),
      (err: unknown) => isLivetagError(err, 'LT_PARITY'),
    );
  }
  assert.equal(maxAbsDiff([1, 2], [1]), Infinity);
});

test('onnxLogits keeps row order across its batches', async () => {
  const graph = buildBertOnnx(config, weights);
  const whole = await onnxLogits(graph, rows, { threads: 1 });
  const inPairs = await onnxLogits(graph, rows, { threads: 1, batchSize: 2 });
  assert.equal(whole.length, rows.length * 3);
  assert.ok(maxAbsDiff(whole, inPairs) <= 1e-5);
  assert.ok(maxAbsDiff(whole.subarray(0, 3), whole.subarray(3, 6)) > 1e-3, 'rows differ');
});
