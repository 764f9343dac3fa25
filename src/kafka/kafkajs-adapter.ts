/**
 * The kafkajs adapter: the only module that imports kafkajs. It maps the
 * Kafka port (port.ts) onto kafkajs and its errors onto LivetagError.
 */
import kafkajs, { CompressionTypes, Kafka, Partitioners, logLevel, type Admin, type Consumer, type EachBatchPayload, type Message, type Producer } from 'kafkajs';
import { LivetagError } from '../common/errors.ts';
import { consumedRecord, deleteGroupsTolerant, groupByTopic, keptConnection, libraryErrorOf, newTopics, portClient, portTransaction, rebalanceSignal, stoppableStart, topicOffsets, withConnected } from './adapter-kit.ts';
import { authErrorCode } from './auth-errors.ts';
import type { ClientOptions } from './client-options.ts';
import type { SaslSettings } from './connection.ts';
import { createOAuthTokenSource } from './oauth-token.ts';
import { CODECS, type Codec } from './codecs.ts';
import { createStableOffsets, createTxnOffsetLedger, type TxnOffsetLedger } from './stable-offsets.ts';
import { fixIdleRequestQueueTimer, fixIdleRequestTimeoutCheck } from './kafkajs-request-queue.ts';
import { fixOrphanedBrokers } from './kafkajs-broker-pool.ts';
import type {
  ConsumerEvent, ConsumerOptions, KafkaAdmin, KafkaClient, KafkaConsumer, KafkaProducer, KafkaTransaction,
  Compression, ProducerOptions, RecordBatch, TopicPartitionOffset, TopicSpec,
} from './port.ts';

// kafkajs ships gzip only and throws KafkaJSNotImplemented on any other
// batch, which would stop the consumer on the first lz4 batch of a Java producer.
const asKafkajsCodec = (c: Codec) => () => ({ compress: (encoder: { buffer: Buffer }) => c.compress(encoder.buffer), decompress: (data: Buffer) => c.decompress(data) });
// kafkajs' CommonJS exports hide CompressionCodecs from ESM named imports.
const { CompressionCodecs } = kafkajs;
CompressionCodecs[CompressionTypes.Snappy] = asKafkajsCodec(CODECS.snappy);
CompressionCodecs[CompressionTypes.LZ4] = asKafkajsCodec(CODECS.lz4);
CompressionCodecs[CompressionTypes.ZSTD] = asKafkajsCodec(CODECS.zstd);
fixIdleRequestQueueTimer();
fixIdleRequestTimeoutCheck();
fixOrphanedBrokers();

const COMPRESSION_TYPES: Readonly<Record<Compression, CompressionTypes>> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

const LOG_LEVELS = { nothing: logLevel.NOTHING, error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO, debug: logLevel.DEBUG } as const;

// Coordinator start-up and rebalances are answered with errors that kafkajs
// retries and recovers from: normal operation, not a warning.
const TRANSIENT = /coordinator is loading|coordinator is not available|not the correct coordinator|group is rebalancing|leadership election/i;

type KafkajsError = { name?: string; retriable?: boolean; errors?: unknown[]; cause?: unknown };

/**
 * kafkajs marks its errors `retriable`. An aggregate (e.g. one per topic of a
 * CreateTopics) is retriable only if all its parts are; "retries exhausted"
 * is judged by the error that was being retried, since a later attempt may
 * still succeed where that one was transient.
 */
function retriableOf(err: unknown): boolean | undefined {
  const e = (err ?? {}) as KafkajsError;
  if (Array.isArray(e.errors) && e.errors.length > 0) return e.errors.every((x) => retriableOf(x) !== false);
  if (e.name === 'KafkaJSNumberOfRetriesExceeded') return e.cause ? (retriableOf(e.cause) ?? true) : true;
  return e.retriable;
}

/** Anything kafkajs does not judge (a refused connection, a bug) is assumed transient. */
export function toKafkaError(err: unknown, what: string): LivetagError {
  if (err instanceof LivetagError) return err;
  const retriable = retriableOf(err);
  const message = err instanceof Error ? err.message : String(err);
  const auth = authErrorCode(err);
  if (auth) return new LivetagError(auth, `${what}: ${message}`, { cause: err });
  return new LivetagError('LT_KAFKA', `${what}: ${message}`, { cause: err, retryable: retriable ?? true });
}

async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toKafkaError(err, what);
  }
}

/** OAUTHBEARER: kafkajs asks the provider at every connection; the token source caches and refreshes. */
function kafkajsSasl(sasl: SaslSettings): object {
  if (!('oauth' in sasl)) return { ...sasl };
  const source = createOAuthTokenSource(sasl.oauth);
  return { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: (await source.token()).value }) };
}

