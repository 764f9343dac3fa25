import { errorCode } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { ConsumedRecord, KafkaClient, KafkaConsumer, RecordBatch } from '../../kafka/port.ts';
import { createInFlightGate } from '../in-flight-gate.ts';
import type { ServeMetrics } from '../metrics.ts';

/** Where a chunk ends in its partition: what the committer needs once the chunk is published. */
export interface ChunkPosition {
  readonly batch: RecordBatch;
  readonly lastOffset: string;
  readonly nextOffset: string;
}

export interface ChunkHandlers<T> {
  /** Turns a chunk into its result; chunks of a partition may overlap here. */
  process(records: readonly ConsumedRecord[]): Promise<T>;
  /** Publishes and commits a result; called in partition order, one at a time per partition. */
  deliver(result: T, position: ChunkPosition): Promise<void>;
}

export interface SourceOptions {
  readonly client: KafkaClient;
  readonly groupId: string;
  readonly topic: string;
  readonly fromBeginning: boolean;
  readonly concurrency: number;
  /** Records per partition classified, published and committed together. */
  readonly chunkSize: number;
  /** Most records held in memory; fetching waits above it. */
  readonly maxInFlight: number;
  readonly metrics: ServeMetrics;
  readonly logger: Logger;
  /** The group's session timeout; default 30 s. Long chunks heartbeat well inside it. */
  readonly sessionTimeoutMs?: number;
}

