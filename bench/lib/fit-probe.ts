/**
 * The skeleton of the fit probes (ngram-tf-probe, ngram-source-probe): the
 * in-job linear baseline fitted with each n-gram spec on the job's splits
 * (`splitRows`, 60/20/20 by seed; token ids of `train` from scratch at 128
 * tokens), the test rows scored under validation-tuned per-label
 * thresholds; one line per split, then the means and each variant paired
 * against the first.
 */
import { parseArgs } from 'node:util';
import { describeNgram, textCodes, type NgramSpec } from '../../src/model/ngram-hash.ts';
import { sigmoid } from '../../src/model/runtime/classifier.ts';
import { createTextEncoder } from '../../src/model/tokenizer.ts';
import { validateRecords } from '../../src/training/data.ts';
import { tokenizeAll } from '../../src/training/features.ts';
import { describeCs, featurize, fitLinearBaseline, linearLogits } from '../../src/training/linear-baseline.ts';
import { applyThresholds, multiLabelMetrics, toMatrix } from '../../src/training/metrics.ts';
import { ngramInput } from '../../src/training/steps/encode.ts';
import { splitRows } from '../../src/training/steps/split.ts';
import { buildCharVocab, charVocabTokenizerJson } from '../../src/training/vocab.ts';
import { labeledLines } from './labeled-lines.ts';
import { mean, paired } from './paired.ts';

export async function runFitProbe(script: string, variants: ReadonlyArray<readonly [string, NgramSpec]>): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      'label-field': { type: 'string', default: 'labels' },
      limit: { type: 'string' },
      seeds: { type: 'string', default: '13,14,15' },
    },
  });
  if (!values.data) throw new Error(`usage: node --import tsx bench/${script} --data FILE [--label-field F] [--limit N] [--seeds 13,14,15]`);
  const lines = labeledLines(values.data, values['label-field'], values.limit ? Number(values.limit) : undefined);
  const { rows, labels } = validateRecords([], lines.map((value, i) => ({ source: values.data!, position: i + 1, value })));
  const targets = toMatrix(rows.map((r) => r.labels), labels);
  const texts = rows.map((r) => r.text);
  const scores = new Map(variants.map(([name]) => [name, { subset: [] as number[], macro: [] as number[] }]));
  console.log(variants.map(([name, spec]) => `${name}: ${describeNgram(spec)}`).join('\n'));
  for (const seed of values.seeds.split(',').map(Number)) {
    const plan = splitRows({ rows, labels, ratios: [0.6, 0.2, 0.2], seed });
    const encoder = createTextEncoder(charVocabTokenizerJson(buildCharVocab([...plan.trainRows, ...plan.valRows].map((r) => texts[r]))), 128);
    const ids = await tokenizeAll(encoder, texts);
    const line = [`seed ${seed}`];
    for (const [name, spec] of variants) {
      const x = ngramInput({ ids, codes: texts.map((t) => textCodes(t, spec.maxChars)) }, spec);
      const fit = fitLinearBaseline(x, targets, plan.trainRows, plan.valRows, labels, { spec, vocabSize: encoder.vocabSize });
      const probs = linearLogits(fit.model, featurize(fit.model, plan.testRows.map((r) => x[r]))).map(sigmoid);
      const m = multiLabelMetrics(plan.testRows.map((r) => targets[r]), applyThresholds(probs, plan.testRows.length, fit.validation.thresholds.map((t) => t.threshold)), labels);
      scores.get(name)!.subset.push(m.subset_accuracy);
      scores.get(name)!.macro.push(m.macro_f1);
      line.push(`${name} ${m.subset_accuracy.toFixed(4)} / ${m.macro_f1.toFixed(4)} (${describeCs(fit.cs, labels)})`);
    }
    console.log(line.join('  '));
  }
  const [first] = variants[0];
  const base = scores.get(first)!;
  for (const [name, s] of scores) {
    const vs = name === first ? '' : `; against ${first}: subset ${paired(s.subset, base.subset)}, macro-F1 ${paired(s.macro, base.macro)}`;
    console.log(`${name}: subset accuracy ${mean(s.subset).toFixed(4)}, macro-F1 ${mean(s.macro).toFixed(4)}${vs}`);
  }
}
