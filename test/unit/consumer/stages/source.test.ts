import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LivetagError } from '../../../../src/common/errors.ts';
import { createLogger } from '../../../../src/common/logger.ts';
import { createServeMetrics } from '../../../../src/consumer/metrics.ts';
import { createSource } from '../../../../src/consumer/stages/source.ts';
import type { ConsumerEvent, KafkaClient, KafkaConsumer, RecordBatch } from '../../../../src/kafka/port.ts';

test('drain between a crash and its restart (pausing throws, as kafkajs does then): it resolves, says why, and the restarted consumer takes no new work', async () => {
  let eachBatch: ((b: RecordBatch) => Promise<void>) | undefined;
  let listener: ((e: ConsumerEvent) => void) | undefined;
  const consumer: KafkaConsumer = {
    start: async (fn) => void (eachBatch = fn),
    on: (l) => ((listener = l), () => undefined),
    pause: () => {
      throw new Error('Consumer group was not initialized, consumer#run must be called first');
    },
    resume: () => {},
    stop: async () => {},
  };
  const client = { name: 'kafkajs', brokers: ['127.0.0.1:9'], consumer: () => consumer } as unknown as KafkaClient;
  const logs: string[] = [];
  const source = createSource({ client, groupId: 'g', topic: 'in', fromBeginning: true, concurrency: 1, chunkSize: 10, maxInFlight: 100, metrics: createServeMetrics(), logger: createLogger('warn', {}, (l) => logs.push(l)) });
  let processed = 0;
  await source.start({ process: async () => void processed++, deliver: async () => {} });
  listener!({ type: 'crashed', error: new Error('broker went away'), restarting: true });
  await source.drain();
  assert.ok(logs.some((l) => l.includes('could not pause the consumer')), logs.join('\n'));
  const record = { topic: 'in', partition: 0, offset: '0', key: null, value: Buffer.from('{"text":"x"}'), headers: {}, timestamp: '0' };
  await eachBatch!({ topic: 'in', partition: 0, records: [record], highWatermark: '1', lastOffset: '0', resolve: () => {}, commit: async () => {}, isCurrent: () => true, heartbeat: async () => {} });
  assert.equal(processed, 0, 'a batch after the drain began is left for redelivery');
  await source.stop();
});

test('a failed batch counts one error, though the adapter also reports it as a crash (itself or as the cause); an unrelated crash counts its own', async () => {
  let eachBatch: ((b: RecordBatch) => Promise<void>) | undefined;
  let listener: ((e: ConsumerEvent) => void) | undefined;
  const consumer: KafkaConsumer = { start: async (fn) => void (eachBatch = fn), on: (l) => ((listener = l), () => undefined), pause: () => {}, resume: () => {}, stop: async () => {} };
  const client = { name: 'kafkajs', brokers: ['127.0.0.1:9'], consumer: () => consumer } as unknown as KafkaClient;
  const metrics = createServeMetrics();
  const source = createSource({ client, groupId: 'g', topic: 'in', fromBeginning: true, concurrency: 1, chunkSize: 10, maxInFlight: 100, metrics, logger: createLogger('error', {}, () => {}) });
  const failure = new LivetagError('LT_KAFKA', 'produce refused', { retryable: true });
  await source.start({
    process: async () => {
      throw failure;
    },
    deliver: async () => {},
  });
  const record = { topic: 'in', partition: 0, offset: '0', key: null, value: Buffer.from('{"text":"x"}'), headers: {}, timestamp: '0' };
  const batch: RecordBatch = { topic: 'in', partition: 0, records: [record], highWatermark: '1', lastOffset: '0', resolve: () => {}, commit: async () => {}, isCurrent: () => true, heartbeat: async () => {} };
  const errorsCounted = async (): Promise<number> => (await metrics.errors.get()).values.reduce((n, v) => n + v.value, 0);

  await assert.rejects(eachBatch!(batch), failure);
  listener!({ type: 'crashed', error: failure, restarting: true }); // librdkafka: the batch's own error
  assert.equal(await errorsCounted(), 1);
  await assert.rejects(eachBatch!(batch), failure);
  // kafkajs: retries exhausted, the batch's error as the cause of a wrapper, wrapped again by the adapter.
  const exhausted = Object.assign(new Error('retries exceeded'), { cause: failure });
  listener!({ type: 'crashed', error: new LivetagError('LT_KAFKA', 'consumer crashed', { cause: exhausted }), restarting: true });
  assert.equal(await errorsCounted(), 2, 'two failed batches, no echo');
  listener!({ type: 'crashed', error: new LivetagError('LT_KAFKA', 'broker went away'), restarting: true });
  assert.equal(await errorsCounted(), 3, 'a crash of its own counts');
  await source.stop();
});
