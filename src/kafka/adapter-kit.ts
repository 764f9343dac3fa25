/**
 * Pieces both Kafka adapters build their port objects from. Nothing here
 * imports a client library: each adapter passes in its own calls and error
 * mapper, so the shapes the port promises are written once.
 */
import { LivetagError } from '../common/errors.ts';
import type {
  ConsumedRecord,
  KafkaAdmin,
  KafkaAdminSession,
  KafkaClient,
  KafkaClientName,
  KafkaConsumer,
  KafkaProducer,
  KafkaTransaction,
  OutgoingRecord,
  RecordHeaders,
  TopicPartitionOffset,
  TopicSpec,
} from './port.ts';

const ERR_GROUP_ID_NOT_FOUND = 69;

/**
 * Runs both libraries' deleteGroups; a group that never committed does not
 * exist, and that one failing the whole call is not an error here.
 */
export async function deleteGroupsTolerant(deleteGroups: (ids: string[]) => Promise<unknown>, groupIds: readonly string[]): Promise<void> {
  if (groupIds.length === 0) return;
  try {
    await deleteGroups([...groupIds]);
  } catch (err) {
    const groups = (err as { groups?: Array<{ errorCode?: number; error?: { code?: number } }> }).groups;
    const missingOnly = groups?.every((g) => {
      const code = g.errorCode ?? g.error?.code ?? 0;
      return code === 0 || code === ERR_GROUP_ID_NOT_FOUND;
    });
    if (!missingOnly) throw err;
  }
}

/** A record as both libraries take it in a batch send. */
export interface LibraryMessage {
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: RecordHeaders;
  partition?: number;
}

