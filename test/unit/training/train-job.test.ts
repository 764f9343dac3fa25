import { parseNgramSpec, textCodes } from '../../../src/model/ngram-hash.ts';
import { ngramInput } from '../../../src/training/steps/encode.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBundle } from '../../../src/model/runtime/load-bundle.ts';
import { readBertWeights } from '../../../src/model/onnx-reader.ts';
import { readSplits, resolveBaseRun } from '../../../src/training/run-dir.ts';
import { runTrainJob, type TrainJobOptions } from '../../../src/training/train-job.ts';
import { command as evalCommand } from '../../../src/cli/commands/eval.ts';
import { command as trainCommand } from '../../../src/cli/commands/train.ts';
import { createClassifier } from '../../../src/model/runtime/classifier.ts';
import { createTextEncoder } from '../../../src/model/tokenizer.ts';
import { tokenizeAll } from '../../../src/training/features.ts';
import { fitLinearBaseline } from '../../../src/training/linear-baseline.ts';
import { toMatrix } from '../../../src/training/metrics.ts';
import { isLivetagError } from '../../../src/common/errors.ts';
import { captureOutput, tempDir } from '../../helpers/shared.ts';
import { TINY_LABELS, tinyRows, writeJsonl } from './fixtures.ts';

// The TensorFlow.js engine on wasm until the onnxruntime engine (the default) is built.
const quiet = { quiet: true, log: () => {}, threads: 1 } as const;
const tiny: Partial<TrainJobOptions> = {
  arch: { hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32 },
  recipeOverrides: { maxEpochs: 3, batchSize: 16 },
  maxLength: 24,
};

async function captureStdout(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const { code, stdout } = await captureOutput(fn);
  return { code, out: stdout };
}

