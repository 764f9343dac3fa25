import assert from 'node:assert/strict';
import { test } from 'node:test';
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
