/**
 * `livetag console`: a downstream reader of the output topic, like a seller's
 * own bot would be. Its own consumer group, from the latest offsets unless
 * asked otherwise; it never commits (it only watches), so a restart starts
 * from what is new again.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../common/logger.ts';
import { OutputMessageSchema } from '../consumer/output-record.ts';
import { createKafkaClient, type KafkaClientOptions } from '../kafka/client.ts';
import type { KafkaClient, KafkaConsumer, RecordBatch } from '../kafka/port.ts';
import { createConsoleAggregator, type ConsoleAggregator } from './aggregator.ts';
import { createConsoleServer, type ConsoleServer } from './server.ts';

export interface ConsoleServiceOptions {
  readonly topic: string;
  readonly host: string;
  readonly port: number;
  readonly token?: string;
  /** Defaults to a fresh `livetag-console-…` group per run. */
  readonly groupId?: string;
  readonly fromBeginning?: boolean;
  /** An existing client (the demo shares its own), or how to make one. */
  readonly kafka: KafkaClient | KafkaClientOptions['connection'];
  readonly logger?: Logger;
}

export interface ConsoleService {
  readonly url: string;
  readonly port: number;
  readonly aggregator: ConsoleAggregator;
  /** True once the consumer joined its group (records produced from then on are shown). */
  isReady(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function isClient(k: ConsoleServiceOptions['kafka']): k is KafkaClient {
  return typeof (k as KafkaClient).consumer === 'function';
}

/**
 * The second a comment counts in: when the service classified it, by the service's own clock (a
 * backlog read with --from-beginning, or a console that fell behind, is history, not a spike in
 * the last minute; producer clocks do not enter), never later than now.
 */
export function countedAt(classifiedAt: number, now: number): number {
  return Math.min(classifiedAt, now);
}

export function createConsoleService(options: ConsoleServiceOptions): ConsoleService {
  const aggregator = createConsoleAggregator();
  let joined = false;
  let consumer: KafkaConsumer | undefined;
  let stopping: Promise<void> | undefined;
  const server: ConsoleServer = createConsoleServer({
    host: options.host,
    port: options.port,
    ...(options.token ? { token: options.token } : {}),
    aggregator,
    isReady: () => joined,
  });

  const onBatch = async (batch: RecordBatch): Promise<void> => {
    for (const record of batch.records) {
      let value: unknown;
      try {
        value = JSON.parse(record.value?.toString('utf8') ?? 'null');
      } catch {
        value = undefined;
      }
      const parsed = OutputMessageSchema.safeParse(value);
      if (parsed.success) aggregator.add(parsed.data, countedAt(parsed.data.timing.classifiedAt, Date.now()));
      else aggregator.skip();
      batch.resolve(record.offset);
    }
  };

  return {
    get url() {
      return server.url;
    },
    get port() {
      return server.port;
    },
    aggregator,
    isReady: () => joined,
    async start() {
      await server.start();
      const client = isClient(options.kafka)
        ? options.kafka
        : await createKafkaClient({ connection: { ...options.kafka, clientId: options.kafka.clientId ?? 'livetag-console' }, logLevel: 'nothing' });
      consumer = client.consumer({
        groupId: options.groupId ?? `livetag-console-${randomBytes(4).toString('hex')}`,
        topics: [options.topic],
        fromBeginning: options.fromBeginning ?? false,
        maxWaitMs: 100,
      });
      consumer.on((event) => {
        if (event.type === 'joined') joined = true;
        if (event.type === 'crashed') options.logger?.warn('console consumer crashed', { restarting: event.restarting, error: event.error.message });
      });
      await consumer.start(onBatch);
    },
    stop() {
      stopping ??= (async () => {
        await consumer?.stop().catch(() => undefined);
        await server.stop();
      })();
      return stopping;
    },
  };
}
