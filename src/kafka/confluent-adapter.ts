/**
 * The librdkafka adapter: maps the Kafka port (port.ts) onto
 * @confluentinc/kafka-javascript, mostly through its KafkaJS-style API, and
 * its errors onto LivetagError. The only module that imports the library
 * (statically: client.ts loads this file lazily, so a library that did not
 * build turns into one clear LT_CONFIG_INVALID there).
 *
 * This file builds the client; confluent-consumer.ts, confluent-producer.ts
 * and confluent-admin.ts implement its parts, with the library handed to them
 * in the Context (confluent-context.ts). Where the library cannot do what the
 * port promises, they say so next to the method; docs/kafka.md sums the
 * differences up.
 */
import ckjs from '@confluentinc/kafka-javascript';
import type { KafkaJS as KJS } from '@confluentinc/kafka-javascript';
import { LivetagError } from '../common/errors.ts';
import { portClient } from './adapter-kit.ts';
import type { ClientOptions } from './client-options.ts';
import { createAdmin } from './confluent-admin.ts';
import { createConsumer } from './confluent-consumer.ts';
import type { Context } from './confluent-context.ts';
import { createLoginCheck, tlsTarget } from './confluent-login-check.ts';
import { connectionConfig, consoleSink, KJS_LOG_LEVELS, operationTimeoutMs, requiredFeatures, routedLogger } from './confluent-mapping.ts';
import { createProducer } from './confluent-producer.ts';
import type { KafkaClient } from './port.ts';

const { KafkaJS } = ckjs;

/** librdkafka's build on this machine, e.g. for `livetag kafka` diagnostics. */
export const confluentLibrary = { version: ckjs.librdkafkaVersion, features: [...ckjs.features] } as const;

export function createConfluentClient(options: ClientOptions): KafkaClient {
  const missing = requiredFeatures(options).filter((f) => !ckjs.features.includes(f));
  if (missing.length > 0) {
    throw new LivetagError(
      'LT_CONFIG_INVALID',
      `LIVETAG_KAFKA_CLIENT=confluent: this build of librdkafka ${ckjs.librdkafkaVersion} lacks ${missing.join(', ')} ` +
        `(it has ${ckjs.features.join(', ')}); rebuild it where the OpenSSL, SASL and codec headers are installed (libzstd-dev for zstd; docs/kafka.md) or use kafkajs`,
    );
  }
  const level = options.logLevel ?? 'error';
  const kafka = new KafkaJS.Kafka({
    ...connectionConfig(options),
    kafkaJS: { logLevel: KJS_LOG_LEVELS[level], logger: routedLogger(options.log ?? consoleSink, level) },
  } as KJS.CommonConstructorConfig);
  const { sasl, ssl, brokers } = options.connection;
  const loginCheck = sasl || ssl ? createLoginCheck(ckjs, connectionConfig(options), ssl ? tlsTarget(brokers[0]!, ssl) : undefined, options.connectionTimeoutMs) : () => Promise.resolve();
  const ctx: Context = { options, library: ckjs, kafka, live: new Map(), timeoutMs: operationTimeoutMs(options), loginCheck };
  const admin = createAdmin(ctx);
  return portClient('confluent', options.connection.brokers, {
    consumer: (o) => createConsumer(ctx, o),
    producer: (o) => createProducer(ctx, o ?? {}),
    admin,
    // Still a connection per call: the library's admin disconnect blocks the event loop while
    // requests are in flight, and committed offsets come through a group consumer (confluent-admin.ts).
    openAdminSession: () => ({ watermarks: admin.watermarks, committedOffsets: admin.committedOffsets, close: () => Promise.resolve() }),
  });
}
