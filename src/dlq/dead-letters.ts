/**
 * Reading a dead-letter topic to the end it had when the reading began, and
 * telling what each dead letter is: its code, where it came from, whether it
 * is a truncated copy. Header names come from output-record.ts, where the
 * service writes them; nothing here spells one out.
 */
import { LivetagError } from '../common/errors.ts';
import { DEAD_LETTER_HEADERS } from '../consumer/output-record.ts';
import type { ConsumedRecord, KafkaClient, RecordBatch, RecordHeaders } from '../kafka/port.ts';

/** Marks a record the replay wrote: the dead letter it came from (topic/partition/offset). */
export const REPLAYED_FROM_HEADER = 'livetag-replayed-from';

export interface DeadLetterInfo {
  readonly code: string;
  readonly sourceTopic?: string;
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
    truncated: text(record.headers, DEAD_LETTER_HEADERS.truncated) === 'true',
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
  readonly groupId: string;
  /** Commit progress under groupId, so a later run starts after what this one handled (replay). */
  readonly commit: boolean;
  /** Start after this group's committed offsets (a dry run reads what the real run would); absent: from the earliest. */
  readonly resumeGroup?: string;
  /** Stop when nothing arrives for this long before the end is reached. */
  readonly idleTimeoutMs: number;
}

/**
 * Hands every record up to the topic's end (as of the start) to `handle`,
 * batch by batch, committing after each batch when asked. Resolves when
 * every partition is done: its end reached, or already committed past it.
 */
export async function readToEnd(opts: ReadOptions, handle: (records: readonly ConsumedRecord[]) => Promise<void>): Promise<{ complete: boolean }> {
  const ends = new Map((await opts.client.admin.watermarks(opts.topic)).map((w) => [w.partition, BigInt(w.high)]));
  if (ends.size === 0) throw new LivetagError('LT_KAFKA', `topic ${opts.topic} does not exist`, { retryable: false });
  const next = new Map((await opts.client.admin.watermarks(opts.topic)).map((w) => [w.partition, BigInt(w.low)]));
  if (opts.resumeGroup !== undefined) {
    for (const c of await opts.client.admin.committedOffsets(opts.resumeGroup, opts.topic)) if (c.offset !== '-1') next.set(c.partition, BigInt(c.offset));
  }
  const starts = new Map(next);
  const done = (): boolean => [...ends].every(([p, end]) => (next.get(p) ?? 0n) >= end);
  if (done()) return { complete: true };
  const consumer = opts.client.consumer({ groupId: opts.groupId, topics: [opts.topic], fromBeginning: true, maxWaitMs: 200 });
  let finish: (complete: boolean) => void = () => {};
  const finished = new Promise<boolean>((r) => (finish = r));
  let idle: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => finish(false), opts.idleTimeoutMs);
  };
  let failure: unknown;
  const onBatch = async (batch: RecordBatch): Promise<void> => {
    armIdle();
    const end = ends.get(batch.partition) ?? 0n;
    const start = starts.get(batch.partition) ?? 0n;
    const records = batch.records.filter((r) => BigInt(r.offset) >= start && BigInt(r.offset) < end);
    if (records.length > 0) await handle(records);
    if (batch.lastOffset !== null) {
      const reached = BigInt(batch.lastOffset) + 1n;
      const upTo = reached < end ? reached : end;
      if (opts.commit) await batch.commit(upTo.toString());
      batch.resolve(batch.lastOffset);
      next.set(batch.partition, upTo);
    }
    if (done()) finish(true);
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
  }
}