export function groupByTopic(records: readonly OutgoingRecord[]): { topic: string; messages: LibraryMessage[] }[] {
  const byTopic = new Map<string, LibraryMessage[]>();
  for (const r of records) {
    let list = byTopic.get(r.topic);
    if (!list) byTopic.set(r.topic, (list = []));
    list.push({
      key: r.key ?? null,
      value: r.value,
      ...(r.headers ? { headers: r.headers } : {}),
      ...(r.partition === undefined ? {} : { partition: r.partition }),
    });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** CreateTopics entries, in the shape both libraries take. */
export function newTopics(topics: readonly TopicSpec[]): { topic: string; numPartitions: number; replicationFactor: number; configEntries: { name: string; value: string }[] }[] {
  return topics.map((t) => ({
    topic: t.topic,
    numPartitions: t.partitions ?? 1,
    replicationFactor: t.replicationFactor ?? -1,
    configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
  }));
}

export function topicOffsets(offsets: readonly TopicPartitionOffset[]): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  return [...new Set(offsets.map((x) => x.topic))].map((topic) => ({
    topic,
    partitions: offsets.filter((x) => x.topic === topic).map(({ partition, offset }) => ({ partition, offset })),
  }));
}

/** A fetched message of either library as the port's record. */
export function consumedRecord(
  topic: string,
  partition: number,
  m: { offset: string; key?: Buffer | null; value?: Buffer | null; headers?: unknown; timestamp: string },
  fetchedAt: number,
): ConsumedRecord {
  return { topic, partition, offset: m.offset, key: m.key ?? null, value: m.value ?? null, headers: (m.headers ?? {}) as RecordHeaders, timestamp: m.timestamp, fetchedAt };
}

/** Connects `client`, runs `fn`, and always disconnects (also after a failed connect, which may leave a socket open). */
export async function withConnected<C extends { connect(): Promise<void>; disconnect(): Promise<void> }, T>(
  client: C,
  toError: (err: unknown) => LivetagError | Promise<LivetagError>,
  fn: (client: C) => Promise<T>,
): Promise<T> {
  try {
    await client.connect();
    return await fn(client);
  } catch (err) {
    throw await toError(err);
  } finally {
    await client.disconnect().catch(() => {});
  }
}

/**
 * The connection behind a KafkaAdminSession: one client, connected on the
 * first call and kept for the next; a failed call drops it and the next
 * connects anew. Client libraries' disconnect waits for requests in flight,
 * so close leaves a hung call's client to disconnect once that settles.
 */
export function keptConnection<C extends { connect(): Promise<void>; disconnect(): Promise<void> }>(
  create: () => C,
): { run<T>(toError: (err: unknown) => LivetagError | Promise<LivetagError>, fn: (client: C) => Promise<T>): Promise<T>; close(): Promise<void> } {
  let current: Promise<C> | undefined;
  let inFlight = 0;
  let closed = false;
  const connect = async (): Promise<C> => {
    const client = create();
    try {
      await client.connect();
      return client;
    } catch (err) {
      // A failed connect may leave a socket open.
      await client.disconnect().catch(() => {});
      throw err;
    }
  };
  const disconnect = (c: Promise<C>): Promise<void> => c.then((client) => client.disconnect()).catch(() => {});
  return {
    async run(toError, fn) {
      if (closed) throw new LivetagError('LT_STOPPED', 'the admin session is closed');
      const used = (current ??= connect());
      inFlight++;
      try {
        return await fn(await used);
      } catch (err) {
        if (current === used) current = undefined;
        void disconnect(used);
        throw await toError(err);
      } finally {
        inFlight--;
      }
    },
    async close() {
      closed = true;
      const last = current;
      current = undefined;
      if (last && inFlight === 0) await disconnect(last);
      else if (last) void disconnect(last);
    },
  };
}

/**
 * A client's start and stop when the stop can come while the start is still
 * connecting or joining (a pod signalled during start-up). kafkajs'
 * disconnect() neither ends a connect in flight (which then opens connections
 * after the close) nor stops a member still joining inside run() (its runner
 * is not running yet, and is then forgotten: the member joins and stays). So
 * stop() waits for a start in flight to settle and closes after it, when the
 * close reaches everything; the start, finding the stop at its next step
 * (`live()`, and once more at its end), ends with LT_STOPPED.
 */
export function stoppableStart(what: string, close: () => Promise<void>): {
  start(steps: (live: () => void) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
} {
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  const live = (): void => {
    if (stopping) throw new LivetagError('LT_STOPPED', `${what} was stopped while it was starting`);
  };
  return {
    start(steps) {
      if (starting) return Promise.reject(new LivetagError('LT_KAFKA', `${what} was started already`, { retryable: false }));
      starting = (async () => {
        live();
        await steps(live);
        live();
      })();
      return starting;
    },
    stop() {
      stopping ??= (async () => {
        await starting?.catch(() => undefined);
        await close();
      })();
      return stopping;
    },
  };
}

type Guard = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/** The port's transaction over a library transaction; `sendOffsets` is the library-specific part. */
export function portTransaction(
  txn: { sendBatch(batch: { topicMessages: ReturnType<typeof groupByTopic> }): Promise<unknown>; commit(): Promise<unknown>; abort(): Promise<unknown> },
  guard: Guard,
  sendOffsets: (groupId: string, offsets: readonly TopicPartitionOffset[]) => Promise<unknown>,
): KafkaTransaction {
  return {
    send: async (records) => {
      if (records.length > 0) await guard('send in transaction', () => txn.sendBatch({ topicMessages: groupByTopic(records) }));
    },
    sendOffsets: async (groupId, offsets) => {
      await guard('send offsets to transaction', () => sendOffsets(groupId, offsets));
    },
    commit: async () => {
      await guard('commit transaction', () => txn.commit());
    },
    abort: async () => {
      await guard('abort transaction', () => txn.abort());
    },
  };
}

export function portClient(
  name: KafkaClientName,
  brokers: readonly string[],
  parts: { consumer: KafkaClient['consumer']; producer: (o: Parameters<KafkaClient['producer']>[0]) => KafkaProducer; admin: KafkaAdmin; openAdminSession: () => KafkaAdminSession },
): KafkaClient {
  return { name, brokers, consumer: (o): KafkaConsumer => parts.consumer(o), producer: (o = {}) => parts.producer(o), admin: parts.admin, openAdminSession: parts.openAdminSession };
}

/** Kafka's answers that mean "rejoin the group" (the set kafkajs' runner rejoins on). */
const REBALANCE_TYPES = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION']);

/** The rebalance answer in `err` or its causes: kafkajs' retrier wraps a commit's in a KafkaJSNonRetriableError without a type. */
function rebalanceAnswer(err: unknown): { readonly type: string } | undefined {
  let e = err as { type?: unknown; cause?: unknown } | null | undefined;
  for (let depth = 0; e && depth < 4; depth++, e = e.cause as typeof e) {
    if (typeof e.type === 'string' && REBALANCE_TYPES.has(e.type)) return e as { type: string };
  }
  return undefined;
}

/**
 * A heartbeat's or a commit's rebalance answer as LT_KAFKA_REBALANCE, so the
 * service can tell it from a failure; anything else passes through unchanged.
 * Its cause is the library's own typed error, which libraryErrorOf hands back
 * so that the library rejoins.
 */
export function rebalanceSignal(err: unknown): never {
  const answer = rebalanceAnswer(err);
  if (answer) throw new LivetagError('LT_KAFKA_REBALANCE', `the group is rebalancing (${answer.type}): this batch stops and the member rejoins`, { cause: answer, retryable: true });
  throw err;
}

/** What the client library must see thrown from its batch handler: its own rebalance error (it rejoins on that), else `err`. */
export function libraryErrorOf(err: unknown): unknown {
  return err instanceof LivetagError && err.code === 'LT_KAFKA_REBALANCE' && err.cause !== undefined ? err.cause : err;
}
