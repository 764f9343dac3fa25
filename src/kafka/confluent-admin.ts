/**
 * The admin client of the librdkafka adapter (confluent-adapter.ts): the
 * port's KafkaAdmin on the library's KafkaJS-style admin, consumer and (for
 * describeCluster) its node-rdkafka producer.
 */
import type { KafkaJS as KJS, RdKafka } from '@confluentinc/kafka-javascript';
import { LivetagError } from '../common/errors.ts';
import { deleteGroupsTolerant, newTopics, withConnected } from './adapter-kit.ts';
import type { Context } from './confluent-context.ts';
import {
  connectionConfig,
  consoleSink,
  KJS_LOG_LEVELS,
  operationTimeoutMs,
  routedLogger,
  toConfluentError,
  UNREACHABLE,
  type RdkafkaConfig,
} from './confluent-mapping.ts';
import type { ClusterInfo, KafkaAdmin, TopicSpec } from './port.ts';

const ERR_UNKNOWN_TOPIC_OR_PART = 3;
const ERR_TRANSPORT = -195;

/**
 * Runs `fn` with a connected admin client and always disconnects it.
 * librdkafka waits for a broker until the request times out; with
 * `retries: 0` (no retry loop, e.g. a readiness probe) the first failed
 * connection attempt fails the operation instead, as it does in kafkajs.
 */
async function withAdmin<T>(ctx: Context, what: string, fn: (admin: KJS.Admin) => Promise<T>): Promise<T> {
  const level = ctx.options.logLevel ?? 'error';
  let unreachable: ((message: string) => void) | undefined;
  const refused = new Promise<never>((_, reject) => {
    unreachable = (message) => reject(Object.assign(new Error(message), { code: ERR_TRANSPORT }));
  });
  refused.catch(() => {});
  const failFast = ctx.options.retries === 0;
  const admin = ctx.kafka.admin({
    kafkaJS: {
      logger: routedLogger(ctx.options.log ?? consoleSink, level, (m) => {
        if (failFast && UNREACHABLE.test(m)) unreachable?.(m);
      }),
      // librdkafka formats only lines up to its log level: the observer needs errors.
      logLevel: Math.max(KJS_LOG_LEVELS[level], failFast ? KJS_LOG_LEVELS.error : 0),
    },
  });
  let op: Promise<T> | undefined;
  let settled = false;
  try {
    await ctx.loginCheck();
    await admin.connect();
    op = fn(admin);
    op.then(
      () => (settled = true),
      () => (settled = true),
    );
    return await Promise.race([op, refused]);
  } catch (err) {
    throw toConfluentError(err, what);
  } finally {
    // The library's admin disconnect is synchronous and blocks the event loop
    // until requests in flight time out: after a fast failure, only later.
    if (op === undefined || settled) await admin.disconnect().catch(() => {});
    else void op.catch(() => {}).then(() => admin.disconnect().catch(() => {}));
  }
}

/** Consumer-group writes without a joined member: a consumer that connects, commits and leaves. */
async function withGroupMember<T>(ctx: Context, groupId: string, what: string, fn: (consumer: KJS.Consumer) => Promise<T>): Promise<T> {
  await ctx.loginCheck();
  return withConnected(ctx.kafka.consumer({ kafkaJS: { groupId, autoCommit: false } }), (err) => toConfluentError(err, what), fn);
}

/**
 * The library's consumer answers NOT_COORDINATOR at once while a (re)started
 * broker loads its groups, where kafkajs retries; so do we, within the
 * operation's timeout, on errors the library marks as retriable.
 */
