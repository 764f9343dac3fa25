/**
 * Exactly-once survives a fault inside the commit request itself: the
 * broker JVM is frozen (SIGSTOP) the moment the publisher sends its
 * EndTxn(commit), so the request times out and the abort that follows fails
 * too; kafkajs would then refuse every later transaction. The broker stays
 * frozen until the publisher has failed to learn the commit's outcome, then
 * wakes and writes the commit that waited in its socket. The publisher
 * replaces its producer (same transactional id, fencing the old epoch), asks
 * until the broker answers, and redelivers the chunk only if it did not land:
 * every input tagged, no duplicate visible to a read_committed reader. Also: a chunk running
 * longer than the session timeout keeps its member in the group.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { LivetagError } from '../../../src/common/errors.ts';
import { createLogger, type Logger } from '../../../src/common/logger.ts';
import { createServeMetrics } from '../../../src/consumer/metrics.ts';
import { createCommitter } from '../../../src/consumer/stages/committer.ts';
import { createPublisher } from '../../../src/consumer/stages/publisher.ts';
import { createSource } from '../../../src/consumer/stages/source.ts';
import type { OutRecord } from '../../../src/consumer/output-record.ts';
import { createLocalBroker } from '../../../src/dev/local-broker.ts';
import { createKafkaClient } from '../../../src/kafka/client.ts';
import type { KafkaClient, KafkaTransaction } from '../../../src/kafka/port.ts';
import { brokersFromEnv, testKafka, uniqueName, useTopic, waitUntil } from '../helpers/kafka.ts';
import { collector } from '../helpers/serve.ts';

const NO_BROKER = process.env.LIVETAG_TEST_NO_LOCAL_BROKER === '1' && 'LIVETAG_TEST_NO_LOCAL_BROKER=1';
const TOTAL = 600;

const echo = (records: readonly { value: Buffer | null; key: Buffer | null; timestamp: string }[], topic: string): OutRecord[] =>
  records.map((r) => ({ topic, key: r.key, value: r.value ?? Buffer.alloc(0), headers: {}, kind: 'tags', producedAt: Number(r.timestamp) }));

/**
 * The real source and an exactly-once publisher echo `input` to `output` until
 * `total` outputs are committed (and 2 s more for late duplicates); returns
 * the values a read_committed reader saw.
 */
async function echoExactlyOnce(o: {
  kafka: ReturnType<typeof testKafka>;
  client: KafkaClient;
  groupId: string;
  input: string;
  output: string;
  total: number;
  chunkSize: number;
  logger: Logger;
  wrapTransaction: (txn: KafkaTransaction) => KafkaTransaction;
  timeoutMs: number;
}): Promise<string[]> {
  const metrics = createServeMetrics();
  const { client, groupId, logger } = o;
  const publisher = createPublisher({ client, delivery: 'exactly-once', transactionalId: uniqueName('eos-txn'), groupId, committer: createCommitter(metrics), metrics, logger, wrapTransaction: o.wrapTransaction });
  await publisher.start();
  const source = createSource({ client, groupId, topic: o.input, fromBeginning: true, concurrency: 2, chunkSize: o.chunkSize, maxInFlight: 1000, metrics, logger });
  const out = await collector(o.kafka, [o.output]);
  try {
    await source.start({ process: async (records) => echo(records, o.output), deliver: (outs, position) => publisher.deliver(outs, position) });
    await out.until(o.total, o.timeoutMs, `${o.total} committed outputs`);
    await new Promise((r) => setTimeout(r, 2_000));
  } finally {
    await source.drain();
    await source.stop();
    await publisher.stop().catch(() => undefined);
    await out.stop();
  }
  return out.received.map((r) => r.value!.toString());
}

