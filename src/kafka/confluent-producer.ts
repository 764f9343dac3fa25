/**
 * The producer of the librdkafka adapter (confluent-adapter.ts): the port's
 * KafkaProducer and its transactions on the library's KafkaJS-style producer.
 */
import type { KafkaJS as KJS } from '@confluentinc/kafka-javascript';
import { LivetagError } from '../common/errors.ts';
import { groupByTopic, portTransaction, topicOffsets } from './adapter-kit.ts';
import { guard, type Context } from './confluent-context.ts';
import { toConfluentError } from './confluent-mapping.ts';
import type { KafkaProducer, KafkaTransaction, ProducerOptions } from './port.ts';

/** librdkafka's default message.max.bytes, and its largest allowed. */
const LIBRDKAFKA_MESSAGE_MAX_BYTES = 1_000_000;
const LIBRDKAFKA_MESSAGE_MAX_BYTES_LIMIT = 1_000_000_000;
/** Its message.max.bytes also bounds a produce request, which carries a batch plus request framing. */
const BATCH_SLACK_BYTES = 4096;

/**
 * batch.size no larger than the default: one producer writes the dead-letter topic too, whose
 * default limit a larger merged batch would pass. A single record over batch.size still goes out
 * alone, so message.max.bytes is what lets a large tags record through.
 */
export function librdkafkaBatchLimits(maxBatchBytes: number): { 'batch.size': number; 'message.max.bytes': number } {
  return {
    'batch.size': Math.min(maxBatchBytes, LIBRDKAFKA_MESSAGE_MAX_BYTES),
    'message.max.bytes': Math.min(LIBRDKAFKA_MESSAGE_MAX_BYTES_LIMIT, Math.max(LIBRDKAFKA_MESSAGE_MAX_BYTES, maxBatchBytes + BATCH_SLACK_BYTES)),
  };
}

export function createProducer(ctx: Context, o: ProducerOptions): KafkaProducer {
  const transactional = o.transactionalId !== undefined;
  const idempotent = transactional || o.idempotent === true;
  const retries = ctx.options.retries ?? 5;
  const make = (): KJS.Producer =>
    ctx.kafka.producer({
      kafkaJS: {
        acks: -1,
        idempotent,
        ...(transactional ? { transactionalId: o.transactionalId } : {}),
      },
      // librdkafka refuses idempotence without retries.
      retries: idempotent ? Math.max(1, retries) : retries,
      // librdkafka has every codec built in (see its `features`).
      'compression.type': o.compression ?? 'none',
      // Its message.max.bytes (1000000) refuses a larger record before any broker sees it, and its
      // batch.size (as large) lets batches grow past a smaller topic limit.
      ...(o.maxBatchBytes === undefined ? {} : librdkafkaBatchLimits(o.maxBatchBytes)),
    });
  let producer = make();
  // Consumers that only lend their group id to sendOffsets (see there).
  const lenders = new Map<string, Promise<KJS.Consumer>>();
  let stopping: Promise<void> | undefined;
  // A stop during start's retries ends them, instead of connecting a producer nobody will close.
  let onStop!: () => void;
  const stopped = new Promise<'stopped'>((r) => (onStop = () => r('stopped')));
  const stoppedError = () => new LivetagError('LT_STOPPED', 'the producer was stopped before it connected');
  /** The library's connect() in flight: its disconnect() would wait for it (up to its ~30 s metadata timeout). */
  let connecting: Promise<unknown> | undefined;

  /**
   * The library sends transactional offsets with a consumer's group metadata
   * (KIP-447), never with a bare group id. A running consumer of this client
   * in that group lends its own, which also fences zombies; otherwise a
   * consumer that never joins lends generation -1, which the broker accepts
   * like the group-id-only form that kafkajs uses.
   */
  function consumerFor(groupId: string): Promise<KJS.Consumer> {
    const live = ctx.live.get(groupId);
    if (live && live.size > 0) return Promise.resolve([...live][0]);
    let lender = lenders.get(groupId);
    if (!lender) {
      const c = ctx.kafka.consumer({ kafkaJS: { groupId, autoCommit: false } });
      lender = c.connect().then(() => c);
      lender.catch(() => lenders.delete(groupId));
      lenders.set(groupId, lender);
    }
    return lender;
  }

  return {
    /**
     * The library's connect() fails for good after one metadata request
     * (and, for a transactional producer, one 5 s InitProducerId, which a
     * fresh cluster may need longer for) and cannot be called twice; kafkajs
     * retries. So a retryable failure starts over with a new library producer,
     * within `retries` and `maxRetryTimeMs`.
     */
    start: () =>
      guard('producer connect', async () => {
        await ctx.loginCheck();
        const deadline = Date.now() + (ctx.options.maxRetryTimeMs ?? 30_000);
        for (let attempt = 0; ; attempt++) {
          if (stopping) throw stoppedError();
          try {
            const attemptConnect = producer.connect();
            connecting = attemptConnect.then(
              () => (connecting = undefined),
              () => (connecting = undefined),
            );
            if ((await Promise.race([attemptConnect, stopped])) === 'stopped') throw stoppedError();
            return;
          } catch (err) {
            if (stopping) throw stoppedError();
            if (attempt >= retries || Date.now() >= deadline || !toConfluentError(err, '').retryable) throw err;
            await producer.disconnect().catch(() => {});
            producer = make();
            let timer: NodeJS.Timeout | undefined;
            await Promise.race([new Promise((r) => (timer = setTimeout(r, Math.min(300 * 2 ** attempt, 5_000)))), stopped]);
            clearTimeout(timer);
          }
        }
      }),
    async send(records) {
      if (records.length === 0) return;
      await guard('send', () => producer.sendBatch({ topicMessages: groupByTopic(records) as KJS.TopicMessages[] }));
    },
    async transaction(): Promise<KafkaTransaction> {
      const txn = await guard('begin transaction', () => producer.transaction());
      return portTransaction(txn as never, guard, async (groupId, offsets) => {
        if (offsets.length === 0) return;
        await txn.sendOffsets({ consumer: await consumerFor(groupId), topics: topicOffsets(offsets) });
      });
    },
    stop() {
      stopping ??= (async () => {
        onStop();
        const borrowed = await Promise.allSettled([...lenders.values()]);
        await Promise.allSettled(borrowed.map((b) => (b.status === 'fulfilled' ? b.value.disconnect() : undefined)));
        // A connect still in flight is left to end on its own and disconnected then: stop returns now.
        if (connecting) void connecting.then(() => producer.disconnect()).catch(() => {});
        else await guard('stopping producer', () => producer.disconnect());
      })();
      return stopping;
    },
  };
}