function createKafkajs(options: ClientOptions): Kafka {
  const c = options.connection;
  return new Kafka({
    brokers: [...c.brokers],
    clientId: c.clientId,
    ...(c.ssl === undefined ? {} : { ssl: c.ssl === true ? true : { ...c.ssl } }),
    ...(c.sasl === undefined ? {} : { sasl: kafkajsSasl(c.sasl) as never }),
    logLevel: LOG_LEVELS[options.logLevel ?? 'error'],
    ...(options.log === undefined
      ? {}
      : {
          logCreator:
            () =>
            ({ namespace, level, log }: { namespace: string; level: logLevel; log: { message: string } & Record<string, unknown> }) => {
              const { message, timestamp: _t, logger: _l, ...fields } = log;
              const transient = typeof fields.error === 'string' && TRANSIENT.test(fields.error);
              options.log!(level <= logLevel.WARN && !transient ? 'warn' : 'debug', `kafkajs ${namespace}: ${message}`, fields);
            },
        }),
    ...(options.connectionTimeoutMs === undefined ? {} : { connectionTimeout: options.connectionTimeoutMs }),
    ...(options.requestTimeoutMs === undefined ? {} : { requestTimeout: options.requestTimeoutMs }),
    retry: {
      ...(options.maxRetryTimeMs === undefined ? {} : { maxRetryTime: options.maxRetryTimeMs }),
      ...(options.retries === undefined ? {} : { retries: options.retries }),
    },
  });
}

/** Says why a group's coordinator could not be found when the broker refused it, else undefined. */
type GroupProbe = (groupId: string) => Promise<string | undefined>;

function isCoordinatorNotFound(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 4) return false;
  const e = err as { name?: unknown; cause?: unknown; originalError?: unknown };
  return e.name === 'KafkaJSGroupCoordinatorNotFound' || isCoordinatorNotFound(e.cause, depth + 1) || isCoordinatorNotFound(e.originalError, depth + 1);
}

/**
 * kafkajs answers a FindCoordinator the broker refuses for a missing group ACL
 * (GROUP_AUTHORIZATION_FAILED) with "Failed to find group coordinator" and
 * keeps the cause in a debug log line. On that error only, a short-lived
 * client at debug level asks once more and reads the cause from its log, so a
 * missing ACL is reported as LT_KAFKA_DENIED, not retried as LT_KAFKA.
 */
