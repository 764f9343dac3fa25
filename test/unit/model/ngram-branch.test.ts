import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../../../src/common/rng.ts';
import { parseBertConfig, type BertConfig } from '../../../src/model/bert-config.ts';
import { buildBertOnnx } from '../../../src/model/build/onnx-graph.ts';
import { buildTrainingGraph } from '../../../src/model/build/training-graph.ts';
import { NGRAM_TFS, ngramBuckets, parseNgramSpec, sparseRow, type NgramTf } from '../../../src/model/ngram-hash.ts';
import { createGraphSession } from '../../../src/model/runtime/graph-session.ts';
import { WORD_EMBEDDINGS } from '../../../src/model/weights.ts';
import { createTextEncoder, buildWordPieceTokenizerJson } from '../../../src/model/tokenizer.ts';
import { sumOfSquares } from '../../../src/training/adamw-arrays.ts';
import { createRowSum } from '../../../src/training/row-gradients.ts';
import { assertFiniteDifferences, feedsFor, tinyBatch, tinyWeights } from './training-graph-helpers.ts';

const config = parseBertConfig({
  vocabSize: 40, hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32, maxPositions: 24, typeVocabSize: 2, numLabels: 3, layerNormEps: 1e-12,
  ngram: { buckets: 97, maxN: 3, tf: 'raw' },
});
const base = config;

/** Weights with a non-zero table and a non-uniform idf, so both matter. */
function weights(seed = 5) {
  const w = tinyWeights(config, seed);
  const rng = createRng(seed + 1);
  for (const v of [w.get('ngram.weight')!, w.get('ngram.idf')!]) for (let i = 0; i < v.data.length; i++) v.data[i] = v === w.get('ngram.idf') ? 1 + rng() * 3 : (rng() - 0.5);
  return w;
}

/** The wide logits the JavaScript features give: Σ value × table[bucket] per label. */
function wideFromJs(ids: readonly number[], w: ReturnType<typeof weights>, cfg = config): number[] {
  const row = sparseRow(ngramBuckets(ids, cfg.ngram!, cfg.vocabSize), w.get('ngram.idf')!.data, cfg.ngram!.tf);
  const table = w.get('ngram.weight')!.data;
  return Array.from({ length: config.numLabels }, (_, j) => row.index.reduce((s, b, k) => s + row.value[k] * table[b * config.numLabels + j], 0));
}

test('odd text (emoji, full-width, mixed scripts, repeats): the serving graph hashes and weighs exactly as the JavaScript features do, every tf', async () => {
  for (const tf of NGRAM_TFS) await oddTextAgrees(tf);
});

async function oddTextAgrees(tf: NgramTf): Promise<void> {
  // A character vocabulary like the trainer builds: every character its own token.
  const texts = ['M码还有吗😀😀', 'ＡＢＣ全角１２３', 'size M 多少钱? [赞][赞]', 'a', '🇨🇳 中文 English mixed'];
  const chars = [...new Set(texts.join('').normalize('NFKC').toLowerCase())];
  const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...chars];
  const cfg = parseBertConfig({ ...config, vocabSize: vocab.length, ngram: { buckets: 1009, maxN: 3, tf } });
  const encoder = createTextEncoder(buildWordPieceTokenizerJson(vocab, { lowercase: true, tokenizeChineseChars: true, stripAccents: null, unkToken: '[UNK]', clsToken: '[CLS]', sepToken: '[SEP]', padToken: '[PAD]', maskToken: '[MASK]' }), 24);
  const w = tinyWeights(cfg, 2);
  const table = w.get('ngram.weight')!;
  // One-hot rows: logit j of a text is then the weighted count of its n-grams in bucket-class j.
  for (let b = 0; b < cfg.ngram!.buckets; b++) table.data[b * cfg.numLabels + (b % cfg.numLabels)] = b;
  for (const name of [...w.keys()]) if (name.startsWith('classifier.')) w.get(name)!.data.fill(0);
  const session = await createGraphSession(buildBertOnnx(cfg, w), { threads: 1 });
  const batch = await encoder.encode(texts);
  const dims = [batch.batchSize, batch.seqLength];
  const got = (await session.run({ input_ids: { type: 'int64', data: batch.inputIds, dims }, attention_mask: { type: 'int64', data: batch.attentionMask, dims }, token_type_ids: { type: 'int64', data: batch.tokenTypeIds, dims } })).logits;
  const rows = await encoder.ids(texts);
  assert.ok(rows.some((r) => r.length < batch.seqLength), 'the batch has padded rows');
  rows.forEach((ids, r) => {
    const row = sparseRow(ngramBuckets(ids, cfg.ngram!, cfg.vocabSize), w.get('ngram.idf')!.data, tf);
    for (let j = 0; j < cfg.numLabels; j++) {
      let expected = 0;
      row.index.forEach((b, k) => (expected += b % cfg.numLabels === j ? row.value[k] * b : 0));
      assert.ok(Math.abs(got[r * cfg.numLabels + j] - expected) <= 1e-3 * Math.max(1, Math.abs(expected)), `${tf} ${texts[r]} label ${j}: graph ${got[r * cfg.numLabels + j]} vs js ${expected}`);
    }
  });
  await session.release();
}

