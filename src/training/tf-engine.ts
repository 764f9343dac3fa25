/**
 * The TensorFlow.js training engine: TfBert's forward pass, tfjs autodiff for
 * the backward one and the tfjs AdamW. It is the independent oracle the
 * onnxruntime engine is checked against, and stays selectable with --backend.
 * The backend must be initialised (initTfBackend) before it is created.
 */
import { LivetagError } from '../common/errors.ts';
import type { StoredTensor } from './checkpoint.ts';
import type { EngineOptions, OptimizerSnapshot, TrainingEngine } from './engine.ts';
import { disposeInput, lengthSortedBatches, type FeatureStore } from './features.ts';
import { computeLoss } from './losses.ts';
import { createAdamW } from './optimizer.ts';
import { describeBackend, tf, type BackendInfo } from './tf-backend.ts';
import { createTfBert, type TfBert } from './tf-bert.ts';

export interface TfEngineOptions extends EngineOptions {
  /** The initialised tfjs backend, for the engine's description. */
  readonly backend: BackendInfo;
}

/** Logits for rows, in the order given, without dropout: length-sorted batches so little is padding. */
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

function copyOf(v: tf.Variable): StoredTensor {
  return { shape: v.shape, data: Float32Array.from(v.dataSync() as Float32Array) };
}

/** `shown` names the tensors in the error: the trainer strips its checkpoint prefixes before handing moments over. */
function assignAll(targets: ReadonlyMap<string, tf.Variable>, tensors: ReadonlyMap<string, StoredTensor>, prefix: string, shown = prefix): void {
  for (const [name, v] of targets) {
    const t = tensors.get(prefix + name);
    if (!t) throw new LivetagError('LT_CHECKPOINT', `checkpoint lacks ${shown}${name}`);
    tf.tidy(() => v.assign(tf.tensor(t.data, [...v.shape], 'float32')));
  }
}

const snapshotOf = (vars: ReadonlyMap<string, tf.Variable>): Map<string, StoredTensor> => new Map([...vars].map(([name, v]) => [name, copyOf(v)]));

export async function createTfEngine(options: TfEngineOptions): Promise<TrainingEngine> {
  const { config, features } = options;
  if (config.ngram) {
    throw new LivetagError('LT_CONFIG_INVALID', 'the n-gram branch trains on the onnxruntime engine only (--backend onnxruntime, or --ngram 0 for the tfjs backends)');
  }
  const model = createTfBert(config, options.weights, options.frozenLayers);
  const optimizer = createAdamW(model.variables, options.optimizer);
  const vars = [...model.variables.values()];
  const width = config.numLabels;
  return {
    name: 'tfjs',
    description: describeBackend(options.backend),
    config,
    frozenLayers: options.frozenLayers,
    async step(rows, targets, lr, dropoutSeed) {
      const x = features.input(rows);
      const y = tf.tensor2d(targets, [rows.length, width]);
      const dropout = { rate: options.dropout ?? 0, seed: dropoutSeed };
      const { value, grads } = tf.variableGrads(() => computeLoss(model.logits(x, dropout), y, options.loss), vars);
      const loss = value.dataSync()[0];
      // A non-finite loss leaves the weights as they were; the trainer stops the run on it.
      const gradNorm = Number.isFinite(loss) ? optimizer.apply(grads, lr) : NaN;
      tf.dispose([value, y, ...Object.values(grads)]);
      disposeInput(x);
      return { loss, gradNorm };
    },
    logits: async (rows) => predictLogits(model, features, rows, options.predictBatchSize ?? 64),
    snapshot: () => snapshotOf(model.variables),
    restore: (tensors, prefix = '') => assignAll(model.variables, tensors, prefix),
    optimizerState: (): OptimizerSnapshot => ({ step: optimizer.state.step, m: snapshotOf(optimizer.state.m), v: snapshotOf(optimizer.state.v) }),
    restoreOptimizer(state) {
      assignAll(optimizer.state.m, state.m, '', 'm/');
      assignAll(optimizer.state.v, state.v, '', 'v/');
      optimizer.state.step = state.step;
    },
    exportWeights: () => model.exportWeights(),
    async dispose() {
      optimizer.dispose();
      model.dispose();
    },
  };
}