function createGroupProbe(options: ClientOptions): GroupProbe {
  return async (groupId) => {
    let refused: string | undefined;
    const probe = createKafkajs({
      ...options,
      logLevel: 'debug',
      // One retry: a fresh client refreshes its metadata before it can ask for a coordinator.
      retries: 2,
      log: (_level, message, fields) => {
        if (message.endsWith('Tried to find group coordinator') && authErrorCode(fields.error) === 'LT_KAFKA_DENIED') {
          refused ??= (fields.error as Error).message;
        }
      },
    });
    const admin = probe.admin();
    try {
      await admin.connect();
      await admin.fetchOffsets({ groupId, topics: [] });
    } catch {
      // The failure is expected; the log line says why.
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    return refused;
  };
}

/** toKafkaError, except that a coordinator refused by ACLs becomes LT_KAFKA_DENIED naming the group. */
async function toGroupError(err: unknown, what: string, groupId: string, probe: GroupProbe): Promise<LivetagError> {
  if (!isCoordinatorNotFound(err)) return toKafkaError(err, what);
  const refused = await probe(groupId).catch(() => undefined);
  return refused ? new LivetagError('LT_KAFKA_DENIED', `${what}: group ${groupId}: ${refused}`, { cause: err }) : toKafkaError(err, what);
}

function toBatch(consumer: Consumer, p: EachBatchPayload): RecordBatch {
  const { batch } = p;
  const { topic, partition } = batch;
  const fetchedAt = Date.now();
  return {
    topic,
    partition,
    highWatermark: batch.highWatermark,
    // kafkajs' lastOffset() counts control records (transaction markers) that `messages` leaves out.
    lastOffset: batch.isEmpty() ? null : batch.lastOffset(),
    records: batch.messages.map((m) => consumedRecord(topic, partition, m, fetchedAt)),
    resolve: (offset) => p.resolveOffset(offset),
    // kafkajs ignores commitOffsets once the consumer is stopped: callers
    // commit before stop() (the stream service's drain waits for handlers).
    // Refused mid-rebalance: the signal the service stops the batch on and kafkajs rejoins on, not a failure.
    commit: (next) => guard(`commit ${topic}/${partition}@${next}`, () => consumer.commitOffsets([{ topic, partition, offset: next }]).catch(rebalanceSignal)),
    isCurrent: () => p.isRunning() && !p.isStale(),
    heartbeat: () => p.heartbeat().catch(rebalanceSignal),
  };
}

function createConsumer(kafka: Kafka, o: ConsumerOptions, probe: GroupProbe, ledger: TxnOffsetLedger, log: ClientOptions['log']): KafkaConsumer {
  const consumer = kafka.consumer({
    groupId: o.groupId,
    readUncommitted: o.readUncommitted ?? false,
    ...(o.sessionTimeoutMs === undefined ? {} : { sessionTimeout: o.sessionTimeoutMs }),
    ...(o.heartbeatIntervalMs === undefined ? {} : { heartbeatInterval: o.heartbeatIntervalMs }),
    ...(o.maxWaitMs === undefined ? {} : { maxWaitTimeInMs: o.maxWaitMs }),
  });
  const listeners = new Set<(e: ConsumerEvent) => void>();
  const emit = (e: ConsumerEvent): void => listeners.forEach((l) => l(e));
  consumer.on(consumer.events.GROUP_JOIN, (e) => emit({ type: 'joined', partitions: Object.values(e.payload.memberAssignment).flat().length }));
  consumer.on(consumer.events.CRASH, (e) => {
    const what = `consumer of group ${o.groupId} crashed`;
    if (!isCoordinatorNotFound(e.payload.error)) return emit({ type: 'crashed', error: toKafkaError(e.payload.error, what), restarting: e.payload.restart });
    // kafkajs restarts after this error; a missing ACL will not appear by retrying, so it is final for us.
    void toGroupError(e.payload.error, what, o.groupId, probe).then((error) => {
      const final = error.code === 'LT_KAFKA_DENIED';
      if (final && e.payload.restart) void consumer.disconnect().catch(() => undefined);
      emit({ type: 'crashed', error, restarting: final ? false : e.payload.restart });
    });
  });
  consumer.on(consumer.events.STOP, () => emit({ type: 'stopped' }));
  const stable = createStableOffsets(o.groupId, ledger, (m) => log?.('warn', `kafkajs: ${m}`, {}), async () => {
    const admin = kafka.admin({ retry: { retries: 0 } });
    await admin.connect();
    return {
      read: async (topic, partition) => (await admin.fetchOffsets({ groupId: o.groupId, topics: [topic] }))[0]?.partitions.find((p) => p.partition === partition)?.offset,
      close: () => admin.disconnect(),
    };
  });
  const lifecycle = stoppableStart(`consumer of group ${o.groupId}`, () => {
    // kafkajs throws on pause/resume once disconnected, as before run().
    running = false;
    return guard(`stopping consumer of group ${o.groupId}`, () => consumer.disconnect());
  });
  let stopping: Promise<void> | undefined;
  let running = false;
  return {
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    start: (eachBatch) =>
      lifecycle.start((live) => guard(`consumer of group ${o.groupId}`, async () => {
        await consumer.connect();
        live();
        await consumer.subscribe({ topics: [...o.topics], fromBeginning: o.fromBeginning });
        live();
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: o.concurrency ?? 1,
          eachBatch: async (p) => {
            try {
              // kafkajs rejoins on its own rebalance error: hand it back that, not our signal.
              await eachBatch(toBatch(consumer, p)).catch((err: unknown) => Promise.reject(libraryErrorOf(err)));
            } finally {
              await stable.settle(p.batch.topic, p.batch.partition);
            }
          },
        });
        running = true;
      })),
    // kafkajs throws on pause/resume before run(), e.g. while a service whose
    // subscribe was refused (ACLs) drains: nothing is fetched then, nothing to pause.
    pause: (topics) => void (running && consumer.pause(topics.map((topic) => ({ topic })))),
    resume: (topics) => void (running && consumer.resume(topics.map((topic) => ({ topic })))),
    stop: () => (stopping ??= lifecycle.stop().finally(() => stable.stop())),
  };
}

function createProducer(kafka: Kafka, o: ProducerOptions, ledger: TxnOffsetLedger): KafkaProducer {
  const producer: Producer = kafka.producer({
    // The Java-compatible partitioner keeps key -> partition identical to
    // Java producers on the same topics (and silences kafkajs' v2 warning).
    createPartitioner: Partitioners.DefaultPartitioner,
    ...(o.idempotent || o.transactionalId ? { idempotent: true, maxInFlightRequests: 1 } : {}),
    ...(o.transactionalId ? { transactionalId: o.transactionalId } : {}),
  });
  const compression = COMPRESSION_TYPES[o.compression ?? 'none'];
  const lifecycle = stoppableStart('producer', () => guard('stopping producer', () => producer.disconnect()));
  return {
    start: () => lifecycle.start(() => guard('producer connect', () => producer.connect())),
    async send(records) {
      if (records.length === 0) return;
      await guard('send', () => producer.sendBatch({ topicMessages: groupByTopic(records) as { topic: string; messages: Message[] }[], acks: -1, compression }));
    },
    async transaction(): Promise<KafkaTransaction> {
      const txn = await guard('begin transaction', () => producer.transaction());
      const sent: { groupId: string; offsets: readonly TopicPartitionOffset[] }[] = [];
      const compressed = {
        sendBatch: (batch: { topicMessages: ReturnType<typeof groupByTopic> }) => txn.sendBatch({ topicMessages: batch.topicMessages as { topic: string; messages: Message[] }[], compression }),
        commit: async () => {
          await txn.commit();
          for (const s of sent) ledger.committed(s.groupId, s.offsets);
        },
        abort: () => txn.abort(),
      };
      return portTransaction(compressed, guard, async (groupId, offsets) => {
        await txn.sendOffsets({ consumerGroupId: groupId, topics: topicOffsets(offsets) });
        sent.push({ groupId, offsets });
      });
    },
    stop: () => lifecycle.stop(),
  };
}

