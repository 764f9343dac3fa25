import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Seconds, resolving single milliseconds at the low end (latency SLOs live
 * there) and reaching a minute at the top: a consumer catching up on a
 * backlog sees end-to-end latencies of tens of seconds, which used to land in +Inf.
 */
export const TIME_BUCKETS = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 20, 30, 60];
/** This build's version (package.json), for livetag_build_info and the KServe server metadata. */
export const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256, 512];
const TOKEN_BUCKETS = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];


/**
 * Every metric the service exports, on its own registry. A side channel:
 * the pipeline writes here and never reads back.
 */
/**
 * LIVETAG_EVENT_LOOP_RESOLUTION_MS's default. prom-client's 10 ms woke the event loop 100 times a
 * second: 5-6 of an idle service's ~10 ms of main-thread CPU a second, and a bert-base drain's main
 * thread 195 against 128 µs a message.
 */
export const EVENT_LOOP_RESOLUTION_MS = 50;

export function createServeMetrics(opts: { readonly eventLoopResolutionMs?: number } = {}) {
  const resolutionMs = opts.eventLoopResolutionMs ?? EVENT_LOOP_RESOLUTION_MS;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: resolutionMs });
  const reg = [registry];
  const buildInfo = new Gauge({ name: 'livetag_build_info', help: 'The livetag build and the Node.js running it (value 1).', labelNames: ['version', 'node'], registers: reg });
  buildInfo.set({ version: PACKAGE_VERSION, node: process.versions.node }, 1);
  // Node's lag histogram counts each whole sampling interval, so an idle process reads about this; the dashboard subtracts it.
  new Gauge({ name: 'livetag_event_loop_resolution_seconds', help: 'Sampling interval of the nodejs_eventloop_lag_* metrics (LIVETAG_EVENT_LOOP_RESOLUTION_MS), which include it: lag beyond the interval is the difference.', registers: reg }).set(resolutionMs / 1000);
  return {
    registry,
    consumed: new Counter({ name: 'livetag_messages_consumed_total', help: 'Input records read from Kafka.', labelNames: ['topic'], registers: reg }),
    classified: new Counter({ name: 'livetag_messages_classified_total', help: 'Messages classified and published.', registers: reg }),
    deadLettered: new Counter({ name: 'livetag_messages_dead_lettered_total', help: 'Messages sent to the dead-letter topic, by reason code.', labelNames: ['reason'], registers: reg }),
    batchSize: new Histogram({ name: 'livetag_batch_size', help: 'Texts per inference batch.', buckets: SIZE_BUCKETS, registers: reg }),
    batchTokens: new Histogram({ name: 'livetag_batch_tokens', help: 'Padded tokens (batch × longest) per inference batch.', buckets: TOKEN_BUCKETS, registers: reg }),
    batchOverhead: new Gauge({ name: 'livetag_batch_overhead_tokens', help: 'The fixed cost of one more inference batch in padded tokens, fitted from batches that ran alone: under light load the micro-batcher splits its queue by length where the padding saved exceeds it.', registers: reg }),
    inference: new Histogram({ name: 'livetag_inference_seconds', help: 'Model inference time per batch.', buckets: TIME_BUCKETS, registers: reg }),
    endToEnd: new Histogram({ name: 'livetag_end_to_end_latency_seconds', help: 'Record timestamp to publish acknowledged.', buckets: TIME_BUCKETS, registers: reg }),
    queueDepth: new Gauge({ name: 'livetag_queue_depth', help: 'Messages held in memory (fetched, not yet published).', registers: reg }),
    fetchPaused: new Gauge({ name: 'livetag_fetch_paused', help: '1 while fetching is paused because in-flight work is full.', registers: reg }),
    lag: new Gauge({ name: 'livetag_consumer_lag', help: 'High watermark minus the group\'s committed offset, per partition, measured every LIVETAG_HEALTH_INTERVAL_MS (the whole group\'s lag, from every instance).', labelNames: ['topic', 'partition'], registers: reg }),
    predictions: new Counter({ name: 'livetag_predictions_total', help: 'Tags assigned, per label.', labelNames: ['label'], registers: reg }),
    modelInfo: new Gauge({ name: 'livetag_model_info', help: 'The model being served (value 1).', labelNames: ['model_id', 'version', 'provider', 'variant'], registers: reg }),
    errors: new Counter({ name: 'livetag_errors_total', help: 'Errors by code.', labelNames: ['code'], registers: reg }),
    cacheLookups: new Counter({ name: 'livetag_dedupe_cache_lookups_total', help: 'Repeated-comment cache lookups.', registers: reg }),
    cacheHits: new Counter({ name: 'livetag_dedupe_cache_hits_total', help: 'Repeated-comment cache hits (inference skipped).', registers: reg }),
    ready: new Gauge({ name: 'livetag_ready', help: '1 while ready: model loaded, consumer group joined, broker answering.', registers: reg }),
    modelFallback: new Gauge({ name: 'livetag_model_fallback', help: '1 when the registry\'s current model failed to load at start and an older verified version serves instead.', registers: reg }),
    reloadFailures: new Counter({ name: 'livetag_model_reload_failures_total', help: 'Model bundles refused at reload.', registers: reg }),
    batchRows: new Counter({ name: 'livetag_batch_rows_total', help: 'Texts inferred, by where they came from (kafka or http).', labelNames: ['origin'], registers: reg }),
    mixedBatches: new Counter({ name: 'livetag_mixed_batches_total', help: 'Inference batches holding both Kafka and HTTP texts.', registers: reg }),
    httpRequests: new Counter({ name: 'livetag_http_requests_total', help: 'Inference HTTP requests, by route and status.', labelNames: ['route', 'status'], registers: reg }),
    httpDuration: new Histogram({ name: 'livetag_http_request_duration_seconds', help: 'Inference HTTP request time, by route.', labelNames: ['route'], buckets: TIME_BUCKETS, registers: reg }),
    httpInFlight: new Gauge({ name: 'livetag_http_in_flight_requests', help: 'Inference HTTP requests being served.', labelNames: ['route'], registers: reg }),
  };
}

export type ServeMetrics = ReturnType<typeof createServeMetrics>;
