/**
 * What the service writes: the tags record (one schema, for the service and
 * for anyone reading the output topic) and the dead-letter record, whose
 * header names live here and nowhere else.
 */
import { createHash } from 'node:crypto';
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
  /** ms: the record's timestamp, when livetag's consumer received it (absent for records that did not come from Kafka), when its tags were decided. */
  timing: z.object({ producedAt: z.number(), fetchedAt: z.number().optional(), classifiedAt: z.number() }),
});

export type OutputMessage = z.infer<typeof OutputMessageSchema>;

/**
 * Headers a dead letter carries besides the original record's own: Kafka
 * Connect's `__connect.errors.*` names, so tools built for Connect's
 * dead-letter queues read livetag's too, plus livetag's error code and the
 * marks of a truncated copy. Defined here once; replay tooling imports them.
 */
export const DEAD_LETTER_HEADERS = Object.freeze({
  code: 'livetag-error-code',
  sourceTopic: '__connect.errors.topic',
  sourcePartition: '__connect.errors.partition',
  sourceOffset: '__connect.errors.offset',
  exceptionClass: '__connect.errors.exception.class.name',
  reason: '__connect.errors.exception.message',
  /** The original record's timestamp (ms); Connect has no header for it, so it takes Connect's prefix. */
  sourceTimestamp: '__connect.errors.timestamp',
  /** 'true' when the value is a bounded prefix of the original. */
  truncated: 'livetag-truncated',
  originalSize: 'livetag-original-size',
  originalSha256: 'livetag-original-sha256',
  /** What of the original key and headers was left out, and their size, when they alone were too large to keep. */
  dropped: 'livetag-dropped',
});

const OWN_HEADERS = new Set<string>(Object.values(DEAD_LETTER_HEADERS));

/**
 * Original key and headers a dead letter keeps, in bytes. The value is bounded; an input too large
 * by its headers or key would otherwise make a dead letter the dead-letter topic refuses on every
 * try, and hold up the partition it came from.
 */
export const DEAD_LETTER_MAX_ENVELOPE_BYTES = 64 * 1024;

/**
 * Largest value a dead letter keeps. Kafka's default max.message.bytes is
 * about 1 MiB per batch; a copy this size leaves room for headers and for
 * the publisher's byte-bounded sends (publisher.ts).
 */
export const DEAD_LETTER_MAX_VALUE_BYTES = 256 * 1024;

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

/** Dead-letter record: the original key and headers, the value (bounded, see truncate), plus why and where from. */
export function deadLetter(record: ConsumedRecord, topic: string, code: string, reason: string, maxValueBytes = DEAD_LETTER_MAX_VALUE_BYTES): OutRecord {
  const envelope = boundedEnvelope(record.key, record.headers, DEAD_LETTER_MAX_ENVELOPE_BYTES);
  const { value, headers } = bounded(record.value ?? Buffer.alloc(0), envelope.headers, maxValueBytes);
  return {
    topic,
    key: envelope.key,
    value,
    kind: 'dead-letter',
    code,
    producedAt: Number(record.timestamp),
    headers: {
      ...headers,
      [DEAD_LETTER_HEADERS.code]: code,
      [DEAD_LETTER_HEADERS.exceptionClass]: 'LivetagError',
      [DEAD_LETTER_HEADERS.reason]: reason.slice(0, 1024),
      [DEAD_LETTER_HEADERS.sourceTopic]: record.topic,
      [DEAD_LETTER_HEADERS.sourcePartition]: String(record.partition),
      [DEAD_LETTER_HEADERS.sourceOffset]: record.offset,
      [DEAD_LETTER_HEADERS.sourceTimestamp]: record.timestamp,
    },
  };
}

/** The same dead letter with its value, and its original key and headers, cut to `maxValueBytes` (the marks describe the original). */
export function shrinkDeadLetter(out: OutRecord, maxValueBytes: number): OutRecord {
  if (out.kind !== 'dead-letter') return out;
  const original: Record<string, RecordHeaders[string]> = {};
  const own: Record<string, RecordHeaders[string]> = {};
  for (const [k, v] of Object.entries(out.headers)) (OWN_HEADERS.has(k) ? own : original)[k] = v;
  const envelope = boundedEnvelope(out.key, original, maxValueBytes);
  const value = Buffer.isBuffer(out.value) ? out.value : Buffer.from(out.value);
  // A second leaving-out is added to the first one's account, not written over it.
  const before = own[DEAD_LETTER_HEADERS.dropped];
  const now = envelope.headers[DEAD_LETTER_HEADERS.dropped];
  const joined = before !== undefined && now !== undefined ? { [DEAD_LETTER_HEADERS.dropped]: `${String(before)}; then ${String(now)}` } : {};
  const cut = bounded(value, { ...own, ...envelope.headers, ...joined }, maxValueBytes);
  return { ...out, key: envelope.key, value: cut.value, headers: cut.headers };
}

