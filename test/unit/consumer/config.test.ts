import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadServeConfig } from '../../../src/consumer/config.ts';
import { isLivetagError } from '../../../src/common/errors.ts';
import { tempDir } from '../../helpers/shared.ts';

test('defaults need no configuration and the result is deeply frozen', () => {
  const c = loadServeConfig({});
  assert.deepEqual(c.kafka.brokers, ['127.0.0.1:9092']);
  assert.equal(c.delivery, 'at-least-once');
  assert.equal(c.batch.maxSize, 64);
  assert.deepEqual([c.batch.maxWaitMs, c.batch.quietMs], [5, 2]);
  assert.equal(loadServeConfig({ LIVETAG_BATCH_QUIET_MS: '0' }).batch.quietMs, 0);
  assert.throws(() => loadServeConfig({ LIVETAG_BATCH_QUIET_MS: '-1' }), /LIVETAG_BATCH_QUIET_MS/);
  assert.equal(c.fromBeginning, true);
  assert.equal(c.registry, undefined);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.batch) && Object.isFrozen(c.kafka.brokers));
});

test('values are coerced and validated', () => {
  const c = loadServeConfig({ LIVETAG_KAFKA_BROKERS: 'a:1, b:2', LIVETAG_HTTP_PORT: '8080', LIVETAG_ALL_SCORES: 'yes', LIVETAG_DELIVERY: 'exactly-once', LIVETAG_REGISTRY: '/models' });
  assert.deepEqual(c.kafka.brokers, ['a:1', 'b:2']);
  assert.equal(c.http.port, 8080);
  assert.equal(c.allScores, true);
  assert.equal(c.delivery, 'exactly-once');
  assert.deepEqual(c.registry, { root: '/models', topic: 'livetag.models', pollMs: 10000 });
});

test('every problem is reported at once', () => {
  assert.throws(
    () => loadServeConfig({ LIVETAG_HTTP_PORT: '99999', LIVETAG_THREADS: '-1', LIVETAG_DEVICE: 'tpu', LIVETAG_DLQ_TOPIC: 'livetag.comments' }),
    (err: unknown) => {
      assert.ok(isLivetagError(err, 'LT_CONFIG_INVALID'));
      for (const k of ['LIVETAG_HTTP_PORT', 'LIVETAG_THREADS', 'LIVETAG_DEVICE', 'must differ']) assert.ok(err.message.includes(k), k);
      assert.match(err.message, /4 problems/);
      return true;
    },
  );
});

test('SASL and TLS secrets are read from files', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'pw'), 's3cret\n');
  writeFileSync(join(dir, 'ca.pem'), 'CA');
  const c = loadServeConfig({
    LIVETAG_KAFKA_SASL_MECHANISM: 'scram-sha-512',
    LIVETAG_KAFKA_SASL_USERNAME: 'livetag',
    LIVETAG_KAFKA_SASL_PASSWORD_FILE: join(dir, 'pw'),
    LIVETAG_KAFKA_TLS_CA_FILE: join(dir, 'ca.pem'),
  });
  assert.deepEqual(c.kafka.sasl, { mechanism: 'scram-sha-512', username: 'livetag', password: 's3cret' });
  assert.deepEqual(c.kafka.ssl, { ca: 'CA', cert: undefined, key: undefined });
  assert.throws(() => loadServeConfig({ LIVETAG_KAFKA_SASL_MECHANISM: 'plain', LIVETAG_KAFKA_SASL_USERNAME: 'u', LIVETAG_KAFKA_SASL_PASSWORD_FILE: join(dir, 'missing') }), /cannot read \(ENOENT\)/);
});

test('an empty secret file is a configuration error, not "no secret": an empty HTTP token file would have switched authentication off', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'token'), 'tok-123\n');
  writeFileSync(join(dir, 'empty'), ' \n');
  assert.equal(loadServeConfig({ LIVETAG_HTTP_TOKEN_FILE: join(dir, 'token') }).httpInference?.token, 'tok-123');
  for (const env of [{ LIVETAG_HTTP_TOKEN_FILE: join(dir, 'empty') }, { LIVETAG_KAFKA_SASL_MECHANISM: 'plain', LIVETAG_KAFKA_SASL_USERNAME: 'u', LIVETAG_KAFKA_SASL_PASSWORD_FILE: join(dir, 'empty') }]) {
    assert.throws(() => loadServeConfig(env), (err: unknown) => isLivetagError(err, 'LT_CONFIG_INVALID') && /_FILE=".*empty": the file is empty/.test((err as Error).message), JSON.stringify(env));
  }
});

test('LIVETAG_SESSIONS: auto by default, a count from 1 to 64, anything else refused by name', () => {
  assert.equal(loadServeConfig({}).model.sessions, 'auto');
  assert.equal(loadServeConfig({ LIVETAG_SESSIONS: '3' }).model.sessions, 3);
  for (const bad of ['0', '65', 'many', '1.5']) assert.throws(() => loadServeConfig({ LIVETAG_SESSIONS: bad }), /LIVETAG_SESSIONS/, bad);
});

test('timeouts past what a Node timer holds (2^31 − 1 ms) are refused, not fired after 1 ms; blank values are unset, not 0', () => {
  for (const key of ['LIVETAG_DRAIN_TIMEOUT_MS', 'LIVETAG_HTTP_TIMEOUT_MS', 'LIVETAG_REGISTRY_POLL_MS']) {
    assert.throws(() => loadServeConfig({ [key]: '3000000000' }), (err) => isLivetagError(err, 'LT_CONFIG_INVALID') && err.message.includes(`${key}="3000000000"`), key);
    assert.doesNotThrow(() => loadServeConfig({ [key]: String(2 ** 31 - 1) }), key);
  }
  const blank = loadServeConfig({ LIVETAG_BATCH_MAX_WAIT_MS: '  ', LIVETAG_DEDUPE_CACHE_SIZE: ' ' });
  const defaults = loadServeConfig({});
  assert.deepEqual([blank.batch.maxWaitMs, blank.dedupeCacheSize], [defaults.batch.maxWaitMs, defaults.dedupeCacheSize]);
  assert.ok(defaults.batch.maxWaitMs > 0 && defaults.dedupeCacheSize > 0);
});
