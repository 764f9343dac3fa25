import { errorCode } from '../../common/errors.ts';
import type { ConsumedRecord } from '../../kafka/port.ts';
import type { Classification, Classifier } from '../../model/runtime/classifier.ts';
import { createDedupeCache, type DedupeCache } from '../dedupe-cache.ts';
import type { InputMapping } from '../input-mapping.ts';
import { parseInputBytes, type InputMessage } from '../input-message.ts';
import type { ServeMetrics } from '../metrics.ts';
import { createMicroBatcher, type BatchLimits, type MicroBatcher } from '../micro-batcher.ts';
import { createBatchCost, type BatchCost } from '../batch-cost.ts';
import { deadLetter, recordBytes, tagsRecord, type OutRecord } from '../output-record.ts';
import type { Tracing } from '../tracing.ts';

export interface ClassifyOptions {
  readonly classifier: Classifier;
  readonly outputTopic: string;
  readonly deadLetterTopic: string;
  readonly batch: BatchLimits;
  readonly maxMessageBytes: number;
  /** Tags records over this many bytes are dead-lettered: the output topic would refuse them and stall the partition. Unlimited when absent. */
  readonly maxOutputBytes?: number;
  readonly dedupeCacheSize: number;
  readonly allScores: boolean;
  /** Where text, id and kept fields sit in a record (default: top-level `text` and `id`). */
  readonly input?: InputMapping;
  readonly metrics?: ServeMetrics;
  /** For one `livetag.inference` span per model batch. */
  readonly tracing?: Tracing;
}

/** What classifyTexts returns: one classification per text, and the model that made them. */
export interface TextResults {
  readonly results: readonly Classification[];
  readonly model: { readonly id: string; readonly version: string };
  /** That model's labels, in its score order. */
  readonly labels: readonly string[];
}

export interface ClassifyStage {
  /** Validates, classifies and turns records into output or dead-letter records, in source order. Never throws for bad input. */
  process(records: readonly ConsumedRecord[]): Promise<OutRecord[]>;
  /** Classifies texts through the same cache and batcher as records, so HTTP requests join Kafka batches. Rejects when inference fails. */
  classifyTexts(texts: readonly string[]): Promise<TextResults>;
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
  // Rows submitted by classifyTexts (HTTP), to count how often they share a batch with Kafka rows.
  const textRows = new WeakSet<readonly number[]>();
  // A new model learns its own batch cost; the gauge shows what the batcher is deciding with.
  const observedCost = (): BatchCost => {
    const cost = createBatchCost();
    metrics?.batchOverhead.set(cost.overheadTokens());
    return {
      overheadTokens: cost.overheadTokens,
      observe(tokens, ms) {
        cost.observe(tokens, ms);
        metrics?.batchOverhead.set(cost.overheadTokens());
      },
    };
  };
  const stateFor = (classifier: Classifier): ModelState => ({
    classifier,
    active: 0,
    cache: createDedupeCache(opts.dedupeCacheSize),
    model: { id: classifier.manifest.modelId, version: classifier.manifest.version },
    batcher: createMicroBatcher(opts.batch, async (rows) => {
      const batch = classifier.encoder.pad(rows);
      metrics?.batchSize.observe(batch.batchSize);
      const fromTexts = rows.filter((r) => textRows.has(r)).length;
      metrics?.batchRows.inc({ origin: 'http' }, fromTexts);
      metrics?.batchRows.inc({ origin: 'kafka' }, rows.length - fromTexts);
      if (fromTexts > 0 && fromTexts < rows.length) metrics?.mixedBatches.inc();
      metrics?.batchTokens.observe(batch.batchSize * batch.seqLength);
      const end = metrics?.inference.startTimer();
      const span = opts.tracing?.startSpan('livetag.inference', {
        attributes: { 'livetag.batch.size': batch.batchSize, 'livetag.batch.tokens': batch.batchSize * batch.seqLength, 'livetag.batch.http_rows': fromTexts, 'livetag.model.version': classifier.manifest.version },
      });
      let logits;
      try {
        logits = await classifier.infer(batch);
      } catch (err) {
        span?.end(err);
        throw err;
      }
      span?.end();
      end?.();
      return classifier.decide(logits, batch.batchSize, opts.allScores);
    }, classifier.parallelism + 1, observedCost()), // one batch queued beyond those running, so no session waits for the next cut
  });
  let state = stateFor(opts.classifier);

