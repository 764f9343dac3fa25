import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withAdmin, type KafkaClient, type KafkaMessage } from '../helpers/kafkajs.ts';
import { testKafka, uniqueName, useGroup, useTopic, waitUntil } from './helpers/kafka.ts';

type Received = { partition: number; offset: string; value: string };

/** Consumes `topic` from the beginning into `sink` until `done()`; always disconnects. */
async function consumeUntil(
  client: KafkaClient,
  options: { topic: string; groupId: string; readUncommitted?: boolean; timeoutMs: number; what: string },
  sink: Received[],
  done: () => boolean,
): Promise<void> {
  const consumer = client.consumer({
    groupId: options.groupId,
    readUncommitted: options.readUncommitted ?? false,
    maxWaitTimeInMs: 100,
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [options.topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
        sink.push({ partition, offset: message.offset, value: message.value?.toString('utf8') ?? '' });
      },
    });
    await waitUntil(done, options.timeoutMs, options.what);
  } finally {
    await consumer.disconnect();
  }
}

test('10,000 messages over 3 partitions: none lost, order kept per partition', { timeout: 180_000 }, async (t) => {
  const TOTAL = 10_000;
  const PARTITIONS = 3;
  const CHUNK = 1_000;
  const client = testKafka('livetag-test-bulk');
  const topic = await useTopic(t, { prefix: 'bulk', partitions: PARTITIONS, client });
  const groupId = useGroup(t, 'bulk', client);

  const producer = client.producer();
  const t0 = Date.now();
  await producer.connect();
  try {
    // One send in flight at a time, so the broker sees each partition's
    // messages in sequence order and any reordering would be the broker's or
    // the consumer's doing.
    for (let start = 0; start < TOTAL; start += CHUNK) {
      const messages = [];
      for (let i = start; i < Math.min(TOTAL, start + CHUNK); i++) {
        const partition = i % PARTITIONS;
        const seq = Math.floor(i / PARTITIONS);
        messages.push({ key: `k${i}`, value: `${partition}:${seq}`, partition });
      }
      await producer.send({ topic, messages });
    }
  } finally {
    await producer.disconnect();
  }
  const produced = Date.now();

  const received: Received[] = [];
  await consumeUntil(client, { topic, groupId, timeoutMs: 120_000, what: `${TOTAL} messages` }, received, () => received.length >= TOTAL);
  t.diagnostic(`produced ${TOTAL} in ${produced - t0} ms, consumed in ${Date.now() - produced} ms`);

  assert.equal(received.length, TOTAL);
  const byPartition = new Map<number, Received[]>();
  for (const r of received) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r]);
  assert.deepEqual([...byPartition.keys()].sort(), [0, 1, 2]);
  for (const [partition, messages] of byPartition) {
    const expected = Math.ceil((TOTAL - partition) / PARTITIONS);
    assert.equal(messages.length, expected, `partition ${partition} message count`);
    messages.forEach((m, seq) => {
      assert.equal(m.value, `${partition}:${seq}`, `partition ${partition} position ${seq}`);
      assert.equal(m.offset, String(seq), `partition ${partition} offset at position ${seq}`);
    });
  }
});

test('transactions with sendOffsets: read_committed sees committed batches only', { timeout: 180_000 }, async (t) => {
  const BATCH = 10;
  // Ends on a commit, so seeing its records on every partition proves a
  // read_committed consumer has read past every aborted batch.
  const OUTCOMES = ['commit', 'abort', 'commit', 'abort', 'abort', 'commit', 'abort', 'commit'] as const;
  const client = testKafka('livetag-test-txn');
  const input = await useTopic(t, { prefix: 'txn-in', partitions: 1, client });
  const output = await useTopic(t, { prefix: 'txn-out', partitions: 2, client });
  const processorGroup = useGroup(t, 'txn-proc', client);
  const committedReader = useGroup(t, 'txn-read-committed', client);
  const uncommittedReader = useGroup(t, 'txn-read-uncommitted', client);

  // The input the "processor" pretends to consume: sendOffsets must name
  // offsets of a real topic partition.
  const plain = client.producer();
  await plain.connect();
  try {
    const messages = Array.from({ length: OUTCOMES.length * BATCH }, (_, i) => ({ value: `in-${i}` }));
    await plain.send({ topic: input, messages });
  } finally {
    await plain.disconnect();
  }

  const committedOffset = async (): Promise<string> =>
    withAdmin(client, async (admin) => {
      const [entry] = await admin.fetchOffsets({ groupId: processorGroup, topics: [input] });
      return entry?.partitions.find((p) => p.partition === 0)?.offset ?? 'none';
    });

  const producer = client.producer({ transactionalId: uniqueName('livetag-txn'), idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    let lastCommitted = '-1';
    for (const [batch, outcome] of OUTCOMES.entries()) {
      const txn = await producer.transaction();
      await txn.send({
        topic: output,
        messages: Array.from({ length: BATCH }, (_, i) => ({ value: `${batch}:${i}`, partition: i % 2 })),
      });
      const next = String((batch + 1) * BATCH);
      await txn.sendOffsets({
        consumerGroupId: processorGroup,
        topics: [{ topic: input, partitions: [{ partition: 0, offset: next }] }],
      });
      if (outcome === 'commit') {
        await txn.commit();
        lastCommitted = next;
      } else {
        await txn.abort();
      }
      // Offsets sent inside a transaction take effect with its commit, never with an abort.
      assert.equal(await committedOffset(), lastCommitted, `group offset after batch ${batch} (${outcome})`);
    }
  } finally {
    await producer.disconnect();
  }

  const committedBatches = OUTCOMES.flatMap((o, b) => (o === 'commit' ? [b] : []));
  const last = OUTCOMES.length - 1;
  const committed: Received[] = [];
  await consumeUntil(
    client,
    { topic: output, groupId: committedReader, timeoutMs: 60_000, what: 'the last committed batch on both partitions' },
    committed,
    () => [0, 1].every((p) => committed.some((r) => r.partition === p && r.value.startsWith(`${last}:`))),
  );
  const seenBatches = [...new Set(committed.map((r) => Number(r.value.split(':')[0])))].sort((a, b) => a - b);
  assert.deepEqual(seenBatches, committedBatches, 'read_committed must see exactly the committed batches');
  assert.equal(committed.length, committedBatches.length * BATCH);

  // The aborted records are really in the log: only isolation hides them.
  const everything: Received[] = [];
  const total = OUTCOMES.length * BATCH;
  await consumeUntil(
    client,
    { topic: output, groupId: uncommittedReader, readUncommitted: true, timeoutMs: 60_000, what: `${total} uncommitted records` },
    everything,
    () => everything.length >= total,
  );
  assert.equal(everything.length, total);
});
