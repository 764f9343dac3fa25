import { randomBytes } from 'node:crypto';
import type { Logger } from '../common/logger.ts';
import type { KafkaClient, KafkaConsumer } from '../kafka/port.ts';
import { createModelRegistry } from '../model/registry/registry.ts';

export interface ModelWatcher {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const ANNOUNCE_KEY = 'current';

/**
 * Learns that the registry's current version changed: at once from the
 * compacted announcement topic, and by polling the registry as the fallback
 * for a missed announcement. Calls onChange(id) for each new id.
 */
export function createModelWatcher(opts: {
  root: string;
  topic: string;
  pollMs: number;
  client?: KafkaClient;
  logger: Logger;
  onChange: (id: string) => void;
}): ModelWatcher {
  const registry = createModelRegistry(opts.root);
  let timer: NodeJS.Timeout | undefined;
  let consumer: KafkaConsumer | undefined;
  let stopped = false;

  const poll = async (): Promise<void> => {
    try {
      const id = await registry.current();
      if (id) opts.onChange(id);
    } catch (err) {
      opts.logger.warn('registry poll failed', { error: (err as Error).message });
    }
  };

  return {
    async start() {
      if (opts.pollMs > 0) {
        const loop = (): void => {
          timer = setTimeout(async () => {
            await poll();
            if (!stopped) loop();
          }, opts.pollMs);
        };
        loop();
      }
      if (!opts.client) return;
      await opts.client.admin.ensureTopics([{ topic: opts.topic, configs: { 'cleanup.policy': 'compact' } }]);
      // Stopped meanwhile (a service stopped during its start): stop() found no consumer to stop, so make none.
      if (stopped) return;
      // Every replica must see every announcement: a group of its own, offsets never committed.
      consumer = opts.client.consumer({ groupId: `livetag-model-watch-${randomBytes(6).toString('hex')}`, topics: [opts.topic], fromBeginning: true, maxWaitMs: 500 });
      await consumer.start(async (batch) => {
        for (const record of batch.records) {
          try {
            const announced = JSON.parse(record.value?.toString('utf8') ?? '{}') as { current?: string };
            // The registry stays the source of truth; the message only says "look now".
            if (announced.current) await poll();
          } catch {
            opts.logger.warn('ignoring an unreadable model announcement');
          }
          batch.resolve(record.offset);
        }
      });
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await consumer?.stop();
    },
  };
}

/** Tells every serving replica to look at the registry now. */
export async function announcePromotion(client: KafkaClient, topic: string, root: string, id: string): Promise<void> {
  await client.admin.ensureTopics([{ topic, configs: { 'cleanup.policy': 'compact' } }]);
  const producer = client.producer();
  await producer.start();
  try {
    await producer.send([{ topic, key: ANNOUNCE_KEY, value: JSON.stringify({ registry: root, current: id, at: new Date().toISOString() }) }]);
  } finally {
    await producer.stop();
  }
}
