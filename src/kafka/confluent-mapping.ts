/**
 * The parts of the librdkafka adapter (confluent-adapter.ts) that need no
 * native module: ClientOptions -> librdkafka configuration, library errors ->
 * LivetagError, library log lines -> the service's logger. Kept apart so unit
 * tests run where @confluentinc/kafka-javascript did not build.
 */
import { LivetagError } from '../common/errors.ts';
import { authErrorCode } from './auth-errors.ts';
import type { ClientOptions, KafkaLogLevel } from './client-options.ts';
import type { OAuthSettings } from './connection.ts';
import { COMPRESSIONS } from './port.ts';
import { createOAuthTokenSource } from './oauth-token.ts';

/** librdkafka properties as the library takes them (`bootstrap.servers`, ...). */
export type RdkafkaConfig = Record<string, string | number | boolean | TokenRefresh>;

/** librdkafka's OAUTHBEARER hook (the library calls it again at 80% of the token's lifetime). */
type TokenRefresh = () => Promise<{ tokenValue: string; lifetime: number; principal: string }>;

/** KafkaJS-block log levels of @confluentinc/kafka-javascript (its `logLevel` enum). */
export const KJS_LOG_LEVELS: Readonly<Record<KafkaLogLevel, number>> = { nothing: 0, error: 1, warn: 2, info: 3, debug: 4 };

/**
 * The connection part of every client's configuration, in librdkafka's own
 * property names (the KafkaJS block of the library cannot take PEM strings).
 */
export function connectionConfig(options: ClientOptions): RdkafkaConfig {
  const c = options.connection;
  const config: RdkafkaConfig = {
    'bootstrap.servers': c.brokers.join(','),
    'client.id': c.clientId,
  };
  const ssl = c.ssl !== undefined;
  if (c.sasl) {
    config['security.protocol'] = ssl ? 'sasl_ssl' : 'sasl_plaintext';
    config['sasl.mechanisms'] = c.sasl.mechanism.toUpperCase();
    if ('oauth' in c.sasl) Object.assign(config, oidcConfig(c.sasl.oauth));
    else {
      config['sasl.username'] = c.sasl.username;
      config['sasl.password'] = c.sasl.password;
    }
  } else if (ssl) {
    config['security.protocol'] = 'ssl';
  }
  if (typeof c.ssl === 'object') {
    if (c.ssl.ca) config['ssl.ca.pem'] = c.ssl.ca;
    if (c.ssl.cert) config['ssl.certificate.pem'] = c.ssl.cert;
    if (c.ssl.key) config['ssl.key.pem'] = c.ssl.key;
  }
  // librdkafka's connection timeout covers TCP + TLS + SASL; at least 1000 ms.
  if (options.connectionTimeoutMs !== undefined) config['socket.connection.setup.timeout.ms'] = Math.max(1_000, options.connectionTimeoutMs);
  if (options.requestTimeoutMs !== undefined) config['socket.timeout.ms'] = Math.max(10, options.requestTimeoutMs);
  if (options.maxRetryTimeMs !== undefined) {
    config['retry.backoff.max.ms'] = Math.max(1, options.maxRetryTimeMs);
    config['reconnect.backoff.max.ms'] = Math.max(1, options.maxRetryTimeMs);
  }
  return config;
}

/**
 * Tokens come from the same client-credentials source as kafkajs', not from
 * librdkafka's own OIDC support: that needs libcurl at build time, which the
 * usual from-source build lacks.
 */
function oidcConfig(oauth: OAuthSettings): RdkafkaConfig {
  const source = createOAuthTokenSource(oauth);
  const refresh: TokenRefresh = async () => {
    const token = await source.token();
    return { tokenValue: token.value, lifetime: token.expiresAt, principal: token.principal ?? oauth.clientId };
  };
  return { oauthbearer_token_refresh_cb: refresh };
}

/**
 * Every codec real producers write: a consumer whose librdkafka was built
 * without one (no zstd headers at build time) cannot read such a batch, so
 * such a build is refused up front rather than stalling on the first one.
 */
const CODECS = COMPRESSIONS.filter((c) => c !== 'none');

/** librdkafka features a connection needs (`features` of the loaded module lists what this build has). */
export function requiredFeatures(options: ClientOptions): string[] {
  const c = options.connection;
  const needed: string[] = [...CODECS];
  if (c.ssl !== undefined) needed.push('ssl');
  if (c.sasl?.mechanism === 'plain') needed.push('sasl_plain');
  if (c.sasl?.mechanism.startsWith('scram')) needed.push('sasl_scram');
  if (c.sasl?.mechanism === 'oauthbearer') needed.push('sasl_oauthbearer');
  return needed;
}

/** Time an admin request may take: the request timeout, else librdkafka's own default. */
export function operationTimeoutMs(options: ClientOptions, fallback = 30_000): number {
  return Math.max(1_000, options.requestTimeoutMs ?? fallback);
}

