import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds, resolving single milliseconds at the low end (latency SLOs live there). */
const TIME_BUCKETS = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10];
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256, 512];
const TOKEN_BUCKETS = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];

/**
 * Every metric the service exports, on its own registry. A side channel:
 * the pipeline writes here and never reads back.
 */
export function createServeMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const reg = [registry];
  return {
    registry,
    consumed: new Counter({ name: 'livetag_messages_consumed_total', help: 'Input records read from Kafka.', labelNames: ['topic'], registers: reg }),
    classified: new Counter({ name: 'livetag_messages_classified_total', help: 'Messages classified and published.', registers: reg }),
    deadLettered: new Counter({ name: 'livetag_messages_dead_lettered_total', help: 'Messages sent to the dead-letter topic, by reason code.', labelNames: ['reason'], registers: reg }),
    batchSize: new Histogram({ name: 'livetag_batch_size', help: 'Texts per inference batch.', buckets: SIZE_BUCKETS, registers: reg }),
    batchTokens: new Histogram({ name: 'livetag_batch_tokens', help: 'Padded tokens (batch × longest) per inference batch.', buckets: TOKEN_BUCKETS, registers: reg }),
    inference: new Histogram({ name: 'livetag_inference_seconds', help: 'Model inference time per batch.', buckets: TIME_BUCKETS, registers: reg }),
    endToEnd: new Histogram({ name: 'livetag_end_to_end_latency_seconds', help: 'Record timestamp to publish acknowledged.', buckets: TIME_BUCKETS, registers: reg }),
    queueDepth: new Gauge({ name: 'livetag_queue_depth', help: 'Messages held in memory (fetched, not yet published).', registers: reg }),
    fetchPaused: new Gauge({ name: 'livetag_fetch_paused', help: '1 while fetching is paused because in-flight work is full.', registers: reg }),
    lag: new Gauge({ name: 'livetag_consumer_lag', help: 'High watermark minus next offset to process, per partition, as seen by this instance.', labelNames: ['topic', 'partition'], registers: reg }),
    predictions: new Counter({ name: 'livetag_predictions_total', help: 'Tags assigned, per label.', labelNames: ['label'], registers: reg }),
    modelInfo: new Gauge({ name: 'livetag_model_info', help: 'The model being served (value 1).', labelNames: ['model_id', 'version', 'provider', 'variant'], registers: reg }),
    errors: new Counter({ name: 'livetag_errors_total', help: 'Errors by code.', labelNames: ['code'], registers: reg }),
    cacheLookups: new Counter({ name: 'livetag_dedupe_cache_lookups_total', help: 'Repeated-comment cache lookups.', registers: reg }),
    cacheHits: new Counter({ name: 'livetag_dedupe_cache_hits_total', help: 'Repeated-comment cache hits (inference skipped).', registers: reg }),
    ready: new Gauge({ name: 'livetag_ready', help: '1 when the model is loaded and the consumer group joined.', registers: reg }),
    reloadFailures: new Counter({ name: 'livetag_model_reload_failures_total', help: 'Model bundles refused at reload.', registers: reg }),
  };
}

export type ServeMetrics = ReturnType<typeof createServeMetrics>;