test('from scratch: bad rows reported, bundle exported with thresholds, parity, report and data beside it', async () => {
  const dir = tempDir();
  const data = writeJsonl(join(dir, 'labels.jsonl'), tinyRows(60), [
    '{"text": "cut off',
    JSON.stringify({ text: '', labels: ['price'] }),
    JSON.stringify({ text: '这个多少钱啊', labels: ['price', 'weather'] }),
  ]);
  const out = join(dir, 'run');
  const result = await runTrainJob({ ...tiny, ...quiet, data: [data], recipe: 'livetag', out, labels: TINY_LABELS });

  const r = result.report;
  assert.equal(r.data.counts['invalid-json'], 1);
  assert.equal(r.data.counts['empty-text'], 1);
  assert.equal(r.data.counts['unknown-label'], 1);
  assert.ok(r.data.issues.some((i) => i.kind === 'unknown-label' && i.position === 63 && /weather/.test(i.detail)));
  // Each rejected record kept whole beside why: a labels topic's offsets move past them.
  const rejected = readFileSync(join(out, 'rejected.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; position: number; value: string });
  assert.deepEqual(rejected.map((x) => [x.kind, x.position]), [['invalid-json', 61], ['empty-text', 62], ['unknown-label', 63]]);
  assert.equal(rejected[2].value, JSON.stringify({ text: '这个多少钱啊', labels: ['price', 'weather'] }));
  assert.ok(r.parity.maxAbsDiff <= 1e-4, `parity ${r.parity.maxAbsDiff}`);
  assert.ok(r.firstBatch.absDiff! < 1e-5, `first batch ${JSON.stringify(r.firstBatch)}`);
  assert.equal(result.decision.decision, 'promoted');
  assert.equal(r.history.length, 3);
  // The default: a wide n-gram branch on the onnxruntime engine, the linear baseline beside the model in the report.
  assert.deepEqual(r.architecture.ngram, { buckets: 262144, maxN: 3, tf: 'binary', source: 'tokens', maxChars: 256 });
  assert.ok(r.baseline && r.baseline.test.samples === r.test.samples, 'baseline scored on the same test rows');
  assert.match(r.baseline.verdict, /^(the trained model beats|the linear n-gram baseline would have been better on)/);
  assert.match(readFileSync(join(out, 'report', 'report.md'), 'utf8'), /\| linear n-gram baseline \|[\s\S]*Verdict: /);

  const bundle = await loadBundle(result.bundleDir);
  assert.deepEqual(bundle.manifest.labels, TINY_LABELS);
  assert.equal(bundle.manifest.thresholds.length, 3);
  // The fixture has untagged rows and rows with several tags: nothing is forced either way.
  assert.deepEqual(bundle.manifest.tagCount, { min: 0, max: null });
  assert.deepEqual(r.tagCount, bundle.manifest.tagCount);
  assert.equal(bundle.manifest.head, 'trained');
  assert.equal(bundle.manifest.training?.recipe, 'livetag');
  assert.match(bundle.manifest.training!.evaluatedOn!, /test split/);
  assert.equal(bundle.manifest.training?.metrics?.macro_f1, r.test.macro_f1);

  for (const f of ['train-data.jsonl', 'splits.json', 'test.jsonl', 'report/report.json', 'report/report.md', 'report/loss-f1.svg', 'report/per-label-f1.svg']) {
    assert.ok(existsSync(join(out, f)), `${f} missing`);
  }
  assert.ok(!existsSync(join(out, 'checkpoint')), 'a finished run leaves no checkpoint');
  assert.match(readFileSync(join(out, 'report/report.md'), 'utf8'), /## Decision: PROMOTED/);
  assert.match(readFileSync(join(out, 'report/loss-f1.svg'), 'utf8'), /^<svg[^]*<\/svg>\n$/);

  const { code, out: printed } = await captureStdout(() => evalCommand.run(['--model', result.bundleDir, '--data', join(out, 'test.jsonl'), '--threads', '1']));
  assert.equal(code, 0);
  const metrics = JSON.parse(printed);
  for (const k of ['subset_accuracy', 'micro_f1', 'macro_f1', 'hamming_loss', 'per_label']) assert.ok(k in metrics, k);
  assert.equal(metrics.macro_f1, r.test.macro_f1);
  assert.deepEqual(Object.keys(metrics.per_label), TINY_LABELS);
});

test('a split with no validation rows (ratio 0 through the API; the CLI refuses it) is refused with LT_DATA before any epoch: it would keep epoch 1, untuned', async () => {
  const dir = tempDir();
  const data = writeJsonl(join(dir, 'labels.jsonl'), tinyRows(60));
  const epochs: string[] = [];
  await assert.rejects(
    runTrainJob({ ...tiny, ...quiet, log: (l) => void (/epoch/.test(l) && epochs.push(l)), data: [data], recipe: 'livetag', out: join(dir, 'run'), labels: TINY_LABELS, ratios: [0.95, 0, 0.05] }),
    (err: unknown) => isLivetagError(err, 'LT_DATA') && /no validation rows/.test(err.message),
  );
  assert.deepEqual(epochs, []);
});

test('a split with no test rows (ratio 0 through the API; the CLI refuses it) is LT_DATA before any epoch: promotion would rest on nothing', async () => {
  const dir = tempDir();
  const data = writeJsonl(join(dir, 'a.jsonl'), tinyRows(40, 2));
  const epochs: string[] = [];
  await assert.rejects(
    runTrainJob({ ...tiny, ...quiet, log: (l) => void (/epoch/.test(l) && epochs.push(l)), data: [data], recipe: 'livetag', out: join(dir, 'run'), ratios: [0.8, 0.2, 0] }),
    (err: unknown) => isLivetagError(err, 'LT_DATA') && /no test rows/.test(err.message),
  );
  assert.deepEqual(epochs, []);
});

test('champion/challenger: previous data merged, test split pinned, decision by margin, promotion copies the run', async () => {
  const dir = tempDir();
  const first = join(dir, 'first');
  const a = await runTrainJob({ ...tiny, ...quiet, data: [writeJsonl(join(dir, 'a.jsonl'), tinyRows(50, 2))], recipe: 'livetag', out: first });
  const pinnedTest = Object.entries((await readSplits(join(first, 'splits.json'))).assignments).filter(([, s]) => s === 'test').map(([k]) => k);

  const newData = writeJsonl(join(dir, 'b.jsonl'), tinyRows(30, 3, 'n'));
  const firstReport = readFileSync(join(first, 'report/report.md'), 'utf8');
  // As the CronJob runs it: the champion's folder is both --base and --promote-to.
  const kept = await runTrainJob({ ...tiny, ...quiet, data: [newData], base: first, init: first, recipe: 'livetag', out: join(dir, 'second'), promoteMargin: 1, promoteTo: first });
  assert.equal(kept.decision.decision, 'kept');
  assert.equal(kept.report.data.previousRows, a.report.data.accepted);
  assert.equal(kept.report.data.newRows, 30);
  assert.equal(kept.report.split.pinnedTest, pinnedTest.length);
  const second = (await readSplits(join(dir, 'second', 'splits.json'))).assignments;
  for (const k of pinnedTest) assert.equal(second[k], 'test');
  assert.equal(kept.report.champion?.version, (await loadBundle(join(first, 'bundle'))).manifest.version);
  assert.equal(typeof kept.decision.champion, 'number');
  assert.match(readFileSync(join(dir, 'second/report/report.md'), 'utf8'), /## Decision: KEPT/);
  // Starting from the base bundle, the first batch's loss is the base model's own.
  assert.ok(kept.report.firstBatch.absDiff! < 1e-5);
  // Kept, the champion's folder keeps its bundle and report but takes the run's rows and splits:
  // the next run's --base trains on the 30 new rows (consumed from Kafka, they would not come again).
  assert.equal((await loadBundle(join(first, 'bundle'))).manifest.version, a.report.bundle.version);
  assert.equal(readFileSync(join(first, 'report/report.md'), 'utf8'), firstReport);
  assert.equal(readFileSync(join(first, 'train-data.jsonl'), 'utf8'), readFileSync(join(dir, 'second', 'train-data.jsonl'), 'utf8'));
  assert.deepEqual((await readSplits(join(first, 'splits.json'))).assignments, second);
  assert.equal(kept.report.bundle.dataCarriedTo, first);
  assert.match(readFileSync(join(dir, 'second/report/report.md'), 'utf8'), /training data and splits carried to/);
  const next = await resolveBaseRun(first);
  assert.equal(next.previous.length, a.report.data.accepted + 30, 'the next run reads the kept run\'s new rows');
  // A --promote-to that serves another model than --base is left alone when the challenger is kept.
  const elsewhere = join(dir, 'elsewhere');
  await runTrainJob({ ...tiny, ...quiet, data: [writeJsonl(join(dir, 'c.jsonl'), tinyRows(40, 5, 'e'))], recipe: 'livetag', out: elsewhere });
  const before = readFileSync(join(elsewhere, 'bundle', 'model.onnx'));
  const keptElsewhere = await runTrainJob({ ...tiny, ...quiet, data: [newData], base: first, init: first, recipe: 'livetag', out: join(dir, 'fourth'), promoteMargin: 1, promoteTo: elsewhere });
  assert.equal(keptElsewhere.decision.decision, 'kept');
  assert.equal(keptElsewhere.report.bundle.dataCarriedTo, undefined);
  assert.deepEqual(readFileSync(join(elsewhere, 'bundle', 'model.onnx')), before, 'its bundle is not replaced by the base\'s');

  const serving = join(dir, 'serving');
  const promoted = await runTrainJob({ ...tiny, ...quiet, data: [newData], base: first, recipe: 'livetag', out: join(dir, 'third'), promoteMargin: -1, promoteTo: serving });
  assert.equal(promoted.decision.decision, 'promoted');
  assert.equal((await loadBundle(join(serving, 'bundle'))).manifest.version, promoted.report.bundle.version);
  assert.ok(existsSync(join(serving, 'train-data.jsonl')));
  assert.equal((await loadBundle(join(first, 'bundle'))).manifest.version, a.report.bundle.version);
  // --base the promoted run, --promote-to the copy promotion made of it: the same champion, so a kept run carries its data there.
  const keptOnCopy = await runTrainJob({ ...tiny, ...quiet, data: [writeJsonl(join(dir, 'd.jsonl'), tinyRows(20, 6, 'f'))], base: join(dir, 'third'), init: join(dir, 'third'), recipe: 'livetag', out: join(dir, 'fifth'), promoteMargin: 1, promoteTo: serving });
  assert.equal(keptOnCopy.decision.decision, 'kept');
  assert.equal(keptOnCopy.report.bundle.dataCarriedTo, serving);
  assert.equal((await loadBundle(join(serving, 'bundle'))).manifest.version, promoted.report.bundle.version, 'the champion still serves');
});

test('--promote-to a folder that is not a run (other files in it) is refused before any data is read, and left as it was', async () => {
  const dir = tempDir();
  const home = join(dir, 'home');
  mkdirSync(home);
  writeFileSync(join(home, 'notes.txt'), 'mine');
  await assert.rejects(
    runTrainJob({ ...tiny, ...quiet, data: [join(dir, 'never-read.jsonl')], recipe: 'livetag', out: join(dir, 'run'), promoteTo: home }),
    (err: unknown) => isLivetagError(err, 'LT_USAGE') && /holds other files \(notes\.txt\)/.test(err.message),
  );
  assert.equal(readFileSync(join(home, 'notes.txt'), 'utf8'), 'mine');
  assert.equal(existsSync(join(dir, 'run')), false, 'nothing was started');
});

test('--add-labels grows the head of an initial bundle and keeps the old rows of it', async () => {
  const dir = tempDir();
  const first = join(dir, 'first');
  await runTrainJob({ ...tiny, ...quiet, data: [writeJsonl(join(dir, 'a.jsonl'), tinyRows(40, 8))], recipe: 'livetag', out: first, labels: TINY_LABELS });
  const withGift = tinyRows(30, 9, 'g').map((r, i) => (i % 3 === 0 ? { ...r, labels: [...r.labels, 'gift'] } : r));
  const data = writeJsonl(join(dir, 'b.jsonl'), withGift);
  const refused = await runTrainJob({ ...tiny, ...quiet, data: [data], init: first, recipe: 'livetag', out: join(dir, 'refused') });
  assert.equal(refused.report.data.counts['unknown-label'], 10);
  const grown = await runTrainJob({ ...tiny, ...quiet, data: [data], init: first, addLabels: true, recipe: 'livetag', out: join(dir, 'grown'), recipeOverrides: { maxEpochs: 1, batchSize: 16 } });
  assert.deepEqual(grown.report.labels, [...TINY_LABELS, 'gift']);
  assert.deepEqual(grown.report.data.labelsAdded, ['gift']);
  assert.ok(grown.report.parity.maxAbsDiff <= 1e-4);
  assert.equal((await loadBundle(grown.bundleDir)).manifest.architecture.numLabels, 4);
});

test('--train-layers: the frozen prefix runs once in onnxruntime, only the top trains, export stays exact', async () => {
  const dir = tempDir();
  const first = join(dir, 'first');
  const twoLayers = { ...tiny, arch: { hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32 } };
  await runTrainJob({ ...twoLayers, ...quiet, data: [writeJsonl(join(dir, 'a.jsonl'), tinyRows(50, 12))], recipe: 'livetag', out: first });
  const before = await loadBundle(join(first, 'bundle'));
  const top = await runTrainJob({ ...twoLayers, ...quiet, data: [], base: first, init: first, trainLayers: 1, recipe: 'livetag', out: join(dir, 'top') });
  assert.equal(top.report.init.frozenLayers, 1);
  assert.equal(top.report.recipe.lr, 1e-4);
  assert.ok(top.report.firstBatch.absDiff! < 1e-5);
  assert.ok(top.report.parity.maxAbsDiff <= 1e-4, `parity ${top.report.parity.maxAbsDiff}`);
  const after = await loadBundle(top.bundleDir);
  const w0 = readBertWeights(before.manifest.architecture, before.modelBytes);
  const w1 = readBertWeights(after.manifest.architecture, after.modelBytes);
  for (const name of ['bert.embeddings.word_embeddings.weight', 'bert.encoder.layer.0.output.dense.weight']) {
    assert.deepEqual(w1.get(name)!.data, w0.get(name)!.data, `${name} is frozen`);
  }
  assert.notDeepEqual(w1.get('bert.encoder.layer.1.output.dense.weight')!.data, w0.get('bert.encoder.layer.1.output.dense.weight')!.data);
});

test('exclusive classes: the bundle ships at most and at least one tag, serving and evaluation give exactly one; --tag-count any turns it off', async () => {
  const dir = tempDir();
  // One label per row, as in sentiment data.
  const rows = tinyRows(60).map((r, i) => ({ ...r, labels: [TINY_LABELS[i % TINY_LABELS.length]] }));
  const data = writeJsonl(join(dir, 'exclusive.jsonl'), rows);
  const out = join(dir, 'run');
  const result = await runTrainJob({ ...tiny, ...quiet, data: [data], recipe: 'livetag', out, labels: TINY_LABELS });
  const bundle = await loadBundle(result.bundleDir);
  assert.deepEqual(bundle.manifest.tagCount, { min: 1, max: 1 });
  assert.equal(result.report.recipe.thresholdObjective, 'subset-macro', 'the default recipe refines thresholds for exact match and macro-F1');
  const testRows = readFileSync(join(out, 'test.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { text: string; labels: string[] });
  const classifier = await createClassifier({ bundle, worker: false, threads: 1 });
  try {
    const served = await classifier.classify(testRows.map((r) => r.text));
    assert.ok(served.every((c) => c.tags.length === 1), `tags per text: ${served.map((c) => c.tags.length).join(',')}`);
  } finally {
    await classifier.stop();
  }

  const anyOut = join(dir, 'run-any');
  const code = await trainCommand.run(['--data', data, '--out', anyOut, '--hidden', '16', '--layers', '1', '--heads', '2', '--intermediate', '32', '--epochs', '2', '--max-length', '24', '--threads', '1', '--quiet', '--tag-count', 'any', '--threshold-objective', 'f1']);
  assert.equal(code, 0);
  assert.equal((await loadBundle(join(anyOut, 'bundle'))).manifest.tagCount, undefined);
  const anyReport = JSON.parse(readFileSync(join(anyOut, 'report', 'report.json'), 'utf8')) as { recipe: { thresholdObjective: string } };
  assert.equal(anyReport.recipe.thresholdObjective, 'f1', '--threshold-objective reaches the recipe');
});

test('--select-by loss: the kept epoch is the one with the lowest validation loss', async () => {
  const dir = tempDir();
  const data = writeJsonl(join(dir, 'labels.jsonl'), tinyRows(60));
  const result = await runTrainJob({
    ...tiny,
    ...quiet,
    recipeOverrides: { maxEpochs: 4, batchSize: 16, patience: 0, selectBy: 'loss' },
    data: [data],
    recipe: 'livetag',
    out: join(dir, 'run'),
    labels: TINY_LABELS,
  });
  const { history, keptEpoch } = result.report;
  assert.equal(history.length, 4);
  const best = history.reduce((a, b) => (b.valLoss < a.valLoss - 1e-6 ? b : a));
  assert.equal(keptEpoch, best.epoch, `val losses ${history.map((e) => e.valLoss.toFixed(4)).join(', ')}`);
  assert.equal(result.report.recipe.selectBy, 'loss');
});

test('--fusion late: BERT trains without the branch, the bundle joins the linear fit at the share with the lowest validation loss, one graph served', async () => {
  const dir = tempDir();
  const data = writeJsonl(join(dir, 'labels.jsonl'), tinyRows(60));
  const lines: string[] = [];
  const out = join(dir, 'run');
  const result = await runTrainJob({ ...tiny, ...quiet, log: (l) => lines.push(l), recipeOverrides: { ...tiny.recipeOverrides, fusion: 'late' }, data: [data], recipe: 'livetag', out, labels: TINY_LABELS });
  const r = result.report;
  assert.equal(r.recipe.fusion, 'late');
  assert.deepEqual(r.architecture.ngram, { buckets: 262144, maxN: 3, tf: 'binary', source: 'tokens', maxChars: 256 }, 'the bundle ships the branch');
  // The starting graph, without the branch, gave the engine's first-batch loss.
  assert.ok(r.firstBatch.absDiff! < 1e-5, `first batch ${JSON.stringify(r.firstBatch)}`);
  assert.ok(r.fusion, 'the report names the share');
  assert.deepEqual(r.fusion.validation.map((s) => s.bertWeight), Array.from({ length: 21 }, (_, i) => i / 20));
  const best = Math.min(...r.fusion.validation.map((s) => s.score));
  assert.equal(r.fusion.validation.find((s) => s.score === best)!.bertWeight, r.fusion.bertWeight, 'the first share with the lowest validation log loss');
  assert.ok(r.fusion.bertScale > 0 && Number.isFinite(r.fusion.bertScale), `k ${r.fusion.bertScale}`);
  // The served graph computes w·k·BERT + (1 − w)·fit: parity against the engine's BERT logits mixed with the fit's.
  assert.ok(r.parity.maxAbsDiff <= 1e-4, `parity ${r.parity.maxAbsDiff}`);
  const bundle = await loadBundle(join(out, 'bundle'));
  const w = readBertWeights(bundle.manifest.architecture, bundle.modelBytes);
  // The branch did not train: it is the linear fit of this split (refitted here) times 1 − w.
  const rowsOf = (f: string) => readFileSync(join(out, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { text: string; labels: string[] });
  const [trainRows, valRows] = [rowsOf('train.jsonl'), rowsOf('validation.jsonl')];
  const all = [...trainRows, ...valRows];
  const ids = await tokenizeAll(createTextEncoder(bundle.tokenizerJson, bundle.manifest.maxSequenceLength), all.map((x) => x.text));
  const spec = bundle.manifest.architecture.ngram!;
  const fit = fitLinearBaseline(ngramInput({ ids, codes: all.map((x) => textCodes(x.text, spec.maxChars)) }, spec), toMatrix(all.map((x) => x.labels), TINY_LABELS), [...trainRows.keys()], valRows.map((_, i) => trainRows.length + i), TINY_LABELS, {
    spec,
    vocabSize: bundle.manifest.architecture.vocabSize,
  });
  const table = w.get('ngram.weight')!.data;
  const share = 1 - r.fusion.bertWeight;
  let worst = 0;
  for (let i = 0; i < table.length; i++) worst = Math.max(worst, Math.abs(table[i] - share * fit.model.weight[i]));
  assert.ok(worst < 1e-4, `branch − (1 − w)·fit: max |Δ| ${worst}`);
  assert.ok(share === 0 || table.some((x) => x !== 0), 'the branch holds the fit');
  assert.match(readFileSync(join(out, 'report', 'report.md'), 'utf8'), /Late fusion: logits \d\.\d\d·k·BERT \+ \d\.\d\d·the linear fit, k = \d+\.\d{3}/);
  assert.ok(lines.some((l) => /^late fusion: logits/.test(l)));
  assert.ok(lines.some((l) => /^init: .*wide n-gram branch \(token 1–3-grams, 262144 buckets, binary tf\) joins after training as the linear fit \(late fusion\)$/.test(l)), 'the init line says the branch does not train');
  const clf = await createClassifier({ bundle: join(out, 'bundle'), threads: 1 });
  try {
    const tagged = await clf.classify(['这个多少钱', '什么时候发货']);
    assert.equal(tagged.length, 2);
  } finally {
    await clf.stop();
  }
});

test('--ngram-source text, joint and late: the branch reads the text past the token limit; parity, the first-batch check and serving all feed its codes', async () => {
  const dir = tempDir();
  const data = writeJsonl(join(dir, 'labels.jsonl'), tinyRows(60));
  const ngram = parseNgramSpec({ buckets: 4096, maxN: 3, tf: 'binary', source: 'text', maxChars: 64 });
  for (const fusion of ['joint', 'late'] as const) {
    const out = join(dir, fusion);
    const result = await runTrainJob({ ...tiny, ...quiet, ngram, maxLength: 8, recipeOverrides: { ...tiny.recipeOverrides, fusion }, data: [data], recipe: 'livetag', out, labels: TINY_LABELS });
    const r = result.report;
    assert.deepEqual(r.architecture.ngram, ngram);
    assert.ok(r.parity.maxAbsDiff <= 1e-4, `${fusion} parity ${r.parity.maxAbsDiff}`);
    assert.ok(r.firstBatch.absDiff! < 1e-5, `${fusion} first batch ${JSON.stringify(r.firstBatch)}`);
    assert.match(r.baseline!.features, /character 1–3-grams of the text \(≤ 64\)/);
    const bundle = await loadBundle(result.bundleDir);
    assert.deepEqual(bundle.manifest.onnx.inputs, ['input_ids', 'attention_mask', 'token_type_ids', 'ngram_codes']);
    const clf = await createClassifier({ bundle: result.bundleDir, threads: 1 });
    try {
      // Identical in their first 8 tokens, different after: only the branch tells them apart.
      const scores = (await clf.classify(['这个多少钱这个多少钱什么时候发货', '这个多少钱这个多少钱还有M码吗'], { allScores: true })).map((c) => c.scores!);
      assert.notDeepEqual(scores[0], scores[1], `${fusion}: the tails past the token limit reach the logits`);
    } finally {
      await clf.stop();
    }
  }
});

test('--ngram-source auto: the run keeps the source whose linear fit has the lower validation log loss; here the cues sit past the token limit, so the text', async () => {
  const dir = tempDir();
  // Every text opens with the same 13 characters: at 8 tokens BERT and a token branch see only those.
  const rows = tinyRows(90).map((r) => ({ ...r, text: `请问一下主播这个商品的情况${r.text}` }));
  const data = writeJsonl(join(dir, 'labels.jsonl'), rows);
  const lines: string[] = [];
  const result = await runTrainJob({ ...tiny, ...quiet, log: (l) => lines.push(l), ngramSource: 'auto', maxLength: 8, data: [data], recipe: 'livetag', out: join(dir, 'run'), labels: TINY_LABELS });
  const choice = lines.find((l) => l.startsWith('n-gram source: '));
  assert.ok(choice, 'the choice is logged');
  const [tokens, text] = ['tokens', 'text'].map((s) => Number(new RegExp(`${s} (\\d\\.\\d+)`).exec(choice)![1]));
  assert.ok(text < tokens, `validation log loss: text ${text} < tokens ${tokens}`);
  assert.match(choice, /keeps text$/);
  const r = result.report;
  assert.equal(r.architecture.ngram!.source, 'text', 'the branch reads what the baseline chose');
  assert.match(r.baseline!.features, /of the text/);
  assert.ok(r.parity.maxAbsDiff <= 1e-4, `parity ${r.parity.maxAbsDiff}`);
  assert.ok(r.baseline!.test.macro_f1 > 0.5, `the text fit finds the cues: test macro-F1 ${r.baseline!.test.macro_f1}`);
});

test('--fusion late refuses --ngram-frozen and --ngram-cold, which shape a branch that no longer trains', async () => {
  const dir = tempDir();
  const data = writeJsonl(join(dir, 'labels.jsonl'), tinyRows(30));
  for (const flag of [{ ngramFrozen: true }, { ngramWarmStart: false }]) {
    await assert.rejects(
      runTrainJob({ ...tiny, ...quiet, ...flag, recipeOverrides: { ...tiny.recipeOverrides, fusion: 'late' }, data: [data], recipe: 'livetag', out: join(dir, 'run'), labels: TINY_LABELS }),
      (e: Error & { code?: string }) => e.code === 'LT_CONFIG_INVALID' && /--fusion joint/.test(e.message),
    );
  }
});
