import { isLivetagError, LivetagError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { Compression, KafkaClient, KafkaProducer, KafkaTransaction } from '../../kafka/port.ts';
import { STABLE_WAIT, untilCommitted, type StableWait } from '../../kafka/stable-offsets.ts';
import type { ServeMetrics } from '../metrics.ts';
import { recordBytes, shrinkDeadLetter, type OutRecord } from '../output-record.ts';
import type { Committer } from './committer.ts';
import type { ChunkPosition } from './source.ts';

export interface PublisherOptions {
  readonly client: KafkaClient;
  readonly delivery: 'at-least-once' | 'exactly-once';
  readonly transactionalId: string;
  readonly groupId: string;
  readonly committer: Committer;
  readonly metrics: ServeMetrics;
  readonly compression?: Compression;
  readonly logger?: Logger;
  /**
   * Wraps each transaction; the fault tests use it to stop the broker inside
   * the commit or abort request itself. Identity in production.
   */
  readonly wrapTransaction?: (txn: KafkaTransaction) => KafkaTransaction;
  /** A Kafka call running this long is logged, then again each time as long again (default 30 s). */
  readonly slowCallMs?: number;
  /** The output topic's record-batch bound (LIVETAG_MAX_OUTPUT_BYTES): tags are sent in groups no larger. */
  readonly maxOutputBytes?: number;
}

export interface Publisher {
  start(): Promise<void>;
  /** Publishes a chunk's tags and dead letters and moves the partition's offset past it. */
  deliver(outs: readonly OutRecord[], position: ChunkPosition): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Bytes per send. Kafka's default max.message.bytes (~1 MiB) bounds one
 * partition's batch; a chunk of large dead letters is split to stay below it.
 */
const SEND_BUDGET_BYTES = 512 * 1024;
/** What a dead letter keeps when the broker refused even the bounded copy (a topic with a small max.message.bytes). */
const FALLBACK_DEAD_LETTER_BYTES = 1024;

/**
 * Every call into the Kafka client here has a deadline of its own in the
 * library; one that never returns anyway (a library bug) must at least say
 * which one it is. A silent confluent "stall" after broker faults took a core
 * dump to explain (docs/reliability.md): it turned out to be a crash, but a
 * hung call would have looked the same.
 */
const SLOW_CALL_MS = 30_000;
/** First wait before asking again for a failed commit's outcome; doubles up to the max. */
const OUTCOME_RETRY_MS = 500;
const OUTCOME_RETRY_MAX_MS = 5_000;
/** Reads of a committed offset that may not show the settled transaction yet: as long as the consumer's wait, on one kept connection. */
const OUTCOME_WAIT: StableWait = { timeoutMs: STABLE_WAIT.timeoutMs, pollMs: 20 };

/** The broker refused a record as too large (kafkajs: MESSAGE_TOO_LARGE; librdkafka: MSG_SIZE_TOO_LARGE). */
export function isTooLarge(err: unknown): boolean {
  for (let e = err as { message?: string; type?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (/MESSAGE_TOO_LARGE|MSG_SIZE_TOO_LARGE|larger than the max message size/i.test(`${e.type ?? ''} ${e.message ?? ''}`)) return true;
  }
  return false;
}

/**
 * Tags first, then dead letters, each in consecutive groups of at most
 * SEND_BUDGET_BYTES (a larger single record alone). Dead letters travel
 * apart so that a send the dead-letter topic refuses resends only them.
 * Order within each topic is kept; the two topics never shared an order.
 */
function byBudget(outs: readonly OutRecord[], tagsBudget: number): OutRecord[][] {
  const tags = outs.filter((r) => r.kind !== 'dead-letter');
  const dead = outs.filter((r) => r.kind === 'dead-letter');
  return [...budgeted(tags, tagsBudget), ...budgeted(dead, SEND_BUDGET_BYTES)];
}

function budgeted(outs: readonly OutRecord[], budget: number): OutRecord[][] {
  const groups: OutRecord[][] = [];
  let current: OutRecord[] = [];
  let bytes = 0;
  for (const r of outs) {
    const n = recordBytes(r);
    if (current.length > 0 && bytes + n > budget) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += n;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/**
 * at-least-once: idempotent producer, acks=all, then the offset commit.
 * exactly-once: records and offsets in one transaction; one producer runs one
 * transaction at a time, so partitions take turns. A transaction that fails
 * anywhere (in the commit or abort request included) leaves the library's
 * producer in a state it may never leave, so the producer is replaced by a
 * new one with the same transactional id: its InitProducerId fences the old
 * epoch and settles what it left open. Then the group's committed offset
 * says whether the failed commit landed; if not, the chunk is redelivered.
 */
export function createPublisher(opts: PublisherOptions): Publisher {
  const { metrics, committer } = opts;
  const exactlyOnce = opts.delivery === 'exactly-once';
  let producer: KafkaProducer | undefined;
  /** A replacement still starting: stop() must reach it too, or it would connect after the service closed. */
  let starting: KafkaProducer | undefined;
  let broken = false;
  let stopped = false;
  /** Whether the running transaction sent its commit: only then can a failed one have landed. */
  let commitSent = false;
  let txnLock: Promise<void> = Promise.resolve();
  const slowCallMs = opts.slowCallMs ?? SLOW_CALL_MS;

  async function watched<T>(call: string, position: ChunkPosition | undefined, run: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    const where = position ? { topic: position.batch.topic, partition: position.batch.partition, nextOffset: position.nextOffset } : {};
    const timer = setInterval(() => opts.logger?.warn(`Kafka call still running: ${call}`, { ...where, seconds: Math.round((Date.now() - t0) / 1000) }), slowCallMs);
    timer.unref();
    try {
      return await run();
    } finally {
      clearInterval(timer);
    }
  }

  // One send of tags is one batch per partition on kafkajs: a group over the output topic's bound would be refused whole.
  const tagsBudget = Math.min(SEND_BUDGET_BYTES, opts.maxOutputBytes ?? SEND_BUDGET_BYTES);
  const makeProducer = (): KafkaProducer =>
    opts.client.producer({
      idempotent: true,
      compression: opts.compression ?? 'none',
      ...(opts.maxOutputBytes === undefined ? {} : { maxBatchBytes: opts.maxOutputBytes }),
      ...(exactlyOnce ? { transactionalId: opts.transactionalId } : {}),
    });

  async function renew(): Promise<void> {
    const old = producer;
    producer = undefined;
    if (old) await watched('closing the failed transactional producer', undefined, () => old.stop().catch(() => undefined));
    if (stopped) throw new LivetagError('LT_STOPPED', 'publisher is stopped');
    const next = makeProducer();
    starting = next;
    try {
      await watched('starting a transactional producer', undefined, () => next.start());
      if (stopped) throw new LivetagError('LT_STOPPED', 'publisher stopped while its transactional producer was starting');
    } catch (err) {
      // Asked again every few seconds while the broker is away: a failed start must not leave its connections behind.
      await next.stop().catch(() => undefined);
      throw err;
    } finally {
      starting = undefined;
    }
    producer = next;
    broken = false;
    opts.logger?.warn('transactional producer recreated with the same transactional id: the failed one is fenced and its open transaction settled', { transactionalId: opts.transactionalId });
  }

  async function inTransaction(outs: readonly OutRecord[], position: ChunkPosition): Promise<void> {
    if (broken || !producer) await renew();
    commitSent = false;
    const raw = await watched('beginning a transaction', position, () => producer!.transaction());
    const txn = opts.wrapTransaction ? opts.wrapTransaction(raw) : raw;
    try {
      for (const group of byBudget(outs, tagsBudget)) await watched('sending records in a transaction', position, () => txn.send(group));
      await watched('sending offsets to a transaction', position, () => txn.sendOffsets(opts.groupId, [{ topic: position.batch.topic, partition: position.batch.partition, offset: position.nextOffset }]));
      commitSent = true;
      await watched('committing a transaction', position, () => txn.commit());
    } catch (err) {
      broken = true;
      metrics.errors.inc({ code: 'LT_KAFKA' });
      opts.logger?.warn('transaction failed; aborting it and replacing the producer', { error: (err as Error).message });
      await watched('aborting a transaction', position, () => txn.abort()).catch(() => undefined);
      throw err;
    }
  }

  /**
   * A commit that failed may have landed all the same: the request timed out
   * after the coordinator had written it, or sat in the socket of a broker
   * that was frozen and wrote it when it woke. A new producer with the same
   * transactional id completes what the old one left (its InitProducerId
   * waits for it, or fences it), after which the group's committed offset
   * tells which way it went. Redelivering a chunk that landed would tag it
   * twice; so as long as the broker cannot be asked, this asks again instead
   * of guessing (the service's drain deadline bounds that on shutdown).
   */
  async function landedAnyway(position: ChunkPosition): Promise<boolean> {
    for (let attempt = 1, backoffMs = OUTCOME_RETRY_MS; ; attempt++, backoffMs = Math.min(backoffMs * 2, OUTCOME_RETRY_MAX_MS)) {
      try {
        // Once a new producer has settled the transaction, a failed read needs no further one.
        if (broken || !producer) await renew();
        return await committedWithin(position);
      } catch (err) {
        if (stopped) return false;
        // Asking again cannot cure a refusal (an ACL on the transactional id or the group): fail the chunk with that cause.
        if (isLivetagError(err, 'LT_KAFKA_DENIED') || isLivetagError(err, 'LT_KAFKA_AUTH')) throw err;
        opts.logger?.warn('the outcome of the failed commit is not known yet: the broker cannot be asked; asking again', { topic: position.batch.topic, partition: position.batch.partition, nextOffset: position.nextOffset, attempt, retryInMs: backoffMs, error: (err as Error).message });
        await new Promise((r) => setTimeout(r, backoffMs));
      }
    }
  }

  /**
   * Whether the group's committed offset reaches past the chunk. The commit
   * marker of a settled transaction reaches the group a moment after the
   * coordinator settled it (kafkajs cannot ask for stable offsets, KIP-447),
   * so an offset short of it is read again until the wait ran out, on one
   * admin connection (a connection per read was up to 50 connects and
   * handshakes in 5 s, against a broker that just had trouble). A read that
   * fails throws: it says nothing about the outcome.
   */
  async function committedWithin(position: ChunkPosition): Promise<boolean> {
    const admin = opts.client.openAdminSession();
    const read = async () => {
      const committed = await watched('reading the committed offsets', position, () => admin.committedOffsets(opts.groupId, position.batch.topic));
      return committed.find((p) => p.partition === position.batch.partition)?.offset;
    };
    try {
      return await untilCommitted(read, position.nextOffset, OUTCOME_WAIT, 'throw');
    } finally {
      await admin.close().catch(() => undefined);
    }
  }

  async function transactional(outs: readonly OutRecord[], position: ChunkPosition): Promise<void> {
    const previous = txnLock;
    let release!: () => void;
    txnLock = new Promise((r) => (release = r));
    await previous;
    try {
      try {
        await inTransaction(outs, position);
      } catch (err) {
        if (isTooLarge(err)) await inTransaction(shrunk(outs), position);
        // A transaction that failed before its EndTxn(commit) left cannot have landed: no need to ask.
        else if (commitSent && (await landedAnyway(position))) opts.logger?.warn('the commit reported a failure, yet the group shows the chunk committed: it is not redelivered', { topic: position.batch.topic, partition: position.batch.partition, nextOffset: position.nextOffset });
        else throw err;
      }
    } finally {
      release();
    }
    await committer.settle(position);
  }

  /** Dead letters cut to the fallback size, after the broker refused the bounded copies. */
  function shrunk(outs: readonly OutRecord[]): OutRecord[] {
    opts.logger?.warn('the dead-letter topic refused a record as too large; resending dead letters truncated', { bytes: FALLBACK_DEAD_LETTER_BYTES });
    return outs.map((r) => shrinkDeadLetter(r, FALLBACK_DEAD_LETTER_BYTES));
  }

  async function atLeastOnce(outs: readonly OutRecord[], position: ChunkPosition): Promise<void> {
    for (const group of byBudget(outs, tagsBudget)) {
      try {
        await watched('sending records', position, () => producer!.send(group));
      } catch (err) {
        // Redelivering would fail the same way and block the partition for good.
        if (!isTooLarge(err)) throw err;
        await producer!.send(shrunk(group));
      }
    }
    await watched('committing offsets', position, () => committer.commit(position));
  }

  /** Counters summed per chunk first: a labelled prom-client inc per record and label costs more than the rest of publishing it. */
  function observe(outs: readonly OutRecord[]): void {
    const now = Date.now();
    let classified = 0;
    const labels = new Map<string, number>();
    const reasons = new Map<string, number>();
    for (const r of outs) {
      if (r.kind === 'dead-letter') {
        const reason = r.code ?? 'unknown';
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      } else {
        classified++;
        for (const label of r.tags ?? []) labels.set(label, (labels.get(label) ?? 0) + 1);
      }
      if (Number.isFinite(r.producedAt) && r.producedAt > 0) metrics.endToEnd.observe(Math.max(0, now - r.producedAt) / 1000);
    }
    if (classified > 0) metrics.classified.inc(classified);
    for (const [label, n] of labels) metrics.predictions.inc({ label }, n);
    for (const [reason, n] of reasons) metrics.deadLettered.inc({ reason }, n);
  }

  return {
    async start() {
      producer = makeProducer();
      await producer.start();
    },
    async deliver(outs, position) {
      if (exactlyOnce) await transactional(outs, position);
      else await atLeastOnce(outs, position);
      observe(outs);
      // After the count: the chunk stands even when this reports a rebalance that stops the batch.
      await watched('heartbeating', position, () => position.batch.heartbeat());
    },
    async stop() {
      stopped = true;
      await Promise.all([producer?.stop(), starting?.stop().catch(() => undefined)]);
    },
  };
}
