import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLivetagError } from '../../../src/common/errors.ts';
import { createRng } from '../../../src/common/rng.ts';
import { parseBertConfig } from '../../../src/model/bert-config.ts';
import { toEncodedBatch } from '../../../src/model/build/id-batch.ts';
import { buildBertOnnx, servingInputs } from '../../../src/model/build/onnx-graph.ts';
import { buildTrainingGraph } from '../../../src/model/build/training-graph.ts';
import { NGRAM_TFS, TEXT_END, TEXT_START, ngramBuckets, parseNgramSpec, sparseRow, textChars, textCodes, type NgramTf } from '../../../src/model/ngram-hash.ts';
import { NGRAM_INPUT } from '../../../src/model/onnx-names.ts';
import { createGraphSession, type Feed } from '../../../src/model/runtime/graph-session.ts';
import { createOrtRunner } from '../../../src/model/runtime/onnx-session.ts';
import { buildWordPieceTokenizerJson, createTextEncoder } from '../../../src/model/tokenizer.ts';
import type { WeightMap } from '../../../src/model/weights.ts';
import { createIdFeatures } from '../../../src/training/features.ts';
import { assertFiniteDifferences, tinyWeights } from './training-graph-helpers.ts';

const TEXTS = ['M码还有吗😀😀', 'ＡＢＣ全角１２３ abc123', 'size M 多少钱? [赞][赞]', 'a', '🇨🇳 中文 English mixed', '这个颜色好看吗这个颜色好看吗这个颜色好看吗这个颜色好看吗'];
const MAX_TOKENS = 10;

function configFor(vocabSize: number, tf: NgramTf, maxChars = 256) {
  return parseBertConfig({
    vocabSize, hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32, maxPositions: 24, typeVocabSize: 2, numLabels: 3, layerNormEps: 1e-12,
    ngram: { buckets: 1009, maxN: 3, tf, source: 'text', maxChars },
  });
}

function encoderFor(maxChars: number) {
  const chars = [...new Set(TEXTS.join('').normalize('NFKC').toLowerCase())];
  const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...chars];
  const json = buildWordPieceTokenizerJson(vocab, { lowercase: true, tokenizeChineseChars: true, stripAccents: null, unkToken: '[UNK]', clsToken: '[CLS]', sepToken: '[SEP]', padToken: '[PAD]', maskToken: '[MASK]' });
  return createTextEncoder(json, MAX_TOKENS, { ngramChars: maxChars });
}

/** A table whose label j sums bucket × weight over the buckets ≡ j (mod labels), and a head that adds nothing: the logits are the wide branch alone. */
function wideOnly(config: ReturnType<typeof configFor>, seed = 2): WeightMap {
  const w = tinyWeights(config, seed);
  const table = w.get('ngram.weight')!;
  for (let b = 0; b < config.ngram!.buckets; b++) table.data[b * config.numLabels + (b % config.numLabels)] = b;
  const rng = createRng(seed);
  const idf = w.get('ngram.idf')!.data;
  for (let b = 0; b < idf.length; b++) idf[b] = 1 + rng() * 2;
  for (const name of [...w.keys()]) if (name.startsWith('classifier.')) w.get(name)!.data.fill(0);
  return w;
}

function expectedWide(codes: Int32Array, config: ReturnType<typeof configFor>, w: WeightMap): number[] {
  const row = sparseRow(ngramBuckets(codes, config.ngram!, config.vocabSize), w.get('ngram.idf')!.data, config.ngram!.tf);
  return Array.from({ length: config.numLabels }, (_, j) => row.index.reduce((s, b, k) => s + (b % config.numLabels === j ? row.value[k] * b : 0), 0));
}

