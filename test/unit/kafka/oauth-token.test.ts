import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isLivetagError } from '../../../src/common/errors.ts';
import { loadKafkaConnection } from '../../../src/kafka/connection.ts';
import { authErrorCode } from '../../../src/kafka/auth-errors.ts';
import { createOAuthTokenSource } from '../../../src/kafka/oauth-token.ts';
import { tempDir } from '../../helpers/shared.ts';

const settings = { tokenUrl: 'http://idp.test/token', clientId: 'livetag', clientSecret: 's3cret', scope: 'kafka' };

test('tokens are shared until 80% of their lifetime, then refreshed before they expire', async () => {
  let now = 1_000_000;
  const bodies: string[] = [];
  const fetch = async (_url: string, init: { body: string; headers: Record<string, string> }) => {
    bodies.push(init.body);
    assert.equal(init.headers.authorization, `Basic ${Buffer.from('livetag:s3cret').toString('base64')}`);
    return new Response(JSON.stringify({ access_token: `t${bodies.length}`, expires_in: 100 }), { status: 200 });
  };
  const source = createOAuthTokenSource(settings, { fetch, now: () => now });
  const [a, b] = await Promise.all([source.token(), source.token()]);
  assert.equal(a.value, 't1');
  assert.equal(b.value, 't1', 'concurrent callers share one fetch');
  assert.equal(bodies.length, 1);
  assert.match(bodies[0]!, /grant_type=client_credentials/);
  assert.match(bodies[0]!, /scope=kafka/);
  now += 69_000;
  assert.equal((await source.token()).value, 't1');
  now += 2_000; // past refreshAt = min(80 s, expiry - 30 s) = 70 s
  assert.equal((await source.token()).value, 't2');
  assert.ok((await source.token()).expiresAt > now);
});

test('a refused client is LT_KAFKA_AUTH (not retried) without the secret or the response body; a 5xx is retryable', async () => {
  const refused = createOAuthTokenSource(settings, { fetch: async () => new Response('{"error":"invalid_client","echo":"s3cret"}', { status: 401 }) });
  await assert.rejects(refused.token(), (e: unknown) => isLivetagError(e, 'LT_KAFKA_AUTH') && !e.retryable && /invalid_client/.test(e.message) && !e.message.includes('s3cret'));
  const down = createOAuthTokenSource(settings, { fetch: async () => new Response('oops', { status: 503 }) });
  await assert.rejects(down.token(), (e: unknown) => isLivetagError(e, 'LT_KAFKA') && e.retryable);
});

test('a rate-limited or busy token endpoint (429, 408, 5xx) is retryable and never reads as a refused login, in either adapter\'s form', async () => {
  for (const status of [429, 408, 500, 503]) {
    const busy = createOAuthTokenSource(settings, { fetch: async () => new Response('{"error":"slow_down"}', { status }) });
    const err = await busy.token().then(
      () => assert.fail('no token'),
      (e: unknown) => e as Error,
    );
    assert.ok(isLivetagError(err, 'LT_KAFKA') && err.retryable, `${status}: ${err.message}`);
    // librdkafka hands the token source's error back as a plain Error with its prefix.
    assert.equal(authErrorCode(new Error(`oauthbearer_token_refresh_cb: ${err.message}`)), undefined, String(status));
  }
  const refused = await createOAuthTokenSource(settings, { fetch: async () => new Response('{"error":"invalid_client"}', { status: 401 }) }).token().catch((e: Error) => e);
  assert.equal(authErrorCode(new Error(`oauthbearer_token_refresh_cb: ${(refused as Error).message}`)), 'LT_KAFKA_AUTH');
});

test('LIVETAG_KAFKA_SASL_MECHANISM=oauthbearer needs the token URL, client id and secret file', () => {
  assert.throws(() => loadKafkaConnection({ LIVETAG_KAFKA_SASL_MECHANISM: 'oauthbearer' }), (e: unknown) => isLivetagError(e, 'LT_CONFIG_INVALID') && /LIVETAG_KAFKA_OAUTH_TOKEN_URL/.test(e.message));
  const file = join(tempDir(), 'secret');
  writeFileSync(file, 's3cret\n');
  const c = loadKafkaConnection({
    LIVETAG_KAFKA_SASL_MECHANISM: 'oauthbearer',
    LIVETAG_KAFKA_OAUTH_TOKEN_URL: 'https://idp.example/token',
    LIVETAG_KAFKA_OAUTH_CLIENT_ID: 'livetag',
    LIVETAG_KAFKA_OAUTH_CLIENT_SECRET_FILE: file,
  });
  assert.deepEqual(c.sasl, { mechanism: 'oauthbearer', oauth: { tokenUrl: 'https://idp.example/token', clientId: 'livetag', clientSecret: 's3cret' } });
});
