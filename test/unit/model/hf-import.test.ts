import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, open, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importHf, readHfCheckpoint } from '../../../src/model/build/hf-import.ts';
import { encodeSafetensors, readSafetensors } from '../../../src/model/build/safetensors.ts';
import { charVocab, shapeConfig } from '../../../src/model/build/random-bundle.ts';
import { createClassifier } from '../../../src/model/runtime/classifier.ts';
import { buildWordPieceTokenizerJson, createTextEncoder } from '../../../src/model/tokenizer.ts';
import { randomWeights, type WeightMap } from '../../../src/model/weights.ts';
import { isLivetagError } from '../../../src/common/errors.ts';
import { tempDir } from '../../helpers/shared.ts';

const root = tempDir();
const vocab = charVocab();
const labels = ['price', 'size', 'stock'];
const config = shapeConfig('tiny', vocab.length, labels.length);
const weights = randomWeights(config, 3);

function hfConfig(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    model_type: 'bert',
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    intermediate_size: config.intermediateSize,
    max_position_embeddings: config.maxPositions,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    hidden_act: 'gelu',
    ...extra,
  });
}

/** Writes a checkpoint directory with the tensors renamed by `rename` (undefined drops one). */
async function checkpoint(
  name: string,
  rename: (n: string) => string | undefined,
  opts: { dtype?: 'F32' | 'F16' | 'BF16'; extra?: WeightMap; config?: Record<string, unknown>; tokenizerJson?: boolean } = {},
): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  const tensors: WeightMap = new Map();
  for (const [n, t] of weights) {
    const to = rename(n);
    if (to !== undefined) tensors.set(to, t);
  }
  for (const [n, t] of opts.extra ?? []) tensors.set(n, t);
  await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(tensors, opts.dtype ?? 'F32'));
  await writeFile(join(dir, 'config.json'), hfConfig(opts.config ?? { id2label: Object.fromEntries(labels.map((l, i) => [i, l])) }));
  await writeFile(join(dir, 'vocab.txt'), vocab.join('\n') + '\n');
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false, model_max_length: 32 }));
  if (opts.tokenizerJson !== false) await writeFile(join(dir, 'tokenizer.json'), buildWordPieceTokenizerJson(vocab));
  return dir;
}

async function logitsOf(dir: string): Promise<Float32Array> {
  const out = join(dir, 'bundle');
  await importHf(dir, out);
  const c = await createClassifier({ bundle: out, worker: false, threads: 1 });
  try {
    return await c.infer(await c.encode(['这个多少钱', '有M码吗', '发货']));
  } finally {
    await c.stop();
  }
}

test('checkpoint variants import to the same model', async () => {
  const reference = await logitsOf(await checkpoint('plain', (n) => n));
  const noPrefix = await checkpoint('no-prefix', (n) => n.replace(/^bert\./, ''));
  const gammaBeta = await checkpoint('gamma-beta', (n) => n.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta'));
  const extras = await checkpoint('extras', (n) => n, {
    extra: new Map([
      ['cls.predictions.bias', { shape: [config.vocabSize], data: new Float32Array(config.vocabSize) }],
      ['bert.embeddings.position_ids', { shape: [1, config.maxPositions], data: new Float32Array(config.maxPositions) }],
    ]),
  });
  for (const dir of [noPrefix, gammaBeta, extras]) assert.deepEqual(await logitsOf(dir), reference, dir);
  const { checkpoint: ck } = await importHf(extras, join(extras, 'b2'));
  assert.deepEqual(ck.ignored, ['cls.predictions.bias']);
  assert.deepEqual(ck.buffers, ['bert.embeddings.position_ids']);
  assert.match(ck.notes.join('\n'), /skipped 1 index buffer that are not weights: bert\.embeddings\.position_ids/);
});

test('F16 and BF16 checkpoints import within their precision', async () => {
  const reference = await logitsOf(await checkpoint('f32', (n) => n));
  for (const dtype of ['F16', 'BF16'] as const) {
    const got = await logitsOf(await checkpoint(dtype, (n) => n, { dtype }));
    const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - reference[i])), 0);
    assert.ok(worst < (dtype === 'F16' ? 1e-2 : 5e-2), `${dtype}: max logit difference ${worst}`);
    assert.ok(worst > 0, `${dtype}: values were not actually narrowed`);
  }
});

test('a pretraining checkpoint without a head gets a new one for --labels', async () => {
  const dir = await checkpoint('no-head', (n) => (n.startsWith('classifier.') ? undefined : n.replace(/^bert\./, '')), { config: {} });
  await assert.rejects(readHfCheckpoint(dir), (e: unknown) => isLivetagError(e, 'LT_HF_IMPORT') && /--labels/.test(e.message));
  const wanted = ['a', 'b', 'c', 'd', 'e'];
  const { manifest, checkpoint: ck } = await importHf(dir, join(dir, 'bundle'), { labels: wanted });
  assert.deepEqual(manifest.labels, wanted);
  assert.equal(manifest.head, 'random');
  assert.deepEqual(ck.initialised, ['classifier.weight', 'classifier.bias']);
  assert.equal(manifest.architecture.numLabels, 5);
});

