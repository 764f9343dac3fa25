import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { exportHf, THRESHOLDS_FILE } from '../../../src/model/build/hf-export.ts';
import { importHf, readHfCheckpoint } from '../../../src/model/build/hf-import.ts';
import { writeBundleFiles } from '../../../src/model/build/write-bundle.ts';
import { createClassifier } from '../../../src/model/runtime/classifier.ts';
import { loadBundle } from '../../../src/model/runtime/load-bundle.ts';
import { createTextEncoder } from '../../../src/model/tokenizer.ts';
import { createRng } from '../../../src/common/rng.ts';
import { isLivetagError } from '../../../src/common/errors.ts';
import { runTrainJob } from '../../../src/training/train-job.ts';
import { REPO_ROOT, tempDir } from '../../helpers/shared.ts';

const FIXTURE = join(REPO_ROOT, 'test/fixtures/hf/safetensors-f64');
const root = tempDir();
const TEXTS = ['这个多少钱', '有M码吗？', '什么时候发货', 'Café 包邮吗', '多少钱包邮', ''];

async function logits(bundle: string): Promise<number[]> {
  const c = await createClassifier({ bundle, worker: false, threads: 1 });
  try {
    return Array.from(await c.infer(await c.encode(TEXTS)));
  } finally {
    await c.stop();
  }
}

/** Comments from the fixture's 23-character vocabulary, tagged by cue characters. */
function rows(n: number): { id: string; text: string; labels: string[] }[] {
  const rng = createRng(7);
  const chars = [...'这个多少钱有码吗什么时候发货包邮'];
  return Array.from({ length: n }, (_, i) => {
    const text = Array.from({ length: 2 + Math.floor(rng() * 6) }, () => chars[Math.floor(rng() * chars.length)]).join('');
    const labels = [text.includes('钱') ? 'price' : '', text.includes('码') ? 'size' : '', text.includes('有') ? 'stock' : ''].filter(Boolean);
    return { id: `r${i}`, text, labels };
  });
}

let trained = '';

test('import → train → export → import gives the same logits (≤ 1e-5)', async () => {
  const imported = join(root, 'imported');
  await importHf(FIXTURE, imported);
  const data = join(root, 'data.jsonl');
  await writeFile(data, rows(60).map((r) => JSON.stringify(r)).join('\n') + '\n');
  const run = await runTrainJob({
    data: [data], init: imported, recipe: 'livetag', out: join(root, 'run'),
    recipeOverrides: { maxEpochs: 1, batchSize: 8 }, ratios: [0.6, 0.2, 0.2], quiet: true, log: () => {}, threads: 1,
    // A plain BERT head: the wide n-gram branch (on by default) is what export-hf refuses.
    ngram: null,
  });
  trained = run.bundleDir;
  const before = await logits(imported);
  const after = await logits(trained);
  assert.ok(after.some((v, i) => Math.abs(v - before[i]) > 1e-4), 'training changed the model');

  const out = join(root, 'hf');
  const result = await exportHf(trained, out);
  assert.ok(result.maxAbsDiff <= 1e-5);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'vocab.txt', 'tokenizer_config.json', THRESHOLDS_FILE, 'README.md']) assert.ok(existsSync(join(out, f)), f);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  const manifest = (await loadBundle(trained)).manifest;
  assert.deepEqual(config.architectures, ['BertForSequenceClassification']);
  assert.equal(config.problem_type, 'multi_label_classification');
  assert.deepEqual(config.id2label, Object.fromEntries(manifest.labels.map((l, i) => [String(i), l])));
  assert.deepEqual(config.label2id, Object.fromEntries(manifest.labels.map((l, i) => [l, i])));
  assert.equal(config.hidden_size, manifest.architecture.hiddenSize);
  const thresholds = JSON.parse(readFileSync(join(out, THRESHOLDS_FILE), 'utf8'));
  assert.deepEqual(Object.values(thresholds.thresholds), manifest.thresholds);
  assert.match(readFileSync(join(out, 'README.md'), 'utf8'), new RegExp(THRESHOLDS_FILE));
  assert.equal(readFileSync(join(out, 'vocab.txt'), 'utf8'), readFileSync(join(FIXTURE, 'vocab.txt'), 'utf8'));

  const back = join(root, 'back');
  const { checkpoint } = await importHf(out, back);
  assert.equal(checkpoint.head, 'pretrained');
  assert.deepEqual(checkpoint.ignored, []);
  const again = await logits(back);
  const worst = again.reduce((m, v, i) => Math.max(m, Math.abs(v - after[i])), 0);
  assert.ok(worst <= 1e-5, `max |Δlogit| after the round trip ${worst}`);
  // The exported vocab.txt + tokenizer_config.json alone (as the slow BertTokenizer reads them) tokenize as tokenizer.json does.
  const vocabOnly = join(root, 'vocab-only');
  await cp(out, vocabOnly, { recursive: true, filter: (f) => !f.endsWith('tokenizer.json') });
  const rebuilt = await readHfCheckpoint(vocabOnly);
  const ids = async (json: string): Promise<readonly (readonly number[])[]> => createTextEncoder(json, 16).ids(TEXTS);
  assert.deepEqual(await ids(rebuilt.tokenizerJson), await ids(readFileSync(join(out, 'tokenizer.json'), 'utf8')));
});

