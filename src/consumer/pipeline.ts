import { errorCode } from '../common/errors.ts';
import type { Classification, Classifier } from '../model/classifier.ts';
import { createDedupeCache, type DedupeCache } from './dedupe-cache.ts';
import { parseInputBytes, type InputMessage } from './input-message.ts';
import type { ServeMetrics } from './metrics.ts';
import { createMicroBatcher, type BatchLimits, type MicroBatcher } from './micro-batcher.ts';

export type Headers = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

/** One input record, independent of the Kafka client library. */
export interface SourceRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Headers;
  /** Record timestamp, ms since the epoch, as a string (Kafka's form). */
  readonly timestamp: string;
}

export interface OutRecord {
  readonly topic: string;
  readonly key: Buffer | null;
  readonly value: Buffer | string;
  readonly headers: Headers;
  /** The input it came from: for latency and per-label metrics after the publish. */
  readonly kind: 'tags' | 'dead-letter';
  readonly producedAt: number;
  readonly tags?: readonly string[];
}

export interface OutputMessage {
  readonly id: string | number;
  readonly room?: string;
  readonly text: string;
  readonly tags: Classification['tags'];
  readonly scores?: Classification['scores'];
  readonly model: { readonly id: string; readonly version: string };
  readonly source: { readonly topic: string; readonly partition: number; readonly offset: string };
  readonly timing: { readonly producedAt: number; readonly classifiedAt: number };
  readonly [extra: string]: unknown;
}

export interface PipelineOptions {
  readonly classifier: Classifier;
  readonly outputTopic: string;
  readonly deadLetterTopic: string;
  readonly batch: BatchLimits;
  readonly maxMessageBytes: number;
  readonly dedupeCacheSize: number;
  readonly allScores: boolean;
  readonly metrics?: ServeMetrics;
}

export interface Pipeline {
  /** Validates, classifies and turns records into output or dead-letter records, in source order. Never throws for bad input. */
  process(records: readonly SourceRecord[]): Promise<OutRecord[]>;
  readonly classifier: Classifier;
  /**
   * Serves `next` from the next chunk on. Chunks already under way finish on
   * the model that tokenized them; resolves with the old classifier once
   * its last batch is done, for the caller to stop.
   */
  swap(next: Classifier): Promise<Classifier>;
  stop(): Promise<void>;
}

/** Everything that depends on one model: swapped together, never mixed within a chunk. */
interface ModelState {
  readonly classifier: Classifier;
  readonly batcher: MicroBatcher<Classification>;
  readonly cache: DedupeCache;
  readonly modelRef: { readonly id: string; readonly version: string };
  /** process() calls using this state; a swap waits for them before stopping its batcher. */
  active: number;
  idle?: () => void;
}

const ERROR_HEADER = 'livetag-error-code';

/** Dead-letter record: the original bytes, key and headers, plus why and where from. */
export function deadLetter(record: SourceRecord, topic: string, code: string, reason: string): OutRecord {
  return {
    topic,
    key: record.key,
    value: record.value ?? Buffer.alloc(0),
    headers: {
      ...(record.headers ?? {}),
      [ERROR_HEADER]: code,
      'livetag-error-reason': reason,
      'livetag-source-topic': record.topic,
      'livetag-source-partition': String(record.partition),
      'livetag-source-offset': record.offset,
    },
    kind: 'dead-letter',
    producedAt: Number(record.timestamp),
  };
}

/**
 * validate → dedupe → tokenize → micro-batch → infer → threshold, for the
 * records of one partition chunk. Chunks from many partitions share one
 * batcher, so concurrent partitions fill the same inference batches.
 */
