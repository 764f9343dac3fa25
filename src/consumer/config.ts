import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { deepFreeze } from '../common/freeze.ts';
import { MAX_TIMER_MS } from '../common/timer-limit.ts';
import { parseSettings, readSecretSetting, settingBool, settingInt, settingsReference } from '../common/env-settings.ts';
import { passthroughSchema, pointerSchema, type InputMapping } from './input-mapping.ts';
import { KAFKA_SETTINGS, invalid, loadKafkaConnection, type KafkaConnection } from '../kafka/connection.ts';
import { COMPRESSIONS, type Compression } from '../kafka/port.ts';
import { EVENT_LOOP_RESOLUTION_MS } from './metrics.ts';
import type { SessionCount } from '../model/runtime/session-plan.ts';

const int = settingInt;
const bool = settingBool;

/**
 * Every setting `livetag serve` reads, with its default and its meaning. The
 * README's configuration table is generated from this one table, so the two
 * cannot drift.
 */
const SERVE_SETTINGS = {
  LIVETAG_INPUT_TOPIC: { schema: z.string().min(1), default: 'livetag.comments', doc: 'Topic of live comments to classify.' },
  LIVETAG_OUTPUT_TOPIC: { schema: z.string().min(1), default: 'livetag.tags', doc: 'Topic the tags are published to.' },
  LIVETAG_DLQ_TOPIC: { schema: z.string().min(1), default: 'livetag.dead-letter', doc: 'Dead-letter topic for messages that are not valid input.' },
  LIVETAG_GROUP_ID: { schema: z.string().min(1), default: 'livetag', doc: 'Consumer group id; instances with the same id share the partitions.' },
  LIVETAG_FROM_BEGINNING: { schema: bool, default: 'true', doc: 'Where a group with no committed offset starts: earliest (true) or latest (false).' },
  LIVETAG_MODEL: { schema: z.string().min(1), default: 'models/default', doc: 'Model bundle directory (model.onnx, tokenizer.json, manifest.json).' },
  LIVETAG_REGISTRY: { schema: z.string().min(1).optional(), default: undefined, doc: 'Model registry directory; when set, serve its current version (LIVETAG_MODEL is ignored) and reload on promotion.' },
  LIVETAG_MODEL_TOPIC: { schema: z.string().min(1), default: 'livetag.models', doc: 'Compacted topic announcing promotions to every replica (with LIVETAG_REGISTRY).' },
  LIVETAG_REGISTRY_POLL_MS: { schema: int(0, MAX_TIMER_MS), default: '10000', doc: 'Registry polling interval, the fallback when an announcement is missed (0 disables).' },
  LIVETAG_DEVICE: { schema: z.enum(['cpu', 'cuda']), default: 'cpu', doc: 'Execution provider; cuda falls back to cpu with a warning when CUDA is missing.' },
  LIVETAG_DEVICE_ID: { schema: int(0), default: '0', doc: 'CUDA device id.' },
  LIVETAG_THREADS: { schema: int(0, 256), default: '0', doc: 'onnxruntime intra-op threads, split between the sessions (0 = one per core).' },
  LIVETAG_SESSIONS: { schema: z.union([z.literal('auto'), int(1, 64)]), default: 'auto', doc: 'onnxruntime sessions, each on its own worker thread running whole batches with its share of LIVETAG_THREADS. auto: one single-threaded session per thread (at most 8) for a model of up to 8 M encoder weights, whose operators are too short to split across threads (the default model: 1.3-1.8x the drain in four comparisons, ~40% less CPU per message); one for larger models and on CUDA. Each session holds its own weights (bert-base: +1.2 GB each).' },
  LIVETAG_ORT_SPINNING: { schema: bool, default: 'true', doc: 'Let onnxruntime\'s threads spin-wait between operators (its default; faster for the bert-base shape in bench/suite.ts, not for the small default model); false costs less CPU per message where the cores are shared.' },
  LIVETAG_MODEL_VARIANT: { schema: z.string().regex(/^[a-z0-9-]+$/), default: 'auto', doc: 'Graph of the bundle to serve: auto (the manifest\'s measured choice per provider, see livetag optimize), base (model.onnx) or a variant name (fused, int8, fp16).' },
  LIVETAG_HTTP_HOST: { schema: z.string().min(1), default: '0.0.0.0', doc: 'Address of the HTTP server (/metrics, /healthz, /readyz).' },
  LIVETAG_HTTP_PORT: { schema: int(0, 65535), default: '9464', doc: 'Port of the HTTP server (0 picks a free one).' },
  LIVETAG_DELIVERY: { schema: z.enum(['at-least-once', 'exactly-once']), default: 'at-least-once', doc: 'at-least-once (idempotent producer, acks=all) or exactly-once (Kafka transactions; read the output with read_committed).' },
  LIVETAG_TRANSACTIONAL_ID: { schema: z.string().min(1), default: `livetag-${hostname()}`, doc: 'Transactional id for exactly-once; must be stable per instance (e.g. the pod name) and unique across instances.' },
  LIVETAG_OUTPUT_COMPRESSION: { schema: z.enum(COMPRESSIONS), default: 'none', doc: 'Codec of the tags and dead-letter batches the service writes: none, gzip, snappy, lz4 or zstd (input in any of them is always read).' },
  LIVETAG_BATCH_MAX_SIZE: { schema: int(1, 4096), default: '64', doc: 'Most comments in one inference batch.' },
  LIVETAG_BATCH_MAX_WAIT_MS: { schema: int(0, 60000), default: '5', doc: 'Longest a comment waits for its batch to fill, in ms.' },
  LIVETAG_BATCH_QUIET_MS: { schema: int(0, 60000), default: '2', doc: 'A batch stops waiting for more comments once none has come for this long, in ms (0: it waits the whole max wait). Comments arrive a fetch at a time.' },
  LIVETAG_BATCH_MAX_TOKENS: { schema: int(1), default: '4096', doc: 'Most padded tokens (batch × longest) in one inference batch.' },
  LIVETAG_WARMUP_MS: { schema: int(0, 600000), default: '250', doc: 'How long a model runs batches of built-in sample comments after it loads, at start and on a hot reload, before the service reports ready or swaps it in: the runtime\'s first runs of each batch shape are paid there, not by the first live comments (0: none; otherwise at least one batch per session).' },
  LIVETAG_MAX_IN_FLIGHT: { schema: int(1), default: '4096', doc: 'Most messages held in memory; fetching pauses above it.' },
  LIVETAG_MAX_MESSAGE_BYTES: { schema: int(16), default: '65536', doc: 'Larger input messages are dead-lettered as LT_MSG_TOO_LARGE.' },
  LIVETAG_MAX_OUTPUT_BYTES: { schema: int(1024, 999_000_000), default: '1000000', doc: 'The output topic\'s max.message.bytes, or less: a tags record larger than this (it carries the input\'s fields, counted with its batch framing) is dead-lettered as LT_OUTPUT_TOO_LARGE instead of published, and tags are sent in batches no larger (the librdkafka producer\'s batch.size and message.max.bytes follow it). A record the topic refuses would hold up its partition.' },
  LIVETAG_PARTITIONS_CONCURRENCY: { schema: int(1, 1024), default: '16', doc: 'Partitions processed concurrently (their comments share inference batches).' },
  LIVETAG_DEDUPE_CACHE_SIZE: { schema: int(0), default: '10000', doc: 'Entries of the repeated-comment cache (0 disables it).' },
  LIVETAG_ALL_SCORES: { schema: bool, default: 'false', doc: 'Include every label\'s probability in output messages.' },
  LIVETAG_HEALTH_INTERVAL_MS: { schema: int(100, 600000), default: '5000', doc: 'How often consumer lag is measured (committed offsets vs high watermarks) and the broker checked for readiness.' },
  LIVETAG_EVENT_LOOP_RESOLUTION_MS: { schema: int(1, 1000), default: String(EVENT_LOOP_RESOLUTION_MS), doc: 'Sampling interval of the `nodejs_eventloop_lag_*` metrics (Node\'s monitorEventLoopDelay). They count the interval itself, so an idle service reads about this value (`livetag_event_loop_resolution_seconds` says which; the chart\'s dashboard subtracts it), and a stall shorter than it can go unrecorded. Each sample wakes the event loop: prom-client\'s default of 10 took 5-6 ms of an idle service\'s main-thread CPU a second.' },
  LIVETAG_DRAIN_TIMEOUT_MS: { schema: int(0, MAX_TIMER_MS), default: '20000', doc: 'On SIGTERM/SIGINT, how long to drain, publish and commit before exiting anyway.' },
  LIVETAG_LOG_LEVEL: { schema: z.enum(['debug', 'info', 'warn', 'error']), default: 'info', doc: 'Log level (JSON lines on stderr; comment text is never logged at info).' },
  LIVETAG_INPUT_TEXT_FIELD: { schema: pointerSchema, default: '/text', doc: 'JSON Pointer to the comment text in an input record (in a CloudEvent: in its data), e.g. `/payload/msg/text`.' },
  LIVETAG_INPUT_ID_FIELD: { schema: pointerSchema, default: '/id', doc: 'JSON Pointer to the comment id; when missing, a CloudEvent\'s id, else topic-partition-offset.' },
  LIVETAG_PASSTHROUGH_FIELDS: { schema: passthroughSchema, default: '*', doc: 'Input fields copied to the output: `*` (every top-level field) or a comma list of `/pointer` or `name=/pointer`.' },
  LIVETAG_HTTP_INFERENCE: { schema: bool, default: 'true', doc: 'Serve inference on the HTTP port: KServe V2 (`/v2/models/{name}/infer`) and `POST /v1/classify`, sharing batches with Kafka.' },
  LIVETAG_HTTP_MODEL_NAME: { schema: z.string().regex(/^[A-Za-z0-9._-]+$/), default: 'livetag', doc: 'Model name of the KServe V2 routes.' },
  LIVETAG_HTTP_MAX_BODY_BYTES: { schema: int(64), default: '1048576', doc: 'Larger inference request bodies are answered 413.' },
  LIVETAG_HTTP_MAX_TEXTS: { schema: int(1, 65536), default: '256', doc: 'Most texts in one inference request.' },
  LIVETAG_HTTP_TIMEOUT_MS: { schema: int(1, MAX_TIMER_MS), default: '10000', doc: 'An inference request not answered in this time gets 504.' },
  LIVETAG_HTTP_MAX_CONCURRENT: { schema: int(1), default: '64', doc: 'Inference requests served at once; more get 429.' },
  LIVETAG_HTTP_TOKEN_FILE: { schema: z.string().min(1).optional(), default: undefined, doc: 'File holding a bearer token the inference routes require (unset: no authentication).' },
} as const;

