/**
 * Step: the classical baseline. A linear model on hashed n-gram tf·idf
 * (linear-baseline.ts) fitted on the same split in seconds; the report puts
 * it beside the trained model on the test rows with a plain verdict. When
 * the model has the wide n-gram branch, the branch starts from this fit
 * (its idf, and its weights unless told otherwise): the transformer then
 * learns what the n-grams miss instead of re-learning them.
 */
import { buildBertOnnx } from '../../model/build/onnx-graph.ts';
import { DEFAULT_NGRAM, describeNgram, NGRAM_SOURCES, type NgramSource, type NgramSpec } from '../../model/ngram-hash.ts';
import type { WeightMap } from '../../model/weights.ts';
import { sigmoid } from '../../model/runtime/classifier.ts';
import { describeCs, featurize, fitLinearBaseline, linearLogits, type LinearFit } from '../linear-baseline.ts';
import { applyThresholds, multiLabelMetrics, type MultiLabelMetrics } from '../metrics.ts';
import { scoreValidation } from '../validation-score.ts';
import type { TagCount } from '../../model/runtime/select-tags.ts';
import { ngramInput, type EncodedRows } from './encode.ts';
import { withNgram, type InitialModel } from './initialise.ts';
import type { SplitPlan } from './split.ts';

export interface BaselineInput {
  readonly model: InitialModel;
  readonly encoded: EncodedRows;
  readonly plan: SplitPlan;
  readonly labels: readonly string[];
  /** The run's tag-count bounds (validation-score.ts tagCountFor), for the recipe-rule score. */
  readonly tagCount: TagCount;
  /** Start the wide branch's table from the baseline's weights (default true). */
  readonly warmStart?: boolean;
  /**
   * Fit on the token ids and on the text and keep the source whose fit has
   * the lower validation log loss (`--ngram-source auto`); the branch, if
   * any, then reads that source. Otherwise the spec's source is used.
   */
  readonly chooseSource?: boolean;
}

export interface BaselineResult {
  /** The starting model, its wide branch (if any) filled from the fit. */
  readonly initial: InitialModel;
  readonly fit: LinearFit;
  /** On the test rows, with per-label thresholds tuned on validation for F1: the textbook baseline. */
  readonly test: MultiLabelMetrics;
  /**
   * The same fit decided by the recipe's rule (rare-label floor, tag-count
   * bounds), so the report shows how much of a margin is the rule's.
   */
  readonly testModelRule: MultiLabelMetrics;
}

/** The baseline's summary in report.json and the bundle manifest. */
export interface BaselineSummary {
  readonly features: string;
  /** The regularisation each label kept, in label order. */
  readonly cs: readonly number[];
  readonly seconds: number;
  readonly validation: MultiLabelMetrics;
  readonly test: MultiLabelMetrics;
  readonly testModelRule: MultiLabelMetrics;
  readonly verdict: string;
}

export interface SourceCandidates {
  readonly encoded: Pick<EncodedRows, 'ids' | 'codes' | 'targets'>;
  readonly plan: Pick<SplitPlan, 'trainRows' | 'valRows'>;
  readonly labels: readonly string[];
}

/**
 * The linear fit for each candidate source, and the one kept: lowest
 * validation log loss, the criterion late fusion weighs its parts by (a
 * proper score, steadier on a few hundred rows than macro-F1 under tuned
 * thresholds). On long reviews the text wins (it reads past the token
 * limit); on short ones the two are close and either may.
 */
export function fitBestSource(input: SourceCandidates, spec: NgramSpec, vocabSize: number, sources: readonly NgramSource[]): { fit: LinearFit; spec: NgramSpec; tried: ReadonlyArray<{ spec: NgramSpec; fit: LinearFit }> } {
  const { encoded, plan, labels } = input;
  const tried = sources.map((source) => {
    const s: NgramSpec = Object.freeze({ ...spec, source });
    return { spec: s, fit: fitLinearBaseline(ngramInput(encoded, s), encoded.targets, plan.trainRows, plan.valRows, labels, { spec: s, vocabSize }) };
  });
  const best = tried.reduce((a, b) => (b.fit.validation.loss < a.fit.validation.loss ? b : a));
  return { fit: best.fit, spec: best.spec, tried };
}