/** As the wire counts them: each header costs its framing too, so many empty ones are not free. */
function headerBytes(headers: RecordHeaders): number {
  let n = 0;
  for (const [k, v] of Object.entries(headers)) for (const x of Array.isArray(v) ? v : [v]) n += Buffer.byteLength(k) + bytesOf(x) + HEADER_OVERHEAD_BYTES;
  return n;
}

/** The original headers, then the key, left out (and said so) while together they are over `maxBytes`. */
function boundedEnvelope(key: Buffer | null, headers: RecordHeaders, maxBytes: number): { key: Buffer | null; headers: RecordHeaders } {
  const h = headerBytes(headers);
  const k = key?.length ?? 0;
  if (h + k <= maxBytes) return { key, headers };
  const keepKey = k <= maxBytes;
  const dropped = [`headers (${h} bytes)`, ...(keepKey ? [] : [`key (${k} bytes)`])].join(', ');
  return { key: keepKey ? key : null, headers: { [DEAD_LETTER_HEADERS.dropped]: dropped } };
}

function bounded(value: Buffer, headers: RecordHeaders, maxValueBytes: number): { value: Buffer; headers: RecordHeaders } {
  if (value.length <= maxValueBytes) return { value, headers: { ...headers } };
  // An already-truncated copy keeps the original's size and digest.
  const known = headers[DEAD_LETTER_HEADERS.truncated] === 'true';
  return {
    value: value.subarray(0, maxValueBytes),
    headers: {
      ...headers,
      [DEAD_LETTER_HEADERS.truncated]: 'true',
      [DEAD_LETTER_HEADERS.originalSize]: known ? headers[DEAD_LETTER_HEADERS.originalSize] : String(value.length),
      [DEAD_LETTER_HEADERS.originalSha256]: known ? headers[DEAD_LETTER_HEADERS.originalSha256] : createHash('sha256').update(value).digest('hex'),
    },
  };
}

/** UTF-8 bytes, not UTF-16 units: a comment in Chinese is three times its string length on the wire. */
function bytesOf(x: Buffer | string | null | undefined): number {
  if (x == null) return 0;
  return typeof x === 'string' ? Buffer.byteLength(x) : x.length;
}

/**
 * Kafka's v2 record batch: a 61-byte batch header, then per record at most 36 bytes of framing
 * (length 5, attributes 1, timestamp delta 10, offset delta 5, key and value lengths 5 each,
 * header count 5) and 10 per header (two lengths). Each record is charged the batch header too,
 * so a record alone, or any group, is bounded from above.
 */
const RECORD_OVERHEAD_BYTES = 61 + 36;
const HEADER_OVERHEAD_BYTES = 10;

/**
 * Bytes a record takes in a batch, uncompressed, never less than the broker counts against
 * max.message.bytes: what the publisher budgets sends by and the output limit is checked against.
 */
export function recordBytes(r: OutgoingRecord): number {
  return RECORD_OVERHEAD_BYTES + bytesOf(r.key) + bytesOf(r.value) + headerBytes(r.headers ?? {});
}

/** The tags record for one input: its fields (unknown ones kept), the tags, which model, where from. */
export function tagsRecord(
  record: ConsumedRecord,
  message: Readonly<{ text: string; id?: string | number; room?: string; [extra: string]: unknown }>,
  result: Classification,
  context: { readonly topic: string; readonly model: OutputMessage['model']; readonly classifiedAt: number },
): OutRecord {
  // An input field named like one the output owns (scores, when they are not asked for) would
  // publish what is not the model's; the rest pass through.
  const { text, id, room, scores: _reserved, ...extra } = message;
  const producedAt = Number(record.timestamp);
  const out: OutputMessage = {
    ...extra,
    id: id ?? `${record.topic}-${record.partition}-${record.offset}`,
    ...(room === undefined ? {} : { room }),
    text,
    tags: result.tags,
    ...(result.scores ? { scores: result.scores } : {}),
    model: context.model,
    source: { topic: record.topic, partition: record.partition, offset: record.offset },
    // JSON leaves fetchedAt out when the record has none.
    timing: { producedAt, fetchedAt: record.fetchedAt, classifiedAt: context.classifiedAt },
  };
  return {
    topic: context.topic,
    key: record.key,
    value: JSON.stringify(out),
    headers: { ...record.headers },
    kind: 'tags',
    producedAt,
    tags: result.tags.map((t) => t.label),
  };
}
