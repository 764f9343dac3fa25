/**
 * Step: late fusion (recipe fusion 'late'). BERT trained without the wide
 * branch; here the linear n-gram fit joins it as logits
 * w·BERT + (1 − w)·linear. The joint graph computes exactly that with the
 * classifier scaled by w, the branch's table set to (1 − w) times the fit's
 * and the fit's bias added to the classifier's, so serving runs one graph as
 * before. w is the grid value validation scores best by the recipe's
 * selectBy: rows neither part was fitted on, so a part that only memorised
 * its training rows gets little weight.
 */
import { parseBertConfig, type BertConfig } from '../../model/bert-config.ts';
import { buildBertOnnx } from '../../model/build/onnx-graph.ts';
import type { NgramSpec } from '../../model/ngram-hash.ts';
import type { TagCount } from '../../model/runtime/select-tags.ts';
import type { WeightMap } from '../../model/weights.ts';
import { featurize, linearLogits, type LinearFit } from '../linear-baseline.ts';
import type { Recipe } from '../recipe.ts';
import { scoreValidation } from '../validation-score.ts';
import { withNgram, type InitialModel } from './initialise.ts';

/** BERT's share of the logits, tried in this order; the first best wins a tie. */
export const FUSION_WEIGHTS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1] as const;

export interface FuseInput {
  /** The trained model's architecture, without the branch. */
  readonly config: BertConfig;
  readonly spec: NgramSpec;
  readonly fit: LinearFit;
  /** BERT's logits on the validation rows (the kept epoch's). */
  readonly bertValLogits: Float32Array;
  readonly valTruth: readonly Uint8Array[];
  readonly labels: readonly string[];
  readonly recipe: Pick<Recipe, 'thresholds' | 'rareLabelFloor' | 'thresholdObjective' | 'selectBy'>;
  readonly tagCount: TagCount;
}

export interface Fusion {
  /** w: BERT's share; the linear fit has 1 − w. */
  readonly bertWeight: number;
  /** Validation score of every w tried (macro-F1, or loss with selectBy 'loss'). */
  readonly scores: ReadonlyArray<{ readonly bertWeight: number; readonly score: number }>;
  /** The architecture with the branch, as the bundle ships it. */
  readonly config: BertConfig;
  readonly valLogits: Float32Array;
  /** BERT's trained weights → the fused graph's. */
  weights(bert: WeightMap): WeightMap;
  /** What the fused graph must give rows whose BERT logits are these: the parity reference. */
  logits(bertLogits: Float32Array, ids: readonly ArrayLike<number>[]): Float32Array;
}

/** The starting model without its wide branch: what BERT trains as under late fusion. */
export function withoutBranch(model: InitialModel): InitialModel {
  const plain = withNgram(model, null);
  if (plain === model) return model;
  // The starting graph is rebuilt so the first-batch check compares what training starts from (none when the head grew).
  return { ...plain, initOnnx: model.initOnnx ? buildBertOnnx(plain.config, plain.weights) : undefined };
}

const mix = (bert: Float32Array, linear: Float32Array, w: number): Float32Array => bert.map((x, i) => w * x + (1 - w) * linear[i]);

export function fuseLate(input: FuseInput, log: (line: string) => void): Fusion {
  const { fit, labels, recipe } = input;
  const byLoss = recipe.selectBy === 'loss';
  const scores = FUSION_WEIGHTS.map((w) => {
    const v = scoreValidation(mix(input.bertValLogits, fit.valLogits, w), input.valTruth, labels, recipe, input.tagCount);
    return { bertWeight: w, score: byLoss ? v.loss : v.metrics.macro_f1 };
  });
  const best = scores.reduce((a, b) => (byLoss ? b.score < a.score : b.score > a.score) ? b : a);
  const w = best.bertWeight;
  log(`late fusion: logits ${w.toFixed(1)}·BERT + ${(1 - w).toFixed(1)}·linear n-gram fit (validation ${byLoss ? 'loss' : 'macro-F1'} ${best.score.toFixed(4)}; BERT alone ${scores.at(-1)!.score.toFixed(4)}, the fit alone ${scores[0].score.toFixed(4)})`);
  const width = labels.length;
  return {
    bertWeight: w,
    scores,
    config: parseBertConfig({ ...input.config, ngram: input.spec }),
    valLogits: mix(input.bertValLogits, fit.valLogits, w),
    weights(bert) {
      const out: WeightMap = new Map(bert);
      const scaled = (name: string) => bert.get(name)!.data.map((x) => w * x);
      const bias = scaled('classifier.bias');
      for (let j = 0; j < width; j++) bias[j] += (1 - w) * fit.model.bias[j];
      out.set('classifier.weight', { shape: [...bert.get('classifier.weight')!.shape], data: scaled('classifier.weight') });
      out.set('classifier.bias', { shape: [width], data: bias });
      out.set('ngram.idf', { shape: [input.spec.buckets], data: fit.model.idf });
      out.set('ngram.weight', { shape: [input.spec.buckets, width], data: fit.model.weight.map((x) => (1 - w) * x) });
      return out;
    },
    logits(bertLogits, ids) {
      return mix(bertLogits, linearLogits(fit.model, featurize(fit.model, ids)), w);
    },
  };
}
