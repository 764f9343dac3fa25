/**
 * Reading a dead-letter topic to the end it had when the reading began, and
 * telling what each dead letter is: its code, where it came from, whether it
 * is an incomplete copy (value cut, or original key or headers left out).
 * Header names come from output-record.ts, where the service writes them;
 * nothing here spells one out.
 */
import { LivetagError } from '../common/errors.ts';
import { DEAD_LETTER_HEADERS } from '../consumer/output-record.ts';
import type { ConsumedRecord, KafkaClient, RecordBatch, RecordHeaders } from '../kafka/port.ts';

/** Marks a record the replay wrote: the dead letter it came from (topic/partition/offset). */
export const REPLAYED_FROM_HEADER = 'livetag-replayed-from';

export interface DeadLetterInfo {
  readonly code: string;
  readonly sourceTopic?: string;
  /** An incomplete copy (value cut, or original key or headers left out): replay skips it. */
  readonly truncated: boolean;
}

function text(headers: RecordHeaders, name: string): string | undefined {
  const v = headers[name];
  const one = Array.isArray(v) ? v[v.length - 1] : v;
  return one === undefined ? undefined : String(one);
}

export function describeDeadLetter(record: ConsumedRecord): DeadLetterInfo {
  const sourceTopic = text(record.headers, DEAD_LETTER_HEADERS.sourceTopic);
  return {
    code: text(record.headers, DEAD_LETTER_HEADERS.code) ?? 'unknown',
    ...(sourceTopic === undefined ? {} : { sourceTopic }),
    // A copy without its original key or headers is as incomplete as a cut value: replaying it would publish something else.
    truncated: text(record.headers, DEAD_LETTER_HEADERS.truncated) === 'true' || text(record.headers, DEAD_LETTER_HEADERS.dropped) !== undefined,
  };
}

/** The record as it was before it was dead-lettered: every header the dead-lettering added removed, the origin noted. */
export function originalRecord(record: ConsumedRecord): { key: Buffer | null; value: Buffer | null; headers: Record<string, RecordHeaders[string]> } {
  const added = new Set<string>(Object.values(DEAD_LETTER_HEADERS));
  const headers: Record<string, RecordHeaders[string]> = {};
  for (const [k, v] of Object.entries(record.headers)) if (!added.has(k) && k !== REPLAYED_FROM_HEADER) headers[k] = v;
  headers[REPLAYED_FROM_HEADER] = `${record.topic}/${record.partition}/${record.offset}`;
  return { key: record.key, value: record.value, headers };
}

export interface ReadOptions {
  readonly client: KafkaClient;
  readonly topic: string;
  /** The group the reading consumer joins: a throwaway one, never the group that remembers progress. */
  readonly readerGroup: string;
  /** Per partition, the first offset to hand up; partitions not named start at the log's start. */
  readonly starts?: ReadonlyMap<number, bigint>;
  /** Stop when nothing arrives for this long before the end is reached (time spent in `handle` not counted). */
  readonly idleTimeoutMs: number;
}

/** Where a handed-up batch leaves its partition: every offset below `upTo` has been seen. */
export interface ReadProgress {
  readonly partition: number;
  readonly upTo: bigint;
}

/** Each partition's low and high watermark. */
export async function topicBounds(client: KafkaClient, topic: string): Promise<Map<number, { low: bigint; high: bigint }>> {
  const marks = await client.admin.watermarks(topic);
  if (marks.length === 0) throw new LivetagError('LT_KAFKA', `topic ${topic} does not exist`, { retryable: false });
  return new Map(marks.map((w) => [w.partition, { low: BigInt(w.low), high: BigInt(w.high) }]));
}

/**
 * Hands every record from `starts` up to the topic's end (as of the start) to
 * `handle`, batch by batch, with how far its partition got. Resolves when
 * every partition is done, or (complete: false) when nothing arrived for the
 * idle time.
 */
export async function readToEnd(opts: ReadOptions, handle: (records: readonly ConsumedRecord[], progress: ReadProgress) => Promise<void>): Promise<{ complete: boolean }> {
  const bounds = await topicBounds(opts.client, opts.topic);
  const ends = new Map([...bounds].map(([p, b]) => [p, b.high]));
  const starts = new Map([...bounds].map(([p, b]) => [p, opts.starts?.get(p) ?? b.low]));
  const next = new Map(starts);
  const done = (): boolean => [...ends].every(([p, end]) => (next.get(p) ?? 0n) >= end);
  if (done()) return { complete: true };
  // The reader starts where asked: its own group's offsets, set before it joins (no member yet).
  await opts.client.admin.setCommittedOffsets(opts.readerGroup, opts.topic, [...starts].map(([partition, offset]) => ({ partition, offset: offset.toString() })));
  const consumer = opts.client.consumer({ groupId: opts.readerGroup, topics: [opts.topic], fromBeginning: true, maxWaitMs: 200 });
  let finish: (complete: boolean) => void = () => {};
  const finished = new Promise<boolean>((r) => (finish = r));
  let idle: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => finish(false), opts.idleTimeoutMs);
  };
  let failure: unknown;
  const onBatch = async (batch: RecordBatch): Promise<void> => {
    // A slow handle (a send waiting for acks) is not a quiet topic: the idle clock waits for it.
    clearTimeout(idle);
    const end = ends.get(batch.partition) ?? 0n;
    const start = starts.get(batch.partition) ?? 0n;
    const records = batch.records.filter((r) => BigInt(r.offset) >= start && BigInt(r.offset) < end);
    if (batch.lastOffset !== null) {
      const reached = BigInt(batch.lastOffset) + 1n;
      const upTo = reached < end ? reached : end;
      if (records.length > 0 || upTo > (next.get(batch.partition) ?? 0n)) await handle(records, { partition: batch.partition, upTo });
      batch.resolve(batch.lastOffset);
      next.set(batch.partition, upTo);
    } else if (records.length > 0) await handle(records, { partition: batch.partition, upTo: next.get(batch.partition) ?? start });
    if (done()) finish(true);
    else armIdle();
  };
  // A consumer that will not restart (refused by ACLs, say) fetches nothing more: say so now, not after the idle wait as if the topic went quiet.
  consumer.on((e) => {
    if (e.type === 'crashed' && !e.restarting) {
      failure ??= e.error;
      finish(false);
    }
  });
  try {
    armIdle();
    await consumer.start((batch) =>
      onBatch(batch).catch((err) => {
        failure = err;
        finish(false);
      }),
    );
    const complete = await finished;
    if (failure) throw failure;
    return { complete };
  } finally {
    clearTimeout(idle);
    await consumer.stop();
    // The reader's group holds the offsets set above, kept by the broker for offsets.retention.minutes (7 days) after each run unless deleted.
    // Best effort: a principal without DELETE on groups leaves it, as before.
    await opts.client.admin.deleteGroups([opts.readerGroup]).catch(() => undefined);
  }
}