/** Every setting `livetag serve` reads: the Kafka connection's and its own. */
export const SETTINGS = { ...KAFKA_SETTINGS, ...SERVE_SETTINGS };

type Settings = typeof SETTINGS;

export interface ServeConfig {
  readonly kafka: KafkaConnection;
  readonly topics: { readonly input: string; readonly output: string; readonly deadLetter: string };
  readonly groupId: string;
  readonly fromBeginning: boolean;
  readonly model: { readonly path: string; readonly device: 'cpu' | 'cuda'; readonly deviceId: number; readonly threads: number; readonly sessions: SessionCount; readonly variant: string; readonly spinning: boolean };
  readonly registry?: { readonly root: string; readonly topic: string; readonly pollMs: number };
  readonly http: { readonly host: string; readonly port: number };
  readonly delivery: 'at-least-once' | 'exactly-once';
  readonly transactionalId: string;
  readonly outputCompression: Compression;
  readonly batch: { readonly maxSize: number; readonly maxWaitMs: number; readonly maxTokens: number; readonly quietMs: number };
  readonly warmupMs: number;
  readonly maxInFlight: number;
  readonly maxMessageBytes: number;
  readonly maxOutputBytes: number;
  readonly partitionsConcurrency: number;
  readonly dedupeCacheSize: number;
  readonly allScores: boolean;
  readonly drainTimeoutMs: number;
  readonly healthIntervalMs: number;
  readonly eventLoopResolutionMs: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly input: InputMapping;
  /** Absent when LIVETAG_HTTP_INFERENCE=false. */
  readonly httpInference?: { readonly modelName: string; readonly maxBodyBytes: number; readonly maxTexts: number; readonly requestTimeoutMs: number; readonly maxConcurrent: number; readonly token?: string };
}

