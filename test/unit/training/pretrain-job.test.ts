import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isLivetagError } from '../../../src/common/errors.ts';
import { exportHf } from '../../../src/model/build/hf-export.ts';
import { createClassifier } from '../../../src/model/runtime/classifier.ts';
import { loadBundle } from '../../../src/model/runtime/load-bundle.ts';
import { readBertWeights } from '../../../src/model/onnx-reader.ts';
import { runPretrainJob, type PretrainOptions } from '../../../src/training/pretrain/pretrain-job.ts';
import { runTrainJob } from '../../../src/training/train-job.ts';
import { tempDir } from '../../helpers/shared.ts';
import { TINY_LABELS, tinyPretrainOptions, tinyRows, writeJsonl } from './fixtures.ts';

const silent = (): void => {};

function tinyPretrain(dir: string, over: Partial<PretrainOptions> = {}): PretrainOptions {
  const texts = tinyRows(80, 4).map((r) => r.text);
  const jsonl = writeJsonl(join(dir, 'a.jsonl'), texts.slice(0, 50).map((text) => ({ text })));
  // Plain text, one a line, with a duplicate that is dropped.
  writeFileSync(join(dir, 'b.txt'), [...texts.slice(50), texts[0]].join('\n') + '\n');
  return tinyPretrainOptions(join(dir, 'pre'), { data: [jsonl, join(dir, 'b.txt')], ...over });
}

test('pretrain → train --init → classify: the encoder bundle is refused by serving and export-hf, the trained one serves', async () => {
  const dir = tempDir();
  const o = tinyPretrain(dir);
  const result = await runPretrainJob(o, silent);
  assert.equal(result.epochs.length, 2);
  assert.ok(result.epochs.every((e) => Number.isFinite(e.loss) && e.masked > 0 && e.accuracy >= 0 && e.accuracy <= 1));
  const report = JSON.parse(readFileSync(join(o.out, 'report.json'), 'utf8'));
  assert.equal(report.corpus.texts, 80);
  assert.equal(report.corpus.duplicates, 1);
  assert.match(readFileSync(join(o.out, 'report.md'), 'utf8'), /masked-token accuracy/);
  const encoder = await loadBundle(result.bundleDir);
  assert.equal(encoder.manifest.head, 'encoder');
  await assert.rejects(createClassifier({ bundle: result.bundleDir, worker: false }), (e) => isLivetagError(e, 'LT_BUNDLE_ENCODER_ONLY'));
  await assert.rejects(exportHf(result.bundleDir, join(dir, 'hf')), (e) => isLivetagError(e, 'LT_HF_EXPORT') && /pretrained encoder/.test((e as Error).message));

  // A character the pretraining corpus never had: the labeled texts' vocabulary is added to the encoder's.
  const data = writeJsonl(join(dir, 'labels.jsonl'), tinyRows(60, 1, '锟'));
  const trained = await runTrainJob({ data: [data], init: o.out, recipe: 'livetag', out: join(dir, 'run'), quiet: true, log: silent, threads: 1, recipeOverrides: { maxEpochs: 2, batchSize: 16 } });
  const bundle = await loadBundle(join(dir, 'run', 'bundle'));
  assert.equal(bundle.manifest.head, 'trained');
  assert.deepEqual([...bundle.manifest.labels].sort(), [...TINY_LABELS].sort());
  // The encoder's pretrained layers are where fine-tuning started; the head is new and the n-gram branch is train's default.
  assert.ok(bundle.manifest.architecture.ngram, 'train adds its default n-gram branch');
  assert.match(JSON.stringify(trained.report), /pretrained encoder .*, new head, \d+ tokens of the labeled texts added to its vocabulary/);
  // From an encoder the default fuses late (recipe.ts), so BERT trains alone at a compact encoder's 1e-3, not bert-base's 5e-5.
  assert.equal(trained.report.recipe.fusion, 'late');
  assert.equal(trained.report.recipe.lr, 1e-3);
  assert.ok(bundle.manifest.architecture.vocabSize > encoder.manifest.architecture.vocabSize);
  // Pretrained at 24 tokens; fine-tuned at the classifier default, as far as the positions allow.
  assert.equal(encoder.manifest.maxSequenceLength, 24);
  assert.equal(bundle.manifest.maxSequenceLength, Math.min(128, bundle.manifest.architecture.maxPositions));
  const classifier = await createClassifier({ bundle: bundle.dir, worker: false, threads: 1 });
  try {
    const out = await classifier.classify(['这个价钱很贵吗', '快递发了吗']);
    assert.equal(out.length, 2);
  } finally {
    await classifier.stop();
  }
  // An explicit --max-length past the encoder's positions grows them (copies of the learned rows), and serving takes texts that long.
  const positions = encoder.manifest.architecture.maxPositions;
  const longer = await runTrainJob({ data: [data], init: o.out, recipe: 'livetag', out: join(dir, 'long'), quiet: true, log: silent, threads: 1, maxLength: positions + 16, recipeOverrides: { maxEpochs: 1, batchSize: 16 } });
  const long = await loadBundle(join(dir, 'long', 'bundle'));
  assert.equal(long.manifest.architecture.maxPositions, positions + 16);
  assert.equal(long.manifest.maxSequenceLength, positions + 16);
  assert.match(JSON.stringify(longer.report), new RegExp(`positions grown ${positions} → ${positions + 16}`));
  assert.ok(longer.report.parity.maxAbsDiff <= 1e-4, 'the exported graph agrees with training at the new length');
  const served = await createClassifier({ bundle: long.dir, worker: false, threads: 1 });
  try {
    assert.equal((await served.classify(['这个价钱很贵吗'.repeat(Math.ceil(positions / 7) + 2)])).length, 1);
  } finally {
    await served.stop();
  }
});

