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
  readonly auth: AuthWatch;
}

/**
 * librdkafka retries a refused login silently: the error event comes only at
 * the operation's timeout (30 s), often as "broker transport failure". Its log
 * line comes at once: "SASL authentication error: ..." (OAUTHBEARER too),
 * "certificate verify failed" for an untrusted broker, a TLS alert about our
 * certificate (not a handshake merely cut short: a restarting broker does
 * that). The credentials are the client's, so one such line fails every
 * connect of this client in flight. The line never carries the secret.
 */
const AUTH_FAILURE = /SASL authentication error[^]*|[^:]*(certificate verify failed|alert (bad certificate|unknown ca|certificate required))[^]*/i;
/** librdkafka's RD_KAFKA_RESP_ERR__AUTHENTICATION: authErrorCode maps it to LT_KAFKA_AUTH. */
const ERR_AUTHENTICATION = -169;

export interface AuthWatch {
  /** Every log line of this client's library instances. */
  observe(message: string): void;
  /** `work`, or a rejection with librdkafka's own words as soon as a login is refused. */
  race<T>(work: Promise<T>): Promise<T>;
}

export function createAuthWatch(): AuthWatch {
  const waiting = new Set<(err: Error) => void>();
  return {
    observe(message) {
      const m = AUTH_FAILURE.exec(message);
      if (!m || waiting.size === 0) return;
      const err = Object.assign(new Error(m[0].trim()), { code: ERR_AUTHENTICATION });
      for (const reject of waiting) reject(err);
    },
    race(work) {
      let reject: ((err: Error) => void) | undefined;
      const refused = new Promise<never>((_, r) => (reject = r));
      waiting.add(reject!);
      // The library's own attempt goes on until its timeout: its outcome no longer matters.
      work.catch(() => undefined);
      return Promise.race([work, refused]).finally(() => waiting.delete(reject!));
    },
  };
}
