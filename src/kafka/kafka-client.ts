/**
 * The Kafka adapter: the only module that imports kafkajs. Everything else in
 * livetag goes through these factories, so swapping the client library (or
 * pinning its quirks) happens in one place.
 */
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { Admin, Consumer, ConsumerConfig, ITopicConfig, Producer, ProducerConfig, SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { LivetagError } from '../common/errors.ts';

export type {
  Admin,
  Consumer,
  ConsumerConfig,
  EachBatchPayload,
  EachMessagePayload,
  IHeaders,
  ITopicConfig,
  KafkaMessage,
  Message,
  Offsets,
  Producer,
  ProducerConfig,
  RecordMetadata,
  SASLOptions,
  Transaction,
} from 'kafkajs';

export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

const LOG_LEVELS: Record<KafkaLogLevel, logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};

const TRANSIENT = /coordinator is loading|coordinator is not available|not the correct coordinator|group is rebalancing|leadership election/i;

export type KafkaClientOptions = {
  /** `host:port` list, or one comma-separated string as in `KAFKA_BROKERS`. */
  readonly brokers: string | readonly string[];
  readonly clientId: string;
  readonly ssl?: boolean | ConnectionOptions;
  readonly sasl?: SASLOptions;
  /** kafkajs logs every retried connection at ERROR and chatters at INFO; default `error`. */
  readonly logLevel?: KafkaLogLevel;
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** Upper bound on kafkajs' own retry loop for one operation. */
  readonly maxRetryTimeMs?: number;
  readonly retries?: number;
  /**
   * Route kafkajs' log lines to the service's logger instead of its own JSON on
   * stdout. kafkajs reports retried, recovered conditions (a coordinator still
   * loading, a rebalance) at ERROR; they arrive here as warnings, since real
   * failures reach the caller as thrown errors.
   */
  readonly log?: (level: 'debug' | 'warn', message: string, fields: Record<string, unknown>) => void;
};

/** A kafkajs client whose producers default to the Java-compatible partitioner. */
export type KafkaClient = {
  readonly brokers: readonly string[];
  readonly kafka: Kafka;
  producer(config?: ProducerConfig): Producer;
  consumer(config: ConsumerConfig): Consumer;
  admin(): Admin;
};

export function parseBrokers(brokers: string | readonly string[]): string[] {
  const list = (typeof brokers === 'string' ? brokers.split(',') : [...brokers]).map((b) => b.trim()).filter(Boolean);
  if (list.length === 0) throw new LivetagError('LT_CONFIG_INVALID', 'no Kafka brokers given');
  for (const b of list) {
    if (!/^[^\s:]+:\d+$/.test(b) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(b)) {
      throw new LivetagError('LT_CONFIG_INVALID', `Kafka broker "${b}" is not host:port`);
    }
  }
  return list;
}

