/**
 * What the local broker runs with: loopback ports, server.properties, logging
 * configuration and JVM flags, all written into its directory.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { LivetagError } from '../common/errors.ts';

export type BrokerPorts = { readonly client: number; readonly controller: number };

/** How to run a Kafka tool or the broker: `java [...args] <main class> ...`. */
export type JvmLaunch = {
  readonly java: string;
  /** JVM flags and the classpath, everything before the main class. */
  readonly args: readonly string[];
  readonly configFile: string;
};

/** Asks the kernel for a free loopback port. Racy by nature, but fine for tests. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err) => reject(new LivetagError('LT_BROKER', `cannot find a free loopback port: ${err.message}`, { cause: err })));
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The given ports, free ones for those not given; never the same port twice. */
export async function pickPorts(client?: number, controller?: number): Promise<BrokerPorts> {
  const c = client ?? (await freePort());
  let k = controller ?? (await freePort());
  while (k === c) k = await freePort();
  return { client: c, controller: k };
}

/** Fails in milliseconds, not after a JVM boot, and never mistakes whatever holds a port for our broker. */
export async function assertPortsFree(ports: BrokerPorts): Promise<void> {
  for (const [name, port] of [['client', ports.client], ['controller', ports.controller]] as const) {
    if (!(await isPortFree(port))) throw new LivetagError('LT_BROKER', `${name} port 127.0.0.1:${port} is already in use`);
  }
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Writes the broker's configuration into `dir` and returns how to launch a JVM on it. */
export function writeBrokerFiles(
  dir: string,
  ports: BrokerPorts,
  libDir: string,
  opts: { heap: string; jit: 'startup' | 'throughput'; overrides?: Readonly<Record<string, string>> },
): JvmLaunch {
  fs.mkdirSync(dir, { recursive: true });
  const configFile = writeConfig(dir, { ...serverProperties(dir, ports), ...opts.overrides });
  const logConfigs = writeLogConfigs(dir);
  return { java: javaBinary(), args: [...jvmFlags(opts.heap, logConfigs, opts.jit), '-cp', `${libDir}${path.sep}*`], configFile };
}

export function serverProperties(dir: string, ports: BrokerPorts): Record<string, string | number> {
  return {
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
}

function writeConfig(dir: string, properties: Record<string, string | number>): string {
  const file = path.join(dir, 'server.properties');
  const text = Object.entries(properties).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
  // The JAAS line of a secure broker holds the super user's password: owner only, as secrets/ is.
  fs.writeFileSync(file, text, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
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

export function jvmFlags(heap: string, logConfigs: { log4j: string; log4j2: string }, jit: 'startup' | 'throughput'): string[] {
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

export function readClusterId(dir: string): string {
  const file = path.join(dir, 'data', 'meta.properties');
  const match = /^cluster\.id=(.+)$/m.exec(fs.readFileSync(file, 'utf8'));
  if (!match?.[1]) throw new LivetagError('LT_BROKER', `${file} has no cluster.id`);
  return match[1].trim();
}
