import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseBertConfig } from '../../../../src/model/bert-config.ts';
import { writeBundle } from '../../../../src/model/build/write-bundle.ts';
import { loadBundle } from '../../../../src/model/runtime/load-bundle.ts';
import { createTextEncoder } from '../../../../src/model/tokenizer.ts';
import { randomWeights } from '../../../../src/model/weights.ts';
import { decidePromotion } from '../../../../src/training/evaluate.ts';
import type { MultiLabelMetrics } from '../../../../src/training/metrics.ts';
import { decideChampion } from '../../../../src/training/steps/decide.ts';
import { buildCharVocab, charVocabTokenizerJson } from '../../../../src/training/vocab.ts';
import { tempDir } from '../../../helpers/shared.ts';
import { TINY_LABELS, tinyRows } from '../fixtures.ts';

const testRows = tinyRows(20, 11);
const tokenizerJson = charVocabTokenizerJson(buildCharVocab(testRows.map((r) => r.text)));

async function tinyBundle(name: string, labels: readonly string[], seed: number) {
  const config = parseBertConfig({
    vocabSize: createTextEncoder(tokenizerJson, 8).vocabSize,
    hiddenSize: 16,
    numLayers: 1,
    numHeads: 2,
    intermediateSize: 32,
    maxPositions: 32,
    typeVocabSize: 2,
    numLabels: labels.length,
    layerNormEps: 1e-12,
  });
  const dir = join(tempDir(), name);
  const spec = { modelId: 'decide-test', labels, maxSequenceLength: 32, architecture: config, tokenizerJson, head: 'trained' as const, source: 'decide.test' };
  await writeBundle(dir, spec, randomWeights(config, seed, 0.5));
  return loadBundle(dir);
}

test('without a champion the challenger is promoted', async () => {
  const challenger = await tinyBundle('challenger', TINY_LABELS, 1);
  const v = await decideChampion({ challenger, testRows, labels: TINY_LABELS, threads: 1 });
  assert.equal(v.decision.decision, 'promoted');
  assert.equal(v.decision.metric, 'macro_f1');
  assert.equal(v.decision.champion, null);
  assert.equal(v.champion, undefined);
  assert.equal(v.decision.challenger, v.challenger.metrics.macro_f1);
});

test('against itself the challenger gains nothing: kept at the default margin, promoted at margin 0', async () => {
  const bundle = await tinyBundle('same', TINY_LABELS, 2);
  const kept = await decideChampion({ challenger: bundle, champion: bundle, testRows, labels: TINY_LABELS, threads: 1 });
  assert.equal(kept.decision.decision, 'kept');
  assert.equal(kept.decision.margin, 0.01);
  assert.equal(kept.decision.champion, kept.decision.challenger);
  const promoted = await decideChampion({ challenger: bundle, champion: bundle, testRows, labels: TINY_LABELS, metric: 'micro_f1', margin: 0, threads: 1 });
  assert.equal(promoted.decision.decision, 'promoted');
  assert.equal(promoted.decision.metric, 'micro_f1');
});

test("a champion is scored on the challenger's label columns; labels it lacks count as never predicted", async () => {
  const labels = [...TINY_LABELS, 'gift'];
  const challenger = await tinyBundle('grown', labels, 3);
  const champion = await tinyBundle('old', TINY_LABELS, 4);
  const v = await decideChampion({ challenger, champion, testRows, labels, threads: 1 });
  assert.deepEqual(v.champion?.missingLabels, ['gift']);
  assert.deepEqual(Object.keys(v.champion!.metrics.per_label), labels);
});

test('a gain equal to the margin promotes whatever the rounding of the counts (61→62 and 56→57 of 100 at margin 0.01 both pass)', () => {
  const metrics = (subset: number) => ({ subset_accuracy: subset }) as unknown as MultiLabelMetrics;
  for (const [c, b] of [[62, 61], [58, 57], [57, 56], [29, 28]]) {
    const d = decidePromotion('subset_accuracy', metrics(c / 100), metrics(b / 100), 0.01);
    assert.equal(d.decision, 'promoted', `${c}/100 vs ${b}/100: ${d.reason}`);
  }
  assert.equal(decidePromotion('subset_accuracy', metrics(0.615), metrics(0.61), 0.01).decision, 'kept', 'half the margin is not enough');
});
