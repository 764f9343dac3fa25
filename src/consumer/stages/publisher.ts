import type { KafkaClient, KafkaProducer } from '../../kafka/port.ts';
import type { ServeMetrics } from '../metrics.ts';
import type { OutRecord } from '../output-record.ts';
import type { Committer } from './committer.ts';
import type { ChunkPosition } from './source.ts';

export interface PublisherOptions {
  readonly client: KafkaClient;
  readonly delivery: 'at-least-once' | 'exactly-once';
  readonly transactionalId: string;
  readonly groupId: string;
  readonly committer: Committer;
  readonly metrics: ServeMetrics;
}

export interface Publisher {
  start(): Promise<void>;
  /** Publishes a chunk's tags and dead letters and moves the partition's offset past it. */
  deliver(outs: readonly OutRecord[], position: ChunkPosition): Promise<void>;
  stop(): Promise<void>;
}

/**
 * at-least-once: idempotent producer, acks=all, then the offset commit.
 * exactly-once: records and offsets in one transaction; one producer runs one
 * transaction at a time, so partitions take turns.
 */
export function createPublisher(opts: PublisherOptions): Publisher {
  const { metrics, committer } = opts;
  const exactlyOnce = opts.delivery === 'exactly-once';
  let producer: KafkaProducer | undefined;
  let txnLock: Promise<void> = Promise.resolve();

  async function transactional(outs: readonly OutRecord[], position: ChunkPosition): Promise<void> {
    const previous = txnLock;
    let release!: () => void;
    txnLock = new Promise((r) => (release = r));
    await previous;
    try {
      const txn = await producer!.transaction();
      try {
        await txn.send(outs);
        await txn.sendOffsets(opts.groupId, [{ topic: position.batch.topic, partition: position.batch.partition, offset: position.nextOffset }]);
        await txn.commit();
      } catch (err) {
        await txn.abort().catch(() => undefined);
        throw err;
      }
    } finally {
      release();
    }
    await committer.settle(position);
  }

  function observe(outs: readonly OutRecord[]): void {
    const now = Date.now();
    for (const r of outs) {
      if (r.kind === 'dead-letter') {
        metrics.deadLettered.inc({ reason: r.code ?? 'unknown' });
      } else {
        metrics.classified.inc();
        for (const label of r.tags ?? []) metrics.predictions.inc({ label });
      }
      if (Number.isFinite(r.producedAt) && r.producedAt > 0) metrics.endToEnd.observe(Math.max(0, now - r.producedAt) / 1000);
    }
  }

  return {
    async start() {
      producer = opts.client.producer({ idempotent: true, ...(exactlyOnce ? { transactionalId: opts.transactionalId } : {}) });
      await producer.start();
    },
    async deliver(outs, position) {
      if (exactlyOnce) {
        await transactional(outs, position);
      } else {
        await producer!.send(outs);
        await committer.commit(position);
      }
      observe(outs);
    },
    stop: () => producer?.stop() ?? Promise.resolve(),
  };
}
