/**
 * Step: decide promotion. Challenger (the exported bundle) and champion (the
 * base bundle) are scored the way serving runs them, on the same pinned test
 * rows and the challenger's label columns; the challenger wins only by the margin.
 */
import type { LoadedBundle } from '../../model/manifest.ts';
import { decidePromotion, evaluateBundle, type BundleEvaluation, type ChampionDecision, type EvalRow } from '../evaluate.ts';

export const DEFAULT_PROMOTE_METRIC = 'macro_f1';
export const DEFAULT_PROMOTE_MARGIN = 0.01;

export interface DecideInput {
  readonly challenger: LoadedBundle;
  readonly champion?: LoadedBundle;
  readonly testRows: readonly EvalRow[];
  readonly labels: readonly string[];
  readonly metric?: string;
  readonly margin?: number;
  readonly threads?: number;
}

export interface Verdict {
  readonly challenger: BundleEvaluation;
  readonly champion?: BundleEvaluation;
  readonly decision: ChampionDecision;
}

export async function decideChampion(input: DecideInput): Promise<Verdict> {
  const evalOpts = { labels: input.labels, ...(input.threads === undefined ? {} : { threads: input.threads }) };
  const challenger = await evaluateBundle(input.challenger, input.testRows, evalOpts);
  const champion = input.champion ? await evaluateBundle(input.champion, input.testRows, evalOpts) : undefined;
  const decision = decidePromotion(input.metric ?? DEFAULT_PROMOTE_METRIC, challenger.metrics, champion?.metrics, input.margin ?? DEFAULT_PROMOTE_MARGIN);
  return { challenger, ...(champion ? { champion } : {}), decision };
}
