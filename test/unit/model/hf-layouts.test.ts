import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importHf, readHfCheckpoint } from '../../../src/model/build/hf-import.ts';
import { createClassifier } from '../../../src/model/runtime/classifier.ts';
import { REPO_ROOT, tempDir } from '../../helpers/shared.ts';

/**
 * test/fixtures/hf holds one tiny BertForSequenceClassification saved in each
 * layout real checkpoints come in, written by scripts/make-hf-fixtures.py with
 * PyTorch; expected.json's ids and logits come from transformers (its
 * BertTokenizer on vocab.txt, its model in float64), not from this importer.
 */
const FIXTURES = join(REPO_ROOT, 'test/fixtures/hf');
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
  labels: string[];
  cases: { text: string; input_ids: number[]; logits: number[] }[];
};
const root = tempDir();

async function logitsAndIds(bundle: string): Promise<{ logits: number[][]; ids: readonly (readonly number[])[] }> {
  const c = await createClassifier({ bundle, worker: false, threads: 1 });
  try {
    const texts = expected.cases.map((x) => x.text);
    const ids = await c.encoder.ids(texts);
    const logits: number[][] = [];
    for (const text of texts) logits.push(Array.from(await c.infer(await c.encode([text]))));
    return { logits, ids };
  } finally {
    await c.stop();
  }
}

const LAYOUTS: [string, string][] = [
  ['safetensors-i64', 'model.safetensors'],
  ['safetensors-f64', 'model.safetensors'],
  ['bin-zip-archive', 'pytorch_model.bin'],
  ['bin-zip-named', 'pytorch_model.bin'],
  ['sharded-safetensors', 'model.safetensors.index.json'],
  ['sharded-bin', 'pytorch_model.bin.index.json'],
];

for (const [layout, file] of LAYOUTS) {
  test(`${layout}: imports to Hugging Face's ids and logits (≤ 1e-5)`, async () => {
    const out = join(root, layout);
    const { manifest, checkpoint } = await importHf(join(FIXTURES, layout), out);
    assert.equal(checkpoint.weightsFile, file);
    assert.deepEqual(manifest.labels, expected.labels);
    assert.equal(manifest.head, 'pretrained');
    assert.deepEqual(checkpoint.ignored, []);
    const { logits, ids } = await logitsAndIds(out);
    assert.deepEqual(ids, expected.cases.map((c) => c.input_ids));
    let worst = 0;
    expected.cases.forEach((c, i) => c.logits.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - logits[i][j])))));
    assert.ok(worst <= 1e-5, `max |Δlogit| ${worst}`);
  });
}

test('safetensors-i64: the int64 index buffers are skipped with one note, never used', async () => {
  const ck = await readHfCheckpoint(join(FIXTURES, 'safetensors-i64'));
  assert.deepEqual(ck.buffers.sort(), ['bert.embeddings.position_ids', 'bert.embeddings.token_type_ids']);
  assert.equal(ck.notes.filter((n) => /index buffers that are not weights/.test(n)).length, 1);
});

test('legacy pickle BertForPreTraining (gamma/beta, saved position_ids, cls heads): encoder imported, new head for --labels', async () => {
  const dir = join(FIXTURES, 'bin-legacy-pretraining');
  await assert.rejects(readHfCheckpoint(dir), /no classification head and only default LABEL_n names; pass --labels/);
  const ck = await readHfCheckpoint(dir, { labels: ['a', 'b'] });
  assert.equal(ck.head, 'random');
  assert.deepEqual(ck.initialised, ['classifier.weight', 'classifier.bias']);
  assert.deepEqual(ck.buffers, ['bert.embeddings.position_ids']);
  assert.deepEqual(ck.ignored.sort(), ['cls.predictions.bias', 'cls.seq_relationship.weight']);
  const reference = await readHfCheckpoint(join(FIXTURES, 'safetensors-f64'));
  for (const [name, t] of reference.weights) {
    if (!name.startsWith('classifier.')) assert.deepEqual(ck.weights.get(name)!.data, t.data, name);
  }
});

test('a single-label head is imported with a note on what sigmoid scores mean', async () => {
  const { mkdir, copyFile, writeFile } = await import('node:fs/promises');
  const dir = join(root, 'single');
  await mkdir(dir, { recursive: true });
  for (const f of ['model.safetensors', 'vocab.txt', 'tokenizer_config.json']) await copyFile(join(FIXTURES, 'safetensors-f64', f), join(dir, f));
  const config = JSON.parse(readFileSync(join(FIXTURES, 'safetensors-f64', 'config.json'), 'utf8'));
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, problem_type: 'single_label_classification' }));
  const ck = await readHfCheckpoint(dir);
  assert.equal(ck.head, 'pretrained');
  assert.match(ck.notes.join('\n'), /single-label \(softmax over labels\).*sigmoid.*thresholds need calibrating/);
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['BertForQuestionAnswering'] }));
  await assert.rejects(readHfCheckpoint(dir), /architectures BertForQuestionAnswering not supported/);
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['BertForMaskedLM'] }));
  const mlm = await readHfCheckpoint(dir, { labels: ['x', 'y', 'z'] });
  assert.equal(mlm.head, 'random', 'a BertForMaskedLM checkpoint has no sequence classifier to keep');
});
