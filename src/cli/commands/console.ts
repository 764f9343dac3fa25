import { createLogger } from '../../common/logger.ts';
import { createConsoleService } from '../../console/console-service.ts';
import { isLoopback } from '../../console/server.ts';
import { loadKafkaConnection } from '../../kafka/connection.ts';
import { createCommand } from '../command.ts';
import { consoleSpec } from '../specs/console.ts';

export const command = createCommand(consoleSpec, async ({ values }) => {
  const brokers = process.env.LIVETAG_KAFKA_BROKERS ?? process.env.KAFKA_BROKERS;
  const connection = loadKafkaConnection(process.env, brokers ? { LIVETAG_KAFKA_BROKERS: brokers } : {});
  const logger = createLogger('warn', { component: 'console' });
  if (!isLoopback(values.host) && !values.token) logger.warn('the console is reachable from the network without a token', { host: values.host });
  const service = createConsoleService({
    topic: values.topic,
    host: values.host,
    port: values.port,
    ...(values.token ? { token: values.token } : {}),
    ...(values.group ? { groupId: values.group } : {}),
    fromBeginning: values['from-beginning'],
    kafka: { ...connection, clientId: 'livetag-console' },
    logger,
  });
  let signalled!: () => void;
  const signal = new Promise<void>((r) => (signalled = r));
  process.once('SIGINT', signalled);
  process.once('SIGTERM', signalled);
  try {
    await service.start();
    process.stdout.write(`console at ${service.url} (reading ${values.topic}; Ctrl-C stops)\n`);
    await signal;
    return 0;
  } finally {
    await service.stop();
    process.off('SIGINT', signalled);
    process.off('SIGTERM', signalled);
  }
});
