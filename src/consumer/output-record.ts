/**
 * What the service writes: the tags record (one schema, for the service and
 * for anyone reading the output topic) and the dead-letter record, whose
 * header names live here and nowhere else.
 */
import { z } from 'zod';
import type { ConsumedRecord, OutgoingRecord, RecordHeaders } from '../kafka/port.ts';
import type { Classification } from '../model/runtime/classifier.ts';

export const TagSchema = z.object({ label: z.string(), score: z.number() });

/** The JSON value of a record on the output topic. Input fields the service does not use pass through. */
export const OutputMessageSchema = z.looseObject({
  id: z.union([z.string(), z.number()]),
  room: z.string().optional(),
  text: z.string(),
  tags: z.array(TagSchema),
  scores: z.record(z.string(), z.number()).optional(),
  model: z.object({ id: z.string(), version: z.string() }),
  source: z.object({ topic: z.string(), partition: z.number().int(), offset: z.string() }),
  timing: z.object({ producedAt: z.number(), classifiedAt: z.number() }),
});

export type OutputMessage = z.infer<typeof OutputMessageSchema>;

/** Headers a dead letter carries besides the original record's own. */
export const DEAD_LETTER_HEADERS = Object.freeze({
  code: 'livetag-error-code',
  reason: 'livetag-error-reason',
  sourceTopic: 'livetag-source-topic',
  sourcePartition: 'livetag-source-partition',
  sourceOffset: 'livetag-source-offset',
});

/** A record to publish, with what the metrics need once it is acknowledged. */
export interface OutRecord extends OutgoingRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | string;
  readonly headers: RecordHeaders;
  readonly kind: 'tags' | 'dead-letter';
  /** The input's timestamp (ms), for end-to-end latency after the publish. */
  readonly producedAt: number;
  /** The error code of a dead letter. */
  readonly code?: string;
  readonly tags?: readonly string[];
}

/** Dead-letter record: the original bytes, key and headers, plus why and where from. */
export function deadLetter(record: ConsumedRecord, topic: string, code: string, reason: string): OutRecord {
  return {
    topic,
    key: record.key,
    value: record.value ?? Buffer.alloc(0),
    headers: {
      ...record.headers,
      [DEAD_LETTER_HEADERS.code]: code,
      [DEAD_LETTER_HEADERS.reason]: reason,
      [DEAD_LETTER_HEADERS.sourceTopic]: record.topic,
      [DEAD_LETTER_HEADERS.sourcePartition]: String(record.partition),
      [DEAD_LETTER_HEADERS.sourceOffset]: record.offset,
    },
    kind: 'dead-letter',
    code,
    producedAt: Number(record.timestamp),
  };
}

/** The tags record for one input: its fields (unknown ones kept), the tags, which model, where from. */
export function tagsRecord(
  record: ConsumedRecord,
  message: Readonly<{ text: string; id?: string | number; room?: string; [extra: string]: unknown }>,
  result: Classification,
  context: { readonly topic: string; readonly model: OutputMessage['model']; readonly classifiedAt: number },
): OutRecord {
  const { text, id, room, ...extra } = message;
  const out: OutputMessage = {
    ...extra,
    id: id ?? `${record.topic}-${record.partition}-${record.offset}`,
    ...(room === undefined ? {} : { room }),
    text,
    tags: result.tags,
    ...(result.scores ? { scores: result.scores } : {}),
    model: context.model,
    source: { topic: record.topic, partition: record.partition, offset: record.offset },
    timing: { producedAt: Number(record.timestamp), classifiedAt: context.classifiedAt },
  };
  return {
    topic: context.topic,
    key: record.key,
    value: JSON.stringify(out),
    headers: { ...record.headers },
    kind: 'tags',
    producedAt: Number(record.timestamp),
    tags: result.tags.map((t) => t.label),
  };
}
