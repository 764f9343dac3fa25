import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLivetagError } from '../../../../src/common/errors.ts';
import { parseBertConfig } from '../../../../src/model/bert-config.ts';
import { randomWeights, type WeightMap } from '../../../../src/model/weights.ts';
import { extendHead, extendPositions, extendVocabulary, initialiseModel, type InitialiseInput } from '../../../../src/training/steps/initialise.ts';
import { createTextEncoder } from '../../../../src/model/tokenizer.ts';
import { buildCharVocab, charVocabTokenizerJson } from '../../../../src/training/vocab.ts';
import { join } from 'node:path';
import { writeRandomBundle } from '../../../../src/model/build/random-bundle.ts';
import { loadBundle } from '../../../../src/model/runtime/load-bundle.ts';
import { tempDir } from '../../../helpers/shared.ts';
import { TINY_LABELS, tinyRows } from '../fixtures.ts';

const texts = tinyRows(30, 3).map((r) => r.text);
const scratch: InitialiseInput = {
  init: { kind: 'scratch' },
  labels: TINY_LABELS,
  vocabTexts: () => texts,
  seed: 5,
  recipe: 'livetag',
  arch: { hiddenSize: 16, numLayers: 2, numHeads: 2 },
  maxLength: 500,
};

test('scratch: character vocabulary, architecture overrides, max length capped by the positions, recipe for scratch', async () => {
  const lines: string[] = [];
  const m = await initialiseModel(scratch, (l) => lines.push(l));
  assert.equal(m.kind, 'scratch');
  assert.equal(m.config.hiddenSize, 16);
  assert.equal(m.config.intermediateSize, 64, 'intermediate follows a hidden override');
  assert.equal(m.config.numLabels, 3);
  assert.equal(m.maxLength, m.config.maxPositions);
  assert.equal(m.frozenLayers, 0);
  assert.equal(m.recipe.lr, 1e-3);
  assert.ok(m.initOnnx && m.initOnnx.length > 0);
  assert.match(lines[0], /^init: scratch \(seed 5, character vocabulary built from train\+validation\); 2 layers × hidden 16, vocab \d+, 3 labels; training the top 2 layers; no n-gram branch$/);
});

test('--train-layers freezes the rest and must fit the model', async () => {
  const top = await initialiseModel({ ...scratch, trainLayers: 1 }, () => {});
  assert.equal(top.frozenLayers, 1);
  await assert.rejects(initialiseModel({ ...scratch, trainLayers: 3 }, () => {}), (err: unknown) => isLivetagError(err, 'LT_CONFIG_INVALID'));
});

test('extendHead keeps the old classifier rows and adds fresh ones for new labels', () => {
  const config = parseBertConfig({ vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 8, typeVocabSize: 2, numLabels: 2, layerNormEps: 1e-12 });
  const weights = randomWeights(config, 1);
  const same = extendHead(config, weights, ['a', 'b'], ['a', 'b'], 1);
  assert.equal(same.weights, weights);
  const grown = extendHead(config, weights, ['a', 'b'], ['a', 'b', 'c'], 1);
  assert.equal(grown.config.numLabels, 3);
  const w = grown.weights.get('classifier.weight')!;
  assert.deepEqual(w.shape, [3, 8]);
  assert.deepEqual(w.data.subarray(0, 16), weights.get('classifier.weight')!.data);
  assert.ok(w.data.subarray(16).some((v) => v !== 0));
  assert.deepEqual(grown.weights.get('classifier.bias')!.data, Float32Array.of(...weights.get('classifier.bias')!.data, 0));
});

test('extendHead matches labels by name: a reordered list keeps each label\'s own row and n-gram column, a renamed one starts fresh, a subset keeps its rows', () => {
  const config = parseBertConfig({ vocabSize: 20, hiddenSize: 4, numLayers: 1, numHeads: 2, intermediateSize: 8, maxPositions: 8, typeVocabSize: 2, numLabels: 3, layerNormEps: 1e-12, ngram: { buckets: 2, maxN: 1, tf: 'binary', source: 'tokens', maxChars: 64 } });
  const weights: WeightMap = new Map(randomWeights(config, 1));
  weights.set('classifier.bias', { shape: [3], data: Float32Array.of(10, 20, 30) });
  // Row r of the n-gram table: column j holds 100·r + label j.
  weights.set('ngram.weight', { shape: [2, 3], data: Float32Array.of(0, 1, 2, 100, 101, 102) });
  const row = (w: WeightMap, j: number): number[] => [...w.get('classifier.weight')!.data.subarray(j * 4, (j + 1) * 4)];
  const reordered = extendHead(config, weights, ['a', 'b', 'c'], ['c', 'a', 'b'], 1).weights;
  assert.deepEqual([...reordered.get('classifier.bias')!.data], [30, 10, 20]);
  assert.deepEqual(row(reordered, 0), row(weights, 2));
  assert.deepEqual([...reordered.get('ngram.weight')!.data], [2, 0, 1, 102, 100, 101]);
  const renamed = extendHead(config, weights, ['a', 'b', 'c'], ['a', 'b', 'x'], 1).weights;
  assert.deepEqual([...renamed.get('classifier.bias')!.data], [10, 20, 0], 'x is not c');
  assert.notDeepEqual(row(renamed, 2), row(weights, 2));
  assert.deepEqual([...renamed.get('ngram.weight')!.data], [0, 1, 0, 100, 101, 0]);
  const subset = extendHead(config, weights, ['a', 'b', 'c'], ['a', 'c'], 1);
  assert.equal(subset.config.numLabels, 2);
  assert.deepEqual([...subset.weights.get('classifier.bias')!.data], [10, 30]);
  assert.deepEqual([...subset.weights.get('ngram.weight')!.data], [0, 2, 100, 102]);
});