export interface Source {
  start<T>(handlers: ChunkHandlers<T>): Promise<void>;
  /** True between joining the group and draining, while the consumer runs. */
  readonly joined: boolean;
  /** Set once the consumer crashed for good (a non-retriable error): it will never consume again. */
  readonly failure: Error | undefined;
  /** Stops handing out records and waits for running handlers to deliver what they hold. */
  drain(): Promise<void>;
  /** Leaves the group. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Consumes the input topic in per-partition chunks: bounded memory (fetch
 * handlers wait at the in-flight gate), chunk i delivered while chunk i+1 is
 * processed, in order, and nothing delivered once the partition is revoked or
 * the service drains (the rest is redelivered to the next owner).
 */
export function createSource(opts: SourceOptions): Source {
  const { metrics, logger } = opts;
  const gate = createInFlightGate(opts.maxInFlight, (used, waiting) => {
    metrics.queueDepth.set(used);
    metrics.fetchPaused.set(waiting > 0 ? 1 : 0);
  });
  let consumer: KafkaConsumer | undefined;
  let joined = false;
  let failure: Error | undefined;
  let draining = false;
  const sessionTimeoutMs = opts.sessionTimeoutMs ?? 30_000;
  const heartbeatIntervalMs = Math.max(500, Math.min(3_000, Math.floor(sessionTimeoutMs / 5)));
  // Handlers running now: a drain waits for them while the consumer still
  // runs, because a stopped consumer cannot commit.
  let active = 0;
  let onIdle: (() => void) | undefined;

  async function chunks<T>(batch: RecordBatch, h: ChunkHandlers<T>): Promise<void> {
    // Chunk i is delivered while chunk i+1 is processed, so the model does not
    // sit idle through Kafka round trips. Order holds: a chunk is delivered
    // only after the previous chunk's delivery resolved.
    let previous: Promise<void> = Promise.resolve();
    let failed = false;
    try {
      for (let i = 0; i < batch.records.length; i += opts.chunkSize) {
        if (failed || draining || !batch.isCurrent()) break;
        const chunk = batch.records.slice(i, i + opts.chunkSize);
        await gate.acquire(chunk.length);
        let result: T;
        try {
          result = await h.process(chunk);
        } catch (err) {
          gate.release(chunk.length);
          throw err;
        }
        const prior = previous;
        const last = chunk[chunk.length - 1].offset;
        previous = (async () => {
          try {
            await prior;
            if (!batch.isCurrent()) return;
            await h.deliver(result, { batch, lastOffset: last, nextOffset: String(BigInt(last) + 1n) });
          } catch (err) {
            failed = true;
            throw err;
          } finally {
            gate.release(chunk.length);
          }
        })();
        // Awaited below or by the next chunk; never an unhandled rejection meanwhile.
        previous.catch(() => undefined);
      }
    } catch (err) {
      await previous.catch(() => undefined);
      throw err;
    }
    await previous;
  }

  return {
    get joined() {
      return joined && !draining && !failure;
    },
    get failure() {
      return failure;
    },
    async start(handlers) {
      consumer = opts.client.consumer({
        groupId: opts.groupId,
        topics: [opts.topic],
        fromBeginning: opts.fromBeginning,
        concurrency: opts.concurrency,
        readUncommitted: false,
        sessionTimeoutMs,
        heartbeatIntervalMs,
      });
      // Both adapters also report a failed batch as a crash (the error itself, or wrapping it as its
      // cause); the batch already counted it, so the crash is not a second error.
      const countedBatchFailures = new WeakSet<object>();
      const echoesBatchFailure = (error: Error): boolean => {
        for (let e: unknown = error, depth = 0; typeof e === 'object' && e !== null && depth < 4; depth++) {
          if (countedBatchFailures.has(e)) return true;
          e = (e as { cause?: unknown; originalError?: unknown }).cause ?? (e as { originalError?: unknown }).originalError;
        }
        return false;
      };
      consumer.on((e) => {
        if (e.type === 'joined') {
          joined = true;
          logger.info('joined consumer group', { group: opts.groupId, partitions: e.partitions });
        } else if (e.type === 'crashed') {
          // Not in the group until it rejoins; a crash without restart is final.
          joined = false;
          const code = errorCode(e.error);
          if (!echoesBatchFailure(e.error)) metrics.errors.inc({ code });
          if (!e.restarting && !failure) {
            failure = e.error;
            logger.error('consumer crashed and will not restart; liveness now fails so the pod is restarted', { code, error: e.error.message });
          } else if (e.restarting) {
            logger.error('consumer crashed; restarting', { code, error: e.error.message });
          }
        } else if (e.type === 'stopped') {
          joined = false;
        }
      });
      await consumer.start(async (batch) => {
        if (draining) return;
        active++;
        // The library heartbeats only between fetches: a chunk that runs
        // longer than the session timeout would get this member evicted and
        // its partitions handed out twice.
        const beat = setInterval(() => void batch.heartbeat().catch(() => undefined), heartbeatIntervalMs);
        try {
          await chunks(batch, handlers);
        } catch (err) {
          if (errorCode(err) === 'LT_KAFKA_REBALANCE') {
            // The work already committed stands; the member rejoins. Normal operation, not a failure.
            logger.info('group is rebalancing; this batch stops here and its partition resumes from the committed offset', { topic: batch.topic, partition: batch.partition });
            throw err;
          }
          metrics.errors.inc({ code: errorCode(err) === 'LT_UNEXPECTED' ? 'LT_KAFKA' : errorCode(err) });
          if (typeof err === 'object' && err !== null) countedBatchFailures.add(err);
          logger.error('batch failed; it will be retried from the last committed offset', { topic: batch.topic, partition: batch.partition, error: (err as Error).message });
          throw err;
        } finally {
          clearInterval(beat);
          active--;
          if (active === 0) onIdle?.();
        }
      });
    },
    async drain() {
      draining = true;
      // A consumer that crashed fetches nothing, and kafkajs throws on pausing it
      // (for good, or between a crash and its restart): that must not stop the
      // service from closing the rest. A restart after this takes no new work (draining).
      if (!failure) {
        try {
          consumer?.pause([opts.topic]);
        } catch (err) {
          logger.warn('could not pause the consumer (it is between a crash and its restart); draining what runs', { error: (err as Error).message });
        }
      }
      if (active > 0) await new Promise<void>((r) => (onIdle = r));
    },
    stop: () => consumer?.stop() ?? Promise.resolve(),
  };
}
