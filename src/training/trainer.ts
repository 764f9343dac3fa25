/**
 * The training loop: epochs of AdamW steps, validation after each, early
 * stopping on validation macro-F1 and a checkpoint per epoch. It ends with
 * the kept epoch's weights in the model and their validation logits, from
 * which the job calibrates the shipped thresholds.
 */
import { LivetagError } from '../common/errors.ts';
import { loadCheckpoint, saveCheckpoint, type StoredTensor } from './checkpoint.ts';
import { disposeInput, lengthSortedBatches, shuffledBatches, type FeatureStore } from './features.ts';
import { bceWithLogits, computeLoss, positiveWeights, type LossOptions } from './losses.ts';
import { createAdamW, learningRateAt, type AdamW, type Schedule } from './optimizer.ts';
import { createProgress, type Progress } from './progress.ts';
import type { Recipe } from './recipe.ts';
import { tf } from './tf-backend.ts';
import type { TfBert } from './tf-bert.ts';
import { scoreValidation, type ValidationScore } from './validation-score.ts';

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

export interface TrainerInput {
  readonly model: TfBert;
  readonly features: FeatureStore;
  readonly labels: readonly string[];
  /** 0/1 targets per feature row. */
  readonly targets: readonly Uint8Array[];
  readonly trainRows: readonly number[];
  readonly valRows: readonly number[];
  readonly recipe: Recipe;
  readonly seed: number;
  /** Checkpoint directory; a checkpoint there with the same fingerprint is resumed. */
  readonly checkpointDir?: string;
  readonly fingerprint: string;
  readonly log?: (line: string) => void;
  readonly quiet?: boolean;
  /** Stop after this many steps in total (benchmarks). */
  readonly maxSteps?: number;
  /** Skip validation (benchmarks). */
  readonly skipValidation?: boolean;
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
  readonly lossOpts: LossOptions;
  readonly schedule: Schedule;
  readonly optimizer: AdamW;
  readonly vars: tf.Variable[];
  readonly log: (line: string) => void;
  /** Weights of the best epoch so far (recipe keep 'best'). */
  best?: Map<string, StoredTensor>;
}

function flatTargets(rows: readonly number[], targets: readonly Uint8Array[], width: number): Float32Array {
  const flat = new Float32Array(rows.length * width);
  rows.forEach((r, b) => flat.set(targets[r], b * width));
  return flat;
}

/** Logits for rows, in the order given, without dropout. */
export function predictLogits(model: TfBert, features: FeatureStore, rows: readonly number[], batchSize = 64): Float32Array {
  const width = model.config.numLabels;
  const out = new Float32Array(rows.length * width);
  const position = new Map(rows.map((r, i) => [r, i]));
  for (const batch of lengthSortedBatches(rows, features.lengths, batchSize)) {
    const input = features.input(batch);
    const logits = model.logits(input);
    const data = logits.dataSync();
    logits.dispose();
    disposeInput(input);
    batch.forEach((r, b) => out.set(data.subarray(b * width, (b + 1) * width), position.get(r)! * width));
  }
  return out;
}

function snapshot(model: TfBert): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  for (const [name, v] of model.variables) out.set(name, { shape: v.shape, data: Float32Array.from(v.dataSync() as Float32Array) });
  return out;
}

function restore(model: TfBert, tensors: ReadonlyMap<string, StoredTensor>, prefix = ''): void {
  for (const [name, v] of model.variables) {
    const t = tensors.get(prefix + name);
    if (!t) throw new LivetagError('LT_CHECKPOINT', `checkpoint lacks ${prefix}${name}`);
    tf.tidy(() => v.assign(tf.tensor(t.data, [...t.shape], 'float32')));
  }
}

function batchesFor(input: TrainerInput, epoch: number): number[][] {
  return shuffledBatches(input.trainRows, input.features.lengths, input.recipe.batchSize, input.seed * 1000 + epoch);
}

