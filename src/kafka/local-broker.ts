/**
 * A real single-node Kafka (KRaft, broker+controller in one JVM) for tests, CI
 * and local runs, without Docker: the broker's jars come from Maven Central
 * into a git-ignored cache, and the JVM runs straight off that classpath.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LivetagError } from '../common/errors.ts';
import { waitForKafka } from './kafka-client.ts';

/**
 * Pinned broker version. Must be one that kafkajs 2.2.4 can talk to, including
 * transactions and consumer groups (the integration tests check exactly that):
 * see docs/kafka.md.
 */
export const KAFKA_VERSION = '4.4.0';

/**
 * The broker logs through slf4j-api 1.7.36 (3.9.x and every 4.x so far) and
 * ships no binding, so without one it is silent. reload4j binds the same way
 * for every version, which keeps LIVETAG_KAFKA_VERSION overrides working.
 */
const LOGGING_DEPS = [
  { groupId: 'org.slf4j', artifactId: 'slf4j-reload4j', version: '1.7.36' },
] as const;

const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

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
  start(): Promise<void>;
  /** SIGTERM, wait for a clean shutdown (SIGKILL after stopTimeoutMs). Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would: nothing is flushed or closed cleanly. */
  kill(): Promise<void>;
  /** Stops if running and starts again on the same directory and ports. */
  restart(): Promise<void>;
};

const SILENT: BrokerLogger = { info: () => {}, warn: () => {} };

const START_MARK = '--- broker start ';

function settings(options: Pick<LocalBrokerOptions, 'version' | 'cacheDir'>): { version: string; cacheDir: string } {
  return {
    version: options.version ?? process.env.LIVETAG_KAFKA_VERSION ?? KAFKA_VERSION,
    cacheDir: options.cacheDir ?? process.env.LIVETAG_KAFKA_CACHE ?? DEFAULT_CACHE_DIR,
  };
}

/** Whether start() can skip the Maven step (so callers can tell a cold start from a warm one). */
export function isClasspathCached(options: Pick<LocalBrokerOptions, 'version' | 'cacheDir'> = {}): boolean {
  const { version, cacheDir } = settings(options);
  return fs.existsSync(path.join(cacheDir, version, 'lib.complete'));
}

