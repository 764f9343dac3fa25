/**
 * What the parts of the librdkafka adapter (confluent-adapter.ts and the
 * confluent-consumer/-producer/-admin modules it builds on) share. Only
 * confluent-adapter.ts imports @confluentinc/kafka-javascript; the others
 * get what they need of it through the Context.
 */
import type ckjs from '@confluentinc/kafka-javascript';
import type { KafkaJS as KJS } from '@confluentinc/kafka-javascript';
import type { ClientOptions } from './client-options.ts';
import { toConfluentError } from './confluent-mapping.ts';

/** The loaded library module, as confluent-adapter.ts imported it. */
export type ConfluentLibrary = typeof ckjs;

export async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toConfluentError(err, what);
  }
}

/** Consumers of this client that are connected, by group: sendOffsets borrows their group metadata. */
export type LiveConsumers = Map<string, Set<KJS.Consumer>>;

export interface Context {
  readonly options: ClientOptions;
  readonly library: ConfluentLibrary;
  readonly kafka: KJS.Kafka;
  readonly live: LiveConsumers;
  readonly timeoutMs: number;
  /** Rejects with LT_KAFKA_AUTH when the brokers refuse the login (confluent-login-check.ts); every connection waits for it first. */
  readonly loginCheck: () => Promise<void>;
}
