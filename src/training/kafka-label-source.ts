/**
 * New labels from a Kafka topic: read from the group's committed offsets to
 * the end as it stood when the run started, then commit those end offsets
 * only once the run has succeeded. Offsets are committed with the admin
 * client after the consumer has left the group, so a run that trained for an
 * hour does not depend on a consumer session kept alive all that time.
 */
import { createKafka, type KafkaClient, type KafkaClientOptions, type Consumer } from '../kafka/kafka-client.ts';
import { LivetagError } from '../common/errors.ts';
import type { RawRecord } from './data.ts';
import type { LabelSource } from './label-source.ts';

export interface KafkaLabelSourceOptions {
  readonly kafka: Pick<KafkaClientOptions, 'brokers' | 'ssl' | 'sasl' | 'logLevel'>;
  readonly topic: string;
  readonly groupId: string;
  /** Give up if the end is not reached within this time (a stalled broker must not hang the job). */
  readonly readTimeoutMs?: number;
}

export function createKafkaLabelSource(opts: KafkaLabelSourceOptions): LabelSource {
  let client: KafkaClient | undefined;
  let ends = new Map<number, string>();
  let readDone = false;
  const timeoutMs = opts.readTimeoutMs ?? 120_000;

  async function endOffsets(c: KafkaClient): Promise<{ ends: Map<number, string>; start: Map<number, string> }> {
    const admin = c.admin();
    await admin.connect();
    try {
      const high = await admin.fetchTopicOffsets(opts.topic);
      const committed = await admin.fetchOffsets({ groupId: opts.groupId, topics: [opts.topic] });
      const start = new Map<number, string>();
      for (const t of committed) for (const p of t.partitions) start.set(p.partition, p.offset);
      const lows = new Map(high.map((p) => [p.partition, p.low]));
      for (const [p, off] of start) if (off === '-1') start.set(p, lows.get(p) ?? '0');
      return { ends: new Map(high.map((p) => [p.partition, p.high])), start };
    } finally {
      await admin.disconnect();
    }
  }

  return {
    name: `kafka:${opts.topic}`,
    async start() {
      client = createKafka({ ...opts.kafka, clientId: `livetag-train-${opts.groupId}` });
    },
    async *records() {
      if (!client) throw new LivetagError('LT_STOPPED', 'label source is not started');
      const c = client;
      let offsets;
      try {
        offsets = await endOffsets(c);
      } catch (cause) {
        throw new LivetagError('LT_KAFKA', `cannot read offsets of ${opts.topic}: ${(cause as Error).message}`, { cause });
      }
      ends = offsets.ends;
      const pending = new Map<number, bigint>();
      for (const [p, high] of ends) {
        const from = BigInt(offsets.start.get(p) ?? '0');
        if (BigInt(high) > from) pending.set(p, BigInt(high));
      }
      if (pending.size === 0) {
        readDone = true;
        return;
      }
      const buffered: RawRecord[] = [];
      const consumer: Consumer = c.consumer({ groupId: opts.groupId, allowAutoTopicCreation: false });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new LivetagError('LT_KAFKA', `did not reach the end of ${opts.topic} within ${timeoutMs} ms`)),
            timeoutMs,
          );
          const reached = (partition: number, offset: string | null): void => {
            const end = pending.get(partition);
            if (end === undefined || offset === null || BigInt(offset) + 1n < end) return;
            pending.delete(partition);
            if (pending.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          };
          // The last offsets of a transactional topic are commit markers that
          // never reach eachMessage; kafkajs still reports the batch's end.
          consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => reached(payload.partition, payload.lastOffset));
          consumer
            .run({
              autoCommit: false,
              eachMessage: async ({ partition, message }) => {
                const end = pending.get(partition);
                if (end === undefined || BigInt(message.offset) >= end) return;
                buffered.push({ source: `kafka:${opts.topic}/${partition}`, position: message.offset, value: message.value?.toString('utf8') ?? '' });
                reached(partition, message.offset);
              },
            })
            .catch((err: unknown) => {
              clearTimeout(timer);
              reject(err);
            });
        });
      } finally {
        await consumer.disconnect();
      }
      readDone = true;
      yield* buffered;
    },
    async commit() {
      if (!client || !readDone) return;
      const admin = client.admin();
      await admin.connect();
      try {
        await admin.setOffsets({
          groupId: opts.groupId,
          topic: opts.topic,
          partitions: [...ends].map(([partition, offset]) => ({ partition, offset })),
        });
      } catch (cause) {
        throw new LivetagError('LT_KAFKA', `cannot commit offsets of ${opts.topic}: ${(cause as Error).message}`, { cause });
      } finally {
        await admin.disconnect();
      }
    },
    async stop() {
      client = undefined;
    },
  };
}
