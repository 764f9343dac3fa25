import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTrainingGraph } from '../../../../src/model/build/training-graph.ts';
import { createGraphSession, TRAINING_SESSION } from '../../../../src/model/runtime/graph-session.ts';
import { ortSessionOptions } from '../../../../src/model/runtime/onnx-session.ts';
import { feedsFor, tinyBatch, tinyConfig, tinyWeights } from '../training-graph-helpers.ts';

test('training sessions turn onnxruntime\'s memory pattern off; other sessions keep its default', () => {
  assert.equal(ortSessionOptions(TRAINING_SESSION).enableMemPattern, false);
  assert.equal(ortSessionOptions({ ...TRAINING_SESSION, threads: 1, spinning: false }).enableMemPattern, false);
  assert.equal('enableMemPattern' in ortSessionOptions({}), false);
  assert.equal('enableMemPattern' in ortSessionOptions({ memoryPattern: true }), false);
  assert.ok(Object.isFrozen(TRAINING_SESSION));
});

test('a training graph gives the same bits with the memory pattern off as on, run after run at one shape', async () => {
  const config = tinyConfig();
  const weights = tinyWeights(config);
  const graph = buildTrainingGraph(config, weights, { loss: { name: 'bce' }, frozenLayers: 0 });
  // Two shapes, each met twice: onnxruntime plans a shape's memory pattern on its second run.
  const feeds = [tinyBatch(config, 3, 6), tinyBatch(config, 2, 9, 4)].map((b) => feedsFor(config, b, weights, graph.trainable));
  const outputs = async (opts: typeof TRAINING_SESSION) => {
    const session = await createGraphSession(graph.bytes, { ...opts, threads: 1 });
    const runs = [];
    for (const f of [...feeds, ...feeds]) runs.push(await session.run(f));
    await session.release();
    return runs;
  };
  const off = await outputs(TRAINING_SESSION);
  const on = await outputs({});
  assert.equal(off.length, 4);
  for (const [i, run] of off.entries()) {
    assert.ok(Object.keys(run).length > graph.trainable.length, 'loss, logits and a gradient per trainable tensor');
    for (const [name, data] of Object.entries(run)) assert.deepEqual(data, on[i][name], `run ${i}, ${name}`);
  }
  assert.deepEqual(off[2], off[0]);
});
