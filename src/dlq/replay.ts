/**
 * `livetag dlq replay` and `livetag dlq stats`: after the cause of dead
 * letters is fixed (a mapping set, a producer repaired, a model that no
 * longer fails), put them back on their input topic, each once. Progress is
 * committed under a consumer group after every batch is sent, so a second
 * run (or a run after a crash) starts where the last one ended instead of
 * replaying everything again. Truncated dead letters hold only a prefix of
 * the original and are never replayed: they are counted and left.
 */
import { randomUUID } from 'node:crypto';
import type { ConsumedRecord, KafkaClient, OutgoingRecord } from '../kafka/port.ts';
import { describeDeadLetter, originalRecord, readToEnd } from './dead-letters.ts';

export interface ReplayOptions {
  readonly client: KafkaClient;
  readonly from: string;
  /** Replay only dead letters with these codes; empty: all. */
  readonly codes: readonly string[];
  /** Topic to write to; absent: each dead letter's source topic. */
  readonly to?: string;
  readonly dryRun: boolean;
  /** The group that remembers how far replays got. */
  readonly groupId: string;
  readonly idleTimeoutMs: number;
}

export interface ReplayReport {
  readonly read: number;
  readonly replayed: number;
  /** Per target topic. */
  readonly byTopic: Readonly<Record<string, number>>;
  readonly skippedTruncated: number;
  readonly skippedFilter: number;
  /** No source topic header and no --to. */
  readonly skippedNoTarget: number;
  readonly complete: boolean;
  readonly dryRun: boolean;
}

/** Puts dead letters back; a dry run reads and counts the same way and writes and commits nothing. */
export async function replayDeadLetters(opts: ReplayOptions): Promise<ReplayReport> {
  const counts = { read: 0, replayed: 0, skippedTruncated: 0, skippedFilter: 0, skippedNoTarget: 0 };
  const byTopic: Record<string, number> = {};
  const producer = opts.dryRun ? undefined : opts.client.producer({ idempotent: true });
  await producer?.start();
  try {
    const { complete } = await readToEnd(
      // A dry run reads under a throwaway group, from where the real run would start.
      {
        client: opts.client,
        topic: opts.from,
        groupId: opts.dryRun ? `${opts.groupId}-dry-run-${randomUUID()}` : opts.groupId,
        resumeGroup: opts.groupId,
        commit: !opts.dryRun,
        idleTimeoutMs: opts.idleTimeoutMs,
      },
      async (records) => {
        const out: OutgoingRecord[] = [];
        for (const record of records) {
          counts.read++;
          const target = pick(record, opts, counts);
          if (target === undefined) continue;
          out.push({ topic: target, ...originalRecord(record) });
          byTopic[target] = (byTopic[target] ?? 0) + 1;
          counts.replayed++;
        }
        if (out.length > 0) await producer?.send(out);
      },
    );
    return { ...counts, byTopic, complete, dryRun: opts.dryRun };
  } finally {
    await producer?.stop();
  }
}

function pick(record: ConsumedRecord, opts: ReplayOptions, counts: { skippedTruncated: number; skippedFilter: number; skippedNoTarget: number }): string | undefined {
  const info = describeDeadLetter(record);
  if (info.truncated) {
    counts.skippedTruncated++;
    return undefined;
  }
  if (opts.codes.length > 0 && !opts.codes.includes(info.code)) {
    counts.skippedFilter++;
    return undefined;
  }
  const target = opts.to ?? info.sourceTopic;
  if (target === undefined) counts.skippedNoTarget++;
  return target;
}

export interface DeadLetterStats {
  readonly total: number;
  readonly byCode: Readonly<Record<string, number>>;
  readonly bySourceTopic: Readonly<Record<string, number>>;
  readonly truncated: number;
  readonly oldest?: string;
  readonly newest?: string;
  readonly complete: boolean;
}

/** Counts what a dead-letter topic holds, by code and source topic, without moving any group. */
export async function deadLetterStats(opts: { client: KafkaClient; from: string; idleTimeoutMs: number }): Promise<DeadLetterStats> {
  const byCode: Record<string, number> = {};
  const bySourceTopic: Record<string, number> = {};
  let total = 0;
  let truncated = 0;
  let oldest = Infinity;
  let newest = -Infinity;
  const { complete } = await readToEnd({ client: opts.client, topic: opts.from, groupId: `livetag-dlq-stats-${randomUUID()}`, commit: false, idleTimeoutMs: opts.idleTimeoutMs }, async (records) => {
    for (const r of records) {
      const info = describeDeadLetter(r);
      total++;
      byCode[info.code] = (byCode[info.code] ?? 0) + 1;
      const src = info.sourceTopic ?? '(unknown)';
      bySourceTopic[src] = (bySourceTopic[src] ?? 0) + 1;
      if (info.truncated) truncated++;
      const ts = Number(r.timestamp);
      oldest = Math.min(oldest, ts);
      newest = Math.max(newest, ts);
    }
  });
  return {
    total,
    byCode,
    bySourceTopic,
    truncated,
    ...(total > 0 ? { oldest: new Date(oldest).toISOString(), newest: new Date(newest).toISOString() } : {}),
    complete,
  };
}
