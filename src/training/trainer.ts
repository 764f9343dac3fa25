/**
 * The training loop: epochs of AdamW steps, validation after each, early
 * stopping on validation macro-F1, a checkpoint per epoch, and per-label
 * thresholds tuned on validation at the end.
 */
import { LivetagError } from '../common/errors.ts';
import { sigmoid } from '../model/classifier.ts';
import { loadCheckpoint, saveCheckpoint, type StoredTensor } from './checkpoint.ts';
import { disposeInput, lengthSortedBatches, shuffledBatches, type FeatureStore } from './features.ts';
import { bceWithLogits, computeLoss, positiveWeights, type LossOptions } from './losses.ts';
import { applyThresholds, multiLabelMetrics, type MultiLabelMetrics } from './metrics.ts';
import { createAdamW, learningRateAt } from './optimizer.ts';
import { createProgress } from './progress.ts';
import type { Recipe } from './recipe.ts';
import { tf } from './tf-backend.ts';
import type { TfBert } from './tf-bert.ts';
import { tuneThresholds, type ThresholdChoice } from './thresholds.ts';

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
  readonly thresholds: ThresholdChoice[];
  readonly valMetrics: MultiLabelMetrics;
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

function targetTensor(rows: readonly number[], targets: readonly Uint8Array[], width: number): tf.Tensor2D {
  const flat = new Float32Array(rows.length * width);
  rows.forEach((r, b) => flat.set(targets[r], b * width));
  return tf.tensor2d(flat, [rows.length, width]);
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

export async function train(input: TrainerInput): Promise<TrainerResult> {
  const { model, features, labels, targets, recipe } = input;
  const log = input.log ?? (() => {});
  const width = labels.length;
  if (input.trainRows.length === 0) throw new LivetagError('LT_DATA', 'no training rows');

  const counts = new Array<number>(width).fill(0);
  for (const r of input.trainRows) for (let j = 0; j < width; j++) counts[j] += targets[r][j];
  const posWeight = recipe.loss === 'bce' && recipe.posWeight === 'auto' ? positiveWeights(counts, input.trainRows.length) : undefined;
  const lossOpts: LossOptions = { name: recipe.loss, ...(posWeight ? { posWeight } : {}) };

  const stepsPerEpoch = Math.ceil(input.trainRows.length / recipe.batchSize);
  const totalSteps = stepsPerEpoch * recipe.maxEpochs;
  const schedule = { kind: recipe.schedule, warmupSteps: Math.round(recipe.warmupRatio * totalSteps), totalSteps };
  const optimizer = createAdamW(model.variables, { lr: recipe.lr, weightDecay: recipe.weightDecay, clipNorm: recipe.clipNorm });
  const vars = [...model.variables.values()];

  const batchesFor = (epoch: number): number[][] =>
    shuffledBatches(input.trainRows, features.lengths, recipe.batchSize, input.seed * 1000 + epoch);

  let state: LoopState;
  let best: Map<string, StoredTensor> | undefined;
  let resumedFromEpoch: number | undefined;
  const saved = input.checkpointDir ? await loadCheckpoint<LoopState>(input.checkpointDir) : undefined;
  if (saved && saved.state.fingerprint === input.fingerprint) {
    state = saved.state;
    restore(model, saved.tensors, 'var/');
    for (const [name, m] of optimizer.state.m) tf.tidy(() => m.assign(tf.tensor(saved.tensors.get(`m/${name}`)!.data, m.shape)));
    for (const [name, v] of optimizer.state.v) tf.tidy(() => v.assign(tf.tensor(saved.tensors.get(`v/${name}`)!.data, v.shape)));
    optimizer.state.step = state.step;
    if (saved.tensors.has(`best/${[...model.variables.keys()][0]}`)) {
      best = new Map([...model.variables.keys()].map((n) => [n, saved.tensors.get(`best/${n}`)!]));
    }
    resumedFromEpoch = state.epoch;
    log(`resuming from the checkpoint after epoch ${state.epoch} (step ${state.step})`);
  } else {
    if (saved) log('a checkpoint from a different run configuration is present; starting over');
    const first = batchesFor(1)[0];
    const fbInput = features.input(first);
    const fbLogits = model.logits(fbInput);
    const flatTargets = new Float32Array(first.length * width);
    first.forEach((r, b) => flatTargets.set(targets[r], b * width));
    const loss = bceWithLogits(fbLogits.dataSync(), flatTargets);
    fbLogits.dispose();
    disposeInput(fbInput);
    state = { fingerprint: input.fingerprint, epoch: 0, step: 0, history: [], bestEpoch: 0, bestScore: -1, firstBatch: { rows: first, loss } };
    log(`first-batch loss before training (BCE, dropout off): ${loss.toFixed(6)}`);
  }

  const evaluate = (): { metrics: MultiLabelMetrics; at05: number; thresholds: ThresholdChoice[]; loss: number } => {
    const logits = predictLogits(model, features, input.valRows);
    const probs = logits.map(sigmoid);
    const truth = input.valRows.map((r) => targets[r]);
    const thresholds =
      recipe.thresholds === 'tuned'
        ? tuneThresholds(probs, truth, width)
        : labels.map(() => ({ threshold: 0.5, f1: 0, how: 'default' as const }));
    const metrics = multiLabelMetrics(truth, applyThresholds(probs, truth.length, thresholds.map((t) => t.threshold)), labels);
    const at05 = multiLabelMetrics(truth, applyThresholds(probs, truth.length, labels.map(() => 0.5)), labels).macro_f1;
    const flat = new Float32Array(truth.length * width);
    truth.forEach((t, i) => flat.set(t, i * width));
    return { metrics, at05, thresholds, loss: bceWithLogits(logits, flat) };
  };

  let stoppedEarly = false;
  const trainStarted = Date.now();
  let trainedSamples = 0;
  let trainedMs = 0;
  const dropoutBase = input.seed * 1_000_003;
  try {
    for (let epoch = state.epoch + 1; epoch <= recipe.maxEpochs; epoch++) {
      if (recipe.patience > 0 && state.bestEpoch > 0 && epoch - 1 - state.bestEpoch >= recipe.patience) {
        stoppedEarly = true;
        break;
      }
      const started = Date.now();
      const batches = batchesFor(epoch);
      const bar = createProgress(`epoch ${epoch}/${recipe.maxEpochs}`, batches.length, undefined, input.quiet);
      let lossSum = 0;
      let seen = 0;
      let lr = 0;
      for (const [i, rows] of batches.entries()) {
        if (input.maxSteps !== undefined && state.step >= input.maxSteps) break;
        lr = learningRateAt(state.step, recipe.lr, schedule);
        const x = features.input(rows);
        const y = targetTensor(rows, targets, width);
        const dropout = { rate: recipe.dropout, seed: dropoutBase + state.step * 64 };
        const { value, grads } = tf.variableGrads(() => computeLoss(model.logits(x, dropout), y, lossOpts), vars);
        const loss = value.dataSync()[0];
        if (!Number.isFinite(loss)) {
          throw new LivetagError('LT_TRAINING', `loss became ${loss} at epoch ${epoch}, step ${state.step}; lower --lr`);
        }
        optimizer.apply(grads, lr);
        tf.dispose([value, y, ...Object.values(grads)]);
        disposeInput(x);
        state.step++;
        lossSum += loss * rows.length;
        seen += rows.length;
        bar.tick(i + 1, `loss ${(lossSum / seen).toFixed(4)}`);
      }
      const trainMs = Date.now() - started;
      trainedSamples += seen;
      trainedMs += trainMs;
      const v = input.skipValidation ? undefined : evaluate();
      const record: EpochRecord = {
        epoch,
        trainLoss: seen > 0 ? lossSum / seen : NaN,
        valLoss: v?.loss ?? NaN,
        valMacroF1: v?.metrics.macro_f1 ?? NaN,
        valMacroF1At05: v?.at05 ?? NaN,
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
        if (recipe.keep === 'best') best = snapshot(model);
      }
      if (input.checkpointDir) {
        const tensors = new Map<string, StoredTensor>();
        for (const [k, t] of snapshot(model)) tensors.set(`var/${k}`, t);
        for (const [k, m] of optimizer.state.m) tensors.set(`m/${k}`, { shape: m.shape, data: m.dataSync() as Float32Array });
        for (const [k, m] of optimizer.state.v) tensors.set(`v/${k}`, { shape: m.shape, data: m.dataSync() as Float32Array });
        if (best) for (const [k, t] of best) tensors.set(`best/${k}`, t);
        await saveCheckpoint(input.checkpointDir, state, tensors);
      }
      if (input.maxSteps !== undefined && state.step >= input.maxSteps) break;
    }
  } finally {
    optimizer.dispose();
  }

  const keptEpoch = recipe.keep === 'best' && best ? state.bestEpoch : state.epoch;
  if (recipe.keep === 'best' && best) restore(model, best);
  const final = input.skipValidation
    ? { metrics: multiLabelMetrics([], [], labels), thresholds: labels.map(() => ({ threshold: 0.5, f1: 0, how: 'default' as const })) }
    : evaluate();
  log(`kept epoch ${keptEpoch}: validation macro-F1 ${final.metrics.macro_f1.toFixed(4)}`);
  return {
    history: state.history,
    keptEpoch,
    stoppedEarly,
    thresholds: final.thresholds,
    valMetrics: final.metrics,
    ...(posWeight ? { posWeight } : {}),
    firstBatch: state.firstBatch,
    ...(resumedFromEpoch === undefined ? {} : { resumedFromEpoch }),
    steps: state.step,
    trainSeconds: (Date.now() - trainStarted) / 1000,
    samplesPerSecond: trainedSamples / Math.max(1e-3, trainedMs / 1000),
  };
}
