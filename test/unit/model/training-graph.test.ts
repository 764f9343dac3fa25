import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../../../src/common/rng.ts';
import { buildBertOnnx } from '../../../src/model/build/onnx-graph.ts';
import { buildTrainingGraph, type TrainingGraph, type TrainingLoss } from '../../../src/model/build/training-graph.ts';
import { createGraphSession, type Feed } from '../../../src/model/runtime/graph-session.ts';
import type { WeightMap } from '../../../src/model/weights.ts';
import { createDropoutMasks } from '../../../src/training/dropout-masks.ts';
import { feedsFor, tinyBatch, tinyConfig, tinyWeights } from './training-graph-helpers.ts';

const config = tinyConfig();
const batch = tinyBatch(config);
const dims = [batch.rows, batch.seq];
const posWeight = Float32Array.from({ length: config.numLabels }, (_, i) => 1 + i * 0.5);

test('the training graph forward gives the serving graph logits (max |Δ| ≤ 1e-5)', async () => {
  const weights = tinyWeights(config);
  const training = buildTrainingGraph(config, weights, { loss: { name: 'bce' }, frozenLayers: 0 });
  const forwardOnly = buildTrainingGraph(config, weights, { loss: { name: 'bce' }, frozenLayers: 0, forwardOnly: true });
  const serving = await createGraphSession(buildBertOnnx(config, weights), { threads: 1 });
  const ids = { input_ids: { type: 'int64' as const, data: batch.ids, dims }, attention_mask: { type: 'int64' as const, data: batch.mask, dims }, token_type_ids: { type: 'int64' as const, data: batch.types, dims } };
  const expected = (await serving.run(ids)).logits;
  for (const graph of [training, forwardOnly]) {
    const s = await createGraphSession(graph.bytes, { threads: 1 });
    const feeds = feedsFor(config, batch, weights, graph.trainable);
    const got = (await s.run(graph === forwardOnly ? Object.fromEntries(Object.entries(feeds).filter(([k]) => !['labels', 'pos_weight'].includes(k))) : feeds, ['logits'])).logits;
    const diff = Math.max(...expected.map((v, i) => Math.abs(v - got[i])));
    assert.ok(diff <= 1e-5, `max |Δlogit| ${diff}`);
    await s.release();
  }
  await serving.release();
});

const LOSSES: TrainingLoss[] = [
  { name: 'bce' },
  { name: 'sigmoid-bce' },
  { name: 'focal', gamma: 2 },
  { name: 'asl', gammaNeg: 4, gammaPos: 1, clip: 0.05 },
];

/** Sampled coordinates (each tensor's largest gradient and a random one) whose analytic gradient misses the central difference. */
async function finiteDifferenceMisses(graph: TrainingGraph, weights: WeightMap, extra: Record<string, Feed> = {}): Promise<{ misses: string[]; checked: number }> {
  const session = await createGraphSession(graph.bytes, { threads: 1 });
  const run = async (outputs?: string[]) => session.run({ ...feedsFor(config, batch, weights, graph.trainable, posWeight), ...extra }, outputs);
  const analytic = await run();
  const rng = createRng(17);
  const eps = 1e-2;
  let checked = 0;
  const misses: string[] = [];
  for (const name of graph.trainable) {
    const grad = analytic[`grad.${name}`];
    const t = weights.get(name)!;
    assert.equal(grad.length, t.data.length, name);
    let top = 0;
    for (let i = 1; i < grad.length; i++) if (Math.abs(grad[i]) > Math.abs(grad[top])) top = i;
    for (const i of [top, Math.floor(rng() * grad.length)]) {
      const orig = t.data[i];
      t.data[i] = orig + eps;
      const up = (await run(['loss'])).loss[0];
      t.data[i] = orig - eps;
      const down = (await run(['loss'])).loss[0];
      t.data[i] = orig;
      const fd = (up - down) / (2 * eps);
      // float32 central differences carry ~1e-5 absolute noise at this loss scale.
      if (Math.abs(fd - grad[i]) > 2e-4 + 2e-2 * Math.abs(fd)) misses.push(`${name}[${i}] analytic ${grad[i]} vs fd ${fd}`);
      checked++;
    }
  }
  await session.release();
  return { misses, checked };
}

for (const loss of LOSSES) {
  test(`${loss.name}: every trainable tensor's gradient matches central finite differences on sampled coordinates`, async () => {
    const weights = tinyWeights(config);
    const graph = buildTrainingGraph(config, weights, { loss, frozenLayers: 0 });
    const { misses, checked } = await finiteDifferenceMisses(graph, weights);
    assert.deepEqual(misses, []);
    assert.equal(checked, graph.trainable.length * 2);
  });
}

test('dropout on: with a step\'s masks held, every gradient matches central finite differences', async () => {
  const weights = tinyWeights(config);
  const graph = buildTrainingGraph(config, weights, { loss: { name: 'bce' }, frozenLayers: 0, dropout: true });
  // embeddings, 3 per layer, pooler
  assert.equal(graph.dropoutSites.length, 1 + 3 * config.numLayers + 1);
  const masks = createDropoutMasks(graph.dropoutSites).feeds(0.3, 5, { batch: batch.rows, sequence: batch.seq });
  const { misses, checked } = await finiteDifferenceMisses(graph, weights, masks);
  assert.deepEqual(misses, []);
  assert.equal(checked, graph.trainable.length * 2);
});

