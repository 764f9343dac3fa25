/**
 * The Kafka port: what livetag needs from a Kafka client, in livetag's own
 * terms. The pipeline, the model watcher, the label source and the CLI depend
 * on these types alone; each adapter (kafkajs, librdkafka) maps them onto its
 * library and turns the library's errors into LivetagErrors (code LT_KAFKA,
 * `retryable` from the library's own judgement). test/integration/kafka
 * runs one conformance suite against every adapter.
 */

export type HeaderValue = Buffer | string;
export type RecordHeaders = Readonly<Record<string, HeaderValue | HeaderValue[] | undefined>>;

/** A consumed record. Offsets and timestamps are decimal strings (int64). */
export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: RecordHeaders;
  readonly timestamp: string;
  /** When the consumer handed the record's batch to livetag (ms, this host's clock): the output's timing splits Kafka's share of the latency from livetag's. */
  readonly fetchedAt?: number;
}

export interface OutgoingRecord {
  readonly topic: string;
  readonly key?: Buffer | string | null;
  readonly value: Buffer | string | null;
  readonly headers?: RecordHeaders;
  readonly partition?: number;
}

export interface TopicPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read (last processed + 1), as Kafka commits it. */
  readonly offset: string;
}

/**
 * Records of one partition handed to the application. Nothing is committed
 * unless the application calls `commit`; `resolve` only marks progress so a
 * rebalance inside this session does not hand the same records out again.
 */
export interface RecordBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly ConsumedRecord[];
  readonly highWatermark: string;
  /**
   * Offset of the last record this fetch covered, control records of
   * transactions included (they never appear in `records`); null when empty.
   */
  readonly lastOffset: string | null;
  resolve(offset: string): void;
  /** Commits `nextOffset` (last processed + 1) of this partition for the group. */
  commit(nextOffset: string): Promise<void>;
  /** False once the partition was revoked or the consumer is stopping: leave the rest uncommitted. */
  isCurrent(): boolean;
  /**
   * Keeps the group membership alive during long work. Rejects with
   * LT_KAFKA_REBALANCE when the group is rebalancing: stop the batch (what was
   * committed stands) and rethrow it, so the client rejoins.
   */
  heartbeat(): Promise<void>;
}

export type ConsumerEvent =
  | { readonly type: 'joined'; readonly partitions: number }
  | { readonly type: 'crashed'; readonly error: Error; readonly restarting: boolean }
  | { readonly type: 'stopped' };

export interface ConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly fromBeginning: boolean;
  /** Partitions whose batches may be processed at the same time. */
  readonly concurrency?: number;
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  /** Longest a fetch waits for data; short for control topics. */
  readonly maxWaitMs?: number;
  readonly readUncommitted?: boolean;
}

export interface KafkaConsumer {
  /**
   * Subscribes, joins the group and hands batches to `eachBatch` until stopped. A stop() while it
   * starts ends it with LT_STOPPED; by the time stop() resolves, the member has left the group (or never joined).
   */
  start(eachBatch: (batch: RecordBatch) => Promise<void>): Promise<void>;
  /** Listeners are called synchronously and must not throw; returns an unsubscribe function. */
  on(listener: (event: ConsumerEvent) => void): () => void;
  /** Stops fetching these topics (batches already handed out still run). */
  pause(topics: readonly string[]): void;
  resume(topics: readonly string[]): void;
  /** Leaves the group and closes connections. Idempotent. */
  stop(): Promise<void>;
}

/** Record-batch codecs both adapters read and write (Kafka's own set). */
export const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export interface ProducerOptions {
  /** Set for exactly-once: the producer then only sends inside transactions. */
  readonly transactionalId?: string;
  readonly idempotent?: boolean;
  /** Codec of the batches this producer writes; default none. Every codec is always read. */
  readonly compression?: Compression;
  /**
   * Largest record batch this producer may build, in bytes (the topics' max.message.bytes bounds a
   * whole batch). kafkajs builds one batch per send and partition, so its callers split sends;
   * librdkafka joins sends into batches of its own, up to this.
   */
  readonly maxBatchBytes?: number;
}

export interface KafkaTransaction {
  send(records: readonly OutgoingRecord[]): Promise<void>;
  /** Commits consumer offsets atomically with the records of this transaction. */
  sendOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface KafkaProducer {
  /** A stop() while this connects ends it with LT_STOPPED and closes what the connect opened, once it settles. */
  start(): Promise<void>;
  /** Sends and waits for every in-sync replica (acks=all). */
  send(records: readonly OutgoingRecord[]): Promise<void>;
  transaction(): Promise<KafkaTransaction>;
  /** Flushes and closes. Idempotent. */
  stop(): Promise<void>;
}

export interface TopicSpec {
  readonly topic: string;
  readonly partitions?: number;
  readonly replicationFactor?: number;
  /** Topic-level configs, e.g. `{ 'cleanup.policy': 'compact' }`. */
  readonly configs?: Readonly<Record<string, string>>;
}

export interface PartitionWatermarks {
  readonly partition: number;
  readonly low: string;
  readonly high: string;
}

export interface ClusterInfo {
  readonly clusterId: string;
  readonly controller: number | null;
  readonly brokers: ReadonlyArray<{ readonly nodeId: number; readonly host: string; readonly port: number }>;
}

/** Short-lived administrative operations; every call connects and disconnects on its own. */
export interface KafkaAdmin {
  /** Creates the topics that do not exist and waits for their leaders; returns the names it created. */
  ensureTopics(topics: readonly TopicSpec[]): Promise<string[]>;
  /** Deletes the topics that exist; missing ones are not an error. */
  deleteTopics(topics: readonly string[]): Promise<void>;
  listTopics(): Promise<string[]>;
  watermarks(topic: string): Promise<PartitionWatermarks[]>;
  /** The group's committed offset per partition; '-1' where it has none. */
  committedOffsets(groupId: string, topic: string): Promise<Array<{ readonly partition: number; readonly offset: string }>>;
  /** Sets the group's committed offsets (the group must have no active members). */
  setCommittedOffsets(groupId: string, topic: string, partitions: ReadonlyArray<{ readonly partition: number; readonly offset: string }>): Promise<void>;
  /** Deletes consumer groups that have no active members, their committed offsets with them; groups that do not exist are not an error. */
  deleteGroups(groupIds: readonly string[]): Promise<void>;
  describeCluster(): Promise<ClusterInfo>;
}

/**
 * The admin reads a periodic monitor makes (lag and broker reachability every
 * few seconds) over a connection kept open between calls, where KafkaAdmin
 * would open and close one, with its handshakes, for each. A failed call
 * drops the connection and the next one connects anew, as its own call would.
 */
export interface KafkaAdminSession {
  watermarks(topic: string): Promise<PartitionWatermarks[]>;
  committedOffsets(groupId: string, topic: string): Promise<Array<{ readonly partition: number; readonly offset: string }>>;
  /** Idempotent; a call still in flight keeps the connection until it settles, not the caller. */
  close(): Promise<void>;
}

export type KafkaClientName = 'kafkajs' | 'confluent';

export interface KafkaClient {
  readonly name: KafkaClientName;
  readonly brokers: readonly string[];
  consumer(options: ConsumerOptions): KafkaConsumer;
  producer(options?: ProducerOptions): KafkaProducer;
  readonly admin: KafkaAdmin;
  openAdminSession(): KafkaAdminSession;
}
