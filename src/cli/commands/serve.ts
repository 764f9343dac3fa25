import { isLivetagError } from '../../common/errors.ts';
import { createLogger } from '../../common/logger.ts';
import { configReference, loadServeConfig } from '../../consumer/config.ts';
import { createStreamService } from '../../consumer/stream-service.ts';
import { createCommand } from '../command.ts';
import { serveSpec } from '../specs/serve.ts';

export const command = createCommand(
  serveSpec,
  async ({ values }) => {
    if (values['print-config-reference']) {
      process.stdout.write(configReference() + '\n');
      return 0;
    }
    const config = loadServeConfig();
    const logger = createLogger(config.logLevel, { component: 'serve' });
    const service = createStreamService(config, logger);
    return runUntilSignalled(service, logger);
  },
  { helpFooter: () => `Configured by environment variables (all optional):\n\n${configReference()}` },
);

/**
 * How long a stopped service may take to end on its own. Every client is
 * closed by then; what is left is a leak: after a broker restart kafkajs can
 * keep one broker connection open past disconnect() (seen in the chaos runs),
 * and that alone kept a stopped instance alive until SIGKILL.
 */
const LINGER_MS = 5_000;

/** First signal: drain and exit (1 if the deadline passed). Second signal: exit at once. */
export async function runUntilSignalled(service: { start(): Promise<void>; stop(): Promise<{ drained: boolean }> }, logger: ReturnType<typeof createLogger>, lingerMs = LINGER_MS): Promise<number> {
  let signalled: (s: NodeJS.Signals) => void = () => undefined;
  const signal = new Promise<NodeJS.Signals>((r) => (signalled = r));
  const onSignal = (s: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn('second signal: exiting without draining', { signal: s });
      process.exit(130);
    }
    signalled(s);
  };
  let stopping = false;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const starting = service.start();
  // A signal during the start (a rollout that replaced a pod still loading its model or joining) is acted on at once, not after it.
  const first = await Promise.race([starting.then(() => undefined), signal]).catch(async (err: unknown) => {
    stopping = true;
    await service.stop();
    throw err;
  });
  if (first !== undefined)
    starting.catch((err: unknown) => {
      // Ended by the stop, as asked; anything else (a model that did not load) is still worth a line.
      if (!isLivetagError(err, 'LT_STOPPED')) logger.warn('the start failed while the service was stopping', { error: (err as Error)?.message ?? String(err) });
    });
  const s = first ?? (await signal);
  stopping = true;
  logger.info(first === undefined ? 'draining' : 'signalled while starting; stopping', { signal: s });
  const { drained } = await service.stop();
  const code = drained ? 0 : 1;
  exitIfLingering(code, logger, lingerMs);
  return code;
}

/** Ends the process with `code` if something still holds it `lingerMs` after the service stopped, naming what held it. */
function exitIfLingering(code: number, logger: ReturnType<typeof createLogger>, lingerMs: number): void {
  setTimeout(() => {
    logger.warn('still running after stop; exiting anyway', { lingerMs, holding: process.getActiveResourcesInfo() });
    process.exit(code);
  }, lingerMs).unref();
}
