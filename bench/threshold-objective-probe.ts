/**
 * What should tuned thresholds maximise on validation? Probes the objectives
 * side by side on the same trained BERTs under the job's late fusion
 * (steps/fuse.ts), so only the decision differs: each label's own F1, whole
 * tag sets (exact match), and exact match + λ × macro-F1 for a few λ
 * (thresholds.ts refineThresholds; the recipe's 'subset-macro' is λ =
 * MACRO_F1_WEIGHT). Run directories as for bench/fusion-probe.ts (plain BERT
 * runs of `livetag train --init ENCODER --ngram 0`).
 *
 *   node --import tsx bench/threshold-objective-probe.ts [--rare-under 40] RUN...   (about 30 s per run)
 *
 * Prints, per objective, test subset accuracy, macro-F1 and the mean F1 of
 * the labels with at least --rare-under rows, each paired against the
 * textbook baseline (the fit alone, F1 thresholds) and against exact match.
 */
import { parseArgs } from 'node:util';
import { sigmoid } from '../src/model/runtime/classifier.ts';
import { NGRAM_SOURCES } from '../src/model/ngram-hash.ts';
import { ANY_TAG_COUNT } from '../src/model/runtime/select-tags.ts';
import { applyThresholds, multiLabelMetrics } from '../src/training/metrics.ts';
import { fuseLate } from '../src/training/steps/fuse.ts';
import { MACRO_F1_WEIGHT, refineThresholds, tuneThresholds } from '../src/training/thresholds.ts';
import { LATE_RECIPE, openLateFusionRun } from './lib/late-fusion-run.ts';
import { mean, paired } from './lib/paired.ts';

const { values, positionals: runs } = parseArgs({ allowPositionals: true, options: { 'rare-under': { type: 'string', default: '40' } } });
if (!runs.length) throw new Error('usage: node --import tsx bench/threshold-objective-probe.ts [--rare-under N] RUN_DIR...');
const rareUnder = Number(values['rare-under']);
const OBJECTIVES: ReadonlyArray<{ name: string; macroWeight: number | null }> = [
  { name: 'per-label F1 (f1)', macroWeight: null },
  { name: 'exact match (exact-match)', macroWeight: 0 },
  { name: 'exact match + 0.5 × macro-F1', macroWeight: 0.5 },
  { name: 'exact match + 1 × macro-F1', macroWeight: 1 },
  { name: `exact match + ${MACRO_F1_WEIGHT} × macro-F1 (subset-macro)`, macroWeight: MACRO_F1_WEIGHT },
  { name: 'exact match + 4 × macro-F1', macroWeight: 4 },
];
type Scores = { subset: number; macro: number; common: number };
const results: Array<{ textbook: Scores; objectives: Scores[] }> = [];
let commonNote = '';

for (const run of runs) {
  const r = await openLateFusionRun(run, NGRAM_SOURCES);
  const { labels, tagCount } = r;
  const fusion = fuseLate({ config: r.config, spec: r.spec, fit: r.fit, bertValLogits: r.bertVal, valTruth: r.valTruth, labels }, () => {});
  const common = labels.map((_, j) => j).filter((j) => r.labelRows[j] >= rareUnder);
  commonNote = `${common.length} of ${labels.length} labels have ${rareUnder} rows or more`;
  const score = (testLogits: Float32Array, thresholds: readonly number[], count = tagCount): Scores => {
    const m = multiLabelMetrics(r.testTruth, applyThresholds(testLogits.map(sigmoid), r.testTruth.length, thresholds, count), labels);
    return { subset: m.subset_accuracy, macro: m.macro_f1, common: mean(common.map((j) => m.per_label[labels[j]].f1)) };
  };
  const valProbs = fusion.valLogits.map(sigmoid);
  const testLogits = fusion.logits(r.bertTest, r.testNgram);
  const start = tuneThresholds(valProbs, r.valTruth, labels.length, { rareFloor: LATE_RECIPE.rareLabelFloor });
  const objectives = OBJECTIVES.map(({ macroWeight }) => {
    const choices = macroWeight === null ? start : refineThresholds(valProbs, r.valTruth, start, tagCount, { macroWeight });
    return score(testLogits, choices.map((c) => c.threshold));
  });
  const textbook = score(r.fitTest, r.fit.validation.thresholds.map((t) => t.threshold), ANY_TAG_COUNT);
  results.push({ textbook, objectives });
  console.error(`${run}: BERT share ${fusion.bertWeight.toFixed(2)}; ${objectives.map((o, i) => `${i + 1}: ${o.subset.toFixed(4)} / ${o.macro.toFixed(4)}`).join('; ')}; textbook ${textbook.subset.toFixed(4)} / ${textbook.macro.toFixed(4)}`);
}

const col = (i: number, m: keyof Scores) => results.map((x) => x.objectives[i][m]);
const tb = (m: keyof Scores) => results.map((x) => x.textbook[m]);
console.log(`${results.length} runs (${runs.join(', ')}); the job's late fusion; test split. ${commonNote}: "common-label F1" is their mean F1.\n`);
console.log('| objective | subset accuracy | macro-F1 | common-label F1 | vs textbook (subset; macro) | vs exact match (subset; macro) |');
console.log('|---|---:|---:|---:|---|---|');
OBJECTIVES.forEach((o, i) =>
  console.log(`| ${i + 1}. ${o.name} | ${mean(col(i, 'subset')).toFixed(4)} | ${mean(col(i, 'macro')).toFixed(4)} | ${mean(col(i, 'common')).toFixed(4)} | ${paired(col(i, 'subset'), tb('subset'))}; ${paired(col(i, 'macro'), tb('macro'))} | ${paired(col(i, 'subset'), col(1, 'subset'))}; ${paired(col(i, 'macro'), col(1, 'macro'))} |`),
);
console.log(`| textbook baseline (the fit alone, F1 thresholds) | ${mean(tb('subset')).toFixed(4)} | ${mean(tb('macro')).toFixed(4)} | ${mean(tb('common')).toFixed(4)} | | |`);