export function createLocalBroker(options: LocalBrokerOptions = {}): LocalBroker {
  const { version, cacheDir } = settings(options);
  const logger = options.logger ?? SILENT;
  const ephemeral = options.dir === undefined;
  const dir = path.resolve(options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'livetag-kafka-')));
  const logFile = path.join(dir, 'broker.log');
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 30_000;

  let ports: { client: number; controller: number } | undefined;
  let jvm: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let removed = false;
  let halting = false;
  let ready = false;
  // Set by stop()/kill() while a start is in flight: a first start can spend a
  // minute in Maven, and ^C should not have to wait for it.
  let cancelStart: AbortController | undefined;

  async function pickPorts(): Promise<{ client: number; controller: number }> {
    if (!ports) {
      const client = options.port ?? (await freePort());
      let controller = options.controllerPort ?? (await freePort());
      while (controller === client) controller = await freePort();
      ports = { client, controller };
    }
    return ports;
  }

  async function doStart(cancel: AbortSignal): Promise<void> {
    if (removed) throw new LivetagError('LT_STOPPED', `local broker in ${dir} was stopped and its directory removed`);
    const t0 = Date.now();
    const libDir = await resolveClasspath(cacheDir, version, logger, cancel);
    if (cancel.aborted) throw new LivetagError('LT_BROKER', 'local Kafka start cancelled by stop()');
    const p = await pickPorts();
    const brokers = `127.0.0.1:${p.client}`;
    // Fail in milliseconds, not after a JVM boot, and never mistake whatever
    // holds the port for our broker.
    for (const [name, port] of [['client', p.client], ['controller', p.controller]] as const) {
      if (!(await isPortFree(port))) throw new LivetagError('LT_BROKER', `${name} port 127.0.0.1:${port} is already in use`);
    }
    fs.mkdirSync(dir, { recursive: true });
    const configFile = writeConfig(dir, p);
    const logConfigs = writeLogConfigs(dir);
    const java = javaBinary();
    const classpath = `${libDir}${path.sep}*`;
    const jvmArgs = jvmFlags(options.heap ?? '512m', logConfigs, options.jit ?? 'startup');

    if (!fs.existsSync(path.join(dir, 'data', 'meta.properties'))) {
      // Formatting writes meta.properties (cluster id, node id) and the
      // bootstrap metadata; KRaft refuses to start on an unformatted log dir.
      const tf = Date.now();
      // base64url ids may start with '-': passed as --cluster-id=<id> so the
      // tool's argument parser cannot take one for an option (1 run in 64 failed).
      const clusterId = randomBytes(16).toString('base64url');
      const fmt = await runToEnd(
        java,
        [...jvmArgs, '-cp', classpath, 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '-c', configFile, '--ignore-formatted'],
        cancel,
      );
      fs.appendFileSync(logFile, `--- storage format ---\n${fmt.output}`);
      if (cancel.aborted) throw new LivetagError('LT_BROKER', 'local Kafka start cancelled by stop()');
      if (fmt.failure !== undefined) {
        throw new LivetagError('LT_BROKER', `kafka storage format failed (${fmt.failure}):\n${tail(fmt.output, 30)}`);
      }
      logger.info(`formatted ${path.join(dir, 'data')} in ${Date.now() - tf} ms (cluster ${clusterId})`);
    }
    const clusterId = readClusterId(dir);

    fs.appendFileSync(logFile, `${START_MARK}${new Date().toISOString()} ---\n`);
    const out = fs.openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(java, [...jvmArgs, '-cp', classpath, 'kafka.Kafka', configFile], {
        stdio: ['ignore', out, out],
        cwd: dir,
        // Its own process group: a terminal ^C goes to us, and we stop the
        // broker in order, instead of the JVM racing our shutdown on its own.
        detached: true,
      });
    } finally {
      fs.closeSync(out);
    }
    let exitReason: string | undefined;
    const dog = child.pid === undefined ? undefined : startWatchdog(child.pid);
    exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exitReason = `broker JVM exited (${signal ?? `code ${code}`})`;
        dog?.kill('SIGKILL');
        const unexpected = jvm === child && !halting;
        if (jvm === child) jvm = undefined;
        resolve();
        if (unexpected && ready) {
          logger.warn(`${exitReason}; see ${logFile}`);
          options.onUnexpectedExit?.(`${exitReason}\n${failureReport(logFile)}`);
        }
      });
      child.once('error', (err) => {
        exitReason = `cannot run ${java}: ${err.message}`;
        dog?.kill('SIGKILL');
        if (jvm === child) jvm = undefined;
        resolve();
      });
    });
    jvm = child;
    ready = false;

    try {
      await waitForKafka({
        brokers,
        timeoutMs: readyTimeoutMs,
        abort: () => exitReason ?? (cancel.aborted ? 'start cancelled by stop()' : undefined),
        accept: (info) => info.clusterId === clusterId,
      });
    } catch (err) {
      const reason =
        exitReason ?? (cancel.aborted ? 'start cancelled by stop()' : `not reachable at ${brokers} within ${readyTimeoutMs} ms`);
      await terminate('SIGKILL');
      throw new LivetagError('LT_BROKER', `local Kafka ${version} failed to start: ${reason}\n${failureReport(logFile)}`, { cause: err });
    }
    ready = true;
    logger.info(`Kafka ${version} ready at ${brokers} in ${Date.now() - t0} ms (pid ${child.pid}, dir ${dir})`);
  }

  async function terminate(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = jvm;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      if (signal === 'SIGTERM') {
        const timer = setTimeout(() => {
          logger.warn(`broker did not stop within ${stopTimeoutMs} ms of SIGTERM; sending SIGKILL`);
          child.kill('SIGKILL');
        }, stopTimeoutMs);
        try {
          await exited;
        } finally {
          clearTimeout(timer);
        }
      } else {
        await exited;
      }
    }
    jvm = undefined;
  }

  async function halt(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    // A start in flight is cancelled and allowed to settle, so its JVM is not orphaned.
    cancelStart?.abort();
    await starting?.catch(() => {});
    halting = true;
    try {
      await terminate(signal);
    } finally {
      halting = false;
    }
  }

  const broker: LocalBroker = {
    get brokers() {
      if (!ports) throw new LivetagError('LT_BROKER', 'local broker has not been started, so it has no port yet');
      return `127.0.0.1:${ports.client}`;
    },
    dir,
    version,
    get pid() {
      return jvm?.pid;
    },
    logFile,
    async start() {
      if (jvm) return;
      if (!starting) {
        stopping = undefined;
        const cancel = new AbortController();
        cancelStart = cancel;
        starting = doStart(cancel.signal).finally(() => {
          starting = undefined;
          if (cancelStart === cancel) cancelStart = undefined;
        });
      }
      return starting;
    },
    async stop() {
      if (!stopping) {
        stopping = (async () => {
          const t0 = Date.now();
          const wasRunning = jvm !== undefined;
          await halt('SIGTERM');
          if (wasRunning) logger.info(`Kafka at 127.0.0.1:${ports?.client} stopped in ${Date.now() - t0} ms`);
          if (ephemeral && !removed) {
            removed = true;
            fs.rmSync(dir, { recursive: true, force: true });
          }
        })();
      }
      return stopping;
    },
    async kill() {
      const wasRunning = jvm !== undefined;
      await halt('SIGKILL');
      if (wasRunning) logger.info(`Kafka at 127.0.0.1:${ports?.client} killed`);
    },
    async restart() {
      await halt('SIGTERM');
      await broker.start();
    },
  };
  return broker;
}

