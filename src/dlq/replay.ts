/**
 * `livetag dlq replay` and `livetag dlq stats`: after the cause of dead
 * letters is fixed (a mapping set, a producer repaired, a model that no
 * longer fails), put them back on their input topic, each once. Progress is
 * committed after every batch is sent, so a second run (or a run after a
 * crash) starts where the last one ended instead of replaying everything
 * again. Truncated dead letters hold only a prefix of the original and are
 * never replayed: they are counted and left.
 *
 * Progress lives in two places, so a replay of some codes never passes over
 * the others: the group (--group) holds how far every code was replayed,
 * and `<group>.code.<CODE>` how far one code was, by runs filtered to it.
 * A dead letter is replayed when it lies past both.
 */
import { randomUUID } from 'node:crypto';
import { ERROR_CODES } from '../common/errors.ts';
import type { KafkaClient, OutgoingRecord } from '../kafka/port.ts';
import { describeDeadLetter, originalRecord, readToEnd, topicBounds } from './dead-letters.ts';

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
  /** Replayed before, by a run filtered to their code. */
  readonly skippedReplayed: number;
  /** Partitions whose committed progress lay outside the log (the topic was recreated): read from its start. */
  readonly resetPartitions: number;
  readonly complete: boolean;
  readonly dryRun: boolean;
}

/** The group holding how far runs filtered to `code` replayed it. */
export function codeGroup(groupId: string, code: string): string {
  return `${groupId}.code.${code}`;
}

type Offsets = Map<number, bigint>;

/** A group's progress, clamped to the log: an offset past its end (a recreated topic) or before its start (retention) reads from the start. */
async function progressOf(client: KafkaClient, group: string, topic: string, bounds: ReadonlyMap<number, { low: bigint; high: bigint }>, reset: Set<number>): Promise<Offsets> {
  const committed = new Map((await client.admin.committedOffsets(group, topic)).filter((c) => c.offset !== '-1').map((c) => [c.partition, BigInt(c.offset)]));
  const out: Offsets = new Map();
  for (const [p, { low, high }] of bounds) {
    const at = committed.get(p);
    if (at !== undefined && at > high) reset.add(p);
    out.set(p, at === undefined || at > high || at < low ? low : at);
  }
  return out;
}

/** Puts dead letters back; a dry run reads and counts the same way and writes and commits nothing. */
export async function replayDeadLetters(opts: ReplayOptions): Promise<ReplayReport> {
  const counts = { read: 0, replayed: 0, skippedTruncated: 0, skippedFilter: 0, skippedNoTarget: 0, skippedReplayed: 0 };
  const byTopic: Record<string, number> = {};
  const { client } = opts;
  const bounds = await topicBounds(client, opts.from);
  const reset = new Set<number>();
  const all = await progressOf(client, opts.groupId, opts.from, bounds, reset);
  // Per code, how far it was replayed: never behind `all`. Looked up when a code is first met.
  const byCode = new Map<string, Offsets>();
  const progress = async (code: string): Promise<Offsets> => {
    let o = byCode.get(code);
    if (!o) {
      const own = await progressOf(client, codeGroup(opts.groupId, code), opts.from, bounds, reset);
      byCode.set(code, (o = new Map([...all].map(([p, a]) => [p, (own.get(p) ?? a) > a ? own.get(p)! : a]))));
    }
    return o;
  };
  const filtered = opts.codes.length > 0;
  const starts = filtered ? earliest(await Promise.all(opts.codes.map(progress))) : all;
  if (reset.size > 0 && !opts.dryRun) await forgetOldTopic(client, opts, bounds, reset);
  const commit = async (group: string, partition: number, upTo: bigint): Promise<void> => {
    await client.admin.setCommittedOffsets(group, opts.from, [{ partition, offset: upTo.toString() }]);
  };
  const producer = opts.dryRun ? undefined : client.producer({ idempotent: true });
  await producer?.start();
  try {
    const { complete } = await readToEnd(
      { client, topic: opts.from, readerGroup: `${opts.groupId}-reader-${randomUUID()}`, starts, idleTimeoutMs: opts.idleTimeoutMs },
      async (records, at) => {
        const out: OutgoingRecord[] = [];
        for (const record of records) {
          counts.read++;
          const info = describeDeadLetter(record);
          if (filtered && !opts.codes.includes(info.code)) {
            counts.skippedFilter++;
            continue;
          }
          if (info.truncated) {
            counts.skippedTruncated++;
            continue;
          }
          if (BigInt(record.offset) < ((await progress(info.code)).get(record.partition) ?? 0n)) {
            counts.skippedReplayed++;
            continue;
          }
          const target = opts.to ?? info.sourceTopic;
          if (target === undefined) {
            counts.skippedNoTarget++;
            continue;
          }
          out.push({ topic: target, ...originalRecord(record) });
          byTopic[target] = (byTopic[target] ?? 0) + 1;
          counts.replayed++;
        }
        if (!producer) return;
        if (out.length > 0) await producer.send(out);
        // Sent first, then recorded: a crash between the two replays a batch again, never skips one.
        if (!filtered) await commit(opts.groupId, at.partition, at.upTo);
        else for (const code of opts.codes) if (at.upTo > ((await progress(code)).get(at.partition) ?? 0n)) await commit(codeGroup(opts.groupId, code), at.partition, at.upTo);
      },
    );
    // A code met only during the read may have shown the reset: its group, and any other, is set back now.
    if (reset.size > 0 && !opts.dryRun) await forgetOldTopic(client, opts, bounds, reset);
    return { ...counts, byTopic, resetPartitions: reset.size, complete, dryRun: opts.dryRun };
  } finally {
    await producer?.stop();
  }
}

/**
 * A recreated topic makes all progress on its partitions meaningless: every group, the all-codes one
 * and each code's, goes back to the new log's start. Left stale, once the new log grows past an old
 * offset, what lies below it would count as replayed and be passed over.
 */
async function forgetOldTopic(client: KafkaClient, opts: ReplayOptions, bounds: ReadonlyMap<number, { low: bigint; high: bigint }>, reset: ReadonlySet<number>): Promise<void> {
  for (const group of [opts.groupId, ...DEAD_LETTER_CODES.map((c) => codeGroup(opts.groupId, c))]) {
    const committed = await client.admin.committedOffsets(group, opts.from);
    // Only offsets past the end the log had when this run began: an unused code's group is not
    // created, and what this run itself committed stands.
    const stale = committed
      .filter((c) => reset.has(c.partition) && c.offset !== '-1' && BigInt(c.offset) > bounds.get(c.partition)!.high)
      .map((c) => ({ partition: c.partition, offset: String(bounds.get(c.partition)!.low) }));
    if (stale.length > 0) await client.admin.setCommittedOffsets(group, opts.from, stale);
  }
}

/** The codes a dead letter can carry: every LivetagError code, an unexpected error's, and 'unknown' (no code header). */
export const DEAD_LETTER_CODES: readonly string[] = Object.freeze([...Object.keys(ERROR_CODES), 'LT_UNEXPECTED', 'unknown']);

/** Per partition, the lowest of the given offsets: where a read serving all of them starts. */
function earliest(all: readonly Offsets[]): Offsets {
  const out: Offsets = new Map();
  for (const o of all) for (const [p, v] of o) if (!out.has(p) || v < out.get(p)!) out.set(p, v);
  return out;
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
  const { complete } = await readToEnd({ client: opts.client, topic: opts.from, readerGroup: `livetag-dlq-stats-${randomUUID()}`, idleTimeoutMs: opts.idleTimeoutMs }, async (records) => {
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