function createLoop(input: TrainerInput): Loop & { posWeight?: number[] } {
  const { model, targets, recipe } = input;
  const width = input.labels.length;
  const counts = new Array<number>(width).fill(0);
  for (const r of input.trainRows) for (let j = 0; j < width; j++) counts[j] += targets[r][j];
  const posWeight = recipe.loss === 'bce' && recipe.posWeight === 'auto' ? positiveWeights(counts, input.trainRows.length) : undefined;
  const totalSteps = Math.ceil(input.trainRows.length / recipe.batchSize) * recipe.maxEpochs;
  return {
    input,
    width,
    lossOpts: { name: recipe.loss, ...(posWeight ? { posWeight } : {}) },
    schedule: { kind: recipe.schedule, warmupSteps: Math.round(recipe.warmupRatio * totalSteps), totalSteps },
    optimizer: createAdamW(model.variables, { lr: recipe.lr, weightDecay: recipe.weightDecay, clipNorm: recipe.clipNorm }),
    vars: [...model.variables.values()],
    log: input.log ?? (() => {}),
    ...(posWeight ? { posWeight } : {}),
  };
}

/** Unweighted BCE of the model as it is on `rows`, dropout off. */
function batchLoss(input: TrainerInput, rows: readonly number[]): number {
  const x = input.features.input(rows);
  const logits = input.model.logits(x);
  const loss = bceWithLogits(logits.dataSync(), flatTargets(rows, input.targets, input.labels.length));
  logits.dispose();
  disposeInput(x);
  return loss;
}

/** The state to continue from: a matching checkpoint's, or a fresh one with the untrained model's first-batch loss. */
async function startOrResume(loop: Loop): Promise<{ state: LoopState; resumedFromEpoch?: number }> {
  const { input, optimizer, log } = loop;
  const { model } = input;
  const saved = input.checkpointDir ? await loadCheckpoint<LoopState>(input.checkpointDir) : undefined;
  if (saved && saved.state.fingerprint === input.fingerprint) {
    const state = saved.state;
    restore(model, saved.tensors, 'var/');
    for (const [name, m] of optimizer.state.m) tf.tidy(() => m.assign(tf.tensor(saved.tensors.get(`m/${name}`)!.data, m.shape)));
    for (const [name, v] of optimizer.state.v) tf.tidy(() => v.assign(tf.tensor(saved.tensors.get(`v/${name}`)!.data, v.shape)));
    optimizer.state.step = state.step;
    if (saved.tensors.has(`best/${[...model.variables.keys()][0]}`)) {
      loop.best = new Map([...model.variables.keys()].map((n) => [n, saved.tensors.get(`best/${n}`)!]));
    }
    log(`resuming from the checkpoint after epoch ${state.epoch} (step ${state.step})`);
    return { state, resumedFromEpoch: state.epoch };
  }
  if (saved) log('a checkpoint from a different run configuration is present; starting over');
  const first = batchesFor(input, 1)[0];
  const loss = batchLoss(input, first);
  log(`first-batch loss before training (BCE, dropout off): ${loss.toFixed(6)}`);
  return { state: { fingerprint: input.fingerprint, epoch: 0, step: 0, history: [], bestEpoch: 0, bestScore: -1, firstBatch: { rows: first, loss } } };
}

function validate(input: TrainerInput): ValidationScore {
  const logits = predictLogits(input.model, input.features, input.valRows);
  return scoreValidation(logits, input.valRows.map((r) => input.targets[r]), input.labels, input.recipe.thresholds);
}

const stepLimitReached = (input: TrainerInput, state: LoopState): boolean => input.maxSteps !== undefined && state.step >= input.maxSteps;