/**
 * Parses the environment into a frozen config. Every problem is reported at
 * once (a bad deployment is fixed in one round trip, not one per field).
 */
export function loadServeConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<keyof Settings, string>> = {}): ServeConfig {
  const { values: raw, input, problems } = parseSettings(SERVE_SETTINGS, env, overrides);
  const kafka = loadKafkaConnection(env, overrides, problems);
  const token = readSecretSetting((f) => readFileSync(f, 'utf8'), 'LIVETAG_HTTP_TOKEN_FILE', input, problems);
  const topicNames = (['LIVETAG_INPUT_TOPIC', 'LIVETAG_OUTPUT_TOPIC', 'LIVETAG_DLQ_TOPIC'] as const).map((k) => input[k] ?? SETTINGS[k].default);
  if (new Set(topicNames).size !== 3) problems.push('LIVETAG_INPUT_TOPIC, LIVETAG_OUTPUT_TOPIC and LIVETAG_DLQ_TOPIC must differ');
  if (problems.length > 0) throw invalid(problems);
  return deepFreeze({
    kafka,
    topics: { input: raw.LIVETAG_INPUT_TOPIC, output: raw.LIVETAG_OUTPUT_TOPIC, deadLetter: raw.LIVETAG_DLQ_TOPIC },
    groupId: raw.LIVETAG_GROUP_ID,
    fromBeginning: raw.LIVETAG_FROM_BEGINNING,
    model: { path: raw.LIVETAG_MODEL, device: raw.LIVETAG_DEVICE, deviceId: raw.LIVETAG_DEVICE_ID, threads: raw.LIVETAG_THREADS, sessions: raw.LIVETAG_SESSIONS, variant: raw.LIVETAG_MODEL_VARIANT, spinning: raw.LIVETAG_ORT_SPINNING },
    ...(raw.LIVETAG_REGISTRY ? { registry: { root: raw.LIVETAG_REGISTRY, topic: raw.LIVETAG_MODEL_TOPIC, pollMs: raw.LIVETAG_REGISTRY_POLL_MS } } : {}),
    http: { host: raw.LIVETAG_HTTP_HOST, port: raw.LIVETAG_HTTP_PORT },
    delivery: raw.LIVETAG_DELIVERY,
    transactionalId: raw.LIVETAG_TRANSACTIONAL_ID,
    outputCompression: raw.LIVETAG_OUTPUT_COMPRESSION,
    batch: { maxSize: raw.LIVETAG_BATCH_MAX_SIZE, maxWaitMs: raw.LIVETAG_BATCH_MAX_WAIT_MS, maxTokens: raw.LIVETAG_BATCH_MAX_TOKENS, quietMs: raw.LIVETAG_BATCH_QUIET_MS },
    warmupMs: raw.LIVETAG_WARMUP_MS,
    maxInFlight: raw.LIVETAG_MAX_IN_FLIGHT,
    maxMessageBytes: raw.LIVETAG_MAX_MESSAGE_BYTES,
    maxOutputBytes: raw.LIVETAG_MAX_OUTPUT_BYTES,
    partitionsConcurrency: raw.LIVETAG_PARTITIONS_CONCURRENCY,
    dedupeCacheSize: raw.LIVETAG_DEDUPE_CACHE_SIZE,
    allScores: raw.LIVETAG_ALL_SCORES,
    drainTimeoutMs: raw.LIVETAG_DRAIN_TIMEOUT_MS,
    healthIntervalMs: raw.LIVETAG_HEALTH_INTERVAL_MS,
    eventLoopResolutionMs: raw.LIVETAG_EVENT_LOOP_RESOLUTION_MS,
    logLevel: raw.LIVETAG_LOG_LEVEL,
    input: { textPointer: raw.LIVETAG_INPUT_TEXT_FIELD, idPointer: raw.LIVETAG_INPUT_ID_FIELD, passthrough: raw.LIVETAG_PASSTHROUGH_FIELDS },
    ...(raw.LIVETAG_HTTP_INFERENCE
      ? {
          httpInference: {
            modelName: raw.LIVETAG_HTTP_MODEL_NAME,
            maxBodyBytes: raw.LIVETAG_HTTP_MAX_BODY_BYTES,
            maxTexts: raw.LIVETAG_HTTP_MAX_TEXTS,
            requestTimeoutMs: raw.LIVETAG_HTTP_TIMEOUT_MS,
            maxConcurrent: raw.LIVETAG_HTTP_MAX_CONCURRENT,
            ...(token ? { token } : {}),
          },
        }
      : {}),
  });
}

/** The README's configuration table, generated from SETTINGS. */
export function configReference(): string {
  return settingsReference(SETTINGS, (k) => (k === 'LIVETAG_TRANSACTIONAL_ID' ? '`livetag-<hostname>`' : undefined));
}