test('textCodes: NFKC folds full-width forms, lower-cases, drops whitespace, one code per code point (emoji too), start and end markers, never 0', () => {
  const codes = (t: string, max = 256) => [...textCodes(t, max)];
  const shift = (s: string) => [...s].map((c) => c.codePointAt(0)! + 3);
  assert.deepEqual(codes('ＡＢＣ １２３'), [TEXT_START, ...shift('abc123'), TEXT_END]);
  assert.deepEqual(codes('M码 还有吗'), codes('m码还有吗'));
  assert.deepEqual(codes('😀'), [TEXT_START, 0x1f600 + 3, TEXT_END], 'a surrogate pair is one character');
  assert.deepEqual(codes(''), [TEXT_START, TEXT_END]);
  // Longer than maxChars: the first maxChars, and no end marker, since the text does not end there.
  assert.deepEqual(codes('这个多少钱', 3), [TEXT_START, ...shift('这个多')]);
  assert.ok(TEXTS.every((t) => textCodes(t, 256).every((c) => c > 0)), '0 is left for padding');
  assert.equal(textChars(parseNgramSpec({ buckets: 97, maxN: 3, tf: 'binary', source: 'text', maxChars: 40 })), 40);
  assert.equal(textChars(parseNgramSpec({ buckets: 97, maxN: 3 })), undefined, 'a token branch needs no codes');
  // Bundles made before the field read token ids, as they were trained to.
  const old = parseNgramSpec({ buckets: 97, maxN: 3, tf: 'binary' });
  assert.equal(old.source, 'tokens');
  assert.throws(() => parseNgramSpec({ buckets: 97, maxN: 3, source: 'chars' }), /source/);
  assert.throws(() => parseNgramSpec({ buckets: 97, maxN: 3, source: 'text', maxChars: 0 }), /maxChars/);
});

test('text branch on odd text: the serving graph, fed by the serving encoder, hashes and weighs exactly as the JavaScript features do, every tf, past the token limit', async () => {
  for (const tf of NGRAM_TFS) {
    const encoder = encoderFor(256);
    const config = configFor(encoder.vocabSize, tf);
    const w = wideOnly(config);
    const runner = await createOrtRunner(buildBertOnnx(config, w), { threads: 1 });
    try {
      const rows = await encoder.ids(TEXTS);
      const batch = encoder.pad(rows);
      assert.ok(batch.lengths.some((n) => n === MAX_TOKENS), 'a text is cut at the token limit');
      assert.ok(batch.codesLength! > MAX_TOKENS, 'its codes are not');
      const got = await runner.run(batch);
      TEXTS.forEach((t, r) => {
        assert.deepEqual(rows[r].codes, textCodes(t, 256));
        const want = expectedWide(textCodes(t, 256), config, w);
        for (let j = 0; j < config.numLabels; j++) {
          const g = got[r * config.numLabels + j];
          assert.ok(Math.abs(g - want[j]) <= 1e-3 * Math.max(1, Math.abs(want[j])), `${tf} "${t}" label ${j}: graph ${g} vs js ${want[j]}`);
        }
      });
      // The same text with a different tail past the token limit: BERT sees the same ids, the branch does not.
      const [a, b] = await encoder.ids(['这个颜色好看吗这个颜色好看吗红色', '这个颜色好看吗这个颜色好看吗蓝色']);
      assert.deepEqual([...a], [...b], 'identical token ids');
      const both = await runner.run(encoder.pad([a, b]));
      assert.notDeepEqual([...both.subarray(0, 3)], [...both.subarray(3, 6)], 'the tails change the wide logits');
    } finally {
      await runner.release();
    }
  }
});

