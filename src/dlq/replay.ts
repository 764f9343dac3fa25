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

/** A group's committed offsets on the topic, where it has any. */
async function committedOf(client: KafkaClient, group: string, topic: string): Promise<Offsets> {
  return new Map((await client.admin.committedOffsets(group, topic)).filter((c) => c.offset !== '-1').map((c) => [c.partition, BigInt(c.offset)]));
}

/** Puts dead letters back; a dry run reads and counts the same way and writes and commits nothing. */
export async function replayDeadLetters(opts: ReplayOptions): Promise<ReplayReport> {
  const counts = { read: 0, replayed: 0, skippedTruncated: 0, skippedFilter: 0, skippedNoTarget: 0, skippedReplayed: 0 };
  const byTopic: Record<string, number> = {};
  const { client } = opts;
  const bounds = await topicBounds(client, opts.from);
  // Every group's progress at once: a recreated topic shows in whichever group was past its end,
  // and then all progress on that partition is stale, even an offset the new log has reached.
  const codes = [...new Set([...DEAD_LETTER_CODES, ...opts.codes])];
  const groups = [opts.groupId, ...codes.map((c) => codeGroup(opts.groupId, c))];
  const committed = new Map<string, Offsets>();
  for (const group of groups) committed.set(group, await committedOf(client, group, opts.from));
  const reset = new Set<number>();
  for (const offsets of committed.values()) for (const [p, at] of offsets) if (at > (bounds.get(p)?.high ?? 0n)) reset.add(p);
  // Retention may have moved the start past an offset: from the start then, as from a reset.
  const progressOf = (group: string): Offsets =>
    new Map([...bounds].map(([p, { low }]) => {
      const at = committed.get(group)!.get(p);
      return [p, at === undefined || reset.has(p) || at < low ? low : at];
    }));
  const all = progressOf(opts.groupId);
  // Per code, how far it was replayed: never behind `all`.
  const byCode = new Map(codes.map((code) => [code, new Map([...progressOf(codeGroup(opts.groupId, code))].map(([p, own]) => [p, own > all.get(p)! ? own : all.get(p)!]))]));
  const progress = (code: string): Offsets => byCode.get(code) ?? all;
  const filtered = opts.codes.length > 0;
  const starts = filtered ? earliest(opts.codes.map(progress)) : all;
  if (reset.size > 0 && !opts.dryRun) {
    // Written back before anything is sent: a later run must not take the new log's offsets below an old one for replayed.
    for (const [group, offsets] of committed) {
      const stale = [...offsets.keys()].filter((p) => reset.has(p)).map((partition) => ({ partition, offset: String(bounds.get(partition)!.low) }));
      if (stale.length > 0) await client.admin.setCommittedOffsets(group, opts.from, stale);
    }
  }
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
          if (BigInt(record.offset) < (progress(info.code).get(record.partition) ?? 0n)) {
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
        else for (const code of opts.codes) if (at.upTo > (progress(code).get(at.partition) ?? 0n)) await commit(codeGroup(opts.groupId, code), at.partition, at.upTo);
      },
    );
    return { ...counts, byTopic, resetPartitions: reset.size, complete, dryRun: opts.dryRun };
  } finally {
    await producer?.stop();
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