async function bundleCopy(name: string, edit: (m: Record<string, unknown>) => void): Promise<string> {
  const dir = join(root, name);
  await cp(trained, dir, { recursive: true });
  const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  edit(m);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(m));
  return dir;
}

const refused = (pattern: RegExp) => (e: unknown): boolean => isLivetagError(e, 'LT_HF_EXPORT') && pattern.test(e.message) && /nothing was written/.test(e.message);

test('a bundle Hugging Face cannot express is refused with the reason, and nothing is written', async () => {
  assert.ok(trained, 'the round trip ran first');
  const ngram = await bundleCopy('ngram', (m) => ((m.architecture as Record<string, unknown>).ngram = { buckets: 4096, maxN: 3 }));
  await assert.rejects(exportHf(ngram, join(root, 'out-ngram')), refused(/hashed n-gram branch \(4096 buckets/));
  assert.equal(existsSync(join(root, 'out-ngram')), false);
  const extra = await bundleCopy('extra', (m) => (m.calibration = { temperature: 2 }));
  await assert.rejects(exportHf(extra, join(root, 'out-extra')), refused(/manifest has calibration/));
  assert.equal(existsSync(join(root, 'out-extra')), false);

  // A graph with something added after the classifier: same weights, other logits.
  const source = await loadBundle(trained);
  const model = onnxProto.onnx.ModelProto.decode(source.modelBytes);
  const g = model.graph!;
  const last = g.node!.find((n) => n.output!.includes('logits'))!;
  last.output = last.output!.map((o) => (o === 'logits' ? 'logits_plain' : o));
  const n = source.manifest.labels.length;
  g.initializer!.push({ name: 'extra_branch', dims: [n], dataType: 1, floatData: Array.from({ length: n }, () => 0.25) });
  g.node!.push({ opType: 'Add', input: ['logits_plain', 'extra_branch'], output: ['logits'], name: 'extra_add' });
  const altered = join(root, 'altered');
  const m = source.manifest;
  await writeBundleFiles(altered, { modelId: m.modelId, labels: m.labels, maxSequenceLength: m.maxSequenceLength, architecture: m.architecture, tokenizerJson: source.tokenizerJson, head: m.head, source: 'test' }, onnxProto.onnx.ModelProto.encode(model).finish());
  await assert.rejects(exportHf(altered, join(root, 'out-altered')), refused(/computes something a plain BERT with its weights does not \(max \|Δlogit\| 0\.25/));
  assert.equal(existsSync(join(root, 'out-altered')), false);
  await assert.rejects(exportHf(trained, join(root, 'hf')), (e: unknown) => isLivetagError(e, 'LT_HF_EXPORT') && /not empty/.test(e.message));
});