test('a run stopped after its first epoch resumes to the same second epoch and the same weights', async () => {
  const dir = tempDir();
  const whole = await runPretrainJob(tinyPretrain(dir, { out: join(dir, 'whole') }), silent);
  const killed = tinyPretrain(dir, {
    out: join(dir, 'killed'),
    afterEpoch: (e) => {
      if (e === 1) throw new Error('killed after epoch 1');
    },
  });
  await assert.rejects(runPretrainJob(killed, silent), /killed after epoch 1/);
  const resumed = await runPretrainJob({ ...killed, afterEpoch: undefined, resume: true }, silent);
  assert.equal(resumed.epochs.length, 2);
  assert.deepEqual(resumed.epochs.map((e) => [e.loss, e.accuracy, e.masked]), whole.epochs.map((e) => [e.loss, e.accuracy, e.masked]));
  const a = await loadBundle(whole.bundleDir);
  const b = await loadBundle(resumed.bundleDir);
  const wa = readBertWeights(a.manifest.architecture, a.modelBytes).get('bert.encoder.layer.0.output.dense.weight')!.data;
  const wb = readBertWeights(b.manifest.architecture, b.modelBytes).get('bert.encoder.layer.0.output.dense.weight')!.data;
  assert.deepEqual(wb, wa);
});

test('--resume refuses a checkpoint from another corpus (a topic read again) or other options, instead of going on silently wrong', async () => {
  const dir = tempDir();
  const killed = tinyPretrain(dir, {
    out: join(dir, 'killed'),
    afterEpoch: (e) => {
      if (e === 1) throw new Error('killed after epoch 1');
    },
  });
  await assert.rejects(runPretrainJob(killed, silent), /killed after epoch 1/);
  // One more comment arrived: the scratch vocabulary and every batch change.
  writeFileSync(join(dir, 'b.txt'), readFileSync(join(dir, 'b.txt'), 'utf8') + '新来的一条评论\n');
  const refused = (err: unknown): boolean => isLivetagError(err, 'LT_CHECKPOINT') && /another corpus, tokenizer or options/.test(err.message);
  await assert.rejects(runPretrainJob({ ...killed, afterEpoch: undefined, resume: true }, silent), refused);
  writeFileSync(join(dir, 'b.txt'), readFileSync(join(dir, 'b.txt'), 'utf8').replace('新来的一条评论\n', ''));
  await assert.rejects(runPretrainJob({ ...killed, afterEpoch: undefined, resume: true, batchSize: killed.batchSize + 1 }, silent), refused);
  const same = await runPretrainJob({ ...killed, afterEpoch: undefined, resume: true }, silent);
  assert.equal(same.epochs.length, 2, 'the same corpus and options resume');
});

