import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LivetagError, isLivetagError } from '../../../src/common/errors.ts';
import { readToEnd } from '../../../src/dlq/dead-letters.ts';
import type { ConsumerEvent, KafkaClient, KafkaConsumer } from '../../../src/kafka/port.ts';

test('a dead-letter read whose consumer crashes for good rejects with that error at once, instead of waiting out the idle time as if complete: false', async () => {
  let listener: ((e: ConsumerEvent) => void) | undefined;
  let stopped = 0;
  const consumer: KafkaConsumer = {
    start: async () => {
      setTimeout(() => listener?.({ type: 'crashed', error: new LivetagError('LT_KAFKA_DENIED', 'group livetag-dlq: not authorized'), restarting: false }), 20);
    },
    on: (l) => ((listener = l), () => undefined),
    pause: () => {},
    resume: () => {},
    stop: async () => void stopped++,
  };
  const admin = { watermarks: async () => [{ partition: 0, low: '0', high: '5' }], committedOffsets: async () => [], setCommittedOffsets: async () => {}, deleteGroups: async () => {} };
  const client = { name: 'kafkajs', brokers: ['127.0.0.1:9'], consumer: () => consumer, admin } as unknown as KafkaClient;
  const t0 = Date.now();
  await assert.rejects(
    readToEnd({ client, topic: 'dlq', readerGroup: 'g', idleTimeoutMs: 30_000 }, async () => {}),
    (err: unknown) => isLivetagError(err, 'LT_KAFKA_DENIED'),
  );
  assert.ok(Date.now() - t0 < 5_000, `rejected after ${Date.now() - t0} ms`);
  assert.equal(stopped, 1, 'the consumer is stopped');
});
