import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authErrorCode } from '../../../src/kafka/auth-errors.ts';

// Shapes as the libraries throw them: kafkajs' KafkaJSConnectionError keeps the socket error's `code`; retries wrap it in `cause`.
const connection = (code: string) => Object.assign(new Error(`Connection error: ${code}`), { name: 'KafkaJSConnectionError', code });

test('a broker refusing the client certificate (mTLS) is LT_KAFKA_AUTH, also wrapped in retries', () => {
  for (const code of ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED']) {
    assert.equal(authErrorCode(connection(code)), 'LT_KAFKA_AUTH', code);
  }
  const retried = Object.assign(new Error('Number of retries exceeded'), { name: 'KafkaJSNumberOfRetriesExceeded', cause: connection('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE') });
  assert.equal(authErrorCode(retried), 'LT_KAFKA_AUTH');
});

test('an untrusted broker certificate, a refused login and a denied ACL are told apart', () => {
  assert.equal(authErrorCode(connection('DEPTH_ZERO_SELF_SIGNED_CERT')), 'LT_KAFKA_AUTH');
  assert.equal(authErrorCode(Object.assign(new Error('SASL SCRAM SHA512 authentication failed'), { name: 'KafkaJSSASLAuthenticationError' })), 'LT_KAFKA_AUTH');
  assert.equal(authErrorCode(Object.assign(new Error('Not authorized to access topics'), { type: 'TOPIC_AUTHORIZATION_FAILED' })), 'LT_KAFKA_DENIED');
  assert.equal(authErrorCode(Object.assign(new Error('librdkafka'), { code: -169 })), 'LT_KAFKA_AUTH');
  assert.equal(authErrorCode(Object.assign(new Error('librdkafka'), { code: 30 })), 'LT_KAFKA_DENIED');
});

test('transport trouble that a retry can heal is neither', () => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE']) assert.equal(authErrorCode(connection(code)), undefined, code);
  assert.equal(authErrorCode(new Error('Connection timeout')), undefined);
  assert.equal(authErrorCode(undefined), undefined);
});

test('every untrusted-broker-certificate code of Node\'s TLS is a refused login, not a retried outage', () => {
  for (const code of ['CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE', 'INVALID_CA', 'CERT_HAS_EXPIRED']) {
    assert.equal(authErrorCode(Object.assign(new Error('tls'), { code })), 'LT_KAFKA_AUTH', code);
  }
});
