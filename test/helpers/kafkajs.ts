/**
 * A plain kafkajs toolkit for tests and benchmarks: an independent client that
 * produces input and reads what the service wrote, without going through the
 * adapter under test (src/kafka/), so a bug there cannot hide itself.
 */
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { Admin, Consumer, ConsumerConfig, ITopicConfig, KafkaConfig, Producer, ProducerConfig } from 'kafkajs';
import { LivetagError } from '../../src/common/errors.ts';
import { parseBrokers } from '../../src/kafka/client.ts';

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


export type KafkaClientOptions = {
  /** `host:port` list, or one comma-separated string as in `KAFKA_BROKERS`. */
  readonly brokers: string | readonly string[];
  readonly clientId: string;
  /** kafkajs logs every retried connection at ERROR; default `error`. */
  readonly logLevel?: KafkaLogLevel;
  /** For a secured broker (test/integration/security/). */
  readonly ssl?: KafkaConfig['ssl'];
  readonly sasl?: KafkaConfig['sasl'];
};

/** A kafkajs client whose producers default to the Java-compatible partitioner. */
export type KafkaClient = {
  readonly brokers: readonly string[];
  readonly kafka: Kafka;
  producer(config?: ProducerConfig): Producer;
  consumer(config: ConsumerConfig): Consumer;
  admin(): Admin;
};

export function createKafka(options: KafkaClientOptions): KafkaClient {
  const brokers = parseBrokers(options.brokers);
  const kafka = new Kafka({
    brokers,
    clientId: options.clientId,
    logLevel: LOG_LEVELS[options.logLevel ?? 'error'],
    ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
    ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
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

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
