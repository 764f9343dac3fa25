import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LivetagError, isLivetagError } from '../../../src/common/errors.ts';
import { DEAD_LETTER_MAX_ENVELOPE_BYTES, deadLetter, type OutRecord } from '../../../src/consumer/output-record.ts';
import { describeDeadLetter, readToEnd } from '../../../src/dlq/dead-letters.ts';
import type { ConsumedRecord, ConsumerEvent, KafkaClient, KafkaConsumer } from '../../../src/kafka/port.ts';

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

test('a dead letter whose original key or headers were left out counts as an incomplete copy, like a cut value: replay skips it', () => {
  const consumed = (headers: ConsumedRecord['headers']): ConsumedRecord => ({ topic: 'in', partition: 0, offset: '1', key: null, value: Buffer.from('{}'), headers, timestamp: '1' });
  const whole = deadLetter(consumed({ a: 'b' }), 'dlq', 'LT_MSG_INVALID', 'bad');
  const heavy = deadLetter(consumed({ a: 'x'.repeat(DEAD_LETTER_MAX_ENVELOPE_BYTES + 1) }), 'dlq', 'LT_MSG_INVALID', 'bad');
  const asRead = (o: OutRecord): ConsumedRecord => ({ topic: 'dlq', partition: 0, offset: '0', key: o.key as Buffer | null, value: o.value as Buffer, headers: o.headers, timestamp: '1' });
  assert.deepEqual(describeDeadLetter(asRead(whole)), { code: 'LT_MSG_INVALID', sourceTopic: 'in', truncated: false });
  assert.deepEqual(describeDeadLetter(asRead(heavy)), { code: 'LT_MSG_INVALID', sourceTopic: 'in', truncated: true });
});
