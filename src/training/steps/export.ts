/**
 * Step: export and check parity. Two checks that the training engine and the
 * served onnxruntime graph compute the same model: the untrained starting
 * graph must give the first batch the loss the engine gave it, and the
 * exported bundle must give the sample rows the logits the engine gives them
 * (else LT_PARITY, the CLI's exit 4).
 */
import { LivetagError } from '../../common/errors.ts';
import { exportWithParity, onnxLogits, type ParityResult } from '../../model/build/export-parity.ts';
import type { LoadedBundle } from '../../model/manifest.ts';
import type { WeightMap } from '../../model/weights.ts';
import { bceWithLogits } from '../losses.ts';
import type { TrainingEngine } from '../engine.ts';
import type { RunReport } from '../report.ts';
import type { TrainerResult } from '../trainer.ts';
import type { TrainedBundleSpec } from './bundle-spec.ts';
import { ngramInput } from './encode.ts';
import type { Fusion } from './fuse.ts';
import type { PreparedRun } from './prepared-run.ts';

export const DEFAULT_PARITY_TOLERANCE = 1e-4;
export const DEFAULT_PARITY_SAMPLE = 64;

export interface ExportInput extends PreparedRun {
  readonly engine: TrainingEngine;
  readonly trained: TrainerResult;
  readonly spec: TrainedBundleSpec;
  readonly bundleDir: string;
  readonly tolerance?: number;
  readonly paritySample?: number;
  readonly threads?: number;
  /** Late fusion: the engine trained BERT alone; the bundle is the fused graph and parity checks it against BERT's and the fit's logits. */
  readonly fusion?: Fusion;
}

export interface ExportedRun {
  readonly bundle: LoadedBundle;
  /** The trained weights as exported. */
  readonly weights: WeightMap;
  readonly firstBatch: RunReport['firstBatch'];
  readonly parity: ParityResult;
}

/** How far the engine's first-batch loss may be from the initial graph's through onnxruntime (float32 sums in two runtimes). */
export const FIRST_BATCH_TOLERANCE = 1e-4;

/** BCE of the initial model's graph through onnxruntime on `rows` (dropout off, unweighted: the trainer's first-batch loss). */
export async function initialOnnxLoss(input: Pick<ExportInput, 'initial' | 'encoded' | 'labels' | 'threads'>, rows: readonly number[]): Promise<number | undefined> {
  const { encoded, labels } = input;
  if (!input.initial.initOnnx) return undefined;
  const logits = await onnxLogits(input.initial.initOnnx, rows.map((r) => encoded.ids[r]), {
    batchSize: rows.length,
    codes: rows.map((r) => encoded.codes[r]),
    ...(input.threads === undefined ? {} : { threads: input.threads }),
  });
  const flat = new Float32Array(rows.length * labels.length);
  rows.forEach((r, b) => flat.set(encoded.targets[r], b * labels.length));
  return bceWithLogits(logits, flat);
}

/**
 * Before the first step: the weights the engine loaded compute what the initial model's graph
 * computes (else LT_PARITY, exit 4). A run on wrongly read weights would train and publish.
 */
export async function assertFirstBatch(input: Pick<ExportInput, 'engine' | 'initial' | 'encoded' | 'labels' | 'threads'>, first: { readonly rows: number[]; readonly loss: number }, log: (line: string) => void): Promise<void> {
  const onnxLoss = await initialOnnxLoss(input, first.rows);
  if (onnxLoss === undefined) return;
  log(`first-batch loss: ${input.engine.name} engine ${first.loss.toFixed(6)}, initial model through onnxruntime ${onnxLoss.toFixed(6)}`);
  if (!(Math.abs(onnxLoss - first.loss) <= FIRST_BATCH_TOLERANCE * Math.max(1, Math.abs(onnxLoss)))) {
    throw new LivetagError('LT_PARITY', `the ${input.engine.name} engine's first-batch loss ${first.loss} is not the initial model's through onnxruntime (${onnxLoss}): the weights it loaded are not the ones given; nothing was trained`);
  }
}

/** The first-batch check for the report (absent on resume: the engine's loss was from an earlier process). */
export async function checkFirstBatch(
  input: Pick<ExportInput, 'engine' | 'initial' | 'encoded' | 'trained' | 'rows' | 'labels' | 'threads'>,
): Promise<RunReport['firstBatch']> {
  const fb = input.trained.firstBatch;
  const firstBatch: RunReport['firstBatch'] = { engineLoss: fb.loss, rows: fb.rows.length, ids: fb.rows.map((i) => input.rows[i].id) };
  if (input.trained.resumedFromEpoch !== undefined) return firstBatch;
  const onnxLoss = await initialOnnxLoss(input, fb.rows);
  return onnxLoss === undefined ? firstBatch : { ...firstBatch, onnxLoss, absDiff: Math.abs(onnxLoss - fb.loss) };
}

export async function exportAndCheck(input: ExportInput, log: (line: string) => void): Promise<ExportedRun> {
  const firstBatch = await checkFirstBatch(input);
  const { plan, engine } = input;
  const { fusion } = input;
  const weights = fusion ? fusion.weights(engine.exportWeights()) : engine.exportWeights();
  // Held-out rows first; training rows only when the splits are too small to fill the sample.
  const sample = [...plan.valRows, ...plan.testRows, ...plan.trainRows].slice(0, input.paritySample ?? DEFAULT_PARITY_SAMPLE);
  const codes = sample.map((r) => input.encoded.codes[r]);
  const fused = fusion ? ngramInput(input.encoded, fusion.config.ngram!) : [];
  const expected = fusion ? fusion.logits(await engine.logits(sample), sample.map((r) => fused[r])) : await engine.logits(sample);
  const { bundle, parity } = await exportWithParity(
    input.bundleDir,
    input.spec,
    weights,
    { rows: sample.map((r) => input.encoded.ids[r]), codes, expected, tolerance: input.tolerance ?? DEFAULT_PARITY_TOLERANCE, reference: engine.name === 'tfjs' ? 'tfjs' : 'the onnxruntime training engine' },
    { log, ...(input.threads === undefined ? {} : { threads: input.threads }) },
  );
  return { bundle, weights, firstBatch, parity };
}