async function committedWithin(consumer: KJS.Consumer, partitions: KJS.TopicPartition[], timeout: number): Promise<Array<{ partition: number; offset: string | null }>> {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await consumer.committed(partitions, Math.max(1_000, deadline - Date.now()));
    } catch (err) {
      if (Date.now() + 200 >= deadline || !toConfluentError(err, '').retryable) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function partitionsOf(admin: KJS.Admin, topic: string, timeout: number): Promise<number[]> {
  const [meta] = await admin.fetchTopicMetadata({ topics: [topic], timeout });
  return (meta?.partitions ?? []).map((p) => p.partitionId).sort((a, b) => a - b);
}

/** CreateTopics returns once the controller has the topic; brokers learn leaders a little later. */
async function waitForLeaders(admin: KJS.Admin, topics: readonly TopicSpec[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic), timeout: Math.max(1_000, deadline - Date.now()) });
      const ready = topics.every((t) => {
        const m = meta.find((x) => x.name === t.topic);
        return m !== undefined && m.partitions.length >= (t.partitions ?? 1) && m.partitions.every((p) => p.leader >= 0);
      });
      if (ready) return;
    } catch (err) {
      if ((err as { code?: number }).code !== ERR_UNKNOWN_TOPIC_OR_PART || Date.now() >= deadline) throw err;
    }
    if (Date.now() >= deadline) throw new LivetagError('LT_KAFKA', `topics ${topics.map((t) => t.topic).join(', ')} have no leaders after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * No API of the library names the cluster or its controller; librdkafka only
 * logs both (debug context `metadata`) when it parses a Metadata response.
 * describeCluster connects a plain producer for one metadata request and
 * reads them from that line.
 */
function describeCluster(ctx: Context): Promise<ClusterInfo> {
  const timeout = operationTimeoutMs(ctx.options);
  const seen: { clusterId?: string; controller?: number } = {};
  const config: RdkafkaConfig = { ...connectionConfig(ctx.options), debug: 'metadata', log_level: 7 };
  const producer = new ctx.library.Producer(config as RdKafka.ProducerGlobalConfig);
  let unreachable: ((message: string) => void) | undefined;
  producer.on('event.log', (line: { message?: string }) => {
    const message = line.message ?? '';
    const m = /ClusterId: (\S*), ControllerId: (-?\d+)/.exec(message);
    if (m) {
      seen.clusterId = m[1];
      seen.controller = Number(m[2]);
    } else if (UNREACHABLE.test(message)) {
      unreachable?.(message);
    }
  });
  return new Promise<ClusterInfo>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      reject(toConfluentError(err, 'cannot describe the cluster'));
      try {
        producer.disconnect(1_000, () => {});
      } catch {
        // Never connected: the library has cleaned up already.
      }
    };
    // As in withAdmin: without a retry loop, the first refused connection answers.
    if (ctx.options.retries === 0) unreachable = (message) => fail(Object.assign(new Error(message), { code: ERR_TRANSPORT }));
    producer.connect({ allTopics: false, timeout }, (err, metadata) => {
      if (err) {
        fail(err);
        return;
      }
      producer.disconnect(1_000, () => {
        if (settled) return;
        settled = true;
        resolve({
          clusterId: seen.clusterId ?? '',
          controller: seen.controller === undefined || seen.controller < 0 ? null : seen.controller,
          brokers: metadata.brokers.map((b) => ({ nodeId: b.id, host: b.host, port: b.port })).sort((a, b) => a.nodeId - b.nodeId),
        });
      });
    });
  });
}

export function createAdmin(ctx: Context): KafkaAdmin {
  const timeout = ctx.timeoutMs;
  return {
    ensureTopics: (topics) =>
      withAdmin(ctx, `cannot create topics ${topics.map((t) => t.topic).join(', ')}`, async (admin) => {
        const existing = new Set(await admin.listTopics({ timeout }));
        const missing = topics.filter((t) => !existing.has(t.topic));
        if (missing.length === 0) return [];
        // Resolves false rather than throwing when another client created one first.
        await admin.createTopics({
          timeout: 30_000,
          topics: newTopics(missing),
        });
        await waitForLeaders(admin, missing, 30_000);
        return missing.map((t) => t.topic);
      }),
    deleteTopics: (topics) =>
      withAdmin(ctx, `cannot delete topics ${topics.join(', ')}`, async (admin) => {
        const existing = new Set(await admin.listTopics({ timeout }));
        const present = topics.filter((t) => existing.has(t));
        if (present.length === 0) return;
        try {
          await admin.deleteTopics({ topics: present, timeout: 30_000 });
        } catch (err) {
          // Someone else deleted it between the listing and now.
          if ((err as { code?: number }).code !== ERR_UNKNOWN_TOPIC_OR_PART) throw err;
        }
      }),
    listTopics: () => withAdmin(ctx, 'cannot list topics', (admin) => admin.listTopics({ timeout })),
    watermarks: (topic) =>
      withAdmin(ctx, `cannot read offsets of ${topic}`, async (admin) =>
        (await admin.fetchTopicOffsets(topic, { timeout, isolationLevel: ctx.library.KafkaJS.IsolationLevel.READ_COMMITTED }))
          .map((p) => ({ partition: p.partition, low: String(p.low), high: String(p.high) }))
          .sort((a, b) => a.partition - b.partition),
      ),
    committedOffsets: async (groupId, topic) => {
      const what = `cannot read committed offsets of ${groupId} on ${topic}`;
      const partitions = await withAdmin(ctx, what, (admin) => partitionsOf(admin, topic, timeout));
      if (partitions.length === 0) return [];
      // Through a consumer of the group that never joins, not the admin API:
      // librdkafka's ListConsumerGroupOffsets dereferences the client's
      // consumer-group handle, which an admin client lacks, when the
      // coordinator answers NOT_COORDINATOR, as a restarted broker does while
      // it loads the group. That crashed livetag serve with SIGSEGV after
      // broker faults (core dump: rd_kafka_cgrp_op(rkcg=0x0) from
      // rd_kafka_handle_OffsetFetch; librdkafka#5040,
      // confluent-kafka-javascript#374, both open).
      return withGroupMember(ctx, groupId, what, async (consumer) => {
        const committed = await committedWithin(consumer, partitions.map((partition) => ({ topic, partition })), timeout);
        const found = new Map(committed.map((p) => [p.partition, p]));
        return partitions.map((partition) => {
          const p = found.get(partition);
          // Nothing committed: null from the library's consumer, or librdkafka's OFFSET_INVALID (-1001); kafkajs says -1.
          const offset = p?.offset == null || BigInt(p.offset) < 0n ? '-1' : String(p.offset);
          return { partition, offset };
        });
      });
    },
    setCommittedOffsets: (groupId, topic, partitions) =>
      withGroupMember(ctx, groupId, `cannot commit offsets of ${groupId} on ${topic} (the group must have no active members)`, async (consumer) => {
        if (partitions.length === 0) return;
        await consumer.commitOffsets(partitions.map((p) => ({ topic, partition: p.partition, offset: p.offset })));
      }),
    deleteGroups: (groupIds) =>
      withAdmin(ctx, `cannot delete groups ${groupIds.join(', ')}`, (admin) => deleteGroupsTolerant((ids) => admin.deleteGroups(ids, { timeout }), groupIds)),
    describeCluster: () => describeCluster(ctx),
  };
}
