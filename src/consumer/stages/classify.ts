import { errorCode } from '../../common/errors.ts';
import type { ConsumedRecord } from '../../kafka/port.ts';
import type { Classification, Classifier } from '../../model/runtime/classifier.ts';
import { createDedupeCache, type DedupeCache } from '../dedupe-cache.ts';
import { parseInputBytes, type InputMessage } from '../input-message.ts';
import type { ServeMetrics } from '../metrics.ts';
import { createMicroBatcher, type BatchLimits, type MicroBatcher } from '../micro-batcher.ts';
import { deadLetter, tagsRecord, type OutRecord } from '../output-record.ts';

export interface ClassifyOptions {
  readonly classifier: Classifier;
  readonly outputTopic: string;
  readonly deadLetterTopic: string;
  readonly batch: BatchLimits;
  readonly maxMessageBytes: number;
  readonly dedupeCacheSize: number;
  readonly allScores: boolean;
  readonly metrics?: ServeMetrics;
}

export interface ClassifyStage {
  /** Validates, classifies and turns records into output or dead-letter records, in source order. Never throws for bad input. */
  process(records: readonly ConsumedRecord[]): Promise<OutRecord[]>;
  readonly classifier: Classifier;
  /**
   * Serves `next` from the next chunk on. Chunks already under way finish on
   * the model that tokenized them; resolves with the old classifier once
   * its last batch is done, for the caller to stop.
   */
  swap(next: Classifier): Promise<Classifier>;
  /** Runs what is queued and stops the batcher; the classifier stays the caller's to stop. */
  stop(): Promise<void>;
}

/** Everything that depends on one model: swapped together, never mixed within a chunk. */
interface ModelState {
  readonly classifier: Classifier;
  readonly batcher: MicroBatcher<Classification>;
  readonly cache: DedupeCache;
  readonly model: { readonly id: string; readonly version: string };
  /** process() calls using this state; a swap waits for them before stopping its batcher. */
  active: number;
  idle?: () => void;
}

type Slot = OutRecord | { readonly record: ConsumedRecord; readonly message: Readonly<InputMessage> };

/**
 * validate → dedupe → tokenize → micro-batch → infer → threshold, for the
 * records of one partition chunk. Chunks from many partitions share one
 * batcher, so concurrent partitions fill the same inference batches.
 */
export function createClassifyStage(opts: ClassifyOptions): ClassifyStage {
  const { metrics } = opts;
  const stateFor = (classifier: Classifier): ModelState => ({
    classifier,
    active: 0,
    cache: createDedupeCache(opts.dedupeCacheSize),
    model: { id: classifier.manifest.modelId, version: classifier.manifest.version },
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

  /** Validates each record; valid texts are looked up in the cache, misses grouped by text so repeats in a chunk infer once. */
  function validate(current: ModelState, records: readonly ConsumedRecord[]) {
    const slots: Slot[] = [];
    const misses = new Map<string, number[]>();
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
      const hit = current.cache.get(parsed.message.text);
      if (hit) {
        metrics?.cacheHits.inc();
        results.set(i, hit);
      } else {
        const list = misses.get(parsed.message.text);
        if (list) list.push(i);
        else misses.set(parsed.message.text, [i]);
      }
    }
    return { slots, misses, results };
  }

  async function infer(current: ModelState, slots: Slot[], misses: Map<string, number[]>, results: Map<number, Classification>): Promise<void> {
    if (misses.size === 0) return;
    const texts = [...misses.keys()];
    const ids = await current.classifier.encoder.ids(texts);
    const outcomes = await Promise.allSettled(ids.map((row) => current.batcher.submit(row)));
    outcomes.forEach((o, k) => {
      const indexes = misses.get(texts[k])!;
      if (o.status === 'fulfilled') {
        current.cache.set(texts[k], o.value);
        for (const i of indexes) results.set(i, o.value);
        return;
      }
      // Inference failures are not the message's fault, but they must not
      // stall the partition forever either: they go to the dead-letter topic
      // with the error code, like any record this service cannot tag.
      metrics?.errors.inc({ code: errorCode(o.reason) });
      for (const i of indexes) {
        const slot = slots[i] as { record: ConsumedRecord };
        slots[i] = deadLetter(slot.record, opts.deadLetterTopic, errorCode(o.reason), (o.reason as Error).message);
      }
    });
  }

  async function processWith(current: ModelState, records: readonly ConsumedRecord[]): Promise<OutRecord[]> {
    const { slots, misses, results } = validate(current, records);
    await infer(current, slots, misses, results);
    const context = { topic: opts.outputTopic, model: current.model, classifiedAt: Date.now() };
    return slots.map((slot, i) => ('record' in slot ? tagsRecord(slot.record, slot.message, results.get(i)!, context) : slot));
  }

  return {
    async process(records) {
      const current = state;
      current.active++;
      try {
        return await processWith(current, records);
      } finally {
        current.active--;
        if (current.active === 0) current.idle?.();
      }
    },
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
