/**
 * How should late fusion mix BERT with the linear n-gram fit? Probes the
 * rules side by side on the same trained BERTs, so only the rule differs.
 *
 * Each run directory is a plain BERT run (no branch) of `livetag train`, e.g.
 *   livetag train --data D --seed S --init ENCODER --ngram 0 --lr 1e-3 --no-resume --out RUN
 * whose split files (train/validation/test.jsonl) and bundle it reads. The
 * linear fit is refitted on the same split, as the job fits it.
 *
 *   node --import tsx bench/fusion-probe.ts [--source tokens|text|auto] RUN...   (about 10 s per run; auto: 20 s)
 *
 * Rules: the share of BERT w on a grid, on raw logits or with BERT's logits
 * put on the fit's spread (k, `logitSpread`), chosen by validation macro-F1
 * under tuned thresholds or by validation log loss; and a two-weight stacker
 * (a·BERT + b·fit by log loss); and each label its own share by its own
 * column's validation log loss. Every rule's thresholds are tuned on the
 * validation mix, as the job does; test metrics per run, then paired against
 * the textbook baseline and the first rule.
 */
import { parseArgs } from 'node:util';
import { sigmoid } from '../src/model/runtime/classifier.ts';
import { DEFAULT_NGRAM, describeNgram, NGRAM_SOURCES, parseNgramSpec, type NgramSource } from '../src/model/ngram-hash.ts';
import { bceWithLogits } from '../src/training/losses.ts';
import { applyThresholds, multiLabelMetrics } from '../src/training/metrics.ts';
import { logitSpread } from '../src/training/steps/fuse.ts';
import { scoreValidation } from '../src/training/validation-score.ts';
import { LATE_RECIPE, openLateFusionRun } from './lib/late-fusion-run.ts';
import { mean, paired } from './lib/paired.ts';

interface Rule {
  readonly name: string;
  /** Candidate (BERT, fit) coefficients, given k. */
  readonly candidates: (k: number) => Array<readonly [number, number]>;
  readonly by: 'macro_f1' | 'loss';
  /** Each label its own coefficients, by its own column's validation log loss (by must be 'loss'). */
  readonly perLabel?: boolean;
}
/** 0, 0.05, …, n·0.05. */
const steps = (n: number): number[] => Array.from({ length: n + 1 }, (_, i) => i * 0.05);
const grid = (step: number): number[] => Array.from({ length: Math.round(1 / step) + 1 }, (_, i) => i * step);
const shares = (step: number, scaled: boolean) => (k: number) => grid(step).map((w) => [w * (scaled ? k : 1), 1 - w] as const);
const RULES: Rule[] = [
  { name: 'raw logits, 0.1 grid, macro-F1', candidates: shares(0.1, false), by: 'macro_f1' },
  { name: 'raw logits, 0.05 grid, macro-F1', candidates: shares(0.05, false), by: 'macro_f1' },
  { name: 'spread-matched, 0.1 grid, macro-F1', candidates: shares(0.1, true), by: 'macro_f1' },
  { name: 'spread-matched, 0.05 grid, macro-F1', candidates: shares(0.05, true), by: 'macro_f1' },
  { name: 'raw logits, 0.05 grid, log loss', candidates: shares(0.05, false), by: 'loss' },
  { name: 'spread-matched, 0.05 grid, log loss (the job\'s rule)', candidates: shares(0.05, true), by: 'loss' },
  { name: 'stacker a·BERT + b·fit, log loss', candidates: () => steps(30).flatMap((a) => steps(60).map((b) => [a, b] as const)), by: 'loss' },
  { name: 'spread-matched, 0.05 grid, log loss, per label', candidates: shares(0.05, true), by: 'loss', perLabel: true },
  { name: 'spread-matched, 0.1 grid, log loss, per label', candidates: shares(0.1, true), by: 'loss', perLabel: true },
];

type Scores = { subset: number; macro: number };
const { values, positionals: runs } = parseArgs({ allowPositionals: true, options: { source: { type: 'string', default: DEFAULT_NGRAM.source } } });
if (!runs.length) throw new Error('usage: node --import tsx bench/fusion-probe.ts [--source text|tokens|auto] RUN_DIR...');
// auto: the job's choice (steps/baseline.ts fitBestSource), per run.
const sources: readonly NgramSource[] = values.source === 'auto' ? NGRAM_SOURCES : [parseNgramSpec({ ...DEFAULT_NGRAM, source: values.source }).source];
const chosen: string[] = [];
const recipe = LATE_RECIPE;
const results: Array<{ run: string; textbook: Scores; rules: Array<Scores & { chosen: string }> }> = [];