test('an MLM loss that is not finite stops the run with LT_TRAINING naming the step, not a manifest error after the last epoch', async () => {
  const dir = tempDir();
  await assert.rejects(runPretrainJob(tinyPretrain(dir, { lr: 1e30 }), silent), (err: unknown) => isLivetagError(err, 'LT_TRAINING') && /MLM loss became (NaN|Infinity) at epoch \d+, step \d+; lower --lr/.test(err.message));
});

test('--max-steps ends pretraining inside an epoch, after exactly that many optimizer steps', async () => {
  const dir = tempDir();
  // 80 texts, one a duplicate: 79 rows in batches of 16 are 5 steps an epoch; 3 epochs would be 15.
  const result = await runPretrainJob(tinyPretrain(dir, { epochs: 3, maxSteps: 7 }), silent);
  assert.deepEqual(result.epochs.map((e) => e.steps), [5, 2]);
  assert.ok(result.epochs.every((e) => Number.isFinite(e.loss) && e.masked > 0));
  const report = JSON.parse(readFileSync(join(dir, 'pre', 'report.json'), 'utf8'));
  assert.equal(report.options.maxSteps, 7);
  assert.match(readFileSync(join(dir, 'pre', 'report.md'), 'utf8'), /\| 2 \| 2 \| /);
  // A budget above the epochs' steps changes nothing.
  const whole = await runPretrainJob(tinyPretrain(dir, { out: join(dir, 'whole'), maxSteps: 1000 }), silent);
  assert.deepEqual(whole.epochs.map((e) => e.steps), [5, 5]);
  // The cut epoch counts the real tokens of its 2 batches only, so its share is of what it saw.
  assert.ok(result.epochs[1].maskable! < whole.epochs[1].maskable!, `${result.epochs[1].maskable} of ${whole.epochs[1].maskable}`);
});

test('the log and report give the share of real tokens actually masked, beside --mask-prob (draws vary; a short row gets one at least)', async () => {
  const dir = tempDir();
  const lines: string[] = [];
  const result = await runPretrainJob(tinyPretrain(dir), (l) => lines.push(l));
  for (const e of result.epochs) {
    const share = e.masked / e.maskable!;
    // Drawn per token at 0.15 over ~650 real tokens, with one at least per row.
    assert.ok(share > 0.1 && share < 0.3, `epoch ${e.epoch}: ${e.masked} of ${e.maskable} real tokens`);
    assert.ok(lines.some((l) => l.includes(`(${e.masked} masked tokens, ${((100 * e.masked) / e.maskable!).toFixed(1)}% of real tokens`)), lines.join('\n'));
  }
  // A whole epoch sees every row once: its real tokens are the corpus's tokens less [CLS] and [SEP] of each row.
  const report = JSON.parse(readFileSync(join(dir, 'pre', 'report.json'), 'utf8'));
  assert.equal(result.epochs[0].maskable, report.corpus.tokens - 2 * report.corpus.rows);
  const md = readFileSync(join(dir, 'pre', 'report.md'), 'utf8');
  const first = result.epochs[0];
  assert.ok(md.includes(`| ${first.masked} | ${(first.masked / first.maskable!).toFixed(3)} |`), md);
  // A Markdown table renders only when the delimiter row has a cell for every header cell.
  const table = md.split('\n').filter((l) => l.startsWith('|'));
  const cells = (l: string) => l.split('|').length - 2;
  assert.ok(table.length >= 3 && table.every((l) => cells(l) === cells(table[0])), table.join('\n'));
});

test('pretrain --device cuda where CUDA is absent runs on the CPU and says why in the engine line', async (t) => {
  const dir = tempDir();
  const lines: string[] = [];
  await runPretrainJob(tinyPretrain(dir, { device: 'cuda', epochs: 1 }), (l) => lines.push(l));
  const engine = lines.find((l) => l.startsWith('engine: ')) ?? '';
  if (/onnxruntime cuda/.test(engine)) return t.skip('this machine has a working CUDA execution provider');
  assert.match(engine, /^engine: onnxruntime cpu \(--device cuda: CUDA execution provider unavailable/);
});
