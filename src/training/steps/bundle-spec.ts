/**
 * What the manifest says about a trained bundle: how it was made when it is
 * exported, and the numbers it was judged by once it has been.
 */
import { join } from 'node:path';
import type { BundleSpec } from '../../model/build/write-bundle.ts';
import type { TrainingInfo } from '../../model/manifest.ts';
import type { ChampionDecision } from '../evaluate.ts';
import type { MultiLabelMetrics } from '../metrics.ts';
import { SPLITS_FILE } from '../run-dir.ts';
import type { TrainerResult } from '../trainer.ts';
import type { Calibration } from './calibrate.ts';
import { hashOf } from './hash.ts';
import type { PreparedRun } from './prepared-run.ts';

export type TrainedBundleSpec = BundleSpec & { readonly training: TrainingInfo };

export interface DescribeInput extends Omit<PreparedRun, 'encoded'> {
  readonly trained: TrainerResult;
  readonly calibration: Calibration;
  /** Names of the label sources read ("files:…", "kafka:…"). */
  readonly sourceNames: readonly string[];
  /** The base run's bundle directory, when there is one. */
  readonly baseDir?: string;
  readonly parentVersion: string | null;
  readonly runDir: string;
  readonly seed: number;
  readonly ratios: readonly number[];
  readonly backendName: string;
  readonly modelId?: string;
}

export function describeBundle(input: DescribeInput): TrainedBundleSpec {
  const { initial, rows, plan, trained } = input;
  const { recipe } = initial;
  const dataHash = hashOf(rows.map((r) => r.key + r.labels.join(','))).slice(0, 16);
  const training: TrainingInfo = {
    recipe: recipe.name,
    trainedOn:
      `${plan.trainRows.length} train rows (+${plan.valRows.length} validation for early stopping and thresholds) of ${rows.length} accepted: ` +
      `${input.sourceNames.join(' + ') || 'no new data'}${input.baseDir ? ` + previous set of ${input.baseDir}` : ''}; data sha256 ${dataHash}`,
    evaluatedOn: `test split: ${plan.testRows.length} rows (${plan.pinnedTest} pinned from the previous run), keys in ${join(input.runDir, SPLITS_FILE)}`,
    details: {
      recipe,
      init: initial.initFrom,
      frozenLayers: initial.frozenLayers,
      seed: input.seed,
      splitRatios: [...input.ratios],
      keptEpoch: trained.keptEpoch,
      epochsRun: trained.history.length,
      thresholdsHow: input.calibration.choices.map((t) => t.how),
      backend: input.backendName,
    },
  };
  return {
    modelId: input.modelId ?? 'livetag',
    parentVersion: input.parentVersion,
    labels: input.labels,
    thresholds: input.calibration.thresholds,
    ...(recipe.tagCount === 'learned' ? { tagCount: input.calibration.tagCount } : {}),
    maxSequenceLength: initial.maxLength,
    architecture: initial.config,
    tokenizerJson: initial.tokenizerJson,
    head: 'trained',
    source: `livetag train --recipe ${recipe.name}`,
    training,
  };
}

export interface Judgement {
  readonly version: string;
  readonly test: MultiLabelMetrics;
  readonly validationMacroF1: number;
  readonly parityMaxAbsDiff: number;
  readonly decision: ChampionDecision;
}

/** The same spec, keeping the exported version, with the test numbers and the decision added. */
export function withJudgement(spec: TrainedBundleSpec, j: Judgement): TrainedBundleSpec {
  return {
    ...spec,
    version: j.version,
    training: {
      ...spec.training,
      metrics: {
        subset_accuracy: j.test.subset_accuracy,
        micro_f1: j.test.micro_f1,
        macro_f1: j.test.macro_f1,
        hamming_loss: j.test.hamming_loss,
        validation_macro_f1: j.validationMacroF1,
        parity_max_abs_diff: j.parityMaxAbsDiff,
      },
      perLabel: j.test.per_label,
      details: { ...spec.training.details, decision: j.decision },
    },
  };
}