// --- errors ---------------------------------------------------------------

/**
 * Kafka protocol errors that a retry can heal (Kafka's RetriableException
 * family, plus the group and transaction states kafkajs also retries).
 */
const RETRIABLE_BROKER_CODES = new Set([
  3, // UNKNOWN_TOPIC_OR_PARTITION (metadata not propagated yet)
  5, // LEADER_NOT_AVAILABLE
  6, // NOT_LEADER_OR_FOLLOWER
  7, // REQUEST_TIMED_OUT
  8, // BROKER_NOT_AVAILABLE
  9, // REPLICA_NOT_AVAILABLE
  13, // NETWORK_EXCEPTION
  14, // COORDINATOR_LOAD_IN_PROGRESS
  15, // COORDINATOR_NOT_AVAILABLE
  16, // NOT_COORDINATOR
  19, // NOT_ENOUGH_REPLICAS
  20, // NOT_ENOUGH_REPLICAS_AFTER_APPEND
  22, // ILLEGAL_GENERATION (rejoin, then retry)
  25, // UNKNOWN_MEMBER_ID (rejoin, then retry)
  27, // REBALANCE_IN_PROGRESS
  41, // NOT_CONTROLLER
  51, // CONCURRENT_TRANSACTIONS
  56, // KAFKA_STORAGE_ERROR
  60, // REASSIGNMENT_IN_PROGRESS
  70, // FETCH_SESSION_ID_NOT_FOUND
  71, // INVALID_FETCH_SESSION_EPOCH
  74, // FENCED_LEADER_EPOCH
  75, // UNKNOWN_LEADER_EPOCH
  78, // OFFSET_NOT_AVAILABLE
  79, // MEMBER_ID_REQUIRED
  80, // PREFERRED_LEADER_NOT_AVAILABLE
  83, // ELIGIBLE_LEADERS_NOT_AVAILABLE
  88, // UNSTABLE_OFFSET_COMMIT
  89, // THROTTLING_QUOTA_EXCEEDED
]);

/** librdkafka's local (negative) error codes that are conditions of the moment, not of the request. */
const RETRIABLE_LOCAL_CODES = new Set([
  -195, // _TRANSPORT
  -193, // _RESOLVE
  -192, // _MSG_TIMED_OUT
  -187, // _ALL_BROKERS_DOWN
  -185, // _TIMED_OUT
  -184, // _QUEUE_FULL
  -183, // _ISR_INSUFF
  -182, // _NODE_UPDATE
  -180, // _WAIT_COORD
  -178, // _IN_PROGRESS
  -177, // _PREV_IN_PROGRESS
  -175, // _ASSIGN_PARTITIONS
  -174, // _REVOKE_PARTITIONS
  -172, // _STATE (e.g. a commit racing a rebalance)
  -166, // _TIMED_OUT_QUEUE
  -164, // _WAIT_CACHE
  -163, // _INTR
  -153, // _RETRY
  -152, // _PURGE_QUEUE
  -151, // _PURGE_INFLIGHT
  -147, // _MAX_POLL_EXCEEDED
  -142, // _ASSIGNMENT_LOST
  -1, // UNKNOWN: nothing says it will not heal
]);

interface LibraryError {
  readonly message?: unknown;
  readonly code?: unknown;
  // KafkaJSError (the library's promisified API) and LibrdKafkaError (its
  // callback API) spell the same flags differently.
  readonly retriable?: unknown;
  readonly isRetriable?: unknown;
  readonly fatal?: unknown;
  readonly isFatal?: unknown;
  readonly abortable?: unknown;
  readonly isTxnRequiresAbort?: unknown;
  readonly errors?: unknown;
}

/**
 * Whether retrying can help. The library's own flags win where it sets them
 * (librdkafka sets them on transactional errors: fatal -> no; retriable or
 * abortable -> yes, after an abort for the latter); otherwise the error code
 * decides; an aggregate (e.g. createTopics) is retryable only if all parts are.
 */
export function isRetryable(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return true;
  const e = err as LibraryError;
  if (Array.isArray(e.errors) && e.errors.length > 0) return e.errors.every((inner) => isRetryable(inner));
  if (e.fatal === true || e.isFatal === true) return false;
  if (e.retriable === true || e.isRetriable === true || e.abortable === true || e.isTxnRequiresAbort === true) return true;
  if (typeof e.code !== 'number') return true; // not a library error (a bug, a refused socket): assume transient
  if (e.code > 0) return RETRIABLE_BROKER_CODES.has(e.code);
  return RETRIABLE_LOCAL_CODES.has(e.code);
}

function describe(err: unknown): string {
  if (err === null || typeof err !== 'object') return String(err);
  const e = err as LibraryError;
  const inner = Array.isArray(e.errors) && e.errors.length > 0 ? `: ${e.errors.map(describe).join('; ')}` : '';
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
  return `${message}${inner}`;
}

