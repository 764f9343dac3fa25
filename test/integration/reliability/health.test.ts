/**
 * Health tells the truth, on a real broker:
 * - readiness follows the broker (killed → /readyz 503 and livetag_ready 0,
 *   back → ready) while liveness stays 200, on each adapter;
 * - a consumer that crashed for good (a non-retriable group error: another
 *   client joined the group with a protocol kafkajs does not share) fails
 *   liveness and readiness, logs the cause once, and its lag keeps growing
 *   on the monitor's own timer although nothing is consumed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { createLocalBroker } from '../../../src/dev/local-broker.ts';
import { testKafka } from '../helpers/kafka.ts';
import { serveEnv, serveTopics, tinyBundle } from '../helpers/serve.ts';
import { ADAPTERS, bounded, eventually, squatGroup, httpGet, inProcessService, portClientOrSkip, sample } from './helpers.ts';

const NO_BROKER = process.env.LIVETAG_TEST_NO_LOCAL_BROKER === '1' && 'LIVETAG_TEST_NO_LOCAL_BROKER=1';

async function probes(port: number): Promise<{ live: number; ready: number; gauge: number | undefined }> {
  const [live, ready, metrics] = await Promise.all([httpGet(port, '/healthz'), httpGet(port, '/readyz'), httpGet(port, '/metrics')]);
  return { live: live.status, ready: ready.status, gauge: sample(metrics.body, 'livetag_ready') };
}

describe('readiness follows the broker; liveness does not', { skip: NO_BROKER }, async () => {
  for (const adapter of ADAPTERS) {
    test(`${adapter}: broker SIGKILLed → not ready, livetag_ready 0, still live; restarted → ready`, { timeout: 180_000 }, async (t) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'livetag-health-'));
      const broker = createLocalBroker({ dir, logger: { info: () => {}, warn: (m) => t.diagnostic(`broker: ${m}`) } });
      const removeBroker = async () => {
        await broker.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      };
      await broker.start();
      const client = await portClientOrSkip(adapter, broker.brokers);
      if (typeof client === 'string') {
        await removeBroker();
        return t.skip(client);
      }
      // The broker and its data go with the test, so no per-topic cleanup; the
      // service stops (after hooks run in order) before the broker does.
      const topics = await serveTopics(t, testKafka('health', broker.brokers), 1).catch(async (err: unknown) => {
        await removeBroker();
        throw err;
      });
      const env = { ...serveEnv(topics, await tinyBundle()), LIVETAG_KAFKA_BROKERS: broker.brokers, LIVETAG_KAFKA_CLIENT: adapter, LIVETAG_HEALTH_INTERVAL_MS: '500' };
      const svc = inProcessService(t, env);
      t.after(removeBroker);
      await svc.start();
      const healthy = async () => JSON.stringify(await probes(svc.httpPort)) === JSON.stringify({ live: 200, ready: 200, gauge: 1 });
      await eventually(healthy, 30_000, 'ready before the fault').catch((err: unknown) => {
        t.diagnostic(`service log:\n${svc.logs.slice(-15).join('\n')}`);
        throw err;
      });
      // Steady, not flapping: ready on ten probes over the next two seconds.
      for (let i = 0; i < 10; i++, await new Promise((r) => setTimeout(r, 200))) assert.ok(await healthy(), `still ready at probe ${i}`);

      const killedAt = Date.now();
      await broker.kill();
      await eventually(async () => (await probes(svc.httpPort)).ready === 503, 30_000, '/readyz 503 with the broker gone');
      const down = await probes(svc.httpPort);
      t.diagnostic(`${adapter}: not ready ${Date.now() - killedAt} ms after SIGKILL; probes ${JSON.stringify(down)}`);
      assert.equal(down.live, 200, 'liveness does not depend on the broker');
      await eventually(async () => (await probes(svc.httpPort)).gauge === 0, 10_000, 'livetag_ready 0');

      const restartAt = Date.now();
      await broker.restart();
      await eventually(async () => (await probes(svc.httpPort)).ready === 200, 120_000, 'ready again after the restart');
      await eventually(async () => (await probes(svc.httpPort)).gauge === 1, 10_000, 'livetag_ready 1 again');
      t.diagnostic(`${adapter}: ready ${Date.now() - restartAt} ms after the broker restart began`);
      assert.equal((await probes(svc.httpPort)).live, 200);
    });
  }
});

test('kafkajs: a consumer crashed for good fails liveness, logs the cause once, and its lag keeps growing', { timeout: 120_000 }, async (t) => {
  const kafka = testKafka('health-crash');
  const topics = await serveTopics(t, kafka, 2);
  await squatGroup(t, kafka, topics.group, topics.input);

  const producer = kafka.producer();
  await producer.connect();
  t.after(() => bounded(producer.disconnect(), 20_000, () => 'the producer\'s disconnect'));
  const produce = (n: number) => producer.send({ topic: topics.input, messages: Array.from({ length: n }, (_, i) => ({ value: JSON.stringify({ text: `comment ${i}` }) })) });
  await produce(100);

  const svc = inProcessService(t, { ...serveEnv(topics, await tinyBundle()), LIVETAG_HEALTH_INTERVAL_MS: '500' });
  await svc.start().catch((err: unknown) => t.diagnostic(`start: ${(err as Error).message}`));
  await eventually(async () => (await probes(svc.httpPort)).live === 503, 60_000, '/healthz 503 after the crash');
  const after = await probes(svc.httpPort);
  assert.equal(after.ready, 503);
  assert.equal(after.gauge, 0);
  const crashLogs = svc.logs.filter((l) => l.includes('will not restart'));
  assert.equal(crashLogs.length, 1, 'the cause is logged once');
  assert.match(crashLogs[0], /protocol|INCONSISTENT/i);

  const lag = async () => {
    const body = (await httpGet(svc.httpPort, '/metrics')).body;
    return [0, 1].reduce((s, p) => s + (sample(body, 'livetag_consumer_lag', `partition="${p}"`) ?? 0), 0);
  };
  await eventually(async () => (await lag()) === 100, 10_000, 'lag 100 measured while nothing is consumed');
  await produce(150);
  await eventually(async () => (await lag()) === 250, 10_000, 'lag grows to 250 with no publish at all');
  t.diagnostic(`stalled service: lag 100 → 250 on the monitor's timer, /healthz 503, /readyz 503, livetag_ready 0`);
});