for (const run of runs) {
  const r = await openLateFusionRun(run, sources);
  const { labels, fit, fitTest, bertVal, bertTest, tagCount } = r;
  const width = labels.length;
  chosen.push(r.spec.source);
  const k = logitSpread(fit.valLogits, width) / logitSpread(bertVal, width);
  const mix = (b: Float32Array, l: Float32Array, [x, y]: readonly [number, number]) => b.map((v, i) => x * v + y * l[i]);
  const testScores = (logits: Float32Array, thresholds: number[]): Scores => {
    const m = multiLabelMetrics(r.testTruth, applyThresholds(logits.map(sigmoid), r.testTruth.length, thresholds, tagCount), labels);
    return { subset: m.subset_accuracy, macro: m.macro_f1 };
  };
  const valTruth = Float32Array.from(r.valTruth.flatMap((t) => [...t]));
  const column = (z: Float32Array, j: number) => z.filter((_, i) => i % width === j);
  const perLabelMix = (b: Float32Array, l: Float32Array, coefs: ReadonlyArray<readonly [number, number]>) => b.map((v, i) => coefs[i % width][0] * v + coefs[i % width][1] * l[i]);
  const rules = RULES.map((rule) => {
    if (rule.perLabel) {
      const coefs = labels.map((_, j) => {
        const [bj, lj, tj] = [column(bertVal, j), column(fit.valLogits, j), column(valTruth, j)];
        let best: { c: readonly [number, number]; score: number } | undefined;
        for (const c of rule.candidates(k)) {
          const score = -bceWithLogits(bj.map((v, i) => c[0] * v + c[1] * lj[i]), tj);
          if (!best || score > best.score) best = { c, score };
        }
        return best!.c;
      });
      const v = scoreValidation(perLabelMix(bertVal, fit.valLogits, coefs), r.valTruth, labels, recipe, tagCount);
      const ws = coefs.map((c) => (1 - c[1]).toFixed(2));
      return { ...testScores(perLabelMix(bertTest, fitTest, coefs), v.thresholds.map((t) => t.threshold)), chosen: `w ${ws.join(',')}` };
    }
    let best: { c: readonly [number, number]; score: number } | undefined;
    for (const c of rule.candidates(k)) {
      const z = mix(bertVal, fit.valLogits, c);
      // Higher is better for both, so the first best wins a tie.
      const score = rule.by === 'loss' ? -bceWithLogits(z, valTruth) : scoreValidation(z, r.valTruth, labels, recipe, tagCount).metrics.macro_f1;
      if (!best || score > best.score) best = { c, score };
    }
    const v = scoreValidation(mix(bertVal, fit.valLogits, best!.c), r.valTruth, labels, recipe, tagCount);
    return { ...testScores(mix(bertTest, fitTest, best!.c), v.thresholds.map((t) => t.threshold)), chosen: `${best!.c[0].toFixed(2)}/${best!.c[1].toFixed(2)}` };
  });
  const textbook = multiLabelMetrics(r.testTruth, applyThresholds(fitTest.map(sigmoid), r.testTruth.length, fit.validation.thresholds.map((t) => t.threshold)), labels);
  results.push({ run, textbook: { subset: textbook.subset_accuracy, macro: textbook.macro_f1 }, rules });
  console.error(`${run}: k ${k.toFixed(3)}; ${rules.map((x, i) => `rule ${i + 1} ${x.chosen} → ${x.subset.toFixed(4)} / ${x.macro.toFixed(4)}`).join('; ')}`);
}

const col = (i: number, m: keyof Scores) => results.map((r) => r.rules[i][m]);
const tb = (m: keyof Scores) => results.map((r) => r.textbook[m]);
console.log(`${results.length} runs (${runs.join(', ')}); the fit: ${describeNgram({ ...DEFAULT_NGRAM, source: sources[0] })}${sources.length > 1 ? `, the source chosen per run by validation log loss: ${chosen.join(', ')}` : ''}. Test split; coefficients chosen per run as BERT/fit.\n`);
console.log('| rule | subset accuracy | macro-F1 | vs textbook (subset; macro) | vs rule 1 (subset; macro) |');
console.log('|---|---:|---:|---|---|');
RULES.forEach((rule, i) =>
  console.log(`| ${i + 1}. ${rule.name} | ${mean(col(i, 'subset')).toFixed(4)} | ${mean(col(i, 'macro')).toFixed(4)} | ${paired(col(i, 'subset'), tb('subset'))}; ${paired(col(i, 'macro'), tb('macro'))} | ${paired(col(i, 'subset'), col(0, 'subset'))}; ${paired(col(i, 'macro'), col(0, 'macro'))} |`),
);
console.log(`| textbook baseline | ${mean(tb('subset')).toFixed(4)} | ${mean(tb('macro')).toFixed(4)} | | |`);
