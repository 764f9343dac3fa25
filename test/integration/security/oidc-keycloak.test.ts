/**
 * The OAUTHBEARER token fetch against a real OIDC server: livetag's
 * client-credentials token source (src/kafka/oauth-token.ts, which both Kafka
 * adapters use) asks Keycloak, from Maven Central, for tokens. The SASL side
 * of OAUTHBEARER is tested against the broker's unsecured-JWS validator in
 * sasl-adapters.test.ts; the broker does not validate Keycloak's signed
 * tokens here (that needs the broker's JWKS validator, which the local
 * secured broker does not configure).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isLivetagError } from '../../../src/common/errors.ts';
import { createOAuthTokenSource } from '../../../src/kafka/oauth-token.ts';
import { KEYCLOAK_VERSION, startKeycloak, type Keycloak } from './keycloak.ts';

let kc: Keycloak | undefined;
let unavailable: string | false = false;
before(async () => {
  try {
    kc = await startKeycloak();
  } catch (err) {
    // Only an artifact that cannot be fetched is a reason to skip; a server that fails to start fails the test below.
    if (/Maven could not resolve/.test((err as Error).message)) unavailable = `Keycloak ${KEYCLOAK_VERSION} is not available here: ${(err as Error).message.slice(0, 200)}`;
    else throw err;
  }
}, { timeout: 600_000 });
after(() => kc?.stop());

test(`client-credentials tokens from Keycloak ${KEYCLOAK_VERSION}: fetched, kept until near expiry; a wrong secret is LT_KAFKA_AUTH without the secret`, { timeout: 120_000 }, async (t) => {
  if (unavailable) return t.skip(unavailable);
  const server = kc!;
  t.diagnostic(`Keycloak ${KEYCLOAK_VERSION} ready in ${server.startedInMs} ms (resolve, unpack, start, register the client)`);
  const source = createOAuthTokenSource({ tokenUrl: server.tokenUrl, clientId: server.clientId, clientSecret: server.clientSecret });
  const token = await source.token();
  const [header, claims] = token.value.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>);
  assert.equal(header!.alg, 'RS256', 'a token signed by the realm key');
  assert.equal(claims!.azp, server.clientId, 'issued to the livetag client');
  assert.ok(token.expiresAt > Date.now() + 30_000, `valid for a while: ${token.expiresAt - Date.now()} ms`);
  assert.equal((await source.token()).value, token.value, 'the same token while it is fresh');
  t.diagnostic(`token: ${header!.alg}, azp ${claims!.azp}, expires in ${Math.round((token.expiresAt - Date.now()) / 1000)} s`);

  const wrong = createOAuthTokenSource({ tokenUrl: server.tokenUrl, clientId: server.clientId, clientSecret: 'not-the-secret' });
  await assert.rejects(wrong.token(), (err: unknown) => {
    assert.ok(isLivetagError(err, 'LT_KAFKA_AUTH') && err.retryable === false, String(err));
    assert.ok(!err.message.includes('not-the-secret') && !err.message.includes(server.clientSecret), 'no secret in the message');
    t.diagnostic(`wrong secret: ${err.message}`);
    return true;
  });
});