test('the wide n-gram branch: added with a zero table and unit idf, no longer the starting graph, and removed again with null', async () => {
  const lines: string[] = [];
  const m = await initialiseModel({ ...scratch, ngram: { buckets: 64, maxN: 2, tf: 'sublinear', source: 'tokens', maxChars: 256 } }, (l) => lines.push(l));
  assert.deepEqual(m.config.ngram, { buckets: 64, maxN: 2, tf: 'sublinear', source: 'tokens', maxChars: 256 });
  assert.deepEqual(m.weights.get('ngram.weight')!.shape, [64, 3]);
  assert.ok(m.weights.get('ngram.weight')!.data.every((v) => v === 0));
  assert.ok(m.weights.get('ngram.idf')!.data.every((v) => v === 1));
  assert.equal(m.initOnnx, undefined);
  assert.match(lines[0], /wide n-gram branch \(token 1–2-grams, 64 buckets, sublinear tf, lazy updates\)$/);
  const grown = extendHead(m.config, m.weights, TINY_LABELS, [...TINY_LABELS, 'new'], 1);
  assert.deepEqual(grown.weights.get('ngram.weight')!.shape, [64, 4], 'a new label gets its n-gram column');
});

test('extendVocabulary: characters the encoder lacks (seen twice in train+validation) get ids and start at [UNK]\'s embedding', async () => {
  const tokenizerJson = charVocabTokenizerJson(buildCharVocab(['价格多少钱', '价格多少钱']));
  const before = createTextEncoder(tokenizerJson, 16);
  const config = parseBertConfig({ vocabSize: before.vocabSize, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 16, typeVocabSize: 2, numLabels: 2, layerNormEps: 1e-12 });
  const weights = randomWeights(config, 3);
  const texts = ['快递发了吗 OK', '快递到了 ok', '价格'];
  const unk = (await before.ids(['快']))[0][1];
  const out = extendVocabulary(tokenizerJson, config, weights, texts);
  // 快 递 了 (twice each), o and ##o, k and ##k; 发/到/吗 once only stay [UNK].
  assert.equal(out.added, 7);
  assert.equal(out.config.vocabSize, config.vocabSize + 7);
  const after = createTextEncoder(out.tokenizerJson, 16);
  assert.equal(after.vocabSize, out.config.vocabSize);
  const [ids] = await after.ids(['快递价格']);
  assert.ok(ids.slice(1, 3).every((id) => id >= config.vocabSize), `new ids: ${ids}`);
  assert.deepEqual((await after.ids(['价格多少钱']))[0], (await before.ids(['价格多少钱']))[0], 'known characters keep their ids');
  assert.equal((await after.ids(['发']))[0][1], unk, 'a character seen once stays [UNK]');
  const table = out.weights.get('bert.embeddings.word_embeddings.weight')!;
  assert.deepEqual(table.shape, [out.config.vocabSize, 8]);
  assert.deepEqual([...table.data.subarray(ids[1] * 8, ids[1] * 8 + 8)], [...table.data.subarray(unk * 8, unk * 8 + 8)]);
  assert.equal(extendVocabulary(tokenizerJson, config, weights, ['价格', '价格']).added, 0);
});

test('extendPositions: past the encoder\'s positions the learned rows repeat block by block; within them nothing changes', () => {
  const config = parseBertConfig({ vocabSize: 20, hiddenSize: 2, numLayers: 1, numHeads: 1, intermediateSize: 4, maxPositions: 3, typeVocabSize: 2, numLabels: 2, layerNormEps: 1e-12 });
  const weights = randomWeights(config, 3);
  const name = 'bert.embeddings.position_embeddings.weight';
  const rows = weights.get(name)!.data;
  const same = extendPositions(config, weights, 3);
  assert.equal(same.grown, false);
  assert.equal(same.weights, weights);
  const { config: next, weights: out, grown } = extendPositions(config, weights, 8);
  assert.ok(grown);
  assert.equal(next.maxPositions, 8);
  assert.deepEqual(out.get(name)!.shape, [8, 2]);
  // Positions 0-2, 3-5, then 6-7: copies of 0-2, 0-2, 0-1.
  assert.deepEqual([...out.get(name)!.data], [...rows, ...rows, ...rows.subarray(0, 4)]);
  assert.equal(out.get('bert.embeddings.word_embeddings.weight'), weights.get('bert.embeddings.word_embeddings.weight'), 'other tensors untouched');
  assert.equal(weights.get(name)!.shape[0], 3, 'the input map is not changed');
});

test('from a bundle, its graph stands for the starting weights only with the same labels in the same order', async () => {
  const dir = join(tempDir(), 'bundle');
  await writeRandomBundle(dir, { labels: ['a', 'b', 'c'], seed: 2 });
  const bundle = await loadBundle(dir);
  const from = (labels: string[]) => initialiseModel({ ...scratch, init: { kind: 'bundle', dir, bundle }, labels, maxLength: undefined, arch: undefined }, () => {});
  assert.ok((await from(['a', 'b', 'c'])).initOnnx, 'same head: the bundle\'s own graph');
  assert.equal((await from(['c', 'a', 'b'])).initOnnx, undefined, 'reordered: rows moved, the old graph computes other logits');
  assert.equal((await from(['a', 'b', 'x'])).initOnnx, undefined, 'renamed');
});