test('text branch: the training forward agrees with serving (≤ 1e-5) from the trainer\'s own features, also above a frozen prefix; the table gradient matches finite differences', async () => {
  const encoder = encoderFor(24);
  const config = configFor(encoder.vocabSize, 'binary', 24);
  const w = tinyWeights(config, 7);
  const rng = createRng(8);
  for (const v of [w.get('ngram.weight')!, w.get('ngram.idf')!]) for (let i = 0; i < v.data.length; i++) v.data[i] = v === w.get('ngram.idf') ? 1 + rng() * 3 : rng() - 0.5;
  const ids = (await encoder.ids(TEXTS)).map((r) => Int32Array.from(r));
  const codes = TEXTS.map((t) => textCodes(t, config.ngram!.maxChars));
  const all = [...TEXTS.keys()];
  const runner = await createOrtRunner(buildBertOnnx(config, w), { threads: 1 });
  const serving = await runner.run(toEncodedBatch(ids, codes));
  await runner.release();
  const x = createIdFeatures(ids, codes).raw(all);
  assert.ok(x.codes && x.codes.chars === Math.max(...codes.map((c) => c.length)));
  const dims = [x.rows, x.seq];
  const int64 = (a: ArrayLike<number>) => BigInt64Array.from(Array.from(a), (v) => BigInt(v));
  const labels = new Float32Array(x.rows * config.numLabels).map((_, i) => (i % 4 === 0 ? 1 : 0));
  const base = {
    attention_mask: { type: 'int64' as const, data: int64(x.mask), dims },
    [NGRAM_INPUT]: { type: 'int64' as const, data: int64(x.codes!.data), dims: [x.rows, x.codes!.chars] },
    labels: { type: 'float32' as const, data: labels, dims: [x.rows, config.numLabels] },
    pos_weight: { type: 'float32' as const, data: new Float32Array(config.numLabels).fill(1), dims: [config.numLabels] },
  };
  for (const frozenLayers of [0, 1]) {
    const graph = buildTrainingGraph(config, w, { loss: { name: 'bce' }, frozenLayers });
    assert.equal(graph.inputs.includes('input_ids'), frozenLayers === 0, 'above a frozen prefix a text branch needs no token ids');
    assert.ok(graph.inputs.includes(NGRAM_INPUT));
    const feeds: Record<string, Feed> = { ...base };
    if (frozenLayers === 0) {
      feeds.input_ids = { type: 'int64', data: int64(x.ids), dims };
      feeds.token_type_ids = { type: 'int64', data: new BigInt64Array(x.rows * x.seq), dims };
    } else {
      const prefix = await createGraphSession(buildBertOnnx(config, w, { hiddenAfterLayers: 1 }), { threads: 1 });
      const hidden = (await prefix.run({ input_ids: { type: 'int64', data: int64(x.ids), dims }, attention_mask: base.attention_mask, token_type_ids: { type: 'int64', data: new BigInt64Array(x.rows * x.seq), dims } })).hidden_states;
      await prefix.release();
      feeds.hidden_states = { type: 'float32', data: hidden, dims: [x.rows, x.seq, config.hiddenSize] };
    }
    for (const name of graph.trainable) feeds[name] = { type: 'float32', data: w.get(name)!.data, dims: w.get(name)!.shape };
    const session = await createGraphSession(graph.bytes, { threads: 1 });
    const out = await session.run(feeds);
    const diff = Math.max(...serving.map((v, i) => Math.abs(v - out.logits[i])));
    assert.ok(diff <= 1e-5, `frozen ${frozenLayers}: training forward vs serving ${diff}`);
    if (frozenLayers === 0) {
      const grad = out['grad.ngram.weight'];
      const table = w.get('ngram.weight')!.data;
      const touched = [...grad.keys()].filter((i) => grad[i] !== 0);
      assert.ok(touched.length > 5);
      await assertFiniteDifferences(session, feeds, table, grad, [touched[0], touched[Math.floor(touched.length / 2)], touched[touched.length - 1]], 'text branch bucket-label');
    }
    await session.release();
  }
});

test('text branch: the manifest lists its input; a batch without codes, or a row from another encoder, is a clear LT_INFERENCE, not a wrong answer', async () => {
  const encoder = encoderFor(256);
  const config = configFor(encoder.vocabSize, 'binary');
  assert.deepEqual(servingInputs(config), ['input_ids', 'attention_mask', 'token_type_ids', NGRAM_INPUT]);
  assert.deepEqual(servingInputs(parseBertConfig({ ...config, ngram: { buckets: 97, maxN: 3 } })), ['input_ids', 'attention_mask', 'token_type_ids']);
  const runner = await createOrtRunner(buildBertOnnx(config, wideOnly(config)), { threads: 1 });
  try {
    const ids = (await encoder.ids(['多少钱'])).map((r) => Int32Array.from(r));
    await assert.rejects(runner.run(toEncodedBatch(ids)), (e) => isLivetagError(e, 'LT_INFERENCE') && /ngram_codes/.test(e.message));
    assert.throws(() => encoder.pad([[2, 10, 3]]), (e) => isLivetagError(e, 'LT_INFERENCE') && /codes/.test(e.message));
  } finally {
    await runner.release();
  }
});
