import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LivetagError } from '../../../src/common/errors.ts';
import { libraryErrorOf, rebalanceSignal } from '../../../src/kafka/adapter-kit.ts';

/** An error shaped as kafkajs' KafkaJSProtocolError is (its protocol `type` is what kafkajs' runner rejoins on). */
function protocolError(type: string): Error {
  return Object.assign(new Error(`broker answered ${type}`), { type, retriable: false });
}

test('a heartbeat that learns of a rebalance becomes LT_KAFKA_REBALANCE, retryable, carrying the library error', () => {
  for (const type of ['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION']) {
    const original = protocolError(type);
    assert.throws(
      () => rebalanceSignal(original),
      (err: unknown) => err instanceof LivetagError && err.code === 'LT_KAFKA_REBALANCE' && err.retryable && err.cause === original && err.message.includes(type),
    );
  }
});

test('any other heartbeat failure passes through unchanged', () => {
  const other = protocolError('UNKNOWN_MEMBER_ID');
  assert.throws(() => rebalanceSignal(other), (err: unknown) => err === other);
  const plain = new Error('connection closed');
  assert.throws(() => rebalanceSignal(plain), (err: unknown) => err === plain);
  assert.throws(() => rebalanceSignal(undefined), (err: unknown) => err === undefined);
});

test('the library gets its own rebalance error back from the batch handler (so it rejoins); anything else as thrown', () => {
  const original = protocolError('REBALANCE_IN_PROGRESS');
  let signal: unknown;
  try {
    rebalanceSignal(original);
  } catch (err) {
    signal = err;
  }
  assert.equal(libraryErrorOf(signal), original);
  const failure = new LivetagError('LT_KAFKA', 'commit failed');
  assert.equal(libraryErrorOf(failure), failure);
  const foreign = new Error('handler bug');
  assert.equal(libraryErrorOf(foreign), foreign);
});

test('a commit\'s rebalance answer, which kafkajs\' retrier wraps in a KafkaJSNonRetriableError without a type, is a rebalance too; the library gets the typed error back', async () => {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const createRetry = require('kafkajs/src/retry') as (o: object) => (fn: () => Promise<unknown>) => Promise<unknown>;
  const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode: (code: number) => Error & { type: string } };
  const { KafkaJSProtocolError } = require('kafkajs/src/errors') as { KafkaJSProtocolError: new (e: Error) => Error & { type: string } };
  for (const code of [27, 22]) {
    const original = new KafkaJSProtocolError(createErrorFromCode(code));
    const wrapped = await createRetry({ retries: 2, initialRetryTime: 1 })(async () => {
      throw original;
    }).catch((e: unknown) => e);
    assert.equal((wrapped as { type?: string }).type, undefined, 'the wrapper has no type of its own');
    let signal: unknown;
    try {
      rebalanceSignal(wrapped);
    } catch (err) {
      signal = err;
    }
    assert.ok(signal instanceof LivetagError && signal.code === 'LT_KAFKA_REBALANCE', `${original.type}: ${String(signal)}`);
    assert.equal(libraryErrorOf(signal), original, 'the library rejoins on its own typed error');
  }
});