/** One epoch's optimizer steps; returns the row-weighted loss sum, rows seen and the last learning rate. */
function trainSteps(loop: Loop, state: LoopState, epoch: number, batches: readonly number[][], bar: Progress): { lossSum: number; seen: number; lr: number } {
  const { input, width } = loop;
  const { recipe } = input;
  const dropoutBase = input.seed * 1_000_003;
  let lossSum = 0;
  let seen = 0;
  let lr = 0;
  for (const [i, rows] of batches.entries()) {
    if (stepLimitReached(input, state)) break;
    lr = learningRateAt(state.step, recipe.lr, loop.schedule);
    const x = input.features.input(rows);
    const y = tf.tensor2d(flatTargets(rows, input.targets, width), [rows.length, width]);
    const dropout = { rate: recipe.dropout, seed: dropoutBase + state.step * 64 };
    const { value, grads } = tf.variableGrads(() => computeLoss(input.model.logits(x, dropout), y, loop.lossOpts), loop.vars);
    const loss = value.dataSync()[0];
    if (!Number.isFinite(loss)) {
      throw new LivetagError('LT_TRAINING', `loss became ${loss} at epoch ${epoch}, step ${state.step}; lower --lr`);
    }
    loop.optimizer.apply(grads, lr);
    tf.dispose([value, y, ...Object.values(grads)]);
    disposeInput(x);
    state.step++;
    lossSum += loss * rows.length;
    seen += rows.length;
    bar.tick(i + 1, `loss ${(lossSum / seen).toFixed(4)}`);
  }
  return { lossSum, seen, lr };
}

async function saveLoopCheckpoint(loop: Loop, state: LoopState, dir: string): Promise<void> {
  const tensors = new Map<string, StoredTensor>();
  for (const [k, t] of snapshot(loop.input.model)) tensors.set(`var/${k}`, t);
  for (const [k, m] of loop.optimizer.state.m) tensors.set(`m/${k}`, { shape: m.shape, data: m.dataSync() as Float32Array });
  for (const [k, m] of loop.optimizer.state.v) tensors.set(`v/${k}`, { shape: m.shape, data: m.dataSync() as Float32Array });
  if (loop.best) for (const [k, t] of loop.best) tensors.set(`best/${k}`, t);
  await saveCheckpoint(dir, state, tensors);
}

/** Trains, validates, records and checkpoints one epoch; returns the rows trained and the milliseconds spent on them. */
async function runEpoch(loop: Loop, state: LoopState, epoch: number): Promise<{ seen: number; trainMs: number }> {
  const { input } = loop;
  const started = Date.now();
  const batches = batchesFor(input, epoch);
  const bar = createProgress(`epoch ${epoch}/${input.recipe.maxEpochs}`, batches.length, undefined, input.quiet);
  const { lossSum, seen, lr } = trainSteps(loop, state, epoch, batches, bar);
  const trainMs = Date.now() - started;
  const v = input.skipValidation ? undefined : validate(input);
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
  if (v && v.metrics.macro_f1 > state.bestScore + 1e-6) {
    state.bestScore = v.metrics.macro_f1;
    state.bestEpoch = epoch;
    if (input.recipe.keep === 'best') loop.best = snapshot(input.model);
  }
  if (input.checkpointDir) await saveLoopCheckpoint(loop, state, input.checkpointDir);
  return { seen, trainMs };
}

export async function train(input: TrainerInput): Promise<TrainerResult> {
  const { model, recipe } = input;
  if (input.trainRows.length === 0) throw new LivetagError('LT_DATA', 'no training rows');
  const loop = createLoop(input);
  const { state, resumedFromEpoch } = await startOrResume(loop);

  let stoppedEarly = false;
  const trainStarted = Date.now();
  let trainedSamples = 0;
  let trainedMs = 0;
  try {
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
  } finally {
    loop.optimizer.dispose();
  }

  const keptEpoch = recipe.keep === 'best' && loop.best ? state.bestEpoch : state.epoch;
  if (recipe.keep === 'best' && loop.best) restore(model, loop.best);
  return {
    history: state.history,
    keptEpoch,
    stoppedEarly,
    valLogits: input.skipValidation ? new Float32Array(0) : predictLogits(model, input.features, input.valRows),
    ...(loop.posWeight ? { posWeight: loop.posWeight } : {}),
    firstBatch: state.firstBatch,
    ...(resumedFromEpoch === undefined ? {} : { resumedFromEpoch }),
    steps: state.step,
    trainSeconds: (Date.now() - trainStarted) / 1000,
    samplesPerSecond: trainedSamples / Math.max(1e-3, trainedMs / 1000),
  };
}