export function fitBaseline(input: BaselineInput, log: (line: string) => void): BaselineResult {
  const { encoded, plan, labels } = input;
  const base = input.model.config.ngram ?? DEFAULT_NGRAM;
  const { fit, spec, tried } = fitBestSource(input, base, input.model.config.vocabSize, input.chooseSource ? NGRAM_SOURCES : [base.source]);
  if (tried.length > 1) {
    const line = tried.map((t) => `${t.spec.source} ${t.fit.validation.loss.toFixed(4)} (macro-F1 ${t.fit.validation.metrics.macro_f1.toFixed(4)})`).join(', ');
    log(`n-gram source: validation log loss of the linear fit on ${line}; keeps ${spec.source}`);
  }
  // The branch reads what the baseline chose; a table for another source would mean nothing.
  const model = input.model.config.ngram ? withNgram(input.model, spec) : input.model;
  const rows = ngramInput(encoded, spec);
  const testLogits = linearLogits(fit.model, featurize(fit.model, plan.testRows.map((r) => rows[r])));
  const testTruth = plan.testRows.map((r) => encoded.targets[r]);
  const testProbs = Float64Array.from(testLogits, sigmoid);
  const thresholds = fit.validation.thresholds.map((t) => t.threshold);
  const test = multiLabelMetrics(testTruth, applyThresholds(testProbs, plan.testRows.length, thresholds), labels);
  const ruled = scoreValidation(fit.valLogits, plan.valRows.map((r) => encoded.targets[r]), labels, model.recipe, input.tagCount).thresholds.map((t) => t.threshold);
  const testModelRule = multiLabelMetrics(testTruth, applyThresholds(testProbs, plan.testRows.length, ruled, input.tagCount), labels);
  log(`linear n-gram baseline (${describeNgram(spec)}, ${describeCs(fit.cs, labels)}) in ${fit.seconds.toFixed(1)} s: validation macro-F1 ${fit.validation.metrics.macro_f1.toFixed(4)}`);
  if (!model.config.ngram) return { initial: model, fit, test, testModelRule };
  const weights: WeightMap = new Map(model.weights);
  weights.set('ngram.idf', { shape: [spec.buckets], data: fit.model.idf });
  if (input.warmStart !== false) {
    weights.set('ngram.weight', { shape: [spec.buckets, labels.length], data: Float32Array.from(fit.model.weight) });
    log('the wide n-gram branch starts from the baseline (idf and weights)');
  } else log('the wide n-gram branch starts from the baseline idf and a zero table');
  // The starting graph is rebuilt so the first-batch check compares what training starts from.
  return { initial: { ...model, weights, initOnnx: buildBertOnnx(model.config, weights) }, fit, test, testModelRule };
}

const METRICS = [
  ['macro_f1', 'macro-F1'],
  ['subset_accuracy', 'subset accuracy'],
  ['micro_f1', 'micro-F1'],
] as const;

/** "better on …" / "the linear baseline would have been better on …", metric by metric. */
export function baselineVerdict(model: MultiLabelMetrics, baseline: MultiLabelMetrics): string {
  const wins = METRICS.filter(([k]) => model[k] > baseline[k]).map(([, n]) => n);
  const losses = METRICS.filter(([k]) => model[k] < baseline[k]).map(([k, n]) => `${n} (${baseline[k].toFixed(4)} vs ${model[k].toFixed(4)})`);
  if (losses.length === 0) return `the trained model beats the linear n-gram baseline on ${wins.join(', ')}`;
  return `the linear n-gram baseline would have been better on ${losses.join(', ')}${wins.length ? `; the trained model is better on ${wins.join(', ')}` : ''}`;
}

export function summarizeBaseline(b: BaselineResult, model: MultiLabelMetrics): BaselineSummary {
  const { spec } = b.fit.model;
  return {
    features: `hashed ${describeNgram(spec)}·idf, L2-normalised`,
    cs: b.fit.cs,
    seconds: b.fit.seconds,
    validation: b.fit.validation.metrics,
    test: b.test,
    testModelRule: b.testModelRule,
    verdict: baselineVerdict(model, b.test),
  };
}
