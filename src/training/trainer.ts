/**
 * The training loop: epochs of AdamW steps, validation after each, early
 * stopping on validation macro-F1 and a checkpoint per epoch. It ends with
 * the kept epoch's weights in the engine and their validation logits, from
 * which the job calibrates the shipped thresholds. Which runtime computes the
 * steps (onnxruntime or TensorFlow.js) is the engine's business alone.
 */
import { LivetagError } from '../common/errors.ts';
import type { BertConfig } from '../model/bert-config.ts';
import type { WeightMap } from '../model/weights.ts';
import { loadCheckpoint, saveCheckpoint, type StoredTensor } from './checkpoint.ts';
import type { EngineOptions, TrainingEngine } from './engine.ts';
import { shuffledBatches, type FeatureStore } from './features.ts';
import { bceWithLogits, positiveWeights, type LossOptions } from './losses.ts';
import { learningRateAt, type Schedule } from './optimizer.ts';
import { createProgress, type Progress } from './progress.ts';
import type { Recipe } from './recipe.ts';
import { scoreValidation, type ValidationScore } from './validation-score.ts';
import type { TagCount } from '../model/runtime/select-tags.ts';

export interface EpochRecord {
  readonly epoch: number;
  readonly trainLoss: number;
  /** Unweighted BCE on validation, comparable across recipes. */
  readonly valLoss: number;
  /** With the thresholds the recipe would ship (tuned, or 0.5). */
  readonly valMacroF1: number;
  readonly valMacroF1At05: number;
  readonly lr: number;
  readonly seconds: number;
  readonly samplesPerSecond: number;
}

/** Which feature rows train and which validate (steps/split.ts plans them). */
export interface TrainValRows {
  readonly trainRows: readonly number[];
  readonly valRows: readonly number[];
}

export interface TrainerInput extends TrainValRows {
  /** Created with engineOptionsFor on the same recipe, targets and training rows. */
  readonly engine: TrainingEngine;
  readonly features: FeatureStore;
  readonly labels: readonly string[];
  /** 0/1 targets per feature row. */
  readonly targets: readonly Uint8Array[];
  readonly recipe: Recipe;
  readonly seed: number;
  /** Checkpoint directory; a checkpoint there with the same fingerprint is resumed. */
  readonly checkpointDir?: string;
  readonly fingerprint: string;
  /** Tag-count bounds validation decides with (the bundle's); absent: thresholds alone. */
  readonly tagCount?: TagCount;
  readonly log?: (line: string) => void;
  readonly quiet?: boolean;
  /** Stop after this many steps in total (benchmarks). */
  readonly maxSteps?: number;
  /** Skip validation (benchmarks). */
  readonly skipValidation?: boolean;
  /**
   * Called with the untrained model's first-batch loss on a fresh start, before the first step:
   * rejecting stops the run there (the weights the engine loaded are not the ones given).
   */
  readonly checkFirstBatch?: (first: { readonly rows: number[]; readonly loss: number }) => Promise<void>;
}

export interface TrainerResult {
  readonly history: EpochRecord[];
  readonly keptEpoch: number;
  readonly stoppedEarly: boolean;
  /** The kept weights' logits on valRows, in that order (empty when validation is skipped). */
  readonly valLogits: Float32Array;
  readonly posWeight?: number[];
  /** Unweighted BCE of the untrained model on the first training batch, dropout off. */
  readonly firstBatch: { readonly rows: number[]; readonly loss: number };
  readonly resumedFromEpoch?: number;
  readonly steps: number;
  readonly trainSeconds: number;
  readonly samplesPerSecond: number;
}

interface LoopState {
  fingerprint: string;
  epoch: number;
  step: number;
  history: EpochRecord[];
  bestEpoch: number;
  bestScore: number;
  firstBatch: { rows: number[]; loss: number };
}

