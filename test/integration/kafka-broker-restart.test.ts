import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ensureTopics, withAdmin, type KafkaClient } from '../helpers/kafkajs.ts';
import { createLocalBroker } from '../../src/dev/local-broker.ts';
import { testKafka, uniqueName, waitUntil } from './helpers/kafka.ts';

const PARTITIONS = 2;
const PER_PARTITION = 500;
const COMMIT_AT = 300;

type Received = { partition: number; offset: number; value: string };

type Consumer = ReturnType<KafkaClient['consumer']>;

/** Reads `count` records into `sink` without auto-commit; `thenCommit` runs before the consumer leaves. */
async function consume(client: KafkaClient, topic: string, groupId: string, count: number, sink: Received[], thenCommit?: (c: Consumer) => Promise<void>): Promise<void> {
  const consumer = client.consumer({ groupId, maxWaitTimeInMs: 100 });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        sink.push({ partition, offset: Number(message.offset), value: message.value?.toString('utf8') ?? '' });
      },
    });
    await waitUntil(() => sink.length >= count, 60_000, `${count} messages of ${topic}`);
    await thenCommit?.(consumer);
  } finally {
    await consumer.disconnect();
  }
}

// This test kills a broker, so it runs its own instead of the shared one
// (which other test files are using); it reuses the cached broker jars.
test(
  'committed data and group offsets survive SIGKILL and a restart on the same directory',
  { timeout: 300_000, skip: process.env.LIVETAG_TEST_NO_LOCAL_BROKER === '1' && 'LIVETAG_TEST_NO_LOCAL_BROKER=1' },
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'livetag-kill-test-'));
    const broker = createLocalBroker({
      dir,
      logger: { info: (m) => t.diagnostic(m), warn: (m) => t.diagnostic(`WARN ${m}`) },
    });
    t.after(async () => {
      await broker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    await broker.start();
    const brokers = broker.brokers;
    const topic = uniqueName('restart');
    const groupId = uniqueName('restart-group');

    const before = testKafka('livetag-test-restart', brokers);
    await ensureTopics(before, [{ topic, partitions: PARTITIONS }]);
    const producer = before.producer();
    await producer.connect();
    try {
      // acks=all (the default) is what "committed" means for data: after
      // send() resolves, the record is in the log, not in a client buffer.
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const messages = Array.from({ length: PER_PARTITION }, (_, seq) => ({ value: `${partition}:${seq}`, partition }));
        await producer.send({ topic, messages, acks: -1 });
      }
    } finally {
      await producer.disconnect();
    }

    // A group that has read everything but committed only up to COMMIT_AT:
    // after the crash it must resume exactly there.
    const firstRead: Received[] = [];
    await consume(before, topic, groupId, PARTITIONS * PER_PARTITION, firstRead, (c) =>
      c.commitOffsets(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, offset: String(COMMIT_AT) }))),
    );

    const pid = broker.pid;
    assert.ok(pid !== undefined);
    await broker.kill();
    assert.equal(broker.pid, undefined);
    assert.throws(() => process.kill(pid, 0), 'the broker JVM must be gone after kill()');

    const t0 = Date.now();
    await broker.restart();
    t.diagnostic(`restart after SIGKILL (log recovery included) took ${Date.now() - t0} ms`);
    assert.equal(broker.brokers, brokers, 'restart keeps the ports');

    const after = testKafka('livetag-test-restart-2', broker.brokers);
    const offsets = await withAdmin(after, (admin) => admin.fetchOffsets({ groupId, topics: [topic] }));
    assert.deepEqual(
      offsets[0]?.partitions.map((p) => [p.partition, p.offset]).sort(),
      Array.from({ length: PARTITIONS }, (_, p) => [p, String(COMMIT_AT)]),
    );
    const ends = await withAdmin(after, (admin) => admin.fetchTopicOffsets(topic));
    assert.deepEqual(
      ends.map((e) => [e.partition, e.high]).sort(),
      Array.from({ length: PARTITIONS }, (_, p) => [p, String(PER_PARTITION)]),
    );

    // The same group resumes at its committed offsets...
    const resumed: Received[] = [];
    await consume(after, topic, groupId, PARTITIONS * (PER_PARTITION - COMMIT_AT), resumed);
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const got = resumed.filter((r) => r.partition === partition);
      assert.deepEqual(
        got.map((r) => r.offset),
        Array.from({ length: PER_PARTITION - COMMIT_AT }, (_, i) => COMMIT_AT + i),
      );
      assert.ok(got.every((r) => r.value === `${partition}:${r.offset}`));
    }

    // ...and every record is still there, intact, for a new group.
    const all: Received[] = [];
    await consume(after, topic, uniqueName('restart-fresh'), PARTITIONS * PER_PARTITION, all);
    assert.equal(all.length, PARTITIONS * PER_PARTITION);
    assert.ok(all.every((r) => r.value === `${r.partition}:${r.offset}`));
  },
);
