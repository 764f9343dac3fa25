import type { ServeMetrics } from '../metrics.ts';
import type { ChunkPosition } from './source.ts';

export interface Committer {
  /** Commits the group's offset after a chunk was published (at-least-once), then settles it. */
  commit(position: ChunkPosition): Promise<void>;
  /** Settles a chunk whose offset a transaction already committed (exactly-once): the next fetch starts past it. */
  settle(position: ChunkPosition): Promise<void>;
}

/**
 * Offsets move only after everything before them in the partition is
 * published: the source delivers chunks in order, and this is the one place
 * that commits and marks progress (lag is measured on its own timer, see
 * lag-monitor.ts, so it keeps moving when nothing is published).
 */
export function createCommitter(_metrics?: ServeMetrics): Committer {
  // No heartbeat here: a rebalance it reports must not hide that the chunk is in (the publisher counts it first).
  async function settle({ batch, lastOffset }: ChunkPosition): Promise<void> {
    batch.resolve(lastOffset);
  }
  return {
    async commit(position) {
      await position.batch.commit(position.nextOffset);
      await settle(position);
    },
    settle,
  };
}