test('exactly-once: the broker frozen inside EndTxn(commit) until the publisher could not ask → producer replaced, outcome asked until answered, 0 lost, 0 duplicates', { skip: NO_BROKER, timeout: 240_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'livetag-eos-'));
  const broker = createLocalBroker({ dir, logger: { info: () => {}, warn: (m) => t.diagnostic(`broker: ${m}`) } });
  t.after(async () => {
    if (broker.pid) process.kill(broker.pid, 'SIGCONT');
    await broker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await broker.start();
  const kafka = testKafka('eos-window', broker.brokers);
  const input = await useTopic(t, { prefix: 'eos-in', client: kafka, partitions: 2 });
  const output = await useTopic(t, { prefix: 'eos-out', client: kafka, partitions: 2 });
  const groupId = uniqueName('eos-group');
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: input, messages: Array.from({ length: TOTAL }, (_, i) => ({ key: `k${i % 7}`, value: `m${i}` })) });
  await producer.disconnect();

  // Short request timeouts so the frozen commit fails in seconds, not minutes.
  const client = await createKafkaClient({ connection: { brokers: broker.brokers, clientId: 'eos-window' }, logLevel: 'nothing', requestTimeoutMs: 3_000, maxRetryTimeMs: 3_000, retries: 2 });
  const logs: string[] = [];
  let thaw: (() => void) | undefined;
  const logger = createLogger('info', {}, (l) => {
    logs.push(l);
    if (l.includes('outcome of the failed commit is not known yet')) thaw?.();
  });
  let frozen = 0;
  const freezeInCommit = (txn: KafkaTransaction): KafkaTransaction => ({
    ...txn,
    async commit() {
      if (frozen++ !== 2) return txn.commit();
      // The third commit: freeze the broker as the request leaves; thaw it once the publisher could not ask for the outcome (or after 60 s).
      const pid = broker.pid!;
      process.kill(pid, 'SIGSTOP');
      const fallback = setTimeout(() => thaw?.(), 60_000);
      thaw = () => {
        thaw = undefined;
        clearTimeout(fallback);
        process.kill(pid, 'SIGCONT');
      };
      return txn.commit();
    },
  });
  const values = await echoExactlyOnce({ kafka, client, groupId, input, output, total: TOTAL, chunkSize: 50, logger, wrapTransaction: freezeInCommit, timeoutMs: 180_000 });
  const distinct = new Set(values);
  t.diagnostic(`frozen commit: ${frozen} commits attempted; ${distinct.size}/${TOTAL} distinct outputs, ${values.length - distinct.size} duplicates to read_committed; producer recreated: ${logs.some((l) => l.includes('recreated'))}; the frozen commit landed (not redelivered): ${logs.some((l) => l.includes('yet the group shows the chunk committed'))}`);
  assert.ok(frozen > 3, 'transactions went on after the frozen commit');
  assert.ok(logs.some((l) => l.includes('transactional producer recreated')), 'the producer was replaced');
  assert.ok(logs.some((l) => l.includes('outcome of the failed commit is not known yet')), 'the publisher met the broker still frozen when it asked for the outcome');
  assert.equal(distinct.size, TOTAL, '0 lost');
  assert.equal(values.length, TOTAL, '0 duplicates visible to read_committed');
});

test('a chunk running longer than the session timeout keeps its member: no rebalance, its commit succeeds', { timeout: 120_000 }, async (t) => {
  const kafka = testKafka('heartbeat');
  const input = await useTopic(t, { prefix: 'hb-in', client: kafka });
  const groupId = uniqueName('hb-group');
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: input, messages: [{ value: 'slow' }] });
  await producer.disconnect();
  const client = await createKafkaClient({ connection: { brokers: brokersFromEnv(), clientId: 'heartbeat' }, logLevel: 'nothing' });
  const metrics = createServeMetrics();
  const committer = createCommitter(metrics);
  const source = createSource({ client, groupId, topic: input, fromBeginning: true, concurrency: 1, chunkSize: 10, maxInFlight: 100, metrics, logger: createLogger('error'), sessionTimeoutMs: 6_000 });
  let processed = 0;
  let committed = false;
  try {
    await source.start({
      // 10 s of work on one chunk: well past the 6 s session timeout.
      process: async () => {
        processed++;
        await new Promise((r) => setTimeout(r, 10_000));
      },
      deliver: async (_result, position) => {
        await committer.commit(position);
        committed = true;
      },
    });
    await waitUntil(() => committed, 60_000, 'the slow chunk committed');
  } finally {
    await source.drain();
    await source.stop();
  }
  assert.equal(processed, 1, 'the chunk was not handed out again');
  assert.ok(committed, 'the commit of a 10 s chunk under a 6 s session timeout succeeded (the member was not evicted)');
});

test('exactly-once: a commit that landed but reported a failure (its answer lost) is not redelivered: 0 duplicates', { timeout: 120_000 }, async (t) => {
  const kafka = testKafka('eos-lost-answer');
  const input = await useTopic(t, { prefix: 'eos-la-in', client: kafka, partitions: 2 });
  const output = await useTopic(t, { prefix: 'eos-la-out', client: kafka, partitions: 2 });
  const groupId = uniqueName('eos-la-group');
  const total = 300;
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: input, messages: Array.from({ length: total }, (_, i) => ({ key: `k${i % 5}`, value: `m${i}` })) });
  await producer.disconnect();
  const client = await createKafkaClient({ connection: { brokers: brokersFromEnv(), clientId: 'eos-lost-answer' }, logLevel: 'nothing' });
  const logs: string[] = [];
  const logger = createLogger('info', {}, (l) => void logs.push(l));
  let commits = 0;
  // The second commit reaches the broker and succeeds; the caller is told it failed, as when the answer is lost on the way back.
  const loseAnswer = (txn: KafkaTransaction): KafkaTransaction => ({
    ...txn,
    async commit() {
      await txn.commit();
      if (++commits === 2) throw new LivetagError('LT_KAFKA', 'commit transaction: request timed out (answer lost)', { retryable: true });
    },
  });
  const values = await echoExactlyOnce({ kafka, client, groupId, input, output, total, chunkSize: 25, logger, wrapTransaction: loseAnswer, timeoutMs: 60_000 });
  assert.ok(commits > 2, 'transactions went on after the lost answer');
  assert.equal(new Set(values).size, total, '0 lost');
  assert.equal(values.length, total, '0 duplicates visible to read_committed');
  assert.ok(logs.some((l) => l.includes('yet the group shows the chunk committed')), `the publisher found the commit landed: ${logs.filter((l) => l.includes('warn')).join('\n')}`);
});
