/**
 * Step: late fusion (recipe fusion 'late'). BERT trained without the wide
 * branch; here the linear n-gram fit joins it as logits
 * w·k·BERT + (1 − w)·linear. The joint graph computes exactly that with the
 * classifier scaled by w·k, the branch's table set to (1 − w) times the fit's
 * and the fit's bias added to the classifier's, so serving runs one graph as
 * before.
 *
 * k puts BERT's logits on the fit's spread: fine-tuned BERT's run ~3× wider,
 * so on raw logits every useful share crowded into 0–0.1 of the grid. w is
 * the share whose mix has the lowest validation log loss, as a stacker would
 * fit it: macro-F1 under tuned thresholds jumps between neighbouring shares
 * on a few hundred rows and picked noise. Validation rows are ones neither
 * part was fitted on, so a part that only memorised its training rows gets
 * little weight.
 */
import { parseBertConfig, type BertConfig } from '../../model/bert-config.ts';
import { buildBertOnnx } from '../../model/build/onnx-graph.ts';
import type { NgramSpec } from '../../model/ngram-hash.ts';
import type { WeightMap } from '../../model/weights.ts';
import { featurize, linearLogits, type LinearFit } from '../linear-baseline.ts';
import { bceWithLogits } from '../losses.ts';
import { withNgram, type InitialModel } from './initialise.ts';

/** BERT's share of the (spread-matched) logits, tried in this order; the first best wins a tie. */
export const FUSION_WEIGHTS: readonly number[] = Array.from({ length: 21 }, (_, i) => i / 20);

export interface FuseInput {
  /** The trained model's architecture, without the branch. */
  readonly config: BertConfig;
  readonly spec: NgramSpec;
  readonly fit: LinearFit;
  /** BERT's logits on the validation rows (the kept epoch's). */
  readonly bertValLogits: Float32Array;
  readonly valTruth: readonly Uint8Array[];
  readonly labels: readonly string[];
}

export interface Fusion {
  /** w: BERT's share; the linear fit has 1 − w. */
  readonly bertWeight: number;
  /** k: the factor that gives BERT's validation logits the fit's spread. */
  readonly bertScale: number;
  /** Validation log loss of every w tried. */
  readonly scores: ReadonlyArray<{ readonly bertWeight: number; readonly score: number }>;
  /** The architecture with the branch, as the bundle ships it. */
  readonly config: BertConfig;
  readonly valLogits: Float32Array;
  /** BERT's trained weights → the fused graph's. */
  weights(bert: WeightMap): WeightMap;
  /** What the fused graph must give rows whose BERT logits are these: the parity reference. */
  logits(bertLogits: Float32Array, ngramRows: readonly ArrayLike<number>[]): Float32Array;
}

/** The starting model without its wide branch: what BERT trains as under late fusion. */
export function withoutBranch(model: InitialModel): InitialModel {
  const plain = withNgram(model, null);
  if (plain === model) return model;
  // The starting graph is rebuilt so the first-batch check compares what training starts from (none when the head grew).
  return { ...plain, initOnnx: model.initOnnx ? buildBertOnnx(plain.config, plain.weights) : undefined };
}

/** Pooled within-label standard deviation: how far a part's logits move between rows, its per-label offsets aside. */
export function logitSpread(logits: Float32Array, width: number): number {
  const rows = logits.length / width;
  let ss = 0;
  for (let j = 0; j < width; j++) {
    let mean = 0;
    for (let i = 0; i < rows; i++) mean += logits[i * width + j];
    mean /= rows;
    for (let i = 0; i < rows; i++) ss += (logits[i * width + j] - mean) ** 2;
  }
  return Math.sqrt(ss / logits.length);
}

const mix = (bert: Float32Array, linear: Float32Array, a: number, b: number): Float32Array => bert.map((x, i) => a * x + b * linear[i]);

export function fuseLate(input: FuseInput, log: (line: string) => void): Fusion {
  const { fit, labels } = input;
  const width = labels.length;
  const bertSpread = logitSpread(input.bertValLogits, width);
  // A BERT whose logits never move carries nothing to rescale; k = 1 leaves it as it is.
  const k = bertSpread > 0 ? logitSpread(fit.valLogits, width) / bertSpread : 1;
  const flatTruth = new Float32Array(input.valTruth.length * width);
  input.valTruth.forEach((t, i) => flatTruth.set(t, i * width));
  const scores = FUSION_WEIGHTS.map((w) => ({ bertWeight: w, score: bceWithLogits(mix(input.bertValLogits, fit.valLogits, w * k, 1 - w), flatTruth) }));
  const best = scores.reduce((a, b) => (b.score < a.score ? b : a));
  const w = best.bertWeight;
  const a = w * k;
  const valLogits = mix(input.bertValLogits, fit.valLogits, a, 1 - w);
  log(`late fusion: logits ${w.toFixed(2)}·k·BERT + ${(1 - w).toFixed(2)}·linear n-gram fit, k ${k.toFixed(3)} gives BERT the fit's spread (validation log loss ${best.score.toFixed(4)}; k·BERT alone ${scores.at(-1)!.score.toFixed(4)}, the fit alone ${scores[0].score.toFixed(4)})`);
  return {
    bertWeight: w,
    bertScale: k,
    scores,
    config: parseBertConfig({ ...input.config, ngram: input.spec }),
    valLogits,
    weights(bert) {
      const out: WeightMap = new Map(bert);
      const scaled = (name: string) => bert.get(name)!.data.map((x) => a * x);
      const bias = scaled('classifier.bias');
      for (let j = 0; j < width; j++) bias[j] += (1 - w) * fit.model.bias[j];
      out.set('classifier.weight', { shape: [...bert.get('classifier.weight')!.shape], data: scaled('classifier.weight') });
      out.set('classifier.bias', { shape: [width], data: bias });
      out.set('ngram.idf', { shape: [input.spec.buckets], data: fit.model.idf });
      out.set('ngram.weight', { shape: [input.spec.buckets, width], data: fit.model.weight.map((x) => (1 - w) * x) });
      return out;
    },
    logits(bertLogits, ngramRows) {
      return mix(bertLogits, linearLogits(fit.model, featurize(fit.model, ngramRows)), a, 1 - w);
    },
  };
}
