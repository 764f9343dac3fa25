import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isLivetagError } from '../../../src/common/errors.ts';
import { loadServeConfig } from '../../../src/consumer/config.ts';
import { insecureConnectionWarnings, loadKafkaConnection } from '../../../src/kafka/connection.ts';
import { tempDir } from '../../helpers/shared.ts';

test('the Kafka connection reads LIVETAG_KAFKA_* only: a bad serve setting does not break it', () => {
  const c = loadKafkaConnection({ LIVETAG_KAFKA_BROKERS: 'a:1,b:2', LIVETAG_HTTP_PORT: 'not a port', LIVETAG_BATCH_MAX_SIZE: '-3' });
  assert.deepEqual(c.brokers, ['a:1', 'b:2']);
  assert.equal(c.client, 'kafkajs');
  assert.equal(c.clientId, 'livetag');
  assert.equal(c.ssl, undefined);
  assert.ok(Object.isFrozen(c));
  assert.throws(() => loadServeConfig({ LIVETAG_HTTP_PORT: 'not a port' }), (err) => isLivetagError(err, 'LT_CONFIG_INVALID'));
});

// Reading secrets from files is covered for the serve config in test/unit/consumer/config.test.ts.
test('the client library is chosen here; every problem is listed at once', () => {
  const dir = tempDir();
  assert.equal(loadKafkaConnection({ LIVETAG_KAFKA_CLIENT: 'confluent' }).client, 'confluent');
  assert.throws(
    () => loadKafkaConnection({ LIVETAG_KAFKA_CLIENT: 'rdkafka', LIVETAG_KAFKA_SASL_MECHANISM: 'plain', LIVETAG_KAFKA_TLS_CERT_FILE: join(dir, 'missing') }),
    (err: unknown) => {
      assert.ok(isLivetagError(err, 'LT_CONFIG_INVALID'));
      assert.match(err.message, /3 problems/);
      assert.match(err.message, /LIVETAG_KAFKA_CLIENT="rdkafka"/);
      assert.match(err.message, /USERNAME and LIVETAG_KAFKA_SASL_PASSWORD_FILE are required/);
      assert.match(err.message, /LIVETAG_KAFKA_TLS_CERT_FILE=".*missing": cannot read/);
      return true;
    },
  );
});

test('the serve config carries the same connection, and reports its problems together with the rest', () => {
  const serve = loadServeConfig({ LIVETAG_KAFKA_BROKERS: 'k:9092', LIVETAG_KAFKA_CLIENT_ID: 'svc' });
  assert.deepEqual(serve.kafka, loadKafkaConnection({ LIVETAG_KAFKA_BROKERS: 'k:9092', LIVETAG_KAFKA_CLIENT_ID: 'svc' }));
  assert.throws(
    () => loadServeConfig({ LIVETAG_KAFKA_CLIENT: 'x', LIVETAG_HTTP_PORT: '99999' }),
    (err: unknown) => isLivetagError(err, 'LT_CONFIG_INVALID') && /2 problems/.test(err.message),
  );
});

test('the SASL user name and OAuth client id are trimmed as the secret files are (a Secret made --from-file keeps a newline)', () => {
  const file = join(tempDir(), 'password');
  writeFileSync(file, 'hunter2\n');
  const c = loadKafkaConnection({ LIVETAG_KAFKA_SASL_MECHANISM: 'scram-sha-512', LIVETAG_KAFKA_SASL_USERNAME: 'livetag\n', LIVETAG_KAFKA_SASL_PASSWORD_FILE: file });
  assert.deepEqual(c.sasl, { mechanism: 'scram-sha-512', username: 'livetag', password: 'hunter2' });
});

test('secrets sent in the clear are warned about: PLAIN or OAUTHBEARER without TLS, a token URL over plain http off this host', () => {
  const file = join(tempDir(), 'secret');
  writeFileSync(file, 's3cret');
  const plain = { LIVETAG_KAFKA_SASL_MECHANISM: 'plain', LIVETAG_KAFKA_SASL_USERNAME: 'u', LIVETAG_KAFKA_SASL_PASSWORD_FILE: file };
  const oauth = (url: string) => ({ LIVETAG_KAFKA_SASL_MECHANISM: 'oauthbearer', LIVETAG_KAFKA_OAUTH_TOKEN_URL: url, LIVETAG_KAFKA_OAUTH_CLIENT_ID: 'c', LIVETAG_KAFKA_OAUTH_CLIENT_SECRET_FILE: file });
  const warn = (env: Record<string, string>) => insecureConnectionWarnings(loadKafkaConnection(env));
  assert.match(warn(plain).join('\n'), /SASL PLAIN without TLS sends the SASL password .* in the clear/);
  assert.deepEqual(warn({ ...plain, LIVETAG_KAFKA_TLS: 'true' }), []);
  // SCRAM never sends the password itself.
  assert.deepEqual(warn({ ...plain, LIVETAG_KAFKA_SASL_MECHANISM: 'scram-sha-256' }), []);
  const both = warn(oauth('http://idp.example.com/token'));
  assert.equal(both.length, 2, both.join('\n'));
  assert.match(both[0]!, /OAUTHBEARER without TLS sends the OAuth access token/);
  assert.match(both[1]!, /http:\/\/idp\.example\.com is plain http: the client secret/);
  assert.deepEqual(warn({ ...oauth('https://idp.example.com/token'), LIVETAG_KAFKA_TLS: 'true' }), []);
  assert.deepEqual(warn({ ...oauth('http://127.0.0.1:8080/token'), LIVETAG_KAFKA_TLS: 'true' }), [], 'a token endpoint on this host stays off the network');
  assert.deepEqual(warn({}), []);
});