test('wide branch: serving logits = deep logits + the JavaScript wide logits, and the training forward agrees (≤ 1e-5), every tf', async () => {
  for (const tf of NGRAM_TFS) await wideAgrees(parseBertConfig({ ...config, ngram: { ...config.ngram!, tf } }));
});

async function wideAgrees(config: BertConfig): Promise<void> {
  const w = weights();
  const plain = parseBertConfig({ ...config, ngram: undefined });
  const batch = tinyBatch(config, 4, 7);
  const dims = [batch.rows, batch.seq];
  const feeds = { input_ids: { type: 'int64' as const, data: batch.ids, dims }, attention_mask: { type: 'int64' as const, data: batch.mask, dims }, token_type_ids: { type: 'int64' as const, data: batch.types, dims } };
  const serving = await createGraphSession(buildBertOnnx(config, w), { threads: 1 });
  const deepOnly = await createGraphSession(buildBertOnnx(plain, w), { threads: 1 });
  const both = (await serving.run(feeds)).logits;
  const deep = (await deepOnly.run(feeds)).logits;
  let repeats = 0;
  for (let r = 0; r < batch.rows; r++) {
    const ids = [...batch.ids.subarray(r * batch.seq, (r + 1) * batch.seq)].filter((_, s) => batch.mask[r * batch.seq + s] === 1n).map(Number);
    const buckets = ngramBuckets(ids, config.ngram!, config.vocabSize);
    repeats += buckets.length - new Set(buckets).size;
    const wide = wideFromJs(ids, w, config);
    for (let j = 0; j < config.numLabels; j++) {
      const i = r * config.numLabels + j;
      assert.ok(Math.abs(both[i] - deep[i] - wide[j]) <= 1e-4, `${config.ngram!.tf} row ${r} label ${j}: ${both[i]} - ${deep[i]} vs ${wide[j]}`);
    }
  }
  assert.ok(repeats > 0, 'some rows repeat a bucket, so tf and the norm matter');
  const training = buildTrainingGraph(config, w, { loss: { name: 'bce' }, frozenLayers: 0 });
  const s = await createGraphSession(training.bytes, { threads: 1 });
  const got = (await s.run(feedsFor(config, batch, w, training.trainable), ['logits'])).logits;
  assert.ok(Math.max(...both.map((v, i) => Math.abs(v - got[i]))) <= 1e-5);
  assert.ok(training.trainable.includes('ngram.weight') && !training.trainable.includes('ngram.idf'), 'the table trains, the idf does not');
  await Promise.all([serving.release(), deepOnly.release(), s.release()]);
}

test('wide branch: the n-gram table gradient matches central finite differences, also above a frozen prefix and with sublinear tf', async () => {
  for (const [frozenLayers, tf] of [[0, 'raw'], [1, 'raw'], [0, 'sublinear']] as const) {
    const config = parseBertConfig({ ...base, ngram: { ...base.ngram!, tf } });
    const w = weights(11);
    const batch = tinyBatch(config, 3, 6, 4);
    const graph = buildTrainingGraph(config, w, { loss: { name: 'bce' }, frozenLayers });
    const session = await createGraphSession(graph.bytes, { threads: 1 });
    let feeds = feedsFor(config, batch, w, graph.trainable);
    if (frozenLayers > 0) {
      const prefix = await createGraphSession(buildBertOnnx(config, w, { hiddenAfterLayers: frozenLayers }), { threads: 1 });
      const hidden = (await prefix.run({ input_ids: feeds.input_ids, attention_mask: feeds.attention_mask, token_type_ids: feeds.token_type_ids })).hidden_states;
      await prefix.release();
      const { token_type_ids: _t, ...rest } = feeds;
      feeds = { ...rest, hidden_states: { type: 'float32', data: hidden, dims: [batch.rows, batch.seq, config.hiddenSize] } };
    }
    const grad = (await session.run(feeds))['grad.ngram.weight'];
    const table = w.get('ngram.weight')!.data;
    const touched = [...grad.keys()].filter((i) => grad[i] !== 0);
    assert.ok(touched.length > 5, 'the batch reaches several buckets');
    const at = [touched[0], touched[Math.floor(touched.length / 2)], touched[touched.length - 1], [...grad.keys()].find((k) => grad[k] === 0)!];
    await assertFiniteDifferences(session, feeds, table, grad, at, `frozen ${frozenLayers} ${tf} bucket-label`);
    await session.release();
  }
});

