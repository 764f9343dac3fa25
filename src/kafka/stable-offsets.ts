import type { TopicPartitionOffset } from './port.ts';

/**
 * Offsets sent in a transaction become the group's committed offsets only
 * when the commit marker reaches __consumer_offsets, a moment after EndTxn
 * returned. Clients that implement KIP-447 fetch offsets with requireStable
 * and wait out that moment; kafkajs speaks OffsetFetch v4 at most, so a
 * member that rejoins inside it (a rebalance: kafkajs rejoins as soon as the
 * fetch handlers return, and every member refetches its offsets) reads the
 * previous offset and tags the transaction's records a second time, visible
 * to read_committed. The ledger remembers what this process committed in
 * transactions, so that the consumer can wait, before it hands control back
 * to the library, until the group shows it.
 */
export interface TxnOffsetLedger {
  /** Called once a transaction that carried these offsets committed. */
  committed(groupId: string, offsets: readonly TopicPartitionOffset[]): void;
  /** The offset last committed for the partition that the group may not show yet; forgotten once taken. */
  take(groupId: string, topic: string, partition: number): string | undefined;
}

export function createTxnOffsetLedger(): TxnOffsetLedger {
  const pending = new Map<string, string>();
  const key = (groupId: string, topic: string, partition: number) => `${groupId}\u0000${topic}\u0000${partition}`;
  return {
    committed(groupId, offsets) {
      for (const o of offsets) pending.set(key(groupId, o.topic, o.partition), o.offset);
    },
    take(groupId, topic, partition) {
      const k = key(groupId, topic, partition);
      const offset = pending.get(k);
      pending.delete(k);
      return offset;
    },
  };
}

export interface StableWait {
  /** Longest wait; the markers normally land within milliseconds. */
  readonly timeoutMs: number;
  readonly pollMs: number;
}

/** The member stops heartbeating while it waits, so the wait stays far inside any session timeout. */
export const STABLE_WAIT: StableWait = { timeoutMs: 5_000, pollMs: 10 };

/**
 * Polls the group's committed offset of one partition (`read`) until it
 * reaches `expected`. A later commit by another member also counts. False
 * when the time ran out. `failedReads`: 'not-yet' counts a failed, missing or
 * unanswered read as not there yet (a best-effort wait); 'throw' lets a
 * failed read throw, for a caller to whom it means "unknown", not "no".
 */
export async function untilCommitted(read: () => Promise<string | undefined>, expected: string, wait: StableWait = STABLE_WAIT, failedReads: 'not-yet' | 'throw' = 'not-yet'): Promise<boolean> {
  const deadline = Date.now() + wait.timeoutMs;
  const target = BigInt(expected);
  for (;;) {
    const seen = failedReads === 'throw' ? await read() : await withinMs(read(), deadline - Date.now());
    if (seen !== undefined && /^-?\d+$/.test(seen) && BigInt(seen) >= target) return true;
    if (Date.now() + wait.pollMs > deadline) return false;
    await new Promise((r) => setTimeout(r, wait.pollMs));
  }
}

/** The read's value, or undefined when it failed or outlasted `ms` (a broker that went away answers nothing). */
async function withinMs<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(r, Math.max(0, ms), undefined)));
  try {
    return await Promise.race([p.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The group's committed offsets, read on a connection of the consumer's own. */
export interface OffsetReader {
  read(topic: string, partition: number): Promise<string | undefined>;
  close(): Promise<void>;
}

export interface StableOffsets {
  /**
   * Waits until the offset last committed in a transaction for the partition
   * shows as the group's; returns at once when there is none. Call it before
   * the consumer hands control back to the library.
   */
  settle(topic: string, partition: number): Promise<void>;
  /** Closes the reader; idempotent. */
  stop(): Promise<void>;
}

/** `open` connects a reader on first need; a failed connection is retried at the next settle. */
export function createStableOffsets(groupId: string, ledger: TxnOffsetLedger, warn: (message: string) => void, open: () => Promise<OffsetReader>, wait: StableWait = STABLE_WAIT): StableOffsets {
  let reader: Promise<OffsetReader> | undefined;
  const connected = () =>
    (reader ??= open().catch((err: unknown) => {
      reader = undefined;
      throw err;
    }));
  return {
    async settle(topic, partition) {
      const expected = ledger.take(groupId, topic, partition);
      if (expected === undefined) return;
      const read = async () => (await connected()).read(topic, partition);
      if (!(await untilCommitted(read, expected, wait))) warn(`the committed offset ${expected} of ${topic}/${partition} (group ${groupId}) did not show within ${wait.timeoutMs} ms; a rebalance now may tag some records twice`);
    },
    async stop() {
      const r = reader;
      reader = undefined;
      await r?.then((x) => x.close()).catch(() => undefined);
    },
  };
}
