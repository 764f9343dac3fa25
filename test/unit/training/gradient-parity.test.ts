/**
 * The onnxruntime training graph against the independent oracle: TensorFlow.js
 * differentiating the same BERT (src/training/tf-bert.ts) with its own autodiff.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GRAD_SUMSQ_OUTPUT } from '../../../src/model/build/autodiff/tape.ts';
import { buildTrainingGraph, type TrainingLoss } from '../../../src/model/build/training-graph.ts';
import { createGraphSession } from '../../../src/model/runtime/graph-session.ts';
import { isLinearWeight } from '../../../src/training/tf-bert.ts';
import { computeLoss, type LossOptions } from '../../../src/training/losses.ts';
import { initTfBackend, tf } from '../../../src/training/tf-backend.ts';
import { createTfBert } from '../../../src/training/tf-bert.ts';
import { feedsFor, tinyBatch, tinyConfig, tinyWeights } from '../model/training-graph-helpers.ts';

const config = tinyConfig();
const batch = tinyBatch(config, 4, 7);

function tfInput() {
  const dims: [number, number] = [batch.rows, batch.seq];
  return {
    kind: 'ids' as const,
    ids: tf.tensor2d(Int32Array.from(batch.ids, Number), dims, 'int32'),
    typeIds: tf.tensor2d(Int32Array.from(batch.types, Number), dims, 'int32'),
    mask: tf.tensor2d(Float32Array.from(batch.mask, Number), dims),
  };
}

/** tfjs keeps Linear weights as [in, out]; the graph's gradients are in the canonical [out, in]. */
function canonical(name: string, shape: readonly number[], data: Float32Array): Float32Array {
  if (!isLinearWeight(name, shape)) return data;
  const [outDim, inDim] = shape;
  const out = new Float32Array(data.length);
  for (let i = 0; i < inDim; i++) for (let o = 0; o < outDim; o++) out[o * inDim + i] = data[i * outDim + o];
  return out;
}

const CASES: Array<{ graph: TrainingLoss; tf: LossOptions }> = [
  { graph: { name: 'bce' }, tf: { name: 'bce', posWeight: [1, 1.5, 2, 2.5, 3] } },
  { graph: { name: 'sigmoid-bce' }, tf: { name: 'sigmoid-bce' } },
  { graph: { name: 'focal', gamma: 2 }, tf: { name: 'focal', gamma: 2 } },
  { graph: { name: 'asl', gammaNeg: 4, gammaPos: 0, clip: 0.05 }, tf: { name: 'asl' } },
];

for (const c of CASES) {
  test(`${c.graph.name}: onnxruntime gradients match tfjs for every trainable tensor (relative L2 ≤ 1e-3)`, async () => {
    await initTfBackend('cpu');
    const weights = tinyWeights(config);
    const graph = buildTrainingGraph(config, weights, { loss: c.graph, frozenLayers: 0 });
    const session = await createGraphSession(graph.bytes, { threads: 1 });
    const posWeight = Float32Array.from(c.tf.posWeight ?? new Array(config.numLabels).fill(1));
    const ort = await session.run(feedsFor(config, batch, weights, graph.trainable, posWeight));
    await session.release();

    const model = createTfBert(config, weights);
    const input = tfInput();
    const y = tf.tensor2d(batch.labels, [batch.rows, config.numLabels]);
    const { value, grads } = tf.variableGrads(() => computeLoss(model.logits(input), y, c.tf), [...model.variables.values()]);
    const tfLoss = value.dataSync()[0];
    assert.ok(Math.abs(tfLoss - ort.loss[0]) <= 1e-5 * Math.max(1, Math.abs(tfLoss)), `loss ${ort.loss[0]} vs tfjs ${tfLoss}`);
    const byVariable = new Map([...model.variables].map(([name, v]) => [v.name, name]));
    const pairs = Object.entries(grads).map(([id, g]) => {
      const name = byVariable.get(id)!;
      return { name, expected: canonical(name, weights.get(name)!.shape, g.dataSync() as Float32Array), got: ort[`grad.${name}`] };
    });
    const l2 = (a: ArrayLike<number>, b?: ArrayLike<number>): number => Math.sqrt(Array.from(a).reduce((s, v, i) => s + (v - (b?.[i] ?? 0)) ** 2, 0));
    // The key bias shifts every score of a row equally, which softmax ignores:
    // its true gradient is zero and both runtimes return rounding noise there.
    // Such tensors are judged against the model's gradient scale instead.
    const floor = 1e-4 * Math.max(...pairs.map((p) => l2(p.expected)));
    const off: string[] = [];
    for (const { name, expected, got } of pairs) {
      const rel = l2(got, expected) / Math.max(l2(expected), floor);
      if (rel > 1e-3) off.push(`${name}: ${rel.toExponential(2)} (|g| ${l2(expected).toExponential(2)})`);
    }
    assert.equal(Object.keys(grads).length, graph.trainable.length, 'the same trainable tensors');
    assert.deepEqual(off, []);
    // The graph's Σg², which the optimizer's clipping reads instead of a JS pass, is the tfjs gradients' squared norm.
    const sumsq = pairs.reduce((s, p) => s + l2(p.expected) ** 2, 0);
    const graphSumsq = ort[GRAD_SUMSQ_OUTPUT][0];
    assert.ok(Math.abs(graphSumsq - sumsq) <= 1e-4 * sumsq, `Σg² ${graphSumsq} vs tfjs ${sumsq}`);
    tf.dispose([value, y, input.ids, input.typeIds, input.mask, ...Object.values(grads)]);
    model.dispose();
  });
}