for (const tables of [['ngram.weight'], [WORD_EMBEDDINGS], ['ngram.weight', WORD_EMBEDDINGS]]) {
  test(`row gradients of ${tables.join(' and ')}: the gathered rows summed per row give the dense table gradient bit for bit; every other gradient is unchanged`, async () => {
    const w = weights(13);
    const batch = tinyBatch(config, 4, 6, 5);
    const dense = buildTrainingGraph(config, w, { loss: { name: 'bce' }, frozenLayers: 0 });
    const byRows = buildTrainingGraph(config, w, { loss: { name: 'bce' }, frozenLayers: 0, rowGradients: new Set(tables) });
    const run = async (graph: typeof dense) => {
      const session = await createGraphSession(graph.bytes, { threads: 1 });
      const result = await session.run(feedsFor(config, batch, w, graph.trainable));
      await session.release();
      return result;
    };
    const [d, r] = [await run(dense), await run(byRows)];
    let tableShare = 0;
    for (const table of tables) {
      assert.ok(!byRows.gradients.has(table), `no dense output for ${table}`);
      const out = byRows.rowGradients.get(table)!;
      assert.deepEqual([out.ids, out.rows], [`grad.${table}.ids`, `grad.${table}.rows`]);
      const width = w.get(table)!.shape[1];
      const sum = createRowSum(width);
      const ids = r[out.ids] as unknown as BigInt64Array;
      sum.add(ids, r[out.rows], 1);
      const summed = sum.result();
      assert.ok(new Set(Array.from(ids, Number)).size < ids.length, `some rows of ${table} are gathered more than once`);
      const fromRows = new Float32Array(d[`grad.${table}`].length);
      summed.rows.forEach((row, i) => fromRows.set(summed.values.subarray(i * width, (i + 1) * width), row * width));
      assert.deepEqual(fromRows, d[`grad.${table}`], table);
      tableShare += sumOfSquares(summed.values);
    }
    for (const [name, output] of dense.gradients) if (!tables.includes(name)) assert.deepEqual(r[output], d[output], name);
    // Σg² covers the dense outputs only; the tables' shares are summed from the rows.
    assert.ok(Math.abs(r.grad_sumsq[0] + tableShare - d.grad_sumsq[0]) <= 1e-5 * d.grad_sumsq[0], `${r.grad_sumsq[0]} + ${tableShare} vs ${d.grad_sumsq[0]}`);
  });
}

test('--ngram-frozen: the table is baked into the training graph (no input, no gradient) and the logits do not change', async () => {
  const w = weights(21);
  const batch = tinyBatch(config, 3, 6, 2);
  const free = buildTrainingGraph(config, w, { loss: { name: 'bce' }, frozenLayers: 0 });
  const frozen = buildTrainingGraph(config, w, { loss: { name: 'bce' }, frozenLayers: 0, frozenTensors: new Set(['ngram.weight']) });
  assert.ok(free.trainable.includes('ngram.weight'));
  assert.ok(!frozen.trainable.includes('ngram.weight') && !frozen.gradients.has('ngram.weight'));
  assert.equal(frozen.trainable.length, free.trainable.length - 1);
  const a = await createGraphSession(free.bytes, { threads: 1 });
  const b = await createGraphSession(frozen.bytes, { threads: 1 });
  const la = (await a.run(feedsFor(config, batch, w, free.trainable), ['logits'])).logits;
  const lb = (await b.run(feedsFor(config, batch, w, frozen.trainable), ['logits'])).logits;
  assert.ok(Math.max(...la.map((v, i) => Math.abs(v - lb[i]))) <= 1e-6);
  await Promise.all([a.release(), b.release()]);
});

test('tf: a repeated n-gram counts once (binary), 1 + ln count (sublinear) or per position (raw, with the norm over positions); a spec without tf is raw', () => {
  const idf = new Float32Array(8);
  idf[5] = 2;
  idf[7] = 1;
  const buckets = Int32Array.of(5, 7, 5);
  const close = (got: Float32Array, want: number[]) => want.forEach((v, k) => assert.ok(Math.abs(got[k] - v) < 1e-6, `${[...got]} vs ${want}`));
  const l = 1 + Math.log(2);
  for (const [tf, want] of [
    ['binary', [2 / Math.sqrt(5), 1 / Math.sqrt(5)]],
    ['sublinear', [(2 * l) / Math.sqrt(4 * l * l + 1), 1 / Math.sqrt(4 * l * l + 1)]],
    ['raw', [4 / 3, 1 / 3]],
  ] as const) {
    const row = sparseRow(buckets, idf, tf);
    assert.deepEqual([...row.index], [5, 7]);
    close(row.value, [...want]);
  }
  // Bundles made before the field existed keep the features they were trained on.
  assert.equal(parseNgramSpec({ buckets: 97, maxN: 3 }).tf, 'raw');
  assert.throws(() => parseNgramSpec({ buckets: 97, maxN: 3, tf: 'log' }), /tf/);
});
