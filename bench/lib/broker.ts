import { createLocalBroker, type LocalBroker } from '../../src/dev/local-broker.ts';

/** KAFKA_BROKERS when set, else a local broker for the run (stopped by the returned function). */
export async function benchBroker(): Promise<{ brokers: string; pid: () => number | undefined; stop: () => Promise<void> }> {
  if (process.env.KAFKA_BROKERS) return { brokers: process.env.KAFKA_BROKERS, pid: () => undefined, stop: async () => undefined };
  // Full JIT: the broker's CPU per message is part of what the benchmarks measure.
  const broker: LocalBroker = createLocalBroker({ jit: 'throughput', logger: { info: () => undefined, warn: (m) => process.stderr.write(`kafka: ${m}\n`) } });
  await broker.start();
  return { brokers: broker.brokers, pid: () => broker.pid, stop: () => broker.stop() };
}
