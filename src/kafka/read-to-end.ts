/**
 * Reads a topic up to the end it had when reading began, under a group that
 * never commits: the jobs that take a bounded slice of a live topic (the
 * label source, the pretraining corpus) decide themselves what to commit.
 */
import { LivetagError } from '../common/errors.ts';
import type { ConsumedRecord, KafkaClient } from './port.ts';

export interface ReadToEndOptions {
  readonly topic: string;
  readonly groupId: string;
  /** Partition → offset to stop before (its high watermark when reading began); partitions not named are not waited for. */
  readonly ends: ReadonlyMap<number, bigint>;
  /** Called for each record before its partition's end; returning false ends the read. */
  readonly onRecord: (record: ConsumedRecord) => boolean;
  readonly timeoutMs: number;
  /** At the time limit: 'stop' ends the read with what was read, 'fail' rejects with LT_KAFKA. */
  readonly atTimeout: 'stop' | 'fail';
}

/** What ended a read: every partition's end, onRecord saying stop, or the time limit (atTimeout 'stop'). */
export type ReadEnd = 'end' | 'stopped' | 'timeout';

/** Resolves once every partition reached its end, onRecord said stop, or (atTimeout 'stop') time ran out, saying which. */
export async function readToEnd(client: KafkaClient, opts: ReadToEndOptions): Promise<ReadEnd> {
  const pending = new Map(opts.ends);
  if (pending.size === 0) return 'end';
  const consumer = client.consumer({ groupId: opts.groupId, topics: [opts.topic], fromBeginning: true, maxWaitMs: 500 });
  try {
    return await new Promise<ReadEnd>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (opts.atTimeout === 'stop') finish('timeout');
        else finish('timeout', new LivetagError('LT_KAFKA', `did not reach the end of ${opts.topic} within ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
      let finished = false;
      const finish = (how: ReadEnd, err?: unknown): void => {
        finished = true;
        clearTimeout(timer);
        if (err === undefined) resolve(how);
        else reject(err);
      };
      consumer.on((e) => {
        if (e.type === 'crashed' && !e.restarting) finish('stopped', e.error);
      });
      consumer
        .start(async (batch) => {
          // Partitions run concurrently: once onRecord said stop, another's batch must not reach it before stop() lands.
          if (finished) return;
          const end = pending.get(batch.partition);
          for (const r of batch.records) {
            if (end === undefined || BigInt(r.offset) >= end) continue;
            if (!opts.onRecord(r)) return finish('stopped');
          }
          // Nothing resolves offsets for this group but this: unresolved, kafkajs fetches the same records again.
          if (batch.lastOffset !== null) batch.resolve(batch.lastOffset);
          // The last offsets of a transactional topic are commit markers that
          // never reach `records`; the batch's lastOffset still counts them.
          if (end !== undefined && batch.lastOffset !== null && BigInt(batch.lastOffset) + 1n >= end) pending.delete(batch.partition);
          if (pending.size === 0) finish('end');
        })
        .catch((err: unknown) => finish('stopped', err));
    });
  } finally {
    await consumer.stop();
  }
}
