/**
 * One conformance suite for every Kafka adapter (src/kafka/*-adapter.ts),
 * run against the real broker: what the pipeline relies on from the port,
 * checked the same way for each client library.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { isLivetagError } from '../../../src/common/errors.ts';
import { createKafkaClient } from '../../../src/kafka/client.ts';
import type { ConsumedRecord, ConsumerEvent, KafkaClient, KafkaClientName, KafkaConsumer, RecordBatch } from '../../../src/kafka/port.ts';
import { brokersFromEnv, portClientOrSkipReason, uniqueName, useGroup, waitUntil } from '../helpers/kafka.ts';

const ADAPTERS: readonly KafkaClientName[] = ['kafkajs', 'confluent'];

async function topicFor(t: TestContext, client: KafkaClient, prefix: string, partitions: number): Promise<string> {
  const topic = uniqueName(prefix);
  await client.admin.ensureTopics([{ topic, partitions }]);
  t.after(() => client.admin.deleteTopics([topic]).catch((err: unknown) => t.diagnostic(`could not delete ${topic}: ${String(err)}`)));
  return topic;
}

/** A consumer that records what it receives; `onBatch` decides what to resolve and commit. */
function recordingConsumer(
  client: KafkaClient,
  options: Parameters<KafkaClient['consumer']>[0],
  onBatch: (batch: RecordBatch) => Promise<void> = async (b) => {
    if (b.records.length > 0) {
      const last = b.records[b.records.length - 1].offset;
      b.resolve(last);
      await b.commit(String(BigInt(last) + 1n));
    }
  },
): { consumer: KafkaConsumer; received: ConsumedRecord[]; events: ConsumerEvent[]; start: () => Promise<void> } {
  const consumer = client.consumer({ maxWaitMs: 100, ...options });
  const received: ConsumedRecord[] = [];
  const events: ConsumerEvent[] = [];
  consumer.on((e) => events.push(e));
  return {
    consumer,
    received,
    events,
    start: () =>
      consumer.start(async (batch) => {
        received.push(...batch.records);
        await onBatch(batch);
      }),
  };
}

const keyed = (topic: string, n: number, keys: number) =>
  Array.from({ length: n }, (_, i) => ({ topic, key: `k${i % keys}`, value: JSON.stringify({ i, key: `k${i % keys}` }) }));