/**
 * Resolves the broker's runtime classpath into `<cacheDir>/<version>/lib` once;
 * later calls only check the marker file. Returns the lib directory.
 */
export async function resolveClasspath(
  cacheDir: string,
  version: string,
  logger: BrokerLogger = SILENT,
  cancel?: AbortSignal,
): Promise<string> {
  const base = path.join(cacheDir, version);
  const lib = path.join(base, 'lib');
  const marker = path.join(base, 'lib.complete');
  if (fs.existsSync(marker) && fs.existsSync(lib)) return lib;

  fs.mkdirSync(base, { recursive: true });
  const pom = path.join(base, 'pom.xml');
  fs.writeFileSync(pom, pomXml(version));
  // Resolve into a private directory and rename it into place, so concurrent
  // resolvers (two test processes on a cold cache) never see half a classpath.
  const staging = fs.mkdtempSync(path.join(base, 'lib.staging-'));
  const t0 = Date.now();
  logger.info(`resolving Kafka ${version} jars with Maven into ${lib} (first run only)`);
  try {
    const args = ['-q', '-B', '-f', pom, `${DEPENDENCY_PLUGIN}:copy-dependencies`, '-DincludeScope=runtime', `-DoutputDirectory=${staging}`];
    const child = spawn(mavenBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'], ...(cancel ? { signal: cancel } : {}) });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('close', (c) => resolve(c));
      child.once('error', (err) => {
        reject(
          cancel?.aborted
            ? new LivetagError('LT_BROKER', 'Kafka classpath resolution cancelled by stop()')
            : new LivetagError(
                'LT_BROKER',
                `cannot run Maven (${err.message}); install Maven 3.6+ and Java 17+, or set KAFKA_BROKERS to use an existing cluster`,
                { cause: err },
              ),
        );
      });
    });
    if (cancel?.aborted) throw new LivetagError('LT_BROKER', 'Kafka classpath resolution cancelled by stop()');
    if (code !== 0) throw new LivetagError('LT_BROKER', `Maven could not resolve Kafka ${version} (exit ${code}):\n${tail(output, 40)}`);
    if (!fs.readdirSync(staging).some((f) => f.startsWith(`kafka_2.13-${version}`))) {
      throw new LivetagError('LT_BROKER', `Maven finished but kafka_2.13-${version}.jar is not in ${staging}`);
    }
    try {
      fs.rmSync(lib, { recursive: true, force: true });
      fs.renameSync(staging, lib);
    } catch (err) {
      // Another process won the race and its classpath is just as good.
      if (!fs.existsSync(lib)) throw err;
    }
    fs.writeFileSync(marker, `${new Date().toISOString()}\n`);
    logger.info(`resolved Kafka ${version} classpath in ${Date.now() - t0} ms`);
    return lib;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

function pomXml(version: string): string {
  const dep = (g: string, a: string, v: string) =>
    `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!-- Generated by livetag (src/kafka/local-broker.ts): the local broker\'s runtime classpath. -->',
    '<project xmlns="http://maven.apache.org/POM/4.0.0">',
    '  <modelVersion>4.0.0</modelVersion>',
    '  <groupId>livetag.local</groupId>',
    `  <artifactId>kafka-broker-${version}</artifactId>`,
    '  <version>1</version>',
    '  <packaging>pom</packaging>',
    '  <dependencies>',
    dep('org.apache.kafka', 'kafka_2.13', version),
    ...LOGGING_DEPS.map((d) => dep(d.groupId, d.artifactId, d.version)),
    '  </dependencies>',
    '</project>',
    '',
  ].join('\n');
}

function writeConfig(dir: string, ports: { client: number; controller: number }): string {
  const file = path.join(dir, 'server.properties');
  const props: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${ports.controller}`,
    'listeners': `PLAINTEXT://127.0.0.1:${ports.client},CONTROLLER://127.0.0.1:${ports.controller}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${ports.client}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': path.join(dir, 'data'),
    // One node: every internal topic must fit on it, or transactions and
    // consumer groups wait forever for replicas that will never exist.
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 5,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 5,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    // Tests join groups constantly; the 3 s default would add 3 s to each.
    'group.initial.rebalance.delay.ms': 0,
    // After a crash the restarted broker cannot register until the dead
    // incarnation's session expires (DUPLICATE_BROKER_REGISTRATION); 9 s by
    // default, which doubles a restart. Heartbeats are over loopback.
    'broker.session.timeout.ms': 4000,
    'broker.heartbeat.interval.ms': 1000,
    'num.partitions': 1,
    'num.network.threads': 2,
    'num.io.threads': 2,
    'num.recovery.threads.per.data.dir': 1,
    'log.cleaner.threads': 1,
    'log.cleaner.dedupe.buffer.size': 8 * 1024 * 1024,
    // Small segments keep a test broker's disk use and recovery time small.
    'log.segment.bytes': 64 * 1024 * 1024,
    'delete.topic.enable': 'true',
  };
  const text = Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
  fs.writeFileSync(file, text);
  return file;
}

function writeLogConfigs(dir: string): { log4j: string; log4j2: string } {
  const pattern = '[%d] %p %m (%c)%n';
  const log4j = path.join(dir, 'log4j.properties');
  fs.writeFileSync(
    log4j,
    [
      'log4j.rootLogger=INFO, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      `log4j.appender.stdout.layout.ConversionPattern=${pattern}`,
      // Per-request and state-change chatter drowns the lines that explain a failure.
      'log4j.logger.kafka.request.logger=WARN',
      'log4j.logger.state.change.logger=WARN',
      'log4j.logger.kafka.log.LogCleaner=WARN',
      'log4j.logger.org.apache.kafka.clients.NetworkClient=WARN',
      '',
    ].join('\n'),
  );
  // Kafka 4.x also puts log4j2 on its classpath (for its log-level admin API);
  // unconfigured, it prints "No configuration found" errors at every start.
  const log4j2 = path.join(dir, 'log4j2.properties');
  fs.writeFileSync(
    log4j2,
    [
      'status = warn',
      'appender.stdout.type = Console',
      'appender.stdout.name = STDOUT',
      'appender.stdout.layout.type = PatternLayout',
      `appender.stdout.layout.pattern = ${pattern}`,
      'rootLogger.level = info',
      'rootLogger.appenderRef.stdout.ref = STDOUT',
      '',
    ].join('\n'),
  );
  return { log4j, log4j2 };
}

function jvmFlags(heap: string, logConfigs: { log4j: string; log4j2: string }, jit: 'startup' | 'throughput'): string[] {
  return [
    `-Xmx${heap}`,
    '-Xms64m',
    // A test broker lives for minutes: start fast rather than peak throughput.
    '-XX:+UseSerialGC',
    ...(jit === 'startup' ? ['-XX:TieredStopAtLevel=1'] : []),
    '-Xshare:auto',
    '-XX:-UsePerfData',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${logConfigs.log4j}`,
    `-Dlog4j2.configurationFile=${logConfigs.log4j2}`,
  ];
}

