import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { createLogger } from '../../../../src/common/logger.ts';
import { createServeMetrics } from '../../../../src/consumer/metrics.ts';
import { createModelHost } from '../../../../src/consumer/stages/model-host.ts';
import type { KafkaClient } from '../../../../src/kafka/port.ts';
import { writeRandomBundle } from '../../../../src/model/build/random-bundle.ts';
import { createModelRegistry } from '../../../../src/model/registry/registry.ts';
import type { Classifier } from '../../../../src/model/runtime/classifier.ts';
import { tempDir } from '../../../helpers/shared.ts';

test('a reload whose swap throws rejects alone: the next reload runs, and stop() still resolves', async () => {
  const dir = tempDir();
  const registry = createModelRegistry(join(dir, 'registry'));
  await writeRandomBundle(join(dir, 'a'), { shape: 'tiny', seed: 1 });
  await writeRandomBundle(join(dir, 'b'), { shape: 'tiny', seed: 2 });
  const ia = await registry.publish(join(dir, 'a'));
  const ib = await registry.publish(join(dir, 'b'));
  await registry.promote(ia);
  const logs: string[] = [];
  const host = createModelHost({
    model: { path: '', device: 'cpu', deviceId: 0, threads: 1, sessions: 1, variant: 'auto', spinning: true },
    registry: { root: join(dir, 'registry'), topic: 'unused', pollMs: 0 },
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
