import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseBertConfig } from '../../../../src/model/bert-config.ts';
import { buildBertOnnx } from '../../../../src/model/build/onnx-graph.ts';
import { INPUT_NAMES } from '../../../../src/model/onnx-names.ts';
import { createGraphSession, type Feed } from '../../../../src/model/runtime/graph-session.ts';
import { randomWeights } from '../../../../src/model/weights.ts';

test('a session with a profile prefix leaves onnxruntime\'s per-kernel trace of its runs when released, and none without one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'livetag-profile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = parseBertConfig({ vocabSize: 16, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 8, typeVocabSize: 2, numLabels: 2, layerNormEps: 1e-12 });
  const model = buildBertOnnx(config, randomWeights(config, 1));
  const dims = [1, 3];
  const values = [[1n, 5n, 2n], [1n, 1n, 1n], [0n, 0n, 0n]];
  const feeds: Record<string, Feed> = Object.fromEntries(INPUT_NAMES.map((n, i) => [n, { type: 'int64', data: BigInt64Array.from(values[i]), dims }]));

  const plain = await createGraphSession(model, { threads: 1 });
  await plain.run(feeds);
  await plain.release();
  assert.deepEqual(readdirSync(dir), []);

  const profiled = await createGraphSession(model, { threads: 1, profilePrefix: join(dir, 'step') });
  await profiled.run(feeds);
  await profiled.run(feeds);
  await profiled.release();
  await profiled.release();
  const files = readdirSync(dir);
  assert.equal(files.length, 1);
  assert.match(files[0], /^step.*\.json$/);
  const events = JSON.parse(readFileSync(join(dir, files[0]), 'utf8')) as { cat: string; name: string; args?: { op_name?: string } }[];
  assert.equal(events.filter((e) => e.cat === 'Session' && e.name === 'model_run').length, 2);
  assert.ok(events.some((e) => e.cat === 'Node' && e.args?.op_name === 'MatMul' && e.name.endsWith('_kernel_time')), 'kernel events carry their operator type');
});