function javaBinary(): string {
  const home = process.env.JAVA_HOME;
  return home ? path.join(home, 'bin', 'java') : 'java';
}

function mavenBinary(): string {
  return process.env.MVN ?? 'mvn';
}

/**
 * If this Node process dies without stopping the broker (SIGKILL, a crash, a CI
 * timeout), the JVM would outlive it and hold its ports. A tiny shell reads its
 * stdin, a pipe from us, until EOF — which comes when we die — then SIGTERMs
 * the JVM. The pipe is unref'd so it never keeps Node alive.
 */
function startWatchdog(jvmPid: number): ChildProcess | undefined {
  try {
    const dog = spawn('/bin/sh', ['-c', 'while read -r _; do :; done; kill -TERM "$0" 2>/dev/null', String(jvmPid)], {
      stdio: ['pipe', 'ignore', 'ignore'],
      // Its own process group: a terminal ^C must not take the watchdog down
      // before the broker has been stopped.
      detached: true,
    });
    dog.on('error', () => {});
    dog.unref();
    (dog.stdin as unknown as net.Socket | null)?.unref();
    return dog;
  } catch {
    return undefined;
  }
}

function readClusterId(dir: string): string {
  const file = path.join(dir, 'data', 'meta.properties');
  const match = /^cluster\.id=(.+)$/m.exec(fs.readFileSync(file, 'utf8'));
  if (!match?.[1]) throw new LivetagError('LT_BROKER', `${file} has no cluster.id`);
  return match[1].trim();
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Asks the kernel for a free loopback port. Racy by nature, but fine for tests. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Runs a short-lived command (no shell), collecting its output; `failure` is unset on exit 0. */
function runToEnd(command: string, args: string[], cancel: AbortSignal): Promise<{ output: string; failure?: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], signal: cancel, timeout: 120_000 });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (err) => resolve({ output, failure: err.message }));
    child.once('close', (code, signal) =>
      resolve(code === 0 ? { output } : { output, failure: signal ? `killed by ${signal}` : `exit ${code}` }),
    );
  });
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * What explains a dead broker: its first ERROR lines (the cause, e.g. a port in
 * use, usually comes before pages of shutdown INFO) and then the log's tail.
 */
function failureReport(file: string): string {
  const text = readEnd(file, 256 * 1024);
  // A kept --dir appends every run to one log: only this run's lines count.
  const lines = text.slice(Math.max(0, text.lastIndexOf(START_MARK))).trimEnd().split('\n');
  const errors = lines.filter((l) => /\b(ERROR|FATAL)\b/.test(l)).slice(0, 8);
  return [
    ...(errors.length > 0 ? [`--- ${file} (errors) ---`, ...errors.map((l) => l.slice(0, 2000))] : []),
    `--- ${file} (tail) ---`,
    ...lines.slice(-25),
  ].join('\n');
}

function readEnd(file: string, bytes: number): string {
  try {
    const stat = fs.statSync(file);
    const size = Math.min(stat.size, bytes);
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(size);
      fs.readSync(fd, buf, 0, size, stat.size - size);
      return buf.toString('utf8');
    } catch {
      return '(broker log unreadable)';
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '(no broker log)';
  }
}
