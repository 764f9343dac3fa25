/**
 * The consumer of the librdkafka adapter (confluent-adapter.ts): the port's
 * KafkaConsumer on the library's KafkaJS-style consumer. Where the library
 * cannot do what the port promises, the code says so; docs/kafka.md sums the
 * differences up.
 */
import type { KafkaJS as KJS, RdKafka } from '@confluentinc/kafka-javascript';
import { errorCode, LivetagError } from '../common/errors.ts';
import { consumedRecord } from './adapter-kit.ts';
import { guard, type Context } from './confluent-context.ts';
import { batchLastOffset, toCommitError, toConfluentError } from './confluent-mapping.ts';
import type { ConsumedRecord, ConsumerEvent, ConsumerOptions, KafkaConsumer, RecordBatch } from './port.ts';

const ERR_ASSIGN_PARTITIONS = -175;

/** What the library's KafkaJS consumer keeps for itself but the adapter needs (see lastOffset, fatal errors). */
interface InternalConsumer {
  _getInternalClient(): RdKafka.KafkaConsumer | null;
}

const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export function createConsumer(ctx: Context, o: ConsumerOptions): KafkaConsumer {
  const listeners = new Set<(e: ConsumerEvent) => void>();
  const emit = (e: ConsumerEvent): void => listeners.forEach((l) => l(e));
  const concurrency = Math.max(1, o.concurrency ?? 1);

  // Which generation of the assignment owns each partition: a batch handed
  // out under an older one is no longer current (port: isCurrent).
  let generation = 0;
  const owned = new Map<string, number>();
  // pause() marks the library's batches stale, but the port lets batches of a
  // paused topic run on; counting pauses tells that staleness apart.
  const pauses = new Map<string, number>();
  const paused = new Set<string>();
  const failures = new Map<string, number>();
  /** Partitions of the latest assignment, for the `joined` a recovery reports. */
  let assigned = 0;
  let stopping = false;
  let connected = false;
  let starting: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;
  let onJoined: (() => void) | undefined;
  let wake: (() => void) | undefined;

  const consumer = ctx.kafka.consumer({
    kafkaJS: {
      groupId: o.groupId,
      fromBeginning: o.fromBeginning,
      autoCommit: false,
      readUncommitted: o.readUncommitted ?? false,
      ...(o.sessionTimeoutMs === undefined ? {} : { sessionTimeout: o.sessionTimeoutMs }),
      ...(o.heartbeatIntervalMs === undefined ? {} : { heartbeatInterval: o.heartbeatIntervalMs }),
      ...(o.maxWaitMs === undefined ? {} : { maxWaitTimeInMs: o.maxWaitMs }),
    },
    // A batch holds everything fetched for its partition (as kafkajs hands
    // out whole fetch responses), which is also what makes lastOffset exact.
    'js.consumer.max.batch.size': -1,
    // Called by the library on every assignment change, before it applies it.
    rebalance_cb: (err: { code: number }, assignment: KJS.TopicPartition[]) => {
      if (err.code === ERR_ASSIGN_PARTITIONS) {
        generation++;
        for (const tp of assignment) owned.set(partitionKey(tp.topic, tp.partition), generation);
        const partitions = assignment.length;
        assigned = partitions;
        // After the library has applied the assignment (it does so right after this returns).
        setImmediate(() => {
          // The library pauses the partitions assigned now; the port pauses topics.
          const topics = [...paused].filter((t) => assignment.some((tp) => tp.topic === t));
          if (topics.length > 0 && !stopping) pauseNow(topics);
          // librdkafka keeps a partition's pause across assignments, and the
          // library resumes a topic by the partitions assigned at that moment:
          // a resume while none was assigned (mid-rebalance, e.g. after a
          // broker restart) reached nothing, and the partition came back
          // paused for good. So each assignment resumes those the library
          // still lists as paused although the port runs their topic. Only
          // those: a resume restarts the partition's fetch, which would hand
          // out again what was fetched since the assignment.
          if (!stopping) resumeLeftovers(assignment);
          emit({ type: 'joined', partitions });
          onJoined?.();
        });
      } else {
        for (const tp of assignment) owned.delete(partitionKey(tp.topic, tp.partition));
      }
    },
  });

  function pauseNow(topics: readonly string[]): void {
    for (const t of topics) pauses.set(t, (pauses.get(t) ?? 0) + 1);
    try {
      consumer.pause(topics.map((topic) => ({ topic })));
    } catch (err) {
      // Not connected (yet, or any more): applied at the next assignment.
      ctx.options.log?.('debug', `librdkafka: pause deferred: ${(err as Error).message}`, { topics });
    }
  }

  function resumeLeftovers(assignment: readonly KJS.TopicPartition[]): void {
    try {
      const assigned = new Set(assignment.map((tp) => partitionKey(tp.topic, tp.partition)));
      const leftovers = consumer
        .paused()
        .filter(({ topic }) => !paused.has(topic))
        .map(({ topic, partitions }) => ({ topic, partitions: partitions.filter((p) => assigned.has(partitionKey(topic, p))) }))
        .filter(({ partitions }) => partitions.length > 0);
      if (leftovers.length > 0) consumer.resume(leftovers);
    } catch (err) {
      ctx.options.log?.('debug', `librdkafka: resume skipped: ${(err as Error).message}`, { partitions: assignment.length });
    }
  }

  function internalClient(): RdKafka.KafkaConsumer | null {
    return (consumer as unknown as InternalConsumer)._getInternalClient();
  }

  function backoff(key: string): Promise<void> {
    const n = (failures.get(key) ?? 0) + 1;
    failures.set(key, n);
    const ms = Math.min(ctx.options.maxRetryTimeMs ?? 30_000, 300 * 2 ** Math.min(n - 1, 10));
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      const previous = wake;
      wake = () => {
        clearTimeout(timer);
        resolve();
        previous?.();
      };
    });
  }

  const stoppedWhileStarting = () => new LivetagError('LT_STOPPED', `consumer of group ${o.groupId} was stopped while it was starting`);

  const run = async (eachBatch: (batch: RecordBatch) => Promise<void>, p: KJS.EachBatchPayload): Promise<void> => {
    // A fetch already in flight when stop() came still delivers: not handed out, not resolved, so the next owner reads it from the committed offset.
    if (stopping) return;
    const { topic, partition } = p.batch;
    const key = partitionKey(topic, partition);
    const myGeneration = owned.get(key);
    const myPauses = pauses.get(topic) ?? 0;
    const fetchedAt = Date.now();
    const records: ConsumedRecord[] = p.batch.messages.map((m) => consumedRecord(topic, partition, m, fetchedAt));
    const first = records.length > 0 ? records[0].offset : null;
    const last = records.length > 0 ? records[records.length - 1].offset : null;
    // The library seeks a paused or reset partition back to the last offset
    // resolved for it, remembered across assignments; start each batch from
    // its own first record so a stale one (see the revocation below) is never used.
    if (first !== null && BigInt(first) > 0n) p.resolveOffset((BigInt(first) - 1n).toString());
    let position: number | undefined;
    if (concurrency === 1) {
      // With one worker no fetch runs while a batch is handed out, so the
      // consumer position is exactly where this batch's fetches ended.
      try {
        position = internalClient()?.position([{ topic, partition }])[0]?.offset;
      } catch {
        position = undefined;
      }
    }
    const revoked = (): boolean => myGeneration === undefined || owned.get(key) !== myGeneration;
    const batch: RecordBatch = {
      topic,
      partition,
      highWatermark: p.batch.highWatermark,
      lastOffset: batchLastOffset(last, position, concurrency === 1),
      records,
      resolve: (offset) => p.resolveOffset(offset),
      commit: async (next) => {
        try {
          await consumer.commitOffsets([{ topic, partition, offset: next }]);
        } catch (err) {
          throw toCommitError(err, `commit ${topic}/${partition}@${next}`);
        }
      },
      isCurrent: () => !stopping && !revoked() && p.isRunning() && (!p.isStale() || (pauses.get(topic) ?? 0) !== myPauses),
      // librdkafka heartbeats from its own thread; the library answers for the poll interval.
      heartbeat: async () => {},
    };
    try {
      await eachBatch(batch);
      // kafkajs rejoins after a failed batch and says `joined`; this library only seeks back, so
      // say it here, or the `crashed` below would leave the service unready until the next rebalance.
      if (failures.delete(key) && !stopping) emit({ type: 'joined', partitions: assigned });
    } catch (err) {
      if (errorCode(err) === 'LT_KAFKA_REBALANCE') throw err; // routine: the assignment is about to change
      if (!revoked() && !stopping) {
        // The library redelivers the unresolved rest of the batch at once; a
        // pause first keeps a persistent failure from spinning (kafkajs
        // restarts its consumer after a backoff instead).
        emit({ type: 'crashed', error: toConfluentError(err, `consumer of group ${o.groupId} failed on ${topic}/${partition}`), restarting: true });
        await backoff(key);
        throw err;
      }
    }
    if (revoked() && last !== null) {
      // Revoked while in flight: without this the library would queue a seek
      // back to the first unresolved record and apply it when the partition
      // comes back, possibly long after others committed past it. A new
      // assignment starts from the committed offset, which is what the port wants.
      p.resolveOffset(last);
    }
  };

  return {
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    start(eachBatch) {
      if (starting) return Promise.reject(new LivetagError('LT_KAFKA', `consumer of group ${o.groupId} was started already`, { retryable: false }));
      starting = (async () => {
        await guard(`consumer of group ${o.groupId}`, async () => {
          await ctx.loginCheck();
          await consumer.connect();
          connected = true;
          if (stopping) throw stoppedWhileStarting();
          const internal = internalClient();
          internal?.on('event.error', (err: { isFatal?: boolean; message?: string }) => {
            // librdkafka retries everything else by itself; a fatal error
            // leaves the client unusable.
            if (err.isFatal) emit({ type: 'crashed', error: toConfluentError(err, `consumer of group ${o.groupId} failed`), restarting: false });
          });
          let set = ctx.live.get(o.groupId);
          if (!set) ctx.live.set(o.groupId, (set = new Set()));
          set.add(consumer);
          await consumer.subscribe({ topics: [...o.topics] });
          const joined = new Promise<void>((resolve) => (onJoined = resolve));
          await consumer.run({
            eachBatchAutoResolve: false,
            partitionsConsumedConcurrently: concurrency,
            eachBatch: (p) => run(eachBatch, p),
          });
          // kafkajs' run() returns once the member joined; the library's
          // returns at once and joins on its first poll.
          await Promise.race([joined, new Promise<void>((resolve) => (wake = resolve))]);
          if (stopping) throw stoppedWhileStarting();
        });
      })();
      return starting;
    },
    pause(topics) {
      for (const t of topics) paused.add(t);
      if (connected) pauseNow(topics);
    },
    resume(topics) {
      for (const t of topics) paused.delete(t);
      if (!connected) return;
      try {
        consumer.resume(topics.map((topic) => ({ topic })));
      } catch (err) {
        ctx.options.log?.('debug', `librdkafka: resume skipped: ${(err as Error).message}`, { topics });
      }
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        wake?.();
        ctx.live.get(o.groupId)?.delete(consumer);
        // The library cannot stop a consumer that is still connecting.
        await starting?.catch(() => {});
        if (!connected) return;
        await guard(`stopping consumer of group ${o.groupId}`, () => consumer.disconnect());
        emit({ type: 'stopped' });
      })();
      return stopped;
    },
  };
}
