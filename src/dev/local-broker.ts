/**
 * A real single-node Kafka (KRaft, broker+controller in one JVM) for tests, CI
 * and local runs, without Docker: the broker's jars come from Maven Central
 * into a git-ignored cache (broker-classpath.ts), and the JVM runs straight
 * off that classpath (broker-config.ts, broker-process.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LivetagError, isLivetagError } from '../common/errors.ts';
import { waitForKafka } from '../kafka/client.ts';
import { isClasspathComplete, resolveClasspath } from './broker-classpath.ts';
import { assertPortsFree, pickPorts, readClusterId, writeBrokerFiles, type BrokerPorts } from './broker-config.ts';
import { createAcls, serviceAcls } from './broker-acls.ts';
import { failureReport } from './broker-log.ts';
import { formatStorage, spawnJvm, startCancelled, stopJvm, type Jvm } from './broker-process.ts';
import {
  prepareBrokerSecurity,
  scramFormatArgs,
  secureConnection,
  secureServerProperties,
  type BrokerSecurity,
  type BrokerSecurityOptions,
} from './broker-security.ts';

/**
 * Pinned broker version. Must be one that kafkajs 2.2.4 can talk to, including
 * transactions and consumer groups (the integration tests check exactly that):
 * see docs/kafka.md.
 */
export const KAFKA_VERSION = '4.4.0';

const DEFAULT_CACHE_DIR = fileURLToPath(new URL('../../.cache/kafka/', import.meta.url));

export type BrokerLogger = {
  info(message: string): void;
  warn(message: string): void;
};

export type LocalBrokerOptions = {
  /** Data and config directory; default: a temp dir that stop() removes. */
  readonly dir?: string;
  /** Client (PLAINTEXT) port; default: a free loopback port. */
  readonly port?: number;
  /** KRaft controller port; default: a free loopback port. */
  readonly controllerPort?: number;
  /** Broker version; default KAFKA_VERSION (env LIVETAG_KAFKA_VERSION overrides). */
  readonly version?: string;
  /** Where resolved jars live; default `<repo>/.cache/kafka` (env LIVETAG_KAFKA_CACHE overrides). */
  readonly cacheDir?: string;
  /** Max JVM heap, e.g. '512m'. */
  readonly heap?: string;
  /**
   * 'startup' (default): the JVM's quick first-tier compiler only, a broker
   * that lives for a test run. 'throughput': the full optimizing JIT, for
   * benchmarks, where the broker's CPU per message is part of what is measured.
   */
  readonly jit?: 'startup' | 'throughput';
  /** How long start() waits for a client to see the broker. */
  readonly readyTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before it SIGKILLs. */
  readonly stopTimeoutMs?: number;
  readonly logger?: BrokerLogger;
  /** Called when the JVM exits without stop() or kill() having asked it to. */
  readonly onUnexpectedExit?: (reason: string) => void;
  /** A SASL_SSL listener with SCRAM users, TLS and ACLs instead of PLAINTEXT (broker-security.ts). */
  readonly secure?: boolean | BrokerSecurityOptions;
};

export type LocalBroker = {
  /** `127.0.0.1:PORT`, known once start() has picked the ports. */
  readonly brokers: string;
  readonly dir: string;
  readonly version: string;
  /** JVM pid while running. */
  readonly pid: number | undefined;
  /** Path of the broker's own log (its stdout and stderr). */
  readonly logFile: string;
  /** Users, certificates and ACL prefix of a `secure` broker, known once start() has made them. */
  readonly security: BrokerSecurity | undefined;
  start(): Promise<void>;
  /** SIGTERM, wait for a clean shutdown (SIGKILL after stopTimeoutMs). Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would: nothing is flushed or closed cleanly. */
  kill(): Promise<void>;
  /** Stops if running and starts again on the same directory and ports. */
  restart(): Promise<void>;
};

const SILENT: BrokerLogger = { info: () => {}, warn: () => {} };

function settings(options: Pick<LocalBrokerOptions, 'version' | 'cacheDir'>): { version: string; cacheDir: string } {
  return {
    version: options.version ?? process.env.LIVETAG_KAFKA_VERSION ?? KAFKA_VERSION,
    cacheDir: options.cacheDir ?? process.env.LIVETAG_KAFKA_CACHE ?? DEFAULT_CACHE_DIR,
  };
}

/** Whether start() can skip the Maven step (so callers can tell a cold start from a warm one). */
export function isClasspathCached(options: Pick<LocalBrokerOptions, 'version' | 'cacheDir'> = {}): boolean {
  const { version, cacheDir } = settings(options);
  return isClasspathComplete(cacheDir, version);
}

/** What one broker is, fixed when it is created. */
type BrokerSetup = {
  readonly options: LocalBrokerOptions;
  readonly version: string;
  readonly cacheDir: string;
  readonly dir: string;
  readonly logFile: string;
  readonly logger: BrokerLogger;
  readonly readyTimeoutMs: number;
  readonly stopTimeoutMs: number;
};

/** What changes as it starts and stops; shared by boot, terminate and the broker's methods. */
type BrokerState = {
  ports?: BrokerPorts;
  security?: BrokerSecurity;
  jvm?: Jvm;
  removed: boolean;
  halting: boolean;
  ready: boolean;
};