for (const name of ADAPTERS) {
  const ready = portClientOrSkipReason(name, `conformance-${name}`);
  const skip = await ready.then((c) => (typeof c === 'string' ? c : false));
  describe(`Kafka port conformance: ${name}`, { skip, timeout: 180_000 }, () => {
    test('per-partition order is kept and nothing is lost', async (t) => {
      const client = (await ready) as KafkaClient;
      const topic = await topicFor(t, client, `conf-order-${name}`, 3);
      const producer = client.producer({ idempotent: true });
      await producer.start();
      const sent = keyed(topic, 600, 12);
      try {
        for (let i = 0; i < sent.length; i += 100) await producer.send(sent.slice(i, i + 100));
      } finally {
        await producer.stop();
      }
      const c = recordingConsumer(client, { groupId: useGroup(t, `conf-order-${name}`), topics: [topic], fromBeginning: true, concurrency: 3 });
      try {
        await c.start();
        await waitUntil(() => c.received.length >= sent.length, 60_000, 'every record');
      } finally {
        await c.consumer.stop();
      }
      assert.equal(c.received.length, sent.length, 'no duplicates in one session');
      const byKey = new Map<string, number[]>();
      const lastOffset = new Map<number, bigint>();
      for (const r of c.received) {
        const v = JSON.parse(String(r.value)) as { i: number; key: string };
        assert.equal(String(r.key), v.key);
        byKey.set(v.key, [...(byKey.get(v.key) ?? []), v.i]);
        const prev = lastOffset.get(r.partition);
        assert.ok(prev === undefined || BigInt(r.offset) > prev, `offsets rise within partition ${r.partition}`);
        lastOffset.set(r.partition, BigInt(r.offset));
      }
      for (const [key, seq] of byKey) assert.deepEqual(seq, [...seq].sort((a, b) => a - b), `order of ${key}`);
      assert.equal(lastOffset.size, 3, 'keys spread over every partition');
      assert.ok(c.events.some((e) => e.type === 'joined'), 'joined event');
    });

    test('offsets are committed only when asked; the next member starts after the commit; an admin session reads what one-off calls do', async (t) => {
      const client = (await ready) as KafkaClient;
      const topic = await topicFor(t, client, `conf-commit-${name}`, 1);
      const groupId = useGroup(t, `conf-commit-${name}`);
      const producer = client.producer();
      await producer.start();
      await producer.send(keyed(topic, 20, 1)).finally(() => producer.stop());
      // First member: processes everything but commits only up to offset 10.
      const first = recordingConsumer(client, { groupId, topics: [topic], fromBeginning: true }, async (b) => {
        for (const r of b.records) b.resolve(r.offset);
        if (b.records.some((r) => r.offset === '9')) await b.commit('10');
      });
      try {
        await first.start();
        await waitUntil(() => first.received.length >= 20, 60_000, 'first read');
      } finally {
        await first.consumer.stop();
      }
      assert.deepEqual(await client.admin.committedOffsets(groupId, topic), [{ partition: 0, offset: '10' }]);
      const second = recordingConsumer(client, { groupId, topics: [topic], fromBeginning: true });
      try {
        await second.start();
        await waitUntil(() => second.received.length >= 10, 60_000, 'redelivery of the uncommitted rest');
      } finally {
        await second.consumer.stop();
      }
      assert.deepEqual(second.received.map((r) => r.offset), Array.from({ length: 10 }, (_, i) => String(10 + i)));
      const [marks] = await client.admin.watermarks(topic);
      assert.deepEqual(marks, { partition: 0, low: '0', high: '20' });
      // The lag monitor's session answers as the one-off calls do, call after call.
      const session = client.openAdminSession();
      try {
        for (let i = 0; i < 2; i++) {
          assert.deepEqual(await session.watermarks(topic), [marks]);
          assert.deepEqual(await session.committedOffsets(groupId, topic), await client.admin.committedOffsets(groupId, topic));
        }
      } finally {
        await session.close();
        await session.close();
      }
      // Deleting takes the offsets with the group; a group that never existed is no error.
      await client.admin.deleteGroups([groupId, `${groupId}-never-joined`]);
      assert.deepEqual(await client.admin.committedOffsets(groupId, topic), [{ partition: 0, offset: '-1' }]);
    });

    test('a rebalance splits partitions, and a leaving member hands its partitions over', async (t) => {
      const client = (await ready) as KafkaClient;
      const topic = await topicFor(t, client, `conf-rebalance-${name}`, 2);
      const groupId = useGroup(t, `conf-rebalance-${name}`);
      const a = recordingConsumer(client, { groupId, topics: [topic], fromBeginning: true, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500 });
      const b = recordingConsumer(client, { groupId, topics: [topic], fromBeginning: true, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500 });
      const producer = client.producer();
      await producer.start();
      try {
        await a.start();
        await waitUntil(() => a.events.some((e) => e.type === 'joined'), 30_000, 'a joined');
        await b.start();
        await waitUntil(() => b.events.some((e) => e.type === 'joined' && e.partitions === 1), 60_000, 'b joined with one partition');
        await producer.send([0, 1].flatMap((partition) => Array.from({ length: 5 }, (_, i) => ({ topic, partition, value: `p${partition}-${i}` }))));
        await waitUntil(() => a.received.length + b.received.length >= 10, 60_000, 'both partitions read');
        assert.equal(new Set(a.received.map((r) => r.partition)).size, 1, 'a reads one partition');
        assert.equal(new Set(b.received.map((r) => r.partition)).size, 1, 'b reads the other');
        await b.consumer.stop();
        await producer.send([0, 1].map((partition) => ({ topic, partition, value: `after-${partition}` })));
        await waitUntil(() => a.received.filter((r) => String(r.value).startsWith('after-')).length >= 2, 60_000, 'a takes over both partitions');
      } finally {
        await producer.stop();
        await a.consumer.stop();
        await b.consumer.stop();
      }
    });

    test('a batch that fails once is handed out again, and a crash it reports is followed by joined once batches succeed: readiness must not stay lost', async (t) => {
      const client = (await ready) as KafkaClient;
      const topic = await topicFor(t, client, `conf-recover-${name}`, 1);
      const producer = client.producer();
      await producer.start();
      await producer.send(keyed(topic, 10, 1)).finally(() => producer.stop());
      let failOnce = true;
      let committed = false;
      const c = recordingConsumer(client, { groupId: useGroup(t, `conf-recover-${name}`), topics: [topic], fromBeginning: true }, async (b) => {
        if (failOnce) {
          failOnce = false;
          throw new Error('the sink refused this batch once');
        }
        if (b.records.length > 0) {
          const last = b.records[b.records.length - 1].offset;
          b.resolve(last);
          await b.commit(String(BigInt(last) + 1n));
          if (last === '9') committed = true;
        }
      });
      // kafkajs retries the batch inside its runner (no event); librdkafka's adapter reports the crash and must report the recovery.
      const recovered = (): boolean => {
        const lastCrash = c.events.map((e) => e.type).lastIndexOf('crashed');
        return lastCrash < 0 || c.events.slice(lastCrash).some((e) => e.type === 'joined');
      };
      try {
        await c.start();
        await waitUntil(() => committed && recovered(), 60_000, 'the retried batch committed and no crash left unanswered').catch((err: Error) => {
          throw new Error(`${err.message}; events: ${c.events.map((e) => e.type + ('restarting' in e ? `(${e.restarting})` : '')).join(' ')}; received ${c.received.length}`);
        });
      } finally {
        await c.consumer.stop();
      }
      assert.ok(!failOnce, 'the batch did fail once');
      assert.deepEqual([...new Set(c.received.map((r) => r.offset))].sort((a, b) => Number(a) - Number(b)), Array.from({ length: 10 }, (_, i) => String(i)));
    });

    test('pause stops fetching a topic until resume', async (t) => {
      const client = (await ready) as KafkaClient;
      const topic = await topicFor(t, client, `conf-pause-${name}`, 1);
      const c = recordingConsumer(client, { groupId: useGroup(t, `conf-pause-${name}`), topics: [topic], fromBeginning: true });
      const producer = client.producer();
      await producer.start();
      try {
        await c.start();
        await waitUntil(() => c.events.some((e) => e.type === 'joined'), 30_000, 'joined');
        c.consumer.pause([topic]);
        await producer.send([{ topic, value: 'held' }]);
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(c.received.length, 0, 'nothing while paused');
        c.consumer.resume([topic]);
        await waitUntil(() => c.received.length === 1, 30_000, 'the record after resume');
      } finally {
        await producer.stop();
        await c.consumer.stop();
      }
    });

    test('a topic resumed while none of its partitions was assigned runs again once they are', async (t) => {
      // What a broker restart can do to a paused service: the group rebalances, the pipeline's backlog
      // clears and it resumes the topic while the member holds no partition, then it gets them back.
      const client = (await ready) as KafkaClient;
      const topic = await topicFor(t, client, `conf-resume-${name}`, 1);
      const groupId = useGroup(t, `conf-resume-${name}`);
      const a = recordingConsumer(client, { groupId, topics: [topic], fromBeginning: true });
      // Assignors order members by id, which starts with the client id: the partition goes to this second client.
      const other = await createKafkaClient({ connection: { client: name, brokers: brokersFromEnv(), clientId: `a-first-${name}` }, logLevel: 'nothing' });
      const b = recordingConsumer(other, { groupId, topics: [topic], fromBeginning: true });
      const producer = client.producer();
      await producer.start();
      try {
        await a.start();
        await waitUntil(() => a.events.some((e) => e.type === 'joined' && e.partitions === 1), 30_000, 'the first member holds the partition');
        a.consumer.pause([topic]);
        const joins = a.events.length;
        await b.start();
        await waitUntil(() => a.events.slice(joins).some((e) => e.type === 'joined' && e.partitions === 0), 60_000, 'the partition moved to the second member');
        a.consumer.resume([topic]);
        await b.consumer.stop();
        await waitUntil(() => a.events.slice(joins).some((e) => e.type === 'joined' && e.partitions === 1), 60_000, 'the partition back with the first member');
        await producer.send([{ topic, value: 'after the rebalances' }]);
        await waitUntil(() => a.received.some((r) => r.value?.toString() === 'after the rebalances'), 30_000, 'the record, consumed by the resumed member');
        assert.equal(b.received.length, 0, 'the second member had nothing to read');
      } finally {
        await producer.stop();
        await b.consumer.stop();
        await a.consumer.stop();
      }
    });

    test('transactions: records and offsets commit together; aborted records stay invisible', async (t) => {
      const client = (await ready) as KafkaClient;
      const input = await topicFor(t, client, `conf-txn-in-${name}`, 1);
      const output = await topicFor(t, client, `conf-txn-out-${name}`, 1);
      const groupId = useGroup(t, `conf-txn-${name}`);
      const producer = client.producer({ transactionalId: uniqueName(`conf-txn-${name}`) });
      await producer.start();
      try {
        const aborted = await producer.transaction();
        await aborted.send([{ topic: output, value: 'aborted' }]);
        await aborted.abort();
        const txn = await producer.transaction();
        await txn.send([{ topic: output, value: 'one' }, { topic: output, value: 'two' }]);
        await txn.sendOffsets(groupId, [{ topic: input, partition: 0, offset: '7' }]);
        await txn.commit();
      } finally {
        await producer.stop();
      }
      // The group shows the offsets once the commit marker lands, a moment after commit() (bench/results/txn-offsets.md).
      let committed = await client.admin.committedOffsets(groupId, input);
      for (const deadline = Date.now() + 10_000; committed[0]?.offset !== '7' && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 20));
        committed = await client.admin.committedOffsets(groupId, input);
      }
      assert.deepEqual(committed, [{ partition: 0, offset: '7' }]);
      let lastOffset: string | null = null;
      const reader = recordingConsumer(client, { groupId: useGroup(t, `conf-txn-read-${name}`), topics: [output], fromBeginning: true }, async (b) => {
        if (b.lastOffset !== null) {
          lastOffset = b.lastOffset;
          b.resolve(b.lastOffset);
        }
      });
      const [marks] = await client.admin.watermarks(output);
      try {
        await reader.start();
        // Offsets: aborted record, abort marker, two records, commit marker.
        await waitUntil(() => lastOffset !== null && BigInt(lastOffset) + 1n >= BigInt(marks.high), 60_000, 'the end, markers included');
      } finally {
        await reader.consumer.stop();
      }
      assert.deepEqual(reader.received.map((r) => String(r.value)), ['one', 'two']);
    });

    test('a member that stops right after a transaction hands its partition over exactly after it (no record twice, none skipped)', async (t) => {
      // The commit marker reaches the group a moment after the commit
      // returns; a next owner that read the offsets in that moment would
      // start before the transaction (src/kafka/stable-offsets.ts).
      const client = (await ready) as KafkaClient;
      const input = await topicFor(t, client, `conf-handoff-in-${name}`, 1);
      const output = await topicFor(t, client, `conf-handoff-out-${name}`, 1);
      const groupId = useGroup(t, `conf-handoff-${name}`);
      const HANDOFFS = 4;
      const seed = client.producer();
      await seed.start();
      await seed.send(Array.from({ length: HANDOFFS * 3 }, (_, i) => ({ topic: input, value: `m${i}` })));
      await seed.stop();
      const firsts: string[] = [];
      for (let h = 0; h < HANDOFFS; h++) {
        const producer = client.producer({ transactionalId: uniqueName(`conf-handoff-${name}`) });
        await producer.start();
        let done = false;
        // Each member processes one batch (at most three records) in one transaction, then stops.
        const member = recordingConsumer(client, { groupId, topics: [input], fromBeginning: true }, async (b) => {
          if (done || b.records.length === 0) return;
          const chunk = b.records.slice(0, 3);
          const next = String(BigInt(chunk[chunk.length - 1].offset) + 1n);
          const txn = await producer.transaction();
          await txn.send(chunk.map((r) => ({ topic: output, value: r.value })));
          await txn.sendOffsets(groupId, [{ topic: input, partition: 0, offset: next }]);
          await txn.commit();
          b.resolve(chunk[chunk.length - 1].offset);
          done = true;
        });
        try {
          await member.start();
          await waitUntil(() => done, 60_000, `member ${h} committed a transaction`);
        } finally {
          await member.consumer.stop();
          await producer.stop();
        }
        firsts.push(member.received[0]!.offset);
      }
      // Each member started where the previous one's transaction ended: offsets 0, 3, 6, 9 (at most three per member).
      assert.deepEqual(firsts, Array.from({ length: HANDOFFS }, (_, h) => String(h * 3)), `each member's first offset`);
      assert.deepEqual(await client.admin.committedOffsets(groupId, input), [{ partition: 0, offset: String(HANDOFFS * 3) }]);
    });

    test('a stop while starting ends the start, whether it comes during the connect or the join: no member stays, no connection stays open', async (t) => {
      // A pod signalled during its start-up: the library's connect or group join is still in flight when the stop comes.
      const client = (await ready) as KafkaClient;
      const topic = await topicFor(t, client, `conf-stop-start-${name}`, 1);
      const seed = client.producer();
      await seed.start();
      await seed.send([{ topic, value: 'before the stop' }]);
      await seed.stop();
      const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
      const before = sockets();
      const ended = (p: Promise<void>) => p.then(() => 'started', (err: unknown) => (isLivetagError(err, 'LT_STOPPED') ? 'stopped' : Promise.reject(err)));
      const late: string[] = [];
      // "connect": stopped right after start() was called. "join": stopped from the listener of its
      // first join, which kafkajs calls inside run() before its runner counts as running.
      for (const when of ['connect', 'join'] as const) {
        let stopping: Promise<unknown> | undefined;
        const c = recordingConsumer(client, { groupId: useGroup(t, `conf-stop-start-${name}`), topics: [topic], fromBeginning: true }, async (b) => {
          if (stopping) late.push(`stopped at the ${when}: a batch of ${b.records.length} after the stop`);
        });
        const producer = client.producer();
        const stop = () => (stopping ??= Promise.all([c.consumer.stop(), producer.stop()]));
        if (when === 'join') c.consumer.on((e) => void (e.type === 'joined' && stop()));
        const starts = Promise.all([ended(c.start()), ended(producer.start())]);
        if (when === 'connect') stop();
        const [consumerStart] = await starts;
        await stopping;
        assert.equal(consumerStart, 'stopped', `a stop at the ${when} ends the consumer start with LT_STOPPED`);
        const joins = c.events.filter((e) => e.type === 'joined').length;
        assert.equal(joins, when === 'connect' ? 0 : 1, `joins, stopped at the ${when}`);
        await assert.rejects(producer.send([{ topic, value: 'after the stop' }]), 'a stopped producer sends nothing');
      }
      // Time for a connect that outlived its stop to open connections, and for a member left behind to fetch.
      await new Promise((r) => setTimeout(r, 3_000));
      assert.deepEqual(late, [], 'no member fetched after its stop');
      // librdkafka's sockets belong to its own threads, not to Node's handles: counted for kafkajs only.
      if (name === 'kafkajs') assert.equal(sockets(), before, 'TCP sockets left open by the stopped clients');
    });

    test('errors come back as LivetagErrors that say whether a retry can help', async (t) => {
      const client = (await ready) as KafkaClient;
      await assert.rejects(client.admin.ensureTopics([{ topic: 'not a valid topic name!' }]), (err: unknown) => {
        assert.ok(isLivetagError(err, 'LT_KAFKA'), String(err));
        assert.equal(err.retryable, false, `an invalid topic name will not heal: ${err.message}`);
        return true;
      });
      const down = await createKafkaClient({
        connection: { client: name, brokers: '127.0.0.1:1', clientId: 'conformance-down' },
        logLevel: 'nothing',
        connectionTimeoutMs: 300,
        retries: 0,
      });
      await assert.rejects(down.admin.listTopics(), (err: unknown) => {
        assert.ok(isLivetagError(err, 'LT_KAFKA'), String(err));
        assert.equal(err.retryable, true, 'an unreachable broker may come back');
        return true;
      });
      t.diagnostic(`${name}: errors mapped`);
    });
  });
}
