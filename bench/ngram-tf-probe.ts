/**
 * Which term frequency should the wide n-gram branch use? Fits the in-job
 * linear baseline (src/training/linear-baseline.ts, exactly as `livetag
 * train` fits it) with each tf on the same splits and scores the test rows
 * under validation-tuned per-label thresholds: raw (a repeated n-gram counts
 * per position, the norm over positions: bundles before the field), binary
 * and sublinear (1 + ln count; both normalised over distinct n-grams, as
 * scikit-learn's TfidfVectorizer). The splits are the job's (`splitRows`,
 * 60/20/20 by seed) and the token ids those of `train` from scratch (a
 * character vocabulary built from train + validation).
 *
 *   node --import tsx bench/ngram-tf-probe.ts --data FILE [--label-field labels|sentiment] [--limit N] [--seeds 13,14,15]
 *
 * Reads the data in place; prints one line per split, then the means and
 * each tf paired against raw.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_NGRAM, NGRAM_TFS as TFS } from '../src/model/ngram-hash.ts';
import { sigmoid } from '../src/model/runtime/classifier.ts';
import { createTextEncoder } from '../src/model/tokenizer.ts';
import { validateRecords } from '../src/training/data.ts';
import { tokenizeAll } from '../src/training/features.ts';
import { featurize, fitLinearBaseline, linearLogits } from '../src/training/linear-baseline.ts';
import { applyThresholds, multiLabelMetrics, toMatrix } from '../src/training/metrics.ts';
import { splitRows } from '../src/training/steps/split.ts';
import { buildCharVocab, charVocabTokenizerJson } from '../src/training/vocab.ts';
import { labeledLines } from './lib/labeled-lines.ts';
import { mean, paired } from './lib/paired.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    'label-field': { type: 'string', default: 'labels' },
    limit: { type: 'string' },
    seeds: { type: 'string', default: '13,14,15' },
  },
});
if (!values.data) throw new Error('usage: node --import tsx bench/ngram-tf-probe.ts --data FILE [--label-field F] [--limit N] [--seeds 13,14,15]');
const lines = labeledLines(values.data, values['label-field'], values.limit ? Number(values.limit) : undefined);
const { rows, labels } = validateRecords([], lines.map((value, i) => ({ source: values.data!, position: i + 1, value })));
const targets = toMatrix(rows.map((r) => r.labels), labels);
const scores = new Map(TFS.map((tf) => [tf, { subset: [] as number[], macro: [] as number[] }]));

for (const seed of values.seeds.split(',').map(Number)) {
  const plan = splitRows({ rows, labels, ratios: [0.6, 0.2, 0.2], seed });
  const tokenizer = charVocabTokenizerJson(buildCharVocab([...plan.trainRows, ...plan.valRows].map((r) => rows[r].text)));
  const encoder = createTextEncoder(tokenizer, 128);
  const ids = await tokenizeAll(encoder, rows.map((r) => r.text));
  const line = [`seed ${seed}`];
  for (const tf of TFS) {
    const fit = fitLinearBaseline(ids, targets, plan.trainRows, plan.valRows, labels, { spec: { ...DEFAULT_NGRAM, tf }, vocabSize: encoder.vocabSize });
    const probs = linearLogits(fit.model, featurize(fit.model, plan.testRows.map((r) => ids[r]))).map(sigmoid);
    const m = multiLabelMetrics(plan.testRows.map((r) => targets[r]), applyThresholds(probs, plan.testRows.length, fit.validation.thresholds.map((t) => t.threshold)), labels);
    scores.get(tf)!.subset.push(m.subset_accuracy);
    scores.get(tf)!.macro.push(m.macro_f1);
    line.push(`${tf} ${m.subset_accuracy.toFixed(4)} / ${m.macro_f1.toFixed(4)} (C ${fit.c})`);
  }
  console.log(line.join('  '));
}
const raw = scores.get('raw')!;
for (const [tf, s] of scores) {
  const vs = tf === 'raw' ? '' : `; against raw: subset ${paired(s.subset, raw.subset)}, macro-F1 ${paired(s.macro, raw.macro)}`;
  console.log(`${tf}: subset accuracy ${mean(s.subset).toFixed(4)}, macro-F1 ${mean(s.macro).toFixed(4)}${vs}`);
}
