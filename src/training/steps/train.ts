/**
 * Step: train. Runs the trainer on the encoded rows, resuming a checkpoint
 * left by a killed run only when everything that shapes the result (the
 * fingerprint) is the same.
 */
import { removeCheckpoint } from '../checkpoint.ts';
import type { EngineName, TrainingEngine } from '../engine.ts';
import { train, type TrainerResult } from '../trainer.ts';
import { assertFirstBatch } from './export.ts';
import { hashOf, hashOfWeights } from './hash.ts';
import type { PreparedRun } from './prepared-run.ts';
import type { TagCount } from '../../model/runtime/select-tags.ts';

export interface TrainInput extends PreparedRun {
  readonly engine: TrainingEngine;
  readonly seed: number;
  readonly checkpointDir: string;
  /** false: drop any checkpoint first (--no-resume). */
  readonly resume?: boolean;
  readonly quiet?: boolean;
  /** Tensors kept as given although their layer trains (--ngram-frozen). */
  readonly frozenTensors?: readonly string[];
  /** The bounds validation scores each epoch with: the ones the bundle ships. */
  readonly tagCount?: TagCount;
  /** onnxruntime threads of the first-batch check (--threads). */
  readonly threads?: number;
}

/**
 * Everything that decides what training computes. The key order is part of
 * the value: changing it orphans the checkpoints of runs in progress. The
 * engine is in it because checkpoints hold tensors in its own layout.
 */
export function runFingerprint(run: Omit<PreparedRun, 'encoded'>, seed: number, engine: EngineName, frozenTensors: readonly string[] = []): string {
  const { initial, rows, labels, plan } = run;
  return hashOf({
    recipe: initial.recipe,
    config: initial.config,
    frozenLayers: initial.frozenLayers,
    seed,
    labels,
    maxLength: initial.maxLength,
    tokenizer: hashOf(initial.tokenizerJson),
    // Without a starting graph (a new head on a pretrained encoder), the weights themselves: a
    // replaced checkpoint at the same path must not resume onto the old run.
    init: initial.initOnnx ? hashOf(initial.initOnnx) : hashOfWeights(initial.weights),
    train: plan.trainRows.map((i) => `${rows[i].key}:${rows[i].labels.join(',')}`),
    // With labels, as train: a relabelled validation row changes the best epoch a checkpoint kept.
    val: plan.valRows.map((i) => `${rows[i].key}:${rows[i].labels.join(',')}`),
    engine,
    // Only when set, so runs without it keep the fingerprints their checkpoints carry.
    ...(frozenTensors.length > 0 ? { frozenTensors: [...frozenTensors].sort() } : {}),
  });
}

export async function trainModel(input: TrainInput, log: (line: string) => void): Promise<TrainerResult> {
  const { initial, encoded, plan } = input;
  const fingerprint = runFingerprint(input, input.seed, input.engine.name, input.frozenTensors);
  if (input.resume === false) await removeCheckpoint(input.checkpointDir);
  return train({
    engine: input.engine,
    features: encoded.features,
    labels: input.labels,
    targets: encoded.targets,
    trainRows: plan.trainRows,
    valRows: plan.valRows,
    recipe: initial.recipe,
    seed: input.seed,
    checkpointDir: input.checkpointDir,
    fingerprint,
    ...(input.tagCount ? { tagCount: input.tagCount } : {}),
    log,
    ...(input.quiet ? { quiet: true } : {}),
    checkFirstBatch: (first) => assertFirstBatch(input, first, log),
  });
}