async function boot(setup: BrokerSetup, state: BrokerState, cancel: AbortSignal): Promise<void> {
  const { options, version, dir, logFile, logger, readyTimeoutMs } = setup;
  if (state.removed) throw new LivetagError('LT_STOPPED', `local broker in ${dir} was stopped and its directory removed`);
  const t0 = Date.now();
  const libDir = await resolveClasspath(setup.cacheDir, version, logger, cancel);
  if (cancel.aborted) throw startCancelled();
  state.ports ??= await pickPorts(options.port, options.controllerPort);
  const brokers = `127.0.0.1:${state.ports.client}`;
  await assertPortsFree(state.ports);
  const security = options.secure ? (state.security ??= prepareBrokerSecurity(dir, options.secure === true ? {} : options.secure)) : undefined;
  const launch = writeBrokerFiles(dir, state.ports, libDir, {
    heap: options.heap ?? '512m',
    jit: options.jit ?? 'startup',
    ...(security ? { overrides: secureServerProperties(security, state.ports) } : {}),
  });
  await formatStorage(launch, dir, logFile, cancel, logger, security ? scramFormatArgs(security) : []);
  const clusterId = readClusterId(dir);

  const started: Jvm = spawnJvm(launch, dir, logFile, (how) => {
    const unexpected = state.jvm === started && !state.halting;
    if (state.jvm === started) state.jvm = undefined;
    if (how === 'exit' && unexpected && state.ready) {
      logger.warn(`${started.exitReason()}; see ${logFile}`);
      options.onUnexpectedExit?.(`${started.exitReason()}\n${failureReport(logFile)}`);
    }
  });
  state.jvm = started;
  state.ready = false;
  const stillStarting = (): string | undefined => started.exitReason() ?? (cancel.aborted ? 'start cancelled by stop()' : undefined);
  try {
    const login = security ? secureConnection(security, security.admin) : {};
    await waitForKafka({ brokers, ...login, timeoutMs: readyTimeoutMs, abort: stillStarting, accept: (info) => info.clusterId === clusterId });
    if (security) {
      const t1 = Date.now();
      const acls = serviceAcls(security);
      await createAcls(launch, dir, security, brokers, acls);
      logger.info(`SASL_SSL${security.mtls ? ' + mTLS' : ''}: ${acls.length} ACLs for User:${security.service.username} on '${security.resourcePrefix}*' in ${Date.now() - t1} ms`);
    }
  } catch (err) {
    const reason = stillStarting() ?? `not reachable at ${brokers} within ${readyTimeoutMs} ms`;
    await terminate(setup, state, 'SIGKILL');
    throw new LivetagError('LT_BROKER', `local Kafka ${version} failed to start: ${reason}\n${failureReport(logFile)}`, { cause: err });
  }
  state.ready = true;
  logger.info(`Kafka ${version} ready at ${brokers} in ${Date.now() - t0} ms (pid ${started.child.pid}, dir ${dir})`);
}

async function terminate(setup: BrokerSetup, state: BrokerState, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (state.jvm) await stopJvm(state.jvm, signal, setup.stopTimeoutMs, setup.logger);
  state.jvm = undefined;
}

/** Filesystem and spawn failures along the way arrive as plain errors. */
function asBrokerError(err: unknown, version: string): LivetagError {
  if (isLivetagError(err)) return err;
  return new LivetagError('LT_BROKER', `local Kafka ${version} failed to start: ${(err as Error).message}`, { cause: err });
}

function brokerSetup(options: LocalBrokerOptions): BrokerSetup {
  const dir = path.resolve(options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'livetag-kafka-')));
  return {
    options,
    ...settings(options),
    dir,
    logFile: path.join(dir, 'broker.log'),
    logger: options.logger ?? SILENT,
    readyTimeoutMs: options.readyTimeoutMs ?? 120_000,
    stopTimeoutMs: options.stopTimeoutMs ?? 30_000,
  };
}

export function createLocalBroker(options: LocalBrokerOptions = {}): LocalBroker {
  const setup = brokerSetup(options);
  const { dir, version, logger } = setup;
  const state: BrokerState = { removed: false, halting: false, ready: false };
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  // Set by stop()/kill() while a start is in flight: a first start waits for
  // Maven to download the broker, and ^C should not have to wait for that.
  let cancelStart: AbortController | undefined;

  async function halt(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    // A start in flight is cancelled and allowed to settle, so its JVM is not orphaned.
    cancelStart?.abort();
    await starting?.catch(() => {});
    state.halting = true;
    try {
      await terminate(setup, state, signal);
    } finally {
      state.halting = false;
    }
  }

  const broker: LocalBroker = {
    get brokers() {
      if (!state.ports) throw new LivetagError('LT_BROKER', 'local broker has not been started, so it has no port yet');
      return `127.0.0.1:${state.ports.client}`;
    },
    dir,
    version,
    get pid() {
      return state.jvm?.child.pid;
    },
    logFile: setup.logFile,
    get security() {
      return state.security;
    },
    async start() {
      if (state.jvm) return;
      if (!starting) {
        stopping = undefined;
        const cancel = new AbortController();
        cancelStart = cancel;
        starting = boot(setup, state, cancel.signal)
          .catch((err: unknown) => {
            throw asBrokerError(err, version);
          })
          .finally(() => {
            starting = undefined;
            if (cancelStart === cancel) cancelStart = undefined;
          });
      }
      return starting;
    },
    async stop() {
      stopping ??= (async () => {
        const t0 = Date.now();
        const wasRunning = state.jvm !== undefined;
        await halt('SIGTERM');
        if (wasRunning) logger.info(`Kafka at 127.0.0.1:${state.ports?.client} stopped in ${Date.now() - t0} ms`);
        if (options.dir === undefined && !state.removed) {
          state.removed = true;
          fs.rmSync(dir, { recursive: true, force: true });
        }
      })();
      return stopping;
    },
    async kill() {
      const wasRunning = state.jvm !== undefined;
      await halt('SIGKILL');
      if (wasRunning) logger.info(`Kafka at 127.0.0.1:${state.ports?.client} killed`);
    },
    async restart() {
      await halt('SIGTERM');
      await broker.start();
    },
  };
  return broker;
}