export function createKafka(options: KafkaClientOptions): KafkaClient {
  const brokers = parseBrokers(options.brokers);
  const kafka = new Kafka({
    brokers,
    clientId: options.clientId,
    ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
    ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
    logLevel: LOG_LEVELS[options.logLevel ?? 'error'],
    ...(options.log === undefined
      ? {}
      : {
          logCreator:
            () =>
            ({ namespace, level, log }: { namespace: string; level: logLevel; log: { message: string } & Record<string, unknown> }) => {
              const { message, timestamp: _t, logger: _l, ...fields } = log;
              // Coordinator start-up and rebalances are answered with errors that
              // kafkajs retries and recovers from: normal operation, not a warning.
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
  return {
    brokers,
    kafka,
    // Setting the partitioner explicitly silences kafkajs' v2 migration warning
    // (the KAFKAJS_NO_PARTITIONER_WARNING one) and keeps key->partition mapping
    // identical to Java producers writing to the same topics.
    producer: (config = {}) => kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...config }),
    consumer: (config) => kafka.consumer(config),
    admin: () => kafka.admin(),
  };
}

export type TopicSpec = {
  readonly topic: string;
  readonly partitions?: number;
  readonly replicationFactor?: number;
  /** Topic-level configs, e.g. `{ 'retention.ms': '3600000' }`. */
  readonly configs?: Readonly<Record<string, string>>;
};

/** Runs `fn` with a connected admin client and always disconnects it. */
export async function withAdmin<T>(client: KafkaClient, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = client.admin();
  try {
    await admin.connect();
    return await fn(admin);
  } finally {
    // Also after a failed connect: kafkajs keeps a socket that was accepted but
    // never answered (e.g. something else on the port) open until disconnect().
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Creates the topics that do not exist yet and waits for their leaders; returns
 * the names it created. Existing topics are left as they are (partition counts
 * of a live topic are an operator's decision, not a side effect of startup).
 */
export async function ensureTopics(client: KafkaClient, topics: readonly TopicSpec[], timeoutMs = 30_000): Promise<string[]> {
  try {
    return await withAdmin(client, async (admin) => {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t.topic));
      if (missing.length === 0) return [];
      const configs: ITopicConfig[] = missing.map((t) => ({
        topic: t.topic,
        numPartitions: t.partitions ?? 1,
        replicationFactor: t.replicationFactor ?? -1,
        configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      }));
      // createTopics resolves false (rather than throwing) when another client
      // created one of them first; both outcomes leave the topics in place.
      await admin.createTopics({ topics: configs, waitForLeaders: true, timeout: timeoutMs });
      return missing.map((t) => t.topic);
    });
  } catch (err) {
    throw new LivetagError('LT_KAFKA', `cannot create topics ${topics.map((t) => t.topic).join(', ')}: ${messageOf(err)}`, { cause: err });
  }
}

/** Deletes the topics that exist; missing ones are not an error. */
export async function deleteTopics(client: KafkaClient, topics: readonly string[], timeoutMs = 30_000): Promise<void> {
  try {
    await withAdmin(client, async (admin) => {
      const existing = new Set(await admin.listTopics());
      const present = topics.filter((t) => existing.has(t));
      if (present.length > 0) await admin.deleteTopics({ topics: present, timeout: timeoutMs });
    });
  } catch (err) {
    throw new LivetagError('LT_KAFKA', `cannot delete topics ${topics.join(', ')}: ${messageOf(err)}`, { cause: err });
  }
}

export type ClusterInfo = {
  readonly clusterId: string;
  readonly controller: number | null;
  readonly brokers: ReadonlyArray<{ readonly nodeId: number; readonly host: string; readonly port: number }>;
};

/** One readiness check: connects, describes the cluster, disconnects. Throws LT_KAFKA if unreachable. */
export async function probeKafka(
  options: Pick<KafkaClientOptions, 'brokers' | 'ssl' | 'sasl'> & { readonly timeoutMs?: number },
): Promise<ClusterInfo> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  // A probe must answer quickly and quietly: no kafkajs retry loop, no logs of
  // the expected "connection refused" while a broker boots.
  const client = createKafka({
    brokers: options.brokers,
    clientId: 'livetag-probe',
    ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
    ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
    logLevel: 'nothing',
    connectionTimeoutMs: Math.min(timeoutMs, 3_000),
    requestTimeoutMs: timeoutMs,
    retries: 0,
  });
  try {
    return await withAdmin(client, (admin) => admin.describeCluster());
  } catch (err) {
    throw new LivetagError('LT_KAFKA', `Kafka at ${client.brokers.join(',')} is not reachable: ${messageOf(err)}`, { cause: err });
  }
}

/**
 * Polls `probeKafka` until it succeeds (and `accept` likes the answer),
 * `timeoutMs` passes, or `abort` returns a reason to give up early (e.g. the
 * broker process died).
 */
export async function waitForKafka(
  options: Pick<KafkaClientOptions, 'brokers' | 'ssl' | 'sasl'> & {
    readonly timeoutMs: number;
    readonly intervalMs?: number;
    readonly abort?: () => string | undefined;
    /** E.g. check the cluster id, so that another broker on the port is not mistaken for ours. */
    readonly accept?: (info: ClusterInfo) => boolean;
  },
): Promise<ClusterInfo> {
  const deadline = Date.now() + options.timeoutMs;
  let last: unknown;
  for (;;) {
    const reason = options.abort?.();
    if (reason !== undefined) throw new LivetagError('LT_KAFKA', reason);
    try {
      const info = await probeKafka({ ...options, timeoutMs: Math.max(1_000, Math.min(5_000, deadline - Date.now())) });
      if (info.brokers.length > 0 && (options.accept?.(info) ?? true)) return info;
      last = new Error(`unexpected cluster ${info.clusterId} answered`);
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      throw new LivetagError('LT_KAFKA', `Kafka not ready after ${options.timeoutMs} ms: ${messageOf(last)}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
