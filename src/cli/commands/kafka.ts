import path from 'node:path';
import { parseArgs } from 'node:util';
import { LivetagError } from '../../common/errors.ts';
import { createLocalBroker, KAFKA_VERSION } from '../../kafka/local-broker.ts';
import { usageError, type Command } from '../main.ts';

const HELP = `usage: livetag kafka start [--dir D] [--port P]

Runs a single-node Kafka ${KAFKA_VERSION} (KRaft) on 127.0.0.1 until SIGINT/SIGTERM.
Needs Java 17+ and Maven; the broker's jars are fetched into .cache/kafka once.
Prints KAFKA_BROKERS=127.0.0.1:PORT on stdout when the broker is ready.

options:
  --dir D    data directory, kept across runs (default: a temp dir removed on exit)
  --port P   client port (default: a free port)
`;

async function start(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: 'string' },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw usageError(`--port must be 1..65535, got "${values.port}"`);
  }

  let died: (reason: string) => void = () => {};
  const unexpectedExit = new Promise<string>((resolve) => (died = resolve));
  const broker = createLocalBroker({
    ...(values.dir === undefined ? {} : { dir: path.resolve(values.dir) }),
    ...(port === undefined ? {} : { port }),
    logger: {
      info: (m) => process.stderr.write(`livetag kafka: ${m}\n`),
      warn: (m) => process.stderr.write(`livetag kafka: WARN ${m}\n`),
    },
    onUnexpectedExit: (reason) => died(reason),
  });

  // Listen before starting, so a ^C during the (possibly minutes-long) first
  // start still stops the JVM instead of orphaning it.
  let signalled: (signal: NodeJS.Signals) => void = () => {};
  const signal = new Promise<NodeJS.Signals>((resolve) => (signalled = resolve));
  process.once('SIGINT', signalled);
  process.once('SIGTERM', signalled);
  try {
    const started = broker.start().then(() => 'started' as const);
    const first = await Promise.race([started, signal]);
    if (first !== 'started') {
      process.stderr.write(`livetag kafka: ${first} during start; stopping\n`);
      await broker.stop(); // cancels the start in flight
      await started.catch(() => {});
      return first === 'SIGINT' ? 130 : 143;
    }
    process.stdout.write(`KAFKA_BROKERS=${broker.brokers}\n`);
    process.stderr.write(`livetag kafka: log at ${broker.logFile}; ^C to stop\n`);
    const outcome = await Promise.race([signal, unexpectedExit.then((reason) => ({ reason }))]);
    if (typeof outcome === 'object') throw new LivetagError('LT_BROKER', outcome.reason);
    return 0;
  } finally {
    await broker.stop();
    process.off('SIGINT', signalled);
    process.off('SIGTERM', signalled);
  }
}

export const command: Command = {
  summary: 'run a local single-node Kafka broker for development and tests',
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === '--help' || sub === '-h') {
      process.stdout.write(HELP);
      return sub === undefined ? 2 : 0;
    }
    if (sub !== 'start') throw usageError(`unknown kafka subcommand "${sub}" (expected: start)`);
    try {
      return await start(rest);
    } catch (err) {
      if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) throw usageError(err.message);
      throw err;
    }
  },
};