/** What every part of one run of the loop shares. */
interface Loop {
  readonly input: TrainerInput;
  readonly width: number;
  readonly schedule: Schedule;
  readonly log: (line: string) => void;
  /** Weights of the best epoch so far (recipe keep 'best'). */
  best?: Map<string, StoredTensor>;
}

function flatTargets(rows: readonly number[], targets: readonly Uint8Array[], width: number): Float32Array {
  const flat = new Float32Array(rows.length * width);
  rows.forEach((r, b) => flat.set(targets[r], b * width));
  return flat;
}

function batchesFor(input: TrainerInput, epoch: number): number[][] {
  return shuffledBatches(input.trainRows, input.features.lengths, input.recipe.batchSize, input.seed * 1000 + epoch);
}

/** The loss the recipe trains with: bce's automatic positive weights come from the training split's label counts. */
export function recipeLoss(recipe: Recipe, targets: readonly Uint8Array[], trainRows: readonly number[], width: number): LossOptions {
  if (recipe.loss !== 'bce' || recipe.posWeight !== 'auto') return { name: recipe.loss };
  const counts = new Array<number>(width).fill(0);
  for (const r of trainRows) for (let j = 0; j < width; j++) counts[j] += targets[r][j];
  return { name: recipe.loss, posWeight: positiveWeights(counts, trainRows.length) };
}

export interface EngineSetup {
  readonly config: BertConfig;
  readonly weights: WeightMap;
  readonly frozenLayers: number;
  readonly features: FeatureStore;
  readonly recipe: Recipe;
  readonly targets: readonly Uint8Array[];
  readonly trainRows: readonly number[];
}

/** What any engine needs to train as the recipe says; the trainer's own loss bookkeeping (posWeight) derives from the same values. */
export function engineOptionsFor(setup: EngineSetup, extra: Pick<EngineOptions, 'threads' | 'device' | 'log' | 'predictBatchSize' | 'frozenTensors' | 'sparseTensors'> = {}): EngineOptions {
  const { recipe } = setup;
  return {
    config: setup.config,
    weights: setup.weights,
    frozenLayers: setup.frozenLayers,
    features: setup.features,
    loss: recipeLoss(recipe, setup.targets, setup.trainRows, setup.config.numLabels),
    optimizer: { lr: recipe.lr, weightDecay: recipe.weightDecay, clipNorm: recipe.clipNorm },
    dropout: recipe.dropout,
    ...extra,
  };
}

function createLoop(input: TrainerInput): Loop & { posWeight?: number[] } {
  const { recipe } = input;
  const width = input.labels.length;
  const lossOpts = recipeLoss(recipe, input.targets, input.trainRows, width);
  const totalSteps = Math.ceil(input.trainRows.length / recipe.batchSize) * recipe.maxEpochs;
  return {
    input,
    width,
    schedule: { kind: recipe.schedule, warmupSteps: Math.round(recipe.warmupRatio * totalSteps), totalSteps },
    log: input.log ?? (() => {}),
    ...(lossOpts.posWeight ? { posWeight: [...lossOpts.posWeight] } : {}),
  };
}

/** Unweighted BCE of the model as it is on `rows`, dropout off. */
async function batchLoss(input: TrainerInput, rows: readonly number[]): Promise<number> {
  const logits = await input.engine.logits(rows);
  return bceWithLogits(logits, flatTargets(rows, input.targets, input.labels.length));
}

/** The checkpoint's tensors under `prefix`, with it stripped. */
function underPrefix(tensors: ReadonlyMap<string, StoredTensor>, prefix: string): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  for (const [k, t] of tensors) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), t);
  return out;
}

