import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRefusedLogin } from '../../../src/kafka/confluent-login-check.ts';

/** An error event as @confluentinc/kafka-javascript emits it: the code lost (-1), librdkafka's text in `stack`, lower-cased in `message`. */
const event = (text: string) => ({ message: text.replace(/^Local: /, '').toLowerCase(), code: -1, stack: `Error: ${text}\n    at native` });

test('a refused SASL login and a TLS failure are refusals; a broker that cannot be reached is not', () => {
  // Texts as measured on the local SASL_SSL broker (wrong SCRAM password; a CA that did not sign the broker).
  assert.equal(isRefusedLogin(event('Local: Authentication failure')), true);
  assert.equal(isRefusedLogin(event('Local: SSL error')), true);
  // librdkafka retries these by itself until the operation's timeout: not a verdict on the credentials.
  assert.equal(isRefusedLogin(event('Local: Broker transport failure')), false);
  assert.equal(isRefusedLogin(event('Local: All broker connections are down')), false);
  assert.equal(isRefusedLogin(event('Local: Timed out')), false);
  assert.equal(isRefusedLogin({ message: 'authentication failure' }), true, 'the message alone is enough');
  assert.equal(isRefusedLogin({}), false);
});
