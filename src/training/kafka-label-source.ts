/**
 * New labels from a Kafka topic: read from the group's committed offsets to
 * the end as it stood when the run started, then commit those end offsets
 * only once the run has succeeded. Offsets are committed with the admin
 * client after the consumer has left the group, so a run that trained for an
 * hour does not depend on a consumer session kept alive all that time.
 */
import { createKafkaClient } from '../kafka/client.ts';
import type { KafkaConnection } from '../kafka/connection.ts';
import type { KafkaClient } from '../kafka/port.ts';
import { readToEnd } from '../kafka/read-to-end.ts';
import { LivetagError } from '../common/errors.ts';
import type { RawRecord } from './data.ts';
import type { LabelSource } from './label-source.ts';

export interface KafkaLabelSourceOptions {
  readonly kafka: Pick<KafkaConnection, 'brokers' | 'ssl' | 'sasl'> & Partial<Pick<KafkaConnection, 'client'>>;
  readonly topic: string;
  readonly groupId: string;
  /** Give up if the end is not reached within this time (a stalled broker must not hang the job). */
  readonly readTimeoutMs?: number;
}

export function createKafkaLabelSource(opts: KafkaLabelSourceOptions): LabelSource {
  let client: KafkaClient | undefined;
  let ends = new Map<number, string>();
  let readDone = false;
  const timeoutMs = opts.readTimeoutMs ?? 120_000;

  async function startOffsets(c: KafkaClient): Promise<{ ends: Map<number, string>; start: Map<number, string> }> {
    const high = await c.admin.watermarks(opts.topic);
    const committed = await c.admin.committedOffsets(opts.groupId, opts.topic);
    const lows = new Map(high.map((p) => [p.partition, p.low]));
    const start = new Map<number, string>(committed.map((p) => [p.partition, p.offset === '-1' ? (lows.get(p.partition) ?? '0') : p.offset]));
    return { ends: new Map(high.map((p) => [p.partition, p.high])), start };
  }

  /** Reads every partition of `pending` up to its end offset, then leaves the group. */
  async function readUpTo(c: KafkaClient, pending: Map<number, bigint>, start: ReadonlyMap<number, string>): Promise<RawRecord[]> {
    const buffered: RawRecord[] = [];
    // The group's own offsets say where to start; this consumer never commits (commit() does, after success).
    await readToEnd(c, {
      topic: opts.topic,
      groupId: opts.groupId,
      ends: pending,
      timeoutMs,
      atTimeout: 'fail',
      onRecord(r) {
        if (BigInt(r.offset) >= BigInt(start.get(r.partition) ?? '0')) {
          buffered.push({ source: `kafka:${opts.topic}/${r.partition}`, position: r.offset, value: r.value?.toString('utf8') ?? '' });
        }
        return true;
      },
    });
    // Partitions interleave differently on each read; the split and a resume's fingerprint need one order.
    return buffered.sort((a, b) => a.source.localeCompare(b.source) || Number(BigInt(a.position ?? 0) - BigInt(b.position ?? 0)));
  }

  return {
    name: `kafka:${opts.topic}`,
    async start() {
      client = await createKafkaClient({ connection: { ...opts.kafka, clientId: `livetag-train-${opts.groupId}` } });
    },
    async *records() {
      if (!client) throw new LivetagError('LT_STOPPED', 'label source is not started');
      const offsets = await startOffsets(client);
      ends = offsets.ends;
      const pending = new Map<number, bigint>();
      for (const [p, high] of ends) {
        const from = BigInt(offsets.start.get(p) ?? '0');
        if (BigInt(high) > from) pending.set(p, BigInt(high));
      }
      const buffered = pending.size === 0 ? [] : await readUpTo(client, pending, offsets.start);
      readDone = true;
      yield* buffered;
    },
    async commit() {
      if (!client || !readDone) return;
      await client.admin.setCommittedOffsets(opts.groupId, opts.topic, [...ends].map(([partition, offset]) => ({ partition, offset })));
    },
    async stop() {
      client = undefined;
    },
  };
}