/** A commit's refusals that mean the group is rebalancing (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS, librdkafka's _STATE). */
const REBALANCE_CODES = new Set([22, 25, 27, -172]);

/** As toConfluentError, except that a commit refused by a rebalance is LT_KAFKA_REBALANCE, as the kafkajs adapter says it. */
export function toCommitError(err: unknown, what: string): LivetagError {
  const code = err !== null && typeof err === 'object' ? (err as LibraryError).code : undefined;
  if (typeof code === 'number' && REBALANCE_CODES.has(code)) {
    return new LivetagError('LT_KAFKA_REBALANCE', `${what}: the group is rebalancing (${describe(err)}): this batch stops and the member rejoins`, { cause: err, retryable: true });
  }
  return toConfluentError(err, what);
}

export function toConfluentError(err: unknown, what: string): LivetagError {
  if (err instanceof LivetagError) return err;
  const auth = authErrorCode(err);
  if (auth) return new LivetagError(auth, `${what}: ${describe(err)}`, { cause: err });
  return new LivetagError('LT_KAFKA', `${what}: ${describe(err)}`, { cause: err, retryable: isRetryable(err) });
}

// --- logs -----------------------------------------------------------------

// Start-up and rebalance conditions that librdkafka retries on its own:
// normal operation, not warnings.
const TRANSIENT =
  /coordinator (is )?(loading|not available)|coordinator load in progress|not coordinator|group is rebalancing|rebalance in progress|leader(ship)? (election|not available)|unknown topic or partition|waiting for coordinator|: retrying\b/i;

/** librdkafka's log line when a broker cannot be reached (it retries by itself, until the operation's timeout). */
export const UNREACHABLE = /Connect to \S+ failed|all broker connections are down|\d+\/\d+ brokers are down/i;

/** Where log lines go when the service gives no logger: the console, as the library itself would. */
export const consoleSink: LogSink = (level, message, fields) => {
  (level === 'warn' ? console.warn : console.debug)(message, fields);
};

export type LogSink = NonNullable<ClientOptions['log']>;

/** The library's Logger interface (KafkaJS-style), routed to `sink` at `level`. */
export interface RoutedLogger {
  info(message: string, extra?: object): void;
  error(message: string, extra?: object): void;
  warn(message: string, extra?: object): void;
  debug(message: string, extra?: object): void;
  namespace(namespace: string, level?: number): RoutedLogger;
  setLogLevel(level: number): void;
}

/**
 * A logger for the library: errors and warnings of real trouble reach the
 * sink as `warn`, everything else (and retried, recovered conditions) as
 * `debug`; lines above `level` are dropped. `observe` sees every line the
 * library formats, whatever the level.
 */
export function routedLogger(sink: LogSink, level: KafkaLogLevel, observe?: (message: string) => void): RoutedLogger {
  let threshold = KJS_LOG_LEVELS[level];
  const emit = (at: number, message: string, extra?: object): void => {
    observe?.(message);
    if (at > threshold) return;
    const { timestamp: _t, ...fields } = (extra ?? {}) as Record<string, unknown>;
    const transient = TRANSIENT.test(message);
    sink(at <= KJS_LOG_LEVELS.warn && !transient ? 'warn' : 'debug', `librdkafka: ${message}`, fields);
  };
  const logger: RoutedLogger = {
    error: (m, x) => emit(KJS_LOG_LEVELS.error, m, x),
    warn: (m, x) => emit(KJS_LOG_LEVELS.warn, m, x),
    info: (m, x) => emit(KJS_LOG_LEVELS.info, m, x),
    debug: (m, x) => emit(KJS_LOG_LEVELS.debug, m, x),
    namespace: () => logger,
    // The library raises or lowers the level from its own config; ours is the
    // one the service asked for, so only lowering (quieter) is honoured.
    setLogLevel: (l) => {
      threshold = Math.min(KJS_LOG_LEVELS[level], l);
    },
  };
  return logger;
}

// --- consumer -------------------------------------------------------------

/**
 * The last offset a batch covers. librdkafka never hands control records
 * (transaction markers) to the application, but its consumer position moves
 * past them when it skips them, so a position beyond the last record means
 * the offsets in between were markers or aborted records. Only trusted when
 * nothing else can have been fetched for the partition meanwhile (`exact`).
 */
export function batchLastOffset(lastRecordOffset: string | null, position: number | undefined, exact: boolean): string | null {
  if (lastRecordOffset === null) return null;
  if (!exact || position === undefined || !Number.isSafeInteger(position) || position < 0) return lastRecordOffset;
  const covered = BigInt(position) - 1n;
  return covered > BigInt(lastRecordOffset) ? covered.toString() : lastRecordOffset;
}
