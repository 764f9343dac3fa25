/**
 * A corrupt current model at pod start: the registry has two versions, the
 * current one's model.onnx is damaged on the shared volume. `livetag serve`
 * (the real CLI, as a pod runs it) does not crash-loop: it serves the newest
 * older version that verifies, sets livetag_model_fallback 1, logs an error
 * naming both versions, and tags with the older model.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeRandomBundle } from '../../../src/model/build/random-bundle.ts';
import { createModelRegistry } from '../../../src/model/registry/registry.ts';
import { tempDir } from '../../helpers/shared.ts';
import { testKafka, waitUntil } from '../helpers/kafka.ts';
import { collector, exited, serveEnv, serveTopics, spawnServe } from '../helpers/serve.ts';
import { eventually, httpGet, sample } from './helpers.ts';

test('corrupt current model at start: serve falls back to the older verified version, livetag_model_fallback 1, a loud log', { timeout: 180_000 }, async (t) => {
  const dir = tempDir('livetag-fallback-');
  const registry = createModelRegistry(join(dir, 'registry'));
  await writeRandomBundle(join(dir, 'v1'), { shape: 'tiny', seed: 1, modelId: 'm' });
  await writeRandomBundle(join(dir, 'v2'), { shape: 'tiny', seed: 2, modelId: 'm' });
  const v1 = await registry.publish(join(dir, 'v1'));
  const v2 = await registry.publish(join(dir, 'v2'));
  await registry.promote(v2);
  const onnx = join(registry.root, 'versions', v2, 'model.onnx');
  const size = fs.statSync(onnx).size;
  // Half the file overwritten with garbage, as a torn write on a shared volume leaves it.
  const fd = fs.openSync(onnx, 'r+');
  fs.writeSync(fd, Buffer.alloc(Math.floor(size / 2), 0x5a), 0, Math.floor(size / 2), Math.floor(size / 4));
  fs.closeSync(fd);

  const kafka = testKafka('model-fallback');
  const topics = await serveTopics(t, kafka, 1);
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: topics.input, messages: Array.from({ length: 20 }, (_, i) => ({ value: JSON.stringify({ id: `f${i}`, text: `how much is this ${i}` }) })) });
  await producer.disconnect();
  const out = await collector(kafka, [topics.output]);
  t.after(() => out.stop());

  const serve = spawnServe(t, serveEnv(topics, 'unused', { LIVETAG_REGISTRY: registry.root, LIVETAG_REGISTRY_POLL_MS: '0' }));
  await waitUntil(() => serve.logs.some((l) => l.includes('"msg":"serving"')) || serve.exitCode !== null, 90_000, 'serve to start');
  assert.equal(serve.exitCode, null, `serve exited instead of falling back:\n${serve.logs.slice(-15).join('\n')}`);
  const port = Number(/"http":(\d+)/.exec(serve.logs.find((l) => l.includes('"msg":"serving"'))!)?.[1]);

  const fallbackLogs = serve.logs.filter((l) => l.includes('the current model does not load'));
  assert.equal(fallbackLogs.length, 1, 'said once, at start');
  const log = JSON.parse(fallbackLogs[0]!) as Record<string, unknown>;
  assert.equal(log.level, 'error');
  assert.equal(log.current, v2);
  assert.equal(log.serving, v1);

  await eventually(async () => (await httpGet(port, '/readyz')).status === 200, 60_000, 'ready on the fallback model').catch(async (err: unknown) => {
    t.diagnostic(`port ${port}; /readyz: ${JSON.stringify(await httpGet(port, '/readyz').catch((e: unknown) => String(e)))}\n${serve.logs.slice(-12).join('\n')}`);
    throw err;
  });
  const metrics = (await httpGet(port, '/metrics')).body;
  assert.equal(sample(metrics, 'livetag_model_fallback'), 1);
  assert.equal(sample(metrics, 'livetag_model_info', `version="${v1}"`), 1, 'the older version serves');

  await out.until(20, 60_000, '20 tagged records');
  const versions = new Set(out.received.map((r) => (JSON.parse(r.value!.toString('utf8')) as { model: { version: string } }).model.version));
  assert.deepEqual([...versions], [v1], 'every record tagged by the fallback version');
  t.diagnostic(`current ${v2} corrupt (${Math.floor(size / 2)} of ${size} bytes overwritten): serving ${v1}, livetag_model_fallback 1, 20/20 tagged by ${v1}`);
  serve.kill('SIGTERM');
  assert.equal((await exited(serve)).code, 0);
});
