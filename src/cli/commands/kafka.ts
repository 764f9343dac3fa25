import path from 'node:path';
import fs from 'node:fs';
import { LivetagError } from '../../common/errors.ts';
import { envFileText } from '../../dev/broker-security.ts';
import { createLocalBroker, KAFKA_VERSION } from '../../dev/local-broker.ts';
import { createCommand, usageError } from '../command.ts';
import { kafkaSpec } from '../specs/kafka.ts';

type StartOptions = { dir?: string; port?: number; secure?: boolean; mtls?: boolean; 'env-file'?: string };

async function start({ dir, port, secure, mtls, 'env-file': envFile }: StartOptions): Promise<number> {
  if ((mtls || envFile !== undefined) && !secure) throw usageError('--mtls and --env-file need --secure');
  // Checked now: a broker that formats and starts for minutes, then fails on the path, wastes the start.
  if (envFile !== undefined) assertWritableFilePath(envFile);
  let died: (reason: string) => void = () => {};
  const unexpectedExit = new Promise<string>((resolve) => (died = resolve));
  const broker = createLocalBroker({
    ...(dir === undefined ? {} : { dir: path.resolve(dir) }),
    ...(port === undefined ? {} : { port }),
    ...(secure ? { secure: { mtls: mtls ?? false } } : {}),
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
    if (broker.security) {
      const file = path.resolve(envFile ?? path.join(broker.dir, 'client.env'));
      // The password itself stays in its file; the env file only names it.
      fs.writeFileSync(file, envFileText(broker.security, broker.brokers), { mode: 0o600 });
      process.stdout.write(`LIVETAG_ENV_FILE=${file}\n`);
      process.stderr.write(`livetag kafka: client settings for User:${broker.security.service.username} in ${file} (source it)\n`);
    }
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

function assertWritableFilePath(file: string): void {
  const target = path.resolve(file);
  if (fs.statSync(target, { throwIfNoEntry: false })?.isDirectory()) throw usageError(`--env-file ${file}: is a folder; name a file in it`);
  const folder = path.dirname(target);
  if (!fs.statSync(folder, { throwIfNoEntry: false })?.isDirectory()) throw usageError(`--env-file ${file}: folder ${folder} does not exist`);
}

export const command = createCommand(kafkaSpec, ({ values }) => start(values), {
  helpFooter: () => `broker: Apache Kafka ${KAFKA_VERSION}`,
});
