import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../../../src/common/logger.ts';
import { createServeMetrics } from '../../../../src/consumer/metrics.ts';
import { createModelHost } from '../../../../src/consumer/stages/model-host.ts';
import type { KafkaClient } from '../../../../src/kafka/port.ts';
import { writeRandomBundle } from '../../../../src/model/build/random-bundle.ts';
import { createModelRegistry } from '../../../../src/model/registry/registry.ts';
import type { Classifier } from '../../../../src/model/runtime/classifier.ts';
import { tempDir } from '../../../helpers/shared.ts';

/** A registry holding two tiny versions, the first promoted. */
async function twoVersions(): Promise<{ root: string; registry: ReturnType<typeof createModelRegistry>; ia: string; ib: string }> {
  const dir = tempDir();
  const root = join(dir, 'registry');
  const registry = createModelRegistry(root);
  await writeRandomBundle(join(dir, 'a'), { shape: 'tiny', seed: 1 });
  await writeRandomBundle(join(dir, 'b'), { shape: 'tiny', seed: 2 });
  const ia = await registry.publish(join(dir, 'a'));
  const ib = await registry.publish(join(dir, 'b'));
  await registry.promote(ia);
  return { root, registry, ia, ib };
}

/** A host on `root` that warms each model 400 ms: long enough to keep a reload in flight. */
function slowHost(root: string): ReturnType<typeof createModelHost> {
  return createModelHost({
    model: { path: '', device: 'cpu', deviceId: 0, threads: 1, sessions: 1, variant: 'auto', spinning: false },
    registry: { root, topic: 'unused', pollMs: 0 },
    warmup: { ms: 400, batchSize: 4 },
    metrics: createServeMetrics(),
    logger: createLogger('error', {}, () => {}),
  });
}

test('a reload whose swap throws rejects alone: the next reload runs, and stop() still resolves', async () => {
  const { root, ia, ib } = await twoVersions();
  const logs: string[] = [];
  const host = createModelHost({
    model: { path: '', device: 'cpu', deviceId: 0, threads: 1, sessions: 1, variant: 'auto', spinning: true },
    registry: { root, topic: 'unused', pollMs: 0 },
    warmup: { ms: 0, batchSize: 4 },
    metrics: createServeMetrics(),
    logger: createLogger('error', {}, (l) => logs.push(l)),
  });
  let serving: Classifier = await host.load();
  assert.equal(serving.manifest.version, ia);
  let swaps = 0;
  // No client: the watcher neither polls (pollMs 0) nor reads announcements; reloads are asked for directly.
  await host.watch(undefined as unknown as KafkaClient, () => serving, async (next) => {
    if (++swaps === 1) {
      await next.stop();
      throw new Error('swap failed');
    }
    const old = serving;
    serving = next;
    return old;
  });
  try {
    await assert.rejects(host.reload(ib), /swap failed/);
    assert.equal(await host.reload(ib), true, 'the failed reload does not fail the ones after it');
    assert.equal(serving.manifest.version, ib);
    assert.equal((await serving.classify(['M码还有吗'])).length, 1);
  } finally {
    await host.stop();
    await serving.stop();
  }
});

test('a rollback announced while a promotion still loads is not dropped: the replica ends on the rolled-back version', async () => {
  const { root, registry, ia, ib } = await twoVersions();
  // Its 400 ms warm-up keeps the promotion loading while the rollback is announced.
  const host = slowHost(root);
  let serving: Classifier = await host.load();
  let handler: ((batch: unknown) => Promise<void>) | undefined;
  const client = {
    admin: { ensureTopics: async () => [] },
    consumer: () => ({ start: async (h: (batch: unknown) => Promise<void>) => void (handler = h), on: () => () => undefined, stop: async () => {} }),
  } as unknown as KafkaClient;
  await host.watch(client, () => serving, async (next) => {
    const old = serving;
    serving = next;
    return old;
  });
  const announce = (): Promise<void> => handler!({ topic: 'unused', partition: 0, records: [{ value: Buffer.from(JSON.stringify({ current: 'x' })), offset: '0' }], resolve: () => {}, lastOffset: '0' });
  try {
    await registry.promote(ib);
    await announce();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await registry.rollback(), ia);
    await announce();
    // The promotion lands first (it was loading), then the queued rollback swaps back.
    const deadline = Date.now() + 15_000;
    let sawB = false;
    while (Date.now() < deadline && !(sawB && serving.manifest.version === ia)) {
      sawB ||= serving.manifest.version === ib;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(sawB, 'the promotion was loading when the rollback came');
    assert.equal(serving.manifest.version, ia, 'serving what the registry says');
  } finally {
    await host.stop();
    await serving.stop();
  }
});

test('a refused version is tried again with backoff, and serves once it loads (a bundle still syncing onto the volume)', async () => {
  const { root, registry, ia, ib } = await twoVersions();
  const metrics = createServeMetrics();
  const host = createModelHost({
    model: { path: '', device: 'cpu', deviceId: 0, threads: 1, sessions: 1, variant: 'auto', spinning: false },
    registry: { root, topic: 'unused', pollMs: 10 },
    warmup: { ms: 0, batchSize: 4 },
    metrics,
    logger: createLogger('error', {}, () => {}),
    retryRefused: { baseMs: 150, maxMs: 400 },
  });
  let serving: Classifier = await host.load();
  // Promotion verifies the bundle, so it is damaged after: as a volume that has not caught up yet.
  await registry.promote(ib);
  const onnx = join(await registry.path(ib), 'model.onnx');
  const good = readFileSync(onnx);
  writeFileSync(onnx, good.subarray(0, good.length - 7));
  const failures = async (): Promise<number> => (await metrics.reloadFailures.get()).values[0]?.value ?? 0;
  try {
    await host.watch(undefined as unknown as KafkaClient, () => serving, async (next) => {
      const old = serving;
      serving = next;
      return old;
    });
    // Polled every 10 ms for 600 ms: backoff 150, 300, 400 ms allows 3 tries, not 60.
    await new Promise((r) => setTimeout(r, 600));
    const tries = await failures();
    assert.ok(tries >= 2 && tries <= 4, `tried ${tries} times in 600 ms`);
    assert.equal(serving.manifest.version, ia, 'the old model keeps serving meanwhile');
    writeFileSync(onnx, good);
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && serving.manifest.version !== ib) await new Promise((r) => setTimeout(r, 20));
    assert.equal(serving.manifest.version, ib, 'the repaired version serves without a restart or a new promotion');
  } finally {
    await host.stop();
    await serving.stop();
  }
});

test('stop() during a reload: the loaded model is not swapped in, it is stopped, and stop() waits for it', async () => {
  const { root, ia, ib } = await twoVersions();
  // Its 400 ms warm-up keeps the reload in flight while the service stops.
  const host = slowHost(root);
  const serving: Classifier = await host.load();
  let swaps = 0;
  await host.watch(undefined as unknown as KafkaClient, () => serving, async () => {
    swaps++;
    return serving;
  });
  try {
    const reloaded = host.reload(ib);
    await new Promise((r) => setTimeout(r, 100));
    await host.stop();
    assert.equal(await reloaded, false, 'the reload gave up');
    assert.equal(swaps, 0, 'nothing swapped in during the shutdown');
    assert.equal(serving.manifest.version, ia);
  } finally {
    await serving.stop();
  }
});
