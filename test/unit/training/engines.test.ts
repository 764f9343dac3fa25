import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLivetagError } from '../../../src/common/errors.ts';
import { tinyBertConfig } from '../../helpers/shared.ts';
import { randomWeights } from '../../../src/model/weights.ts';
import { backendNameOf, checkEngineChoice, createEngine, type EngineChoice } from '../../../src/training/engines.ts';
import type { TrainingEngine } from '../../../src/training/engine.ts';
import { createIdFeatures } from '../../../src/training/features.ts';
import { computeLoss } from '../../../src/training/losses.ts';
import { toMatrix } from '../../../src/training/metrics.ts';
import { createAdamW } from '../../../src/training/optimizer.ts';
import { resolveRecipe } from '../../../src/training/recipe.ts';
import { tf } from '../../../src/training/tf-backend.ts';
import { createTfBert } from '../../../src/training/tf-bert.ts';
import { predictLogits } from '../../../src/training/tf-engine.ts';
import { engineOptionsFor } from '../../../src/training/trainer.ts';
import { TINY_LABELS, tinyRows } from './fixtures.ts';

const config = tinyBertConfig();

function setup() {
  const rows = tinyRows(20, 3);
  const ids = rows.map((r) => Int32Array.from([2, ...[...r.text].slice(0, 8).map((c) => 5 + (c.codePointAt(0)! % 30)), 3]));
  const features = createIdFeatures(ids);
  const targets = toMatrix(rows.map((r) => r.labels), TINY_LABELS);
  const recipe = resolveRecipe('livetag', 'scratch', 0, { batchSize: 8 });
  const weights = randomWeights(config, 5);
  const trainRows = [...Array(20).keys()];
  return { features, targets, recipe, weights, trainRows, options: engineOptionsFor({ config, weights, frozenLayers: 0, features, recipe, targets, trainRows }) };
}

const flat = (rows: readonly number[], targets: readonly Uint8Array[]): Float32Array => {
  const out = new Float32Array(rows.length * 3);
  rows.forEach((r, b) => out.set(targets[r], b * 3));
  return out;
};

test('unknown backends and --device with a TensorFlow.js backend are LT_CONFIG_INVALID', async () => {
  const { options } = setup();
  await assert.rejects(createEngine('tfjs' as EngineChoice, options), (err: unknown) => isLivetagError(err, 'LT_CONFIG_INVALID'));
  assert.throws(() => checkEngineChoice('gpu'), (err: unknown) => isLivetagError(err, 'LT_CONFIG_INVALID'));
  await assert.rejects(createEngine('wasm', { ...options, device: 'cuda' }), (err: unknown) => isLivetagError(err, 'LT_CONFIG_INVALID') && /--device cuda/.test(String(err)));
  assert.equal(checkEngineChoice('onnxruntime', 'cuda'), 'onnxruntime');
  assert.equal(checkEngineChoice('wasm', 'auto'), 'wasm');
});

test('auto is onnxruntime: both choices reach the onnxruntime engine', async () => {
  const { options } = setup();
  const outcome = async (choice: EngineChoice): Promise<string> => {
    try {
      const engine = await createEngine(choice, options);
      await engine.dispose();
      return `engine ${engine.name}`;
    } catch (err) {
      return `error ${(err as Error).message}`;
    }
  };
  const [auto, ort] = [await outcome('auto'), await outcome('onnxruntime')];
  assert.equal(auto, ort);
  // Until the engine is built this is its stub's error; afterwards an onnxruntime engine. The tfjs path would give "engine tfjs".
  assert.match(ort, /onnxruntime/);
  assert.equal(backendNameOf('auto'), 'onnxruntime');
  assert.equal(backendNameOf('tensorflow-gpu'), 'tensorflow');
  assert.equal(backendNameOf('wasm'), 'wasm');
});

test('the wasm choice is the TensorFlow.js engine, whose step is the trainer step it replaces', async () => {
  const { features, targets, recipe, weights, options } = setup();
  const lines: string[] = [];
  const engine: TrainingEngine = await createEngine('wasm', { ...options, log: (l) => lines.push(l) });
  try {
    assert.equal(engine.name, 'tfjs');
    assert.match(lines.join('\n'), /^tfjs backend wasm from @tensorflow\/tfjs-backend-wasm/);
    const before = engine.snapshot();
    const rows = [3, 0, 7, 11, 5];
    const seed = 12_345;

    // What the trainer did per step before engines existed.
    const model = createTfBert(config, weights);
    const adamw = createAdamW(model.variables, { lr: recipe.lr, weightDecay: recipe.weightDecay, clipNorm: recipe.clipNorm });
    const x = features.input(rows);
    const y = tf.tensor2d(flat(rows, targets), [rows.length, 3]);
    const { value, grads } = tf.variableGrads(() => computeLoss(model.logits(x, { rate: recipe.dropout, seed }), y, options.loss), [...model.variables.values()]);
    const expectedLoss = value.dataSync()[0];
    const expectedNorm = adamw.apply(grads, 1e-3);

    const { loss, gradNorm } = await engine.step(rows, flat(rows, targets), 1e-3, seed);
    assert.equal(loss, expectedLoss);
    assert.equal(gradNorm, expectedNorm);
    const exported = engine.exportWeights();
    for (const [name, t] of model.exportWeights()) assert.deepEqual(exported.get(name)!.data, t.data, name);
    assert.deepEqual(await engine.logits([9, 2, 4]), predictLogits(model, features, [9, 2, 4]));

    const opt = engine.optimizerState();
    assert.equal(opt.step, 1);
    for (const [name, m] of adamw.state.m) assert.deepEqual(opt.m.get(name)!.data, m.dataSync(), name);
    tf.dispose([value, y, ...Object.values(grads)]);
    adamw.dispose();
    model.dispose();

    // Restoring the snapshot and zeroed moments undoes the step.
    engine.restore(before);
    const zeros = new Map([...opt.m].map(([k, t]) => [k, { shape: t.shape, data: new Float32Array(t.data.length) }]));
    engine.restoreOptimizer({ step: 0, m: zeros, v: zeros });
    for (const [name, t] of engine.snapshot()) assert.deepEqual(t.data, before.get(name)!.data, name);
    assert.equal(engine.optimizerState().step, 0);
    assert.throws(() => engine.restore(new Map(), 'var/'), (err: unknown) => isLivetagError(err, 'LT_CHECKPOINT'));
  } finally {
    await engine.dispose();
  }
});
