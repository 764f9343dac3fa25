import type { ServeMetrics } from '../metrics.ts';
import type { ChunkPosition } from './source.ts';

export interface Committer {
  /** Commits the group's offset after a chunk was published (at-least-once), then settles it. */
  commit(position: ChunkPosition): Promise<void>;
  /** Settles a chunk whose offset a transaction already committed (exactly-once). */
  settle(position: ChunkPosition): Promise<void>;
}

/**
 * Offsets move only after everything before them in the partition is
 * published: the source delivers chunks in order, and this is the one place
 * that commits, marks progress and reports lag.
 */
export function createCommitter(metrics: ServeMetrics): Committer {
  async function settle({ batch, lastOffset, nextOffset }: ChunkPosition): Promise<void> {
    batch.resolve(lastOffset);
    metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(nextOffset))));
    await batch.heartbeat();
  }
  return {
    async commit(position) {
      await position.batch.commit(position.nextOffset);
      await settle(position);
    },
    settle,
  };
}
