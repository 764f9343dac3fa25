import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from '../../../../src/common/logger.ts';
import { createServeMetrics } from '../../../../src/consumer/metrics.ts';
import type { OutRecord } from '../../../../src/consumer/output-record.ts';
import { createCommitter } from '../../../../src/consumer/stages/committer.ts';
import { createPublisher } from '../../../../src/consumer/stages/publisher.ts';
import type { KafkaClient, KafkaProducer, KafkaTransaction, RecordBatch } from '../../../../src/kafka/port.ts';

/** Warnings and errors with their fields, as the service's logger would print them. */
function recordingLogger(lines: string[]): Logger {
  const line = (msg: string, fields?: Record<string, unknown>) => void lines.push(`${msg} ${JSON.stringify(fields ?? {})}`);
  const logger: Logger = { debug: () => {}, info: () => {}, warn: line, error: line, child: () => logger };
  return logger;
}

/** A client whose transactions commit only after `commitMs`: the shape of a library call that hangs. */
function slowCommitClient(commitMs: number, calls: string[]): KafkaClient {
  const transaction = async (): Promise<KafkaTransaction> => ({
    send: async () => void calls.push('send'),
    sendOffsets: async () => void calls.push('sendOffsets'),
    commit: () => new Promise<void>((r) => setTimeout(() => (calls.push('commit'), r()), commitMs)),
    abort: async () => void calls.push('abort'),
  });
  const producer: KafkaProducer = { start: async () => {}, send: async () => {}, transaction, stop: async () => {} };
  return { name: 'kafkajs', brokers: ['127.0.0.1:9'], producer: () => producer } as unknown as KafkaClient;
}

const batch: RecordBatch = {
  topic: 'in',
  partition: 3,
  records: [],
  highWatermark: '10',
  lastOffset: '9',
  resolve: () => {},
  commit: async () => {},
  isCurrent: () => true,
  heartbeat: async () => {},
};
const out: OutRecord = { topic: 'out', key: null, value: '{}', headers: {}, kind: 'tags', producedAt: Date.now() };

test('a Kafka call that runs past slowCallMs is logged by name and position, repeatedly, and the chunk still completes', async () => {
  const lines: string[] = [];
  const calls: string[] = [];
  const publisher = createPublisher({
    client: slowCommitClient(230, calls),
    delivery: 'exactly-once',
    transactionalId: 'txn',
    groupId: 'g',
    committer: createCommitter(),
    metrics: createServeMetrics(),
    logger: recordingLogger(lines),
    slowCallMs: 50,
  });
  await publisher.start();
  await publisher.deliver([out], { batch, lastOffset: '9', nextOffset: '10' });
  assert.deepEqual(calls, ['send', 'sendOffsets', 'commit']);
  const slow = lines.filter((l) => l.startsWith('Kafka call still running: committing a transaction '));
  assert.ok(slow.length >= 3 && slow.length <= 5, `logged ${slow.length} times in 230 ms at 50 ms: ${JSON.stringify(lines)}`);
  assert.deepEqual(JSON.parse(slow[0].slice(slow[0].indexOf('{'))), { topic: 'in', partition: 3, nextOffset: '10', seconds: 0 });
  assert.ok(!lines.some((l) => /sending/.test(l)), 'the quick calls are not reported');

  // Once the calls are quick, nothing is logged.
  const before = lines.length;
  const quick = createPublisher({ client: slowCommitClient(0, []), delivery: 'exactly-once', transactionalId: 'txn', groupId: 'g', committer: createCommitter(), metrics: createServeMetrics(), logger: recordingLogger(lines), slowCallMs: 50 });
  await quick.start();
  await quick.deliver([out], { batch, lastOffset: '9', nextOffset: '10' });
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(lines.length, before, 'no timer outlives its call');
});
