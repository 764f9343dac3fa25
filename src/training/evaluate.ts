/**
 * Scores a bundle the way serving runs it: its own tokenizer, onnxruntime,
 * its manifest's thresholds. Used by `livetag eval`, for the trainer's test
 * numbers and for both sides of the champion/challenger comparison.
 */
import { createClassifier, sigmoid } from '../model/runtime/classifier.ts';
import { loadBundle } from '../model/runtime/load-bundle.ts';
import { selectTags } from '../model/runtime/select-tags.ts';
import { type LoadedBundle } from '../model/manifest.ts';
import { multiLabelMetrics, toMatrix, type MultiLabelMetrics } from './metrics.ts';

export interface EvalRow {
  readonly text: string;
  readonly labels: readonly string[];
}

export interface BundleEvaluation {
  readonly metrics: MultiLabelMetrics;
  /** Probabilities, rows × the bundle's labels. */
  /** Float64, as serving's decider computes them: in float32 every logit past ~16.6 is a probability of 1, and the tag-count bounds would rank those by threshold. */
  readonly probs: Float64Array;
  readonly bundleLabels: readonly string[];
  /** Labels scored that the bundle cannot predict (always counted as not predicted). */
  readonly missingLabels: string[];
  /** The graph scored: "base" or a variant name. */
  readonly variant: string;
}

export interface EvaluateOptions {
  /** Labels to score; default the bundle's. A challenger's labels, to compare a champion on the same columns. */
  readonly labels?: readonly string[];
  readonly batchSize?: number;
  readonly threads?: number;
  /** Graph to score (see createClassifier): default "auto", what serving would run. */
  readonly variant?: string;
}

export async function evaluateBundle(bundle: string | LoadedBundle, rows: readonly EvalRow[], opts: EvaluateOptions = {}): Promise<BundleEvaluation> {
  const variant = opts.variant ?? 'auto';
  const loaded = typeof bundle === 'string' ? await loadBundle(bundle, variant === 'auto' ? {} : { variants: [variant] }) : bundle;
  const classifier = await createClassifier({ bundle: loaded, worker: false, variant, ...(opts.threads === undefined ? {} : { threads: opts.threads }) });
  try {
    const bundleLabels = classifier.labels;
    const width = bundleLabels.length;
    const labels = opts.labels ?? bundleLabels;
    const thresholds = loaded.manifest.thresholds;
    const probs = new Float64Array(rows.length * width);
    const size = opts.batchSize ?? 64;
    // Sorted by length so each batch pads little; results go back to row order.
    const order = [...rows.keys()].sort((a, b) => rows[a].text.length - rows[b].text.length);
    for (let i = 0; i < order.length; i += size) {
      const idx = order.slice(i, i + size);
      const batch = await classifier.encode(idx.map((r) => rows[r].text));
      const logits = await classifier.infer(batch);
      idx.forEach((r, b) => {
        for (let j = 0; j < width; j++) probs[r * width + j] = sigmoid(logits[b * width + j]);
      });
    }
    const column = new Map(bundleLabels.map((l, j) => [l, j]));
    const pred = rows.map((_, i) => {
      const chosen = new Set(selectTags(probs, i * width, thresholds, loaded.manifest.tagCount));
      return Uint8Array.from(labels, (l) => {
        const j = column.get(l);
        return j !== undefined && chosen.has(j) ? 1 : 0;
      });
    });
    const truth = toMatrix(
      rows.map((r) => r.labels),
      labels,
    );
    return {
      metrics: multiLabelMetrics(truth, pred, labels),
      probs,
      bundleLabels,
      missingLabels: labels.filter((l) => !column.has(l)),
      variant: classifier.variant,
    };
  } finally {
    await classifier.stop();
  }
}

export interface ChampionDecision {
  readonly decision: 'promoted' | 'kept';
  readonly metric: string;
  readonly margin: number;
  readonly challenger: number;
  readonly champion: number | null;
  readonly reason: string;
}

/**
 * The challenger replaces the champion only if it is better on the pinned test
 * split by at least `margin`: two retrains on the same data already differ by
 * noise, and swapping models on noise churns serving.
 */
export function decidePromotion(metric: string, challenger: MultiLabelMetrics, champion: MultiLabelMetrics | undefined, margin: number): ChampionDecision {
  const pick = (m: MultiLabelMetrics): number => {
    const v = (m as unknown as Record<string, unknown>)[metric];
    return typeof v === 'number' ? v : NaN;
  };
  const c = pick(challenger);
  if (!champion) {
    return { decision: 'promoted', metric, margin, challenger: c, champion: null, reason: 'no base bundle to beat' };
  }
  const b = pick(champion);
  const gain = c - b;
  // Metrics are ratios of counts: 0.62 − 0.61 is 0.0099999…, and a gain equal to the margin must pass every time.
  const promoted = gain >= margin - 1e-9;
  return {
    decision: promoted ? 'promoted' : 'kept',
    metric,
    margin,
    challenger: c,
    champion: b,
    reason: `${metric} ${c.toFixed(4)} vs ${b.toFixed(4)} (${gain >= 0 ? '+' : ''}${gain.toFixed(4)}; needs +${margin})`,
  };
}
