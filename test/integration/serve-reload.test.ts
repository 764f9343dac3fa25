import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../src/common/logger.ts';
import { loadServeConfig } from '../../src/consumer/config.ts';
import { announcePromotion } from '../../src/consumer/model-watcher.ts';
import { createKafkaClient } from '../../src/kafka/client.ts';
import { createStreamService } from '../../src/consumer/stream-service.ts';
import { DEFAULT_LABELS } from '../../src/model/labels.ts';
import { writeRandomBundle } from '../../src/model/build/random-bundle.ts';
import { createModelRegistry } from '../../src/model/registry/registry.ts';
import { tempDir } from '../helpers/shared.ts';
import { brokersFromEnv, testKafka, uniqueName, waitUntil } from './helpers/kafka.ts';
import { collector, serveEnv, serveTopics } from './helpers/serve.ts';

test('hot reload under continuous load: promote, rollback, and a corrupt bundle refused, nothing lost', { timeout: 300_000 }, async (t) => {
  const dir = tempDir();
  const registry = createModelRegistry(join(dir, 'registry'));
  await writeRandomBundle(join(dir, 'v1'), { shape: 'tiny', seed: 1, modelId: 'm' });
  // v2 adds a tag: output and metrics must follow the new label set.
  await writeRandomBundle(join(dir, 'v2'), { shape: 'tiny', seed: 2, modelId: 'm', labels: [...DEFAULT_LABELS, 'size_chart'] });
  await writeRandomBundle(join(dir, 'v3'), { shape: 'tiny', seed: 3, modelId: 'm' });
  const v1 = await registry.publish(join(dir, 'v1'));
  const v2 = await registry.publish(join(dir, 'v2'));
  await registry.promote(v1);

  const client = testKafka('serve-reload');
  // Announcements go through the service's own adapter, as `livetag models promote` sends them.
  const announcer = await createKafkaClient({ connection: { brokers: brokersFromEnv(), clientId: 'serve-reload-announcer' } });
  const topics = await serveTopics(t, client, 3);
  const modelTopic = uniqueName('models');
  t.after(() => import('../helpers/kafkajs.ts').then((k) => k.deleteTopics(client, [modelTopic])).catch(() => undefined));
  const logs: string[] = [];
  const env = serveEnv(topics, 'unused', { LIVETAG_REGISTRY: registry.root, LIVETAG_MODEL_TOPIC: modelTopic, LIVETAG_REGISTRY_POLL_MS: '0', LIVETAG_ALL_SCORES: 'true' });
  const svc = createStreamService(loadServeConfig({}, env), createLogger('info', {}, (l) => logs.push(l)));
  const out = await collector(client, [topics.output, topics.dlq]);
  const arrivals: { at: number; version: string; id: string; labels: number }[] = [];
  const seen = (): number => out.received.length;

  // Continuous load: about 200 messages a second until told to stop.
  const producer = client.producer();
  await producer.connect();
  let sending = true;
  let sent = 0;
  const load = (async () => {
    while (sending) {
      const messages = [];
      for (let i = 0; i < 10; i++, sent++) messages.push({ key: `room-${sent % 9}`, value: JSON.stringify({ text: `这个多少钱${sent}`, id: `m${sent}` }) });
      await producer.send({ topic: topics.input, messages });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const index = (): void => {
    for (let i = arrivals.length; i < out.received.length; i++) {
      const r = out.received[i];
      if (r.topic !== topics.output) continue;
      const m = JSON.parse(r.value!.toString('utf8'));
      arrivals.push({ at: Date.now(), version: m.model.version, id: m.id, labels: Object.keys(m.scores ?? {}).length });
    }
  };
  const versionSeen = async (v: string, what: string): Promise<void> =>
    waitUntil(() => (index(), arrivals.some((a) => a.version === v && arrivals.indexOf(a) > arrivals.length - 50)), 60_000, what);

  const gapAround = (from: number): number => {
    const during = arrivals.filter((a) => a.at >= from - 1000);
    let worst = 0;
    for (let i = 1; i < during.length; i++) worst = Math.max(worst, during[i].at - during[i - 1].at);
    return worst;
  };

  try {
    await svc.start();
    await waitUntil(() => seen() > 200, 60_000, 'outputs from v1');
    assert.equal(svc.modelVersion, v1);

    // 1. Promote v2 while the stream flows.
    let mark = Date.now();
    await registry.promote(v2);
    await announcePromotion(announcer, modelTopic, registry.root, v2);
    await versionSeen(v2, 'outputs from v2');
    await waitUntil(() => (index(), arrivals.filter((a) => a.at > mark).length > 300), 60_000, 'steady output after the swap');
    t.diagnostic(`promote: longest gap between two outputs around the swap ${gapAround(mark)} ms`);
    const logged = (msg: string, version: string): number => logs.findIndex((l) => l.includes(`"msg":"${msg}"`) && l.includes(version));
    assert.ok(logged('model warmed up', v2) >= 0 && logged('model warmed up', v2) < logged('model swapped', v2), 'the new model is warmed up before it is swapped in');

    // 2. Roll back to v1 the same way.
    mark = Date.now();
    assert.equal(await registry.rollback(), v1);
    await announcePromotion(announcer, modelTopic, registry.root, v1);
    await versionSeen(v1, 'outputs from v1 after rollback');
    await waitUntil(() => (index(), arrivals.filter((a) => a.at > mark).length > 300), 60_000, 'steady output after the rollback');
    t.diagnostic(`rollback: longest gap between two outputs around the swap ${gapAround(mark)} ms`);

    // 3. A bundle corrupted after promotion (a flipped byte) is refused; v1 keeps serving.
    const v3 = await registry.publish(join(dir, 'v3'));
    await registry.promote(v3);
    const onnx = join(registry.root, 'versions', v3, 'model.onnx');
    const bytes = await readFile(onnx);
    bytes[bytes.length >> 1] ^= 0x01;
    await writeFile(onnx, bytes);
    await announcePromotion(announcer, modelTopic, registry.root, v3);
    await waitUntil(() => logs.some((l) => l.includes('model reload refused')), 60_000, 'the refusal log');
    const failures = (await svc.metrics.reloadFailures.get()).values[0]?.value ?? 0;
    assert.equal(failures, 1);
    const metricsText = await svc.metrics.registry.metrics();
    assert.match(metricsText, /livetag_model_reload_failures_total 1/);
    const refusal = JSON.parse(logs.find((l) => l.includes('model reload refused'))!);
    assert.equal(refusal.version, v3);
    assert.match(refusal.error, /model\.onnx.*does not match/);
    mark = Date.now();
    await waitUntil(() => (index(), arrivals.filter((a) => a.at > mark).length > 200), 60_000, 'output after the refusal');
    assert.ok(arrivals.filter((a) => a.at > mark).every((a) => a.version === v1), 'v1 keeps serving');
    assert.equal(svc.modelVersion, v1);
  } finally {
    sending = false;
    await load;
    await producer.disconnect();
    try {
      await waitUntil(() => seen() >= sent, 60_000, `all ${sent} outputs`);
    } finally {
      await svc.stop();
      await out.stop();
    }
  }
  index();
  const dead = out.received.filter((r) => r.topic === topics.dlq);
  assert.equal(dead.length, 0, 'nothing dead-lettered because of a swap');
  const ids = new Set(arrivals.map((a) => a.id));
  for (let i = 0; i < sent; i++) assert.ok(ids.has(`m${i}`), `m${i} lost`);
  assert.ok(arrivals.some((a) => a.version === v2), 'v2 served');
  // Outputs carry the label set of the model that produced them.
  assert.ok(arrivals.filter((a) => a.version === v2).every((a) => a.labels === 14));
  assert.ok(arrivals.filter((a) => a.version === v1).every((a) => a.labels === 13));
  t.diagnostic(`${sent} messages, ${arrivals.length} outputs, versions served: ${[...new Set(arrivals.map((a) => a.version))].join(' → ')}`);
});