/** How an admin call gets a connected client: one of its own (KafkaAdmin) or a session's. */
type AdminRunner = <T>(toError: (err: unknown) => LivetagError | Promise<LivetagError>, fn: (admin: Admin) => Promise<T>) => Promise<T>;

/** Each call connects a client of its own and always disconnects it. */
const ownAdmin = (kafka: Kafka): AdminRunner => (toError, fn) => withConnected(kafka.admin(), toError, fn);

function createAdmin(run: AdminRunner, probe: GroupProbe): KafkaAdmin {
  const withAdmin = <T>(what: string, fn: (admin: Admin) => Promise<T>): Promise<T> => run((err) => toKafkaError(err, what), fn);
  // Calls on a group: a coordinator refused by ACLs is reported as LT_KAFKA_DENIED.
  const withGroupAdmin = <T>(what: string, groupId: string, fn: (admin: Admin) => Promise<T>): Promise<T> => run((err) => toGroupError(err, what, groupId, probe), fn);
  return {
    ensureTopics: (topics: readonly TopicSpec[]) =>
      withAdmin(`cannot create topics ${topics.map((t) => t.topic).join(', ')}`, async (admin) => {
        const existing = new Set(await admin.listTopics());
        const missing = topics.filter((t) => !existing.has(t.topic));
        if (missing.length === 0) return [];
        // createTopics resolves false (rather than throwing) when another client
        // created one of them first; both outcomes leave the topics in place.
        await admin.createTopics({ waitForLeaders: true, timeout: 30_000, topics: newTopics(missing) });
        return missing.map((t) => t.topic);
      }),
    deleteTopics: (topics) =>
      withAdmin(`cannot delete topics ${topics.join(', ')}`, async (admin) => {
        const existing = new Set(await admin.listTopics());
        const present = topics.filter((t) => existing.has(t));
        if (present.length > 0) await admin.deleteTopics({ topics: present, timeout: 30_000 });
      }),
    listTopics: () => withAdmin('cannot list topics', (admin) => admin.listTopics()),
    watermarks: (topic) =>
      withAdmin(`cannot read offsets of ${topic}`, async (admin) =>
        (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, low: p.low, high: p.high })),
      ),
    committedOffsets: (groupId, topic) =>
      withGroupAdmin(`cannot read committed offsets of ${groupId} on ${topic}`, groupId, async (admin) => {
        const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
        return (entry?.partitions ?? []).map((p) => ({ partition: p.partition, offset: p.offset }));
      }),
    setCommittedOffsets: (groupId, topic, partitions) =>
      withGroupAdmin(`cannot commit offsets of ${groupId} on ${topic}`, groupId, (admin) =>
        admin.setOffsets({ groupId, topic, partitions: partitions.map((p) => ({ partition: p.partition, offset: p.offset })) }),
      ),
    deleteGroups: (groupIds) =>
      withAdmin(`cannot delete groups ${groupIds.join(', ')}`, (admin) => deleteGroupsTolerant((ids) => admin.deleteGroups(ids), groupIds)),
    describeCluster: () => withAdmin('cannot describe the cluster', (admin) => admin.describeCluster()),
  };
}

export function createKafkajsClient(options: ClientOptions): KafkaClient {
  const kafka = createKafkajs(options);
  const probe = createGroupProbe(options);
  const ledger = createTxnOffsetLedger();
  return portClient('kafkajs', options.connection.brokers, {
    consumer: (o) => createConsumer(kafka, o, probe, ledger, options.log),
    producer: (o) => createProducer(kafka, o ?? {}, ledger),
    admin: createAdmin(ownAdmin(kafka), probe),
    openAdminSession: () => {
      const kept = keptConnection(() => kafka.admin());
      const admin = createAdmin(kept.run, probe);
      return { watermarks: admin.watermarks, committedOffsets: admin.committedOffsets, close: kept.close };
    },
  });
}
