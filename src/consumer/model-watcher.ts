import { randomBytes } from 'node:crypto';
import type { Logger } from '../common/logger.ts';
import { ensureTopics, type Consumer, type KafkaClient } from '../kafka/kafka-client.ts';
import { createModelRegistry } from '../model/registry.ts';

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
  let consumer: Consumer | undefined;
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
      await ensureTopics(opts.client, [{ topic: opts.topic, configs: { 'cleanup.policy': 'compact' } }]);
      // Every replica must see every announcement: a group of its own, offsets never committed.
      consumer = opts.client.consumer({ groupId: `livetag-model-watch-${randomBytes(6).toString('hex')}`, maxWaitTimeInMs: 500 });
      await consumer.connect();
      await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ message }) => {
          try {
            const announced = JSON.parse(message.value?.toString('utf8') ?? '{}') as { current?: string };
            // The registry stays the source of truth; the message only says "look now".
            if (announced.current) await poll();
          } catch {
            opts.logger.warn('ignoring an unreadable model announcement');
          }
        },
      });
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await consumer?.disconnect();
    },
  };
}

/** Tells every serving replica to look at the registry now. */
export async function announcePromotion(client: KafkaClient, topic: string, root: string, id: string): Promise<void> {
  await ensureTopics(client, [{ topic, configs: { 'cleanup.policy': 'compact' } }]);
  const producer = client.producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ key: ANNOUNCE_KEY, value: JSON.stringify({ registry: root, current: id, at: new Date().toISOString() }) }] });
  } finally {
    await producer.disconnect();
  }
}