/** The state to continue from: a matching checkpoint's, or a fresh one with the untrained model's first-batch loss. */
async function startOrResume(loop: Loop): Promise<{ state: LoopState; resumedFromEpoch?: number }> {
  const { input, log } = loop;
  const { engine } = input;
  const saved = input.checkpointDir ? await loadCheckpoint<LoopState>(input.checkpointDir) : undefined;
  if (saved && saved.state.fingerprint === input.fingerprint) {
    const state = saved.state;
    engine.restore(saved.tensors, 'var/');
    engine.restoreOptimizer({ step: state.step, m: underPrefix(saved.tensors, 'm/'), v: underPrefix(saved.tensors, 'v/') });
    const best = underPrefix(saved.tensors, 'best/');
    if (best.size > 0) loop.best = best;
    log(`resuming from the checkpoint after epoch ${state.epoch} (step ${state.step})`);
    return { state, resumedFromEpoch: state.epoch };
  }
  if (saved) log('a checkpoint from a different run configuration is present; starting over');
  const first = batchesFor(input, 1)[0];
  const loss = await batchLoss(input, first);
  log(`first-batch loss before training (BCE, dropout off): ${loss.toFixed(6)}`);
  await input.checkFirstBatch?.({ rows: first, loss });
  return { state: { fingerprint: input.fingerprint, epoch: 0, step: 0, history: [], bestEpoch: 0, bestScore: -1, firstBatch: { rows: first, loss } } };
}

/**
 * Epochs are judged with per-label F1 thresholds, which is what macro-F1
 * measures; the whole-tag-set refinement of the shipped thresholds runs once,
 * on the kept epoch (steps/calibrate.ts).
 */
async function validate(input: TrainerInput): Promise<ValidationScore> {
  const logits = await input.engine.logits(input.valRows);
  return scoreValidation(logits, input.valRows.map((r) => input.targets[r]), input.labels, { ...input.recipe, thresholdObjective: 'f1' }, input.tagCount);
}

const stepLimitReached = (input: TrainerInput, state: LoopState): boolean => input.maxSteps !== undefined && state.step >= input.maxSteps;

/** One epoch's optimizer steps; returns the row-weighted loss sum, rows seen and the last learning rate. */
async function trainSteps(loop: Loop, state: LoopState, epoch: number, batches: readonly number[][], bar: Progress): Promise<{ lossSum: number; seen: number; lr: number }> {
  const { input, width } = loop;
  const { recipe } = input;
  const dropoutBase = input.seed * 1_000_003;
  let lossSum = 0;
  let seen = 0;
  let lr = 0;
  for (const [i, rows] of batches.entries()) {
    if (stepLimitReached(input, state)) break;
    lr = learningRateAt(state.step, recipe.lr, loop.schedule);
    // Each step's masks start 64 seeds after the previous step's (an engine advances the seed per dropout site).
    const { loss } = await input.engine.step(rows, flatTargets(rows, input.targets, width), lr, dropoutBase + state.step * 64);
    if (!Number.isFinite(loss)) {
      throw new LivetagError('LT_TRAINING', `loss became ${loss} at epoch ${epoch}, step ${state.step}; lower --lr`);
    }
    state.step++;
    lossSum += loss * rows.length;
    seen += rows.length;
    bar.tick(i + 1, `loss ${(lossSum / seen).toFixed(4)}`);
  }
  return { lossSum, seen, lr };
}

async function saveLoopCheckpoint(loop: Loop, state: LoopState, dir: string): Promise<void> {
  const tensors = new Map<string, StoredTensor>();
  const { engine } = loop.input;
  for (const [k, t] of engine.snapshot()) tensors.set(`var/${k}`, t);
  const optimizer = engine.optimizerState();
  for (const [k, m] of optimizer.m) tensors.set(`m/${k}`, m);
  for (const [k, v] of optimizer.v) tensors.set(`v/${k}`, v);
  if (loop.best) for (const [k, t] of loop.best) tensors.set(`best/${k}`, t);
  await saveCheckpoint(dir, state, tensors);
}

/**
 * Higher is better, in (0, 1] for both: the validation loss maps through
 * 1/(1+loss) so a checkpoint's bestScore stays a plain JSON number.
 */
function epochScore(recipe: Recipe, v: ValidationScore): number {
  return recipe.selectBy === 'loss' ? 1 / (1 + v.loss) : v.metrics.macro_f1;
}

