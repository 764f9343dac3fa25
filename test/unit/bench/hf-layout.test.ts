/**
 * The benchmark's transformers.js peer must run the very same model: the
 * bundle laid out as a Hugging Face directory gives livetag's probabilities
 * through @huggingface/transformers' text-classification pipeline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline, env } from '@huggingface/transformers';
import { exportHfLayout } from '../../../bench/lib/hf-layout.ts';
import { plainBertBundle } from '../../../bench/lib/plain-bundle.ts';
import { createClassifier } from '../../../src/model/runtime/classifier.ts';
import { REPO_ROOT, tempDir } from '../../helpers/shared.ts';

test('transformers.js on the exported layout computes livetag’s probabilities for a padded batch', async () => {
  const root = tempDir();
  // The suite compares runtimes on models/default's BERT without its wide n-gram branch (bench/lib/plain-bundle.ts).
  const bundle = await plainBertBundle(join(REPO_ROOT, 'models/default'), root);
  const dir = join(root, 'livetag-default');
  exportHfLayout(bundle, dir);
  assert.equal(statSync(join(dir, 'onnx/model.onnx')).size, statSync(join(bundle, 'model.onnx')).size);
  env.allowRemoteModels = false;
  env.localModelPath = root + '/';
  const clf = await pipeline('text-classification', 'livetag-default', { dtype: 'fp32', device: 'cpu' });
  const ours = await createClassifier({ bundle, worker: false, threads: 1, variant: 'base' });
  try {
    // Different lengths: transformers.js must pad (it needs pad_token in tokenizer_config.json).
    const texts = ['这个多少钱', 'M码还有吗？黑色有没有货', '什么时候发货', '666'];
    const theirs = (await clf(texts, { top_k: null })) as unknown as { label: string; score: number }[][];
    const mine = await ours.classify(texts, { allScores: true });
    assert.equal(theirs.length, texts.length);
    let worst = 0;
    theirs.forEach((row, i) => {
      assert.equal(row.length, ours.labels.length);
      for (const s of row) worst = Math.max(worst, Math.abs(s.score - mine[i].scores![s.label]));
    });
    assert.ok(worst < 1e-5, `max |Δp| ${worst}`);
  } finally {
    await ours.stop();
    await clf.dispose();
  }
});