  /** Validates each record; valid texts are looked up in the cache, misses grouped by text so repeats in a chunk infer once. */
  function validate(current: ModelState, records: readonly ConsumedRecord[]) {
    const slots: Slot[] = [];
    const misses = new Map<string, number[]>();
    const results = new Map<number, Classification>();
    // Counted once per chunk: a labelled prom-client inc per record costs more than the lookup it counts.
    let lookups = 0;
    let hits = 0;
    for (const record of records) {
      const parsed = parseInputBytes(record.value, opts.maxMessageBytes, { mapping: opts.input, headers: record.headers });
      if (!parsed.ok) {
        slots.push(deadLetter(record, opts.deadLetterTopic, parsed.code, parsed.reason));
        continue;
      }
      const i = slots.push({ record, message: parsed.message }) - 1;
      lookups++;
      const hit = current.cache.get(parsed.message.text);
      if (hit) {
        hits++;
        results.set(i, hit);
      } else {
        const list = misses.get(parsed.message.text);
        if (list) list.push(i);
        else misses.set(parsed.message.text, [i]);
      }
    }
    if (metrics) {
      const topics = new Map<string, number>();
      for (const r of records) topics.set(r.topic, (topics.get(r.topic) ?? 0) + 1);
      for (const [topic, n] of topics) metrics.consumed.inc({ topic }, n);
      if (lookups > 0) metrics.cacheLookups.inc(lookups);
      if (hits > 0) metrics.cacheHits.inc(hits);
    }
    return { slots, misses, results };
  }

  async function infer(current: ModelState, slots: Slot[], misses: Map<string, number[]>, results: Map<number, Classification>): Promise<void> {
    if (misses.size === 0) return;
    const texts = [...misses.keys()];
    const ids = await current.classifier.encoder.ids(texts);
    const outcomes = await Promise.allSettled(ids.map((row) => current.batcher.submit(row)));
    // A model stopped under the chunk (a stop past its drain deadline) says nothing of these
    // messages: the chunk fails uncommitted and is redelivered, instead of dead-lettering good input.
    const stopped = outcomes.find((o) => o.status === 'rejected' && errorCode(o.reason) === 'LT_STOPPED');
    if (stopped) throw (stopped as PromiseRejectedResult).reason;
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
    return slots.map((slot, i) => {
      if (!('record' in slot)) return slot;
      const out = tagsRecord(slot.record, slot.message, results.get(i)!, context);
      const bytes = recordBytes(out);
      if (opts.maxOutputBytes === undefined || bytes <= opts.maxOutputBytes) return out;
      return deadLetter(slot.record, opts.deadLetterTopic, 'LT_OUTPUT_TOO_LARGE', `its tags record would be ${bytes} bytes, over LIVETAG_MAX_OUTPUT_BYTES (${opts.maxOutputBytes})`);
    });
  }

  async function textsWith(current: ModelState, texts: readonly string[]): Promise<TextResults> {
    const known = new Map<string, Classification>();
    for (const t of texts) {
      const hit = current.cache.get(t);
      if (hit) known.set(t, hit);
    }
    const misses = [...new Set(texts)].filter((t) => !known.has(t));
    const ids = misses.length > 0 ? await current.classifier.encoder.ids(misses) : [];
    for (const row of ids) textRows.add(row);
    const done = await Promise.all(ids.map((row) => current.batcher.submit(row)));
    misses.forEach((t, k) => {
      known.set(t, done[k]);
      current.cache.set(t, done[k]);
    });
    return { model: current.model, labels: current.classifier.labels, results: texts.map((t) => known.get(t)!) };
  }

  /** Runs `work` on the current model state, counted so a swap waits for it. */
  async function withState<T>(work: (current: ModelState) => Promise<T>): Promise<T> {
    const current = state;
    current.active++;
    try {
      return await work(current);
    } finally {
      current.active--;
      if (current.active === 0) current.idle?.();
    }
  }

  return {
    process: (records) => withState((current) => processWith(current, records)),
    classifyTexts: (texts) => withState((current) => textsWith(current, texts)),
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