export function createPipeline(opts: PipelineOptions): Pipeline {
  const { metrics } = opts;
  const stateFor = (classifier: Classifier): ModelState => ({
    classifier,
    active: 0,
    cache: createDedupeCache(opts.dedupeCacheSize),
    modelRef: { id: classifier.manifest.modelId, version: classifier.manifest.version },
    batcher: createMicroBatcher(opts.batch, async (rows) => {
      const batch = classifier.encoder.pad(rows);
      metrics?.batchSize.observe(batch.batchSize);
      metrics?.batchTokens.observe(batch.batchSize * batch.seqLength);
      const end = metrics?.inference.startTimer();
      const logits = await classifier.infer(batch);
      end?.();
      return classifier.decide(logits, batch.batchSize, opts.allScores);
    }),
  });
  let state = stateFor(opts.classifier);

  async function process(records: readonly SourceRecord[]): Promise<OutRecord[]> {
    const current = state;
    current.active++;
    try {
      return await processWith(current, records);
    } finally {
      current.active--;
      if (current.active === 0) current.idle?.();
    }
  }

  async function processWith(current: ModelState, records: readonly SourceRecord[]): Promise<OutRecord[]> {
    const { classifier, cache, batcher, modelRef } = current;
    const slots: (OutRecord | { record: SourceRecord; message: Readonly<InputMessage> })[] = [];
    const misses = new Map<string, number[]>(); // text → slot indexes (coalesces repeats within a chunk)
    const results = new Map<number, Classification>();
    for (const record of records) {
      metrics?.consumed.inc({ topic: record.topic });
      const parsed = parseInputBytes(record.value, opts.maxMessageBytes);
      if (!parsed.ok) {
        slots.push(deadLetter(record, opts.deadLetterTopic, parsed.code, parsed.reason));
        continue;
      }
      const i = slots.push({ record, message: parsed.message }) - 1;
      metrics?.cacheLookups.inc();
      const hit = cache.get(parsed.message.text);
      if (hit) {
        metrics?.cacheHits.inc();
        results.set(i, hit);
      } else {
        const list = misses.get(parsed.message.text);
        if (list) list.push(i);
        else misses.set(parsed.message.text, [i]);
      }
    }

    if (misses.size > 0) {
      const texts = [...misses.keys()];
      const ids = await classifier.encoder.ids(texts);
      const outcomes = await Promise.allSettled(ids.map((row) => batcher.submit(row)));
      outcomes.forEach((o, k) => {
        const indexes = misses.get(texts[k])!;
        if (o.status === 'fulfilled') {
          cache.set(texts[k], o.value);
          for (const i of indexes) results.set(i, o.value);
        } else {
          // Inference failures are not the message's fault, but they must not
          // stall the partition forever either: they go to the dead-letter topic
          // with the error code, like any record this service cannot tag.
          metrics?.errors.inc({ code: errorCode(o.reason) });
          for (const i of indexes) {
            const slot = slots[i] as { record: SourceRecord };
            slots[i] = deadLetter(slot.record, opts.deadLetterTopic, errorCode(o.reason), (o.reason as Error).message);
          }
        }
      });
    }

    const classifiedAt = Date.now();
    return slots.map((slot, i) => {
      if (!('record' in slot)) return slot;
      const { record, message } = slot;
      const c = results.get(i)!;
      const { text, id, room, ...extra } = message;
      const out: OutputMessage = {
        ...extra,
        id: id ?? `${record.topic}-${record.partition}-${record.offset}`,
        ...(room === undefined ? {} : { room }),
        text,
        tags: c.tags,
        ...(c.scores ? { scores: c.scores } : {}),
        model: modelRef,
        source: { topic: record.topic, partition: record.partition, offset: record.offset },
        timing: { producedAt: Number(record.timestamp), classifiedAt },
      };
      return {
        topic: opts.outputTopic,
        key: record.key,
        value: JSON.stringify(out),
        headers: { ...(record.headers ?? {}) },
        kind: 'tags' as const,
        producedAt: Number(record.timestamp),
        tags: c.tags.map((t) => t.label),
      };
    });
  }

  return {
    process,
    get classifier() {
      return state.classifier;
    },
    async swap(next) {
      const old = state;
      state = stateFor(next);
      if (old.active > 0) await new Promise<void>((r) => (old.idle = r));
      await old.batcher.stop();
      return old.classifier;
    },
    stop: () => state.batcher.stop(),
  };
}
