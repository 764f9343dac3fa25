import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { isLivetagError } from '../../../src/common/errors.ts';
import { createKafkaClient } from '../../../src/kafka/client.ts';
import { librdkafkaBatchLimits } from '../../../src/kafka/confluent-producer.ts';
import type { ClientOptions } from '../../../src/kafka/client-options.ts';
import {
  batchLastOffset,
  connectionConfig,
  isRetryable,
  operationTimeoutMs,
  requiredFeatures,
  routedLogger,
  toCommitError,
  toConfluentError,
} from '../../../src/kafka/confluent-mapping.ts';

const base: ClientOptions = { connection: { brokers: ['a:1', 'b:2'], clientId: 'unit' } };

test('confluent: connection options become librdkafka properties', () => {
  assert.deepEqual(connectionConfig(base), { 'bootstrap.servers': 'a:1,b:2', 'client.id': 'unit' });
  assert.deepEqual(connectionConfig({ connection: { ...base.connection, ssl: true } }), {
    'bootstrap.servers': 'a:1,b:2',
    'client.id': 'unit',
    'security.protocol': 'ssl',
  });
  const full = connectionConfig({
    connection: { ...base.connection, ssl: { ca: 'CA', cert: 'CERT', key: 'KEY' }, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } },
    connectionTimeoutMs: 300,
    requestTimeoutMs: 5_000,
    maxRetryTimeMs: 2_000,
  });
  assert.deepEqual(full, {
    'bootstrap.servers': 'a:1,b:2',
    'client.id': 'unit',
    'security.protocol': 'sasl_ssl',
    'sasl.mechanisms': 'SCRAM-SHA-512',
    'sasl.username': 'u',
    'sasl.password': 'p',
    'ssl.ca.pem': 'CA',
    'ssl.certificate.pem': 'CERT',
    'ssl.key.pem': 'KEY',
    'socket.connection.setup.timeout.ms': 1_000,
    'socket.timeout.ms': 5_000,
    'retry.backoff.max.ms': 2_000,
    'reconnect.backoff.max.ms': 2_000,
  });
  assert.equal(connectionConfig({ connection: { ...base.connection, sasl: { mechanism: 'plain', username: 'u', password: 'p' } } })['security.protocol'], 'sasl_plaintext');
  assert.deepEqual(requiredFeatures(base), ['gzip', 'snappy', 'lz4', 'zstd'], 'every codec real producers write');
  assert.deepEqual(requiredFeatures({ connection: { ...base.connection, ssl: true, sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' } } }), ['gzip', 'snappy', 'lz4', 'zstd', 'ssl', 'sasl_scram']);
  assert.equal(operationTimeoutMs(base), 30_000);
  assert.equal(operationTimeoutMs({ ...base, requestTimeoutMs: 10 }), 1_000);
});

test('confluent: library errors become LT_KAFKA, retryable by the library flags, then by the error code', () => {
  // Library flags (set on transactional errors) win over the code.
  assert.equal(isRetryable({ code: 17, retriable: true }), true);
  assert.equal(isRetryable({ code: -195, fatal: true }), false);
  assert.equal(isRetryable({ code: 48, isTxnRequiresAbort: true }), true);
  // Broker codes: Kafka's retriable family only.
  assert.equal(isRetryable({ code: 14, retriable: false }), true, 'COORDINATOR_LOAD_IN_PROGRESS');
  assert.equal(isRetryable({ code: 17, retriable: false }), false, 'INVALID_TOPIC_EXCEPTION');
  assert.equal(isRetryable({ code: 29 }), false, 'TOPIC_AUTHORIZATION_FAILED');
  // Local codes: conditions of the moment only.
  assert.equal(isRetryable({ code: -185 }), true, '_TIMED_OUT');
  assert.equal(isRetryable({ code: -187 }), true, '_ALL_BROKERS_DOWN');
  assert.equal(isRetryable({ code: -186 }), false, '_INVALID_ARG');
  // Aggregates are retryable only if every part is; unknown things are.
  assert.equal(isRetryable({ errors: [{ code: 7 }, { code: 17 }] }), false);
  assert.equal(isRetryable({ errors: [{ code: 7 }, { code: -195 }] }), true);
  assert.equal(isRetryable(new Error('socket hang up')), true);

  const aggregate = Object.assign(new Error('Topic creation errors'), { errors: [Object.assign(new Error('Broker: Invalid topic'), { code: 17 })] });
  const err = toConfluentError(aggregate, 'cannot create topics x');
  assert.ok(isLivetagError(err, 'LT_KAFKA'));
  assert.equal(err.retryable, false);
  assert.equal(err.message, 'cannot create topics x: Topic creation errors: Broker: Invalid topic');
  assert.equal(err.cause, aggregate);
  assert.equal(toConfluentError(err, 'again'), err, 'a LivetagError passes through');
});

test('confluent: a commit refused by a rebalance is LT_KAFKA_REBALANCE (as the kafkajs adapter says it), any other refusal as before', () => {
  for (const code of [22, 25, 27, -172]) {
    const lib = Object.assign(new Error('Broker: Specified group generation id is not valid'), { code });
    const err = toCommitError(lib, 'commit t/0@10');
    assert.ok(isLivetagError(err, 'LT_KAFKA_REBALANCE') && err.retryable && err.cause === lib, `code ${code}: ${err.code}`);
  }
  const denied = toCommitError(Object.assign(new Error('Broker: Group authorization failed'), { code: 30 }), 'commit t/0@10');
  assert.ok(!isLivetagError(denied, 'LT_KAFKA_REBALANCE'), denied.code);
});

test('confluent: library log lines reach the service logger at its level, retried conditions as debug', () => {
  const lines: Array<[string, string]> = [];
  const logger = routedLogger((level, message) => lines.push([level, message]), 'warn');
  logger.error('Connect to ipv4#127.0.0.1:1 failed: Connection refused', { fac: 'FAIL', timestamp: 1 });
  logger.warn('Broker: Coordinator load in progress');
  logger.info('Consumer connected');
  logger.debug('Fetch');
  assert.deepEqual(lines, [
    ['warn', 'librdkafka: Connect to ipv4#127.0.0.1:1 failed: Connection refused'],
    ['debug', 'librdkafka: Broker: Coordinator load in progress'],
  ]);
  logger.setLogLevel(4); // the library may only make it quieter
  logger.debug('still dropped');
  assert.equal(lines.length, 2);
  assert.equal(logger.namespace('x'), logger);
});

test('confluent: a batch covers trailing transaction markers only when the consumer position proves it', () => {
  assert.equal(batchLastOffset(null, 5, true), null);
  assert.equal(batchLastOffset('3', 5, true), '4', 'commit marker at 4');
  assert.equal(batchLastOffset('3', 4, true), '3');
  assert.equal(batchLastOffset('3', 5, false), '3', 'not exact with several fetchers');
  assert.equal(batchLastOffset('3', -1001, true), '3', 'no position yet');
  assert.equal(batchLastOffset('3', undefined, true), '3');
});

const loadable = (() => {
  try {
    createRequire(import.meta.url)('@confluentinc/kafka-javascript');
    return true;
  } catch {
    return false;
  }
})();

test('confluent: createKafkaClient gives the librdkafka adapter, or says why it cannot', async () => {
  const make = () => createKafkaClient({ connection: { client: 'confluent', brokers: '127.0.0.1:1', clientId: 'unit' } });
  if (!loadable) {
    await assert.rejects(make(), (err) => isLivetagError(err, 'LT_CONFIG_INVALID') && /kafka-javascript/.test(err.message));
    return;
  }
  const client = await make();
  assert.equal(client.name, 'confluent');
  assert.deepEqual(client.brokers, ['127.0.0.1:1']);
  // Nothing connects until used.
  assert.equal(typeof client.consumer({ groupId: 'g', topics: ['t'], fromBeginning: true }).start, 'function');
  assert.equal(typeof client.producer().send, 'function');
  await client.producer().stop();
  await client.consumer({ groupId: 'g', topics: ['t'], fromBeginning: true }).stop();
});

test('confluent: a producer stopped while its start retries an unreachable broker ends the start with LT_STOPPED, and stop does not wait out the connect', { skip: !loadable && 'the librdkafka binding is not built here (optional dependency)' }, async () => {
  // Nothing listens on port 1: each connect attempt waits its request timeout, then is retried.
  const client = await createKafkaClient({ connection: { client: 'confluent', brokers: '127.0.0.1:1', clientId: 'unit' }, requestTimeoutMs: 5_000, logLevel: 'nothing' });
  const producer = client.producer();
  const started = producer.start().then(
    () => 'started',
    (err: unknown) => err,
  );
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  await producer.stop();
  const stopMs = Date.now() - t0;
  const outcome = await started;
  const endMs = Date.now() - t0;
  assert.ok(isLivetagError(outcome, 'LT_STOPPED'), `start ends as stopped, not by retrying on: ${String(outcome)}`);
  assert.ok(stopMs < 2_500 && endMs < 2_500, `stop ${stopMs} ms and the start's end ${endMs} ms, not the 5 s connect attempt`);
  await producer.stop();
});

test('confluent: the producer\'s batches follow the output bound: batch.size never above the default (the dead-letter topic shares the producer), message.max.bytes raised for a larger record, within librdkafka\'s range', () => {
  assert.deepEqual(librdkafkaBatchLimits(150_100), { 'batch.size': 150_100, 'message.max.bytes': 1_000_000 });
  assert.deepEqual(librdkafkaBatchLimits(1_000_000), { 'batch.size': 1_000_000, 'message.max.bytes': 1_004_096 });
  assert.deepEqual(librdkafkaBatchLimits(2_000_000), { 'batch.size': 1_000_000, 'message.max.bytes': 2_004_096 });
  assert.deepEqual(librdkafkaBatchLimits(999_999_000), { 'batch.size': 1_000_000, 'message.max.bytes': 1_000_000_000 });
});