test('dropout masks of all ones: the same loss and gradients as the graph without dropout', async () => {
  const weights = tinyWeights(config);
  const plain = buildTrainingGraph(config, weights, { loss: { name: 'bce' }, frozenLayers: 0 });
  const dropped = buildTrainingGraph(config, weights, { loss: { name: 'bce' }, frozenLayers: 0, dropout: true });
  const ones = Object.fromEntries(
    dropped.dropoutSites.map((s) => {
      const shape = s.shape.map((d) => (d === 'batch' ? batch.rows : d === 'sequence' ? batch.seq : Number(d)));
      return [s.name, { type: 'float32', data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1), dims: shape } as Feed];
    }),
  );
  const a = await createGraphSession(plain.bytes, { threads: 1 });
  const b = await createGraphSession(dropped.bytes, { threads: 1 });
  const ra = await a.run(feedsFor(config, batch, weights, plain.trainable, posWeight));
  const rb = await b.run({ ...feedsFor(config, batch, weights, dropped.trainable, posWeight), ...ones });
  assert.ok(Math.abs(ra.loss[0] - rb.loss[0]) <= 1e-6, `${ra.loss[0]} vs ${rb.loss[0]}`);
  for (const name of plain.trainable) {
    const d = Math.max(...ra[`grad.${name}`].map((v, i) => Math.abs(v - rb[`grad.${name}`][i])));
    assert.ok(d <= 1e-6, `${name}: max |Δ| ${d}`);
  }
  await a.release();
  await b.release();
});

test('frozen layers: the graph starts at hidden states and only the layers above get gradients', () => {
  const weights = tinyWeights(config);
  const graph = buildTrainingGraph(config, weights, { loss: { name: 'bce' }, frozenLayers: 1 });
  assert.ok(graph.inputs.includes('hidden_states'));
  assert.ok(!graph.inputs.includes('input_ids'));
  assert.ok(graph.trainable.length > 0);
  assert.ok(graph.trainable.every((n) => !n.startsWith('bert.embeddings.') && !n.startsWith('bert.encoder.layer.0.')), graph.trainable.join(','));
  assert.ok(graph.trainable.includes('bert.encoder.layer.1.output.dense.weight'));
  const full = buildTrainingGraph(config, weights, { loss: { name: 'bce' }, frozenLayers: 0 });
  assert.ok(graph.bytes.length < full.bytes.length, 'fewer nodes');
});

test('sigmoid-bce on saturated logits (σ is exactly 1 in float32 from ~17 on): PyTorch\'s clamped loss, and every gradient finite instead of NaN', async () => {
  const weights = tinyWeights(config);
  weights.get('classifier.bias')!.data.fill(40);
  const graph = buildTrainingGraph(config, weights, { loss: { name: 'sigmoid-bce' }, frozenLayers: 0 });
  const session = await createGraphSession(graph.bytes, { threads: 1 });
  try {
    const out = await session.run(feedsFor(config, batch, weights, graph.trainable, posWeight));
    // Every label-0 cell costs the floor, 100 (BCELoss clamps log at -100); label-1 cells cost ~0.
    const zeros = batch.labels.filter((v) => v === 0).length;
    assert.ok(Math.abs(out.loss[0] - (100 * zeros) / batch.labels.length) < 1e-3, `loss ${out.loss[0]}`);
    const nonFinite = graph.trainable.filter((n) => !out[`grad.${n}`].every(Number.isFinite));
    assert.deepEqual(nonFinite, []);
  } finally {
    await session.release();
  }
});

test('sigmoid-bce on a far negative logit with a positive label (onnxruntime\'s CPU σ is exactly 0 from ~−18): loss −z and a gradient, as PyTorch', async () => {
  const weights = tinyWeights(config);
  weights.get('classifier.bias')!.data.fill(-25);
  weights.get('classifier.weight')!.data.fill(0);
  const graph = buildTrainingGraph(config, weights, { loss: { name: 'sigmoid-bce' }, frozenLayers: 0 });
  const session = await createGraphSession(graph.bytes, { threads: 1 });
  try {
    const out = await session.run(feedsFor(config, batch, weights, graph.trainable, posWeight));
    // Every logit is −25: a label-1 cell costs softplus(25) ≈ 25 (not the floor's 100), a label-0 cell ≈ 0.
    const ones = batch.labels.filter((v) => v === 1).length;
    assert.ok(ones > 0);
    assert.ok(Math.abs(out.loss[0] - (25 * ones) / batch.labels.length) < 1e-3, `loss ${out.loss[0]}`);
    // d/db of the mean: −(1 − σ(−25)) ≈ −1 for each label-1 cell of that label's column, over all cells.
    const grad = out['grad.classifier.bias'];
    const width = grad.length;
    for (let j = 0; j < width; j++) {
      const positives = batch.labels.filter((v, i) => i % width === j && v === 1).length;
      assert.ok(Math.abs(grad[j] + positives / batch.labels.length) < 1e-5, `label ${j}: ${grad[j]}`);
    }
  } finally {
    await session.release();
  }
});