test('a head of another width is refused unless --labels replaces it', async () => {
  const dir = await checkpoint('head-mismatch', (n) => n, { config: { id2label: { 0: 'a', 1: 'b' } } });
  await assert.rejects(readHfCheckpoint(dir), /classifier has 3 outputs but config\.json id2label names 2 labels; pass --labels/);
  const ck = await readHfCheckpoint(dir, { labels: ['x'] });
  assert.equal(ck.head, 'random');
  assert.deepEqual(ck.initialised, ['classifier.weight', 'classifier.bias']);
  assert.deepEqual(ck.ignored, ['classifier.weight', 'classifier.bias']);
  assert.match(ck.notes.join('\n'), /classifier has 3 outputs; replaced by a new head for the 1 labels/);
  const same = await readHfCheckpoint(dir, { labels: ['x', 'y', 'z'] });
  assert.equal(same.head, 'pretrained');
  assert.deepEqual(same.weights.get('classifier.weight')!.data, weights.get('classifier.weight')!.data);
});

test('vocab.txt + tokenizer_config.json build the same tokenizer as tokenizer.json', async () => {
  const dir = await checkpoint('vocab-only', (n) => n, { tokenizerJson: false });
  const ck = await readHfCheckpoint(dir);
  assert.equal(ck.maxLength, 32);
  const texts = ['这个多少钱？', 'M码 有吗', '未知字符😀', ''];
  const a = await createTextEncoder(ck.tokenizerJson, 32).ids(texts);
  const b = await createTextEncoder(buildWordPieceTokenizerJson(vocab), 32).ids(texts);
  assert.deepEqual(a, b);
  assert.equal(a[2].filter((id) => id === vocab.indexOf('[UNK]')).length > 0, true);
});

test('safetensors F32 round-trips exactly', async () => {
  const path = join(root, 'rt.safetensors');
  await writeFile(path, encodeSafetensors(weights));
  const back = await readSafetensors(path);
  for (const [n, t] of weights) assert.deepEqual(back.get(n)!.data, t.data);
});

test('broken checkpoints fail with LT_HF_IMPORT naming the problem', async () => {
  const dir = await checkpoint('missing-layer', (n) => (n.includes('layer.1.output.dense.weight') ? undefined : n));
  await assert.rejects(readHfCheckpoint(dir), /tensor bert\.encoder\.layer\.1\.output\.dense\.weight is missing/);
  const bad = join(root, 'bad-act');
  await mkdir(bad, { recursive: true });
  await writeFile(join(bad, 'config.json'), hfConfig({ hidden_act: 'relu' }));
  await assert.rejects(readHfCheckpoint(bad), /hidden_act "relu"/);
  const truncated = await checkpoint('truncated', (n) => n);
  const bytes = await readFile(join(truncated, 'model.safetensors'));
  await writeFile(join(truncated, 'model.safetensors'), bytes.subarray(0, bytes.length - 100));
  await assert.rejects(readHfCheckpoint(truncated), (e: unknown) => isLivetagError(e, 'LT_HF_IMPORT'));
});

test('truncation keeps [CLS] and [SEP] at the max length; padding only to the longest text', async () => {
  const enc = createTextEncoder(buildWordPieceTokenizerJson(vocab), 8);
  const batch = await enc.encode(['这个多少钱这个多少钱这个多少钱', '钱']);
  assert.equal(batch.seqLength, 8);
  assert.deepEqual(batch.lengths, [8, 3]);
  const ids = Array.from(batch.inputIds, Number);
  assert.equal(ids[0], vocab.indexOf('[CLS]'));
  assert.equal(ids[7], vocab.indexOf('[SEP]'));
  assert.deepEqual(Array.from(batch.attentionMask.subarray(8), Number), [1, 1, 1, 0, 0, 0, 0, 0]);
  const short = await enc.encode(['钱', '多少']);
  assert.equal(short.seqLength, 4);
});

test('a weight file over 2 GiB is LT_HF_IMPORT saying to shard it, not a raw RangeError (a sparse file: no disk used)', async () => {
  const path = join(tempDir(), 'model.safetensors');
  const handle = await open(path, 'w');
  await handle.truncate(2 ** 31 + 1024);
  await handle.close();
  await assert.rejects(readSafetensors(path), (e: unknown) => isLivetagError(e, 'LT_HF_IMPORT') && /over the 2 GiB .*max_shard_size/.test(e.message));
});

test('--labels in another order than id2label keeps each output under its own name; other names than id2label get a new head', async () => {
  const dir = 'test/fixtures/hf/safetensors-f64';
  const plain = await readHfCheckpoint(dir);
  assert.deepEqual(plain.labels, ['price', 'size', 'stock']);
  const reordered = await readHfCheckpoint(dir, { labels: ['stock', 'size', 'price'] });
  assert.deepEqual(reordered.labels, ['price', 'size', 'stock'], 'the order the classifier rows follow');
  assert.equal(reordered.head, 'pretrained');
  assert.deepEqual(reordered.weights.get('classifier.weight')!.data, plain.weights.get('classifier.weight')!.data);
  assert.match(reordered.notes.join('\n'), /kept in the checkpoint's id2label order \(price,size,stock\)/);
  const renamed = await readHfCheckpoint(dir, { labels: ['a', 'b', 'c'] });
  assert.deepEqual(renamed.labels, ['a', 'b', 'c']);
  assert.equal(renamed.head, 'random');
  assert.match(renamed.notes.join('\n'), /trained for price,size,stock \(config\.json id2label\), not the labels of --labels; replaced by a new head/);
});
