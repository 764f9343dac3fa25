import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createServeMetrics } from '../../../src/consumer/metrics.ts';
import { createModelHost } from '../../../src/consumer/stages/model-host.ts';
import { warmUp } from '../../../src/consumer/warm-up.ts';
import { createLogger } from '../../../src/common/logger.ts';
import { writeRandomBundle } from '../../../src/model/build/random-bundle.ts';
import { createClassifier, type Classifier } from '../../../src/model/runtime/classifier.ts';
import { tempDir } from '../../helpers/shared.ts';

const bundle = join(tempDir(), 'tiny');
const ready = writeRandomBundle(bundle, { shape: 'tiny', seed: 7 });

/** The real classifier, with each classify call's batch size and the calls in flight recorded. */
function watched(c: Classifier): { classifier: Classifier; sizes: number[]; mostAtOnce: () => number } {
  const sizes: number[] = [];
  let inFlight = 0;
  let most = 0;
  const classifier: Classifier = {
    ...c,
    parallelism: 2,
    async classify(texts, opts) {
      sizes.push(texts.length);
      most = Math.max(most, ++inFlight);
      try {
        return await c.classify(texts, opts);
      } finally {
        inFlight--;
      }
    },
  };
  return { classifier, sizes, mostAtOnce: () => most };
}

test('warm-up runs batches for its time budget, sizes stepping down from the serving batch, as many at once as the model has sessions', async () => {
  await ready;
  const real = await createClassifier({ bundle, worker: false, threads: 1 });
  try {
    const long = watched(real);
    // A budget long enough for three rounds even when the test process stalls for a few hundred ms.
    const r = await warmUp(long.classifier, { ms: 1000, batchSize: 8 });
    assert.ok(r.ms >= 1000, `ran ${r.ms} ms`);
    assert.ok(r.batches > 2 && r.batches % 2 === 0, `whole rounds of two: ${r.batches}`);
    assert.deepEqual(long.sizes.slice(0, 6), [8, 4, 2, 1, 8, 4]);
    assert.equal(long.sizes.length, r.batches);
    assert.equal(r.texts, long.sizes.reduce((a, b) => a + b, 0));
    assert.equal(long.mostAtOnce(), 2);
    assert.equal(r.cancelled, false, 'ended by its budget');

    const short = watched(real);
    assert.equal((await warmUp(short.classifier, { ms: 0.001, batchSize: 8 })).batches, 2, 'any budget warms every session once');
    assert.deepEqual(short.sizes, [8, 4]);

    const none = watched(real);
    assert.deepEqual(await warmUp(none.classifier, { ms: 0, batchSize: 8 }).then((x) => [x.batches, x.texts]), [0, 0]);
    assert.deepEqual(none.sizes, []);
  } finally {
    await real.stop();
  }
});

test('the model host warms a model up before load() hands it over, and not at all with a budget of 0', async () => {
  await ready;
  for (const ms of [50, 0]) {
    const logs: string[] = [];
    const host = createModelHost({
      model: { path: bundle, device: 'cpu', deviceId: 0, threads: 1, sessions: 1, variant: 'auto', spinning: true },
      registry: undefined,
      warmup: { ms, batchSize: 4 },
      metrics: createServeMetrics(),
      logger: createLogger('info', {}, (l) => logs.push(l)),
    });
    const classifier = await host.load();
    try {
      const warmed = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'model warmed up');
      if (ms === 0) assert.deepEqual(warmed, []);
      else {
        assert.equal(warmed.length, 1);
        assert.equal(warmed[0].version, classifier.manifest.version);
        assert.ok(Number(warmed[0].batches) >= 1 && Number(warmed[0].texts) >= 4 && Number(warmed[0].ms) >= 50, JSON.stringify(warmed[0]));
        assert.ok(logs.findIndex((l) => l.includes('"model warmed up"')) < logs.findIndex((l) => l.includes('"model loaded"')), 'warmed before it is reported loaded');
      }
      assert.equal((await classifier.classify(['M码还有吗'])).length, 1);
    } finally {
      await host.stop();
      await classifier.stop();
    }
  }
});

test('a stop during the warm-up ends it at the next round: the model host stopped mid-load returns within a round, not the budget', async () => {
  await ready;
  const real = await createClassifier({ bundle, worker: false, threads: 1 });
  try {
    const w = watched(real);
    let rounds = 0;
    const r = await warmUp(w.classifier, { ms: 60_000, batchSize: 8, cancelled: () => ++rounds > 3 });
    assert.equal(r.batches, 6, 'three rounds of two, then the cancel was seen');
    assert.equal(r.cancelled, true);
    const before = watched(real);
    assert.equal((await warmUp(before.classifier, { ms: 60_000, batchSize: 8, cancelled: () => true })).batches, 0, 'cancelled before the first round: none');
  } finally {
    await real.stop();
  }

  const logs: string[] = [];
  const host = createModelHost({
    model: { path: bundle, device: 'cpu', deviceId: 0, threads: 1, sessions: 1, variant: 'auto', spinning: true },
    registry: undefined,
    warmup: { ms: 60_000, batchSize: 4 },
    metrics: createServeMetrics(),
    logger: createLogger('info', {}, (l) => logs.push(l)),
  });
  const t0 = performance.now();
  const loading = host.load();
  // The load has begun (loading, or in its minute of warm-up); a stop now cuts the warm-up short.
  await new Promise((r) => setTimeout(r, 300));
  await host.stop();
  const classifier = await loading;
  await classifier.stop();
  const took = performance.now() - t0;
  assert.ok(took < 20_000, `load returned ${Math.round(took)} ms after it began, against a 60 s warm-up`);
  const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>);
  const cancelled = lines.find((l) => l.msg === 'model warm-up cancelled: the service is stopping');
  assert.ok(cancelled && Number(cancelled.ms) < 20_000, JSON.stringify(logs));
  assert.ok(!lines.some((l) => l.msg === 'model warmed up'), 'a cut warm-up is not reported as done');
});