/** Trains, validates, records and checkpoints one epoch; returns the rows trained and the milliseconds spent on them. */
async function runEpoch(loop: Loop, state: LoopState, epoch: number): Promise<{ seen: number; trainMs: number }> {
  const { input } = loop;
  const started = Date.now();
  const batches = batchesFor(input, epoch);
  const bar = createProgress(`epoch ${epoch}/${input.recipe.maxEpochs}`, batches.length, undefined, input.quiet);
  const { lossSum, seen, lr } = await trainSteps(loop, state, epoch, batches, bar);
  const trainMs = Date.now() - started;
  const v = input.skipValidation ? undefined : await validate(input);
  const record: EpochRecord = {
    epoch,
    trainLoss: seen > 0 ? lossSum / seen : NaN,
    valLoss: v?.loss ?? NaN,
    valMacroF1: v?.metrics.macro_f1 ?? NaN,
    valMacroF1At05: v?.macroF1At05 ?? NaN,
    lr,
    seconds: (Date.now() - started) / 1000,
    samplesPerSecond: seen / Math.max(1e-3, trainMs / 1000),
  };
  bar.finish(
    `loss ${record.trainLoss.toFixed(4)} val loss ${record.valLoss.toFixed(4)} val macro-F1 ${record.valMacroF1.toFixed(4)} (at 0.5: ${record.valMacroF1At05.toFixed(4)})`,
  );
  state.history.push(record);
  state.epoch = epoch;
  const score = v ? epochScore(input.recipe, v) : undefined;
  if (score !== undefined && score > state.bestScore + 1e-6) {
    state.bestScore = score;
    state.bestEpoch = epoch;
    if (input.recipe.keep === 'best') loop.best = input.engine.snapshot();
  }
  if (input.checkpointDir) await saveLoopCheckpoint(loop, state, input.checkpointDir);
  return { seen, trainMs };
}

/** Trains `input.engine` in place; the caller disposes the engine (it still holds the optimizer state). */
export async function train(input: TrainerInput): Promise<TrainerResult> {
  const { engine, recipe } = input;
  if (input.trainRows.length === 0) throw new LivetagError('LT_DATA', 'no training rows');
  // Every epoch would score 0 and the first would be kept, its thresholds untuned.
  if (input.valRows.length === 0 && !input.skipValidation) throw new LivetagError('LT_DATA', 'no validation rows: early stopping and thresholds need some (more rows, or a larger validation ratio in --split)');
  const loop = createLoop(input);
  const { state, resumedFromEpoch } = await startOrResume(loop);

  let stoppedEarly = false;
  const trainStarted = Date.now();
  let trainedSamples = 0;
  let trainedMs = 0;
  for (let epoch = state.epoch + 1; epoch <= recipe.maxEpochs; epoch++) {
    if (recipe.patience > 0 && state.bestEpoch > 0 && epoch - 1 - state.bestEpoch >= recipe.patience) {
      stoppedEarly = true;
      break;
    }
    const { seen, trainMs } = await runEpoch(loop, state, epoch);
    trainedSamples += seen;
    trainedMs += trainMs;
    if (stepLimitReached(input, state)) break;
  }

  const keptEpoch = recipe.keep === 'best' && loop.best ? state.bestEpoch : state.epoch;
  if (recipe.keep === 'best' && loop.best) engine.restore(loop.best);
  return {
    history: state.history,
    keptEpoch,
    stoppedEarly,
    valLogits: input.skipValidation ? new Float32Array(0) : await engine.logits(input.valRows),
    ...(loop.posWeight ? { posWeight: loop.posWeight } : {}),
    firstBatch: state.firstBatch,
    ...(resumedFromEpoch === undefined ? {} : { resumedFromEpoch }),
    steps: state.step,
    trainSeconds: (Date.now() - trainStarted) / 1000,
    samplesPerSecond: trainedSamples / Math.max(1e-3, trainedMs / 1000),
  };
}
