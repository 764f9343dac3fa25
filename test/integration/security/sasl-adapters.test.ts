/**
 * Each Kafka client adapter (src/kafka/) on the SASL_SSL broker: SCRAM login,
 * a wrong password (LT_KAFKA_AUTH, fast), an ACL-denied topic (LT_KAFKA_DENIED),
 * and OAUTHBEARER with a token fetched by the OIDC client-credentials grant
 * from a local token endpoint and validated by the broker's unsecured-JWS
 * validator.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { isLivetagError } from '../../../src/common/errors.ts';
import { prepareBrokerSecurity } from '../../../src/dev/broker-security.ts';
import { createKafkaClient } from '../../../src/kafka/client.ts';
import type { KafkaConnection } from '../../../src/kafka/connection.ts';
import type { KafkaClientName } from '../../../src/kafka/port.ts';
import { adminTopic, NO_BROKER, startSecureBroker, type Secured } from './secure-broker.ts';

let s: Secured | undefined;
let tokenServer: http.Server | undefined;
let tokenUrl = '';
const tokenRequests: string[] = [];
const CLIENT_SECRET = 'client-secret-for-test';

/** An unsigned JWS (alg none), which is what Kafka's unsecured validator accepts: `sub` becomes the principal. */
function unsecuredJws(sub: string, lifetimeS: number): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: 'none' })}.${b64({ sub, iat: now, exp: now + lifetimeS, scope: 'kafka' })}.`;
}

before(async () => {
  if (NO_BROKER) return;
  tokenServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const [id, secret] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString().split(':').map(decodeURIComponent);
      tokenRequests.push(`${id} ${new URLSearchParams(body).get('grant_type')}`);
      if (secret !== CLIENT_SECRET) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: unsecuredJws(id!, 120), token_type: 'bearer', expires_in: 120 }));
    });
  });
  await new Promise<void>((r) => tokenServer!.listen(0, '127.0.0.1', r));
  tokenUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token`;
  s = await startSecureBroker(() => {});
}, { timeout: 300_000 });
after(async () => {
  tokenServer?.close();
  await s?.broker.stop();
});

const confluentLoads = await import('@confluentinc/kafka-javascript').then(() => true, () => false);
const ADAPTERS: Array<{ name: KafkaClientName; skip: string | false }> = [
  { name: 'kafkajs', skip: NO_BROKER },
  { name: 'confluent', skip: NO_BROKER || (!confluentLoads && '@confluentinc/kafka-javascript did not build here') },
];

/** `caFile`: the CA the client trusts, by default the one that signed the broker's certificate. */
function client(name: KafkaClientName, sasl: KafkaConnection['sasl'], caFile = s!.security.tls.caCert) {
  const sec = s!;
  return createKafkaClient({
    connection: { brokers: sec.broker.brokers, clientId: `sec-${name}`, client: name, ssl: { ca: fs.readFileSync(caFile, 'utf8') }, sasl },
    logLevel: 'nothing',
    connectionTimeoutMs: 5_000,
    requestTimeoutMs: 10_000,
    maxRetryTimeMs: 2_000,
    retries: 2,
  });
}


async function sendOne(name: KafkaClientName, sasl: KafkaConnection['sasl'], topic: string, caFile?: string): Promise<number> {
  const c = await client(name, sasl, caFile);
  const producer = c.producer();
  const t0 = Date.now();
  try {
    await producer.start();
    await producer.send([{ topic, value: JSON.stringify({ text: 'hello' }) }]);
  } finally {
    await producer.stop().catch(() => {});
  }
  return Date.now() - t0;
}

for (const adapter of ADAPTERS) {
  test(`${adapter.name}: SCRAM login works, a wrong password or an untrusted broker certificate is LT_KAFKA_AUTH fast, a denied topic is LT_KAFKA_DENIED`, { timeout: 180_000, skip: adapter.skip }, async (t) => {
    const sec = s!;
    const allowed = await adminTopic(t, sec.admin, 'livetag.sec-ok');
    const denied = await adminTopic(t, sec.admin, 'denied');
    const user = { mechanism: 'scram-sha-512' as const, username: sec.security.service.username, password: sec.security.service.password };
    t.diagnostic(`allowed send in ${await sendOne(adapter.name, user, allowed)} ms`);

    const t0 = Date.now();
    await assert.rejects(sendOne(adapter.name, { ...user, password: 'not-the-password' }, allowed), (err: unknown) => {
      assert.ok(isLivetagError(err, 'LT_KAFKA_AUTH'), `got ${String(err)}`);
      assert.equal(err.retryable, false);
      assert.ok(!err.message.includes('not-the-password') && !err.message.includes(sec.security.service.password), 'no secret in the message');
      t.diagnostic(`wrong password: ${err.message.slice(0, 200)} after ${Date.now() - t0} ms`);
      return true;
    });
    // librdkafka's metadata timeout is 30 s; a refused login is judged without waiting for it.
    assert.ok(Date.now() - t0 < 10_000, `wrong password judged in ${Date.now() - t0} ms`);

    // Another CA, as a misconfigured LIVETAG_KAFKA_TLS_CA_FILE would name: the broker's certificate is not trusted.
    const otherCa = prepareBrokerSecurity(fs.mkdtempSync(path.join(os.tmpdir(), 'livetag-other-ca-'))).tls.caCert;
    t.after(() => fs.rmSync(path.dirname(path.dirname(otherCa)), { recursive: true, force: true }));
    const t1 = Date.now();
    await assert.rejects(sendOne(adapter.name, user, allowed, otherCa), (err: unknown) => {
      assert.ok(isLivetagError(err, 'LT_KAFKA_AUTH') && err.retryable === false, `got ${String(err)}`);
      t.diagnostic(`untrusted broker certificate: ${err.message.slice(0, 200)} after ${Date.now() - t1} ms`);
      return true;
    });
    assert.ok(Date.now() - t1 < 10_000, `untrusted broker certificate judged in ${Date.now() - t1} ms`);

    await assert.rejects(sendOne(adapter.name, user, denied), (err: unknown) => {
      assert.ok(isLivetagError(err, 'LT_KAFKA_DENIED'), `got ${String(err)}`);
      t.diagnostic(`denied topic: ${err.message.slice(0, 200)}`);
      return true;
    });
  });

  test(`${adapter.name}: OAUTHBEARER with an OIDC client-credentials token; a wrong client secret is LT_KAFKA_AUTH`, { timeout: 180_000, skip: adapter.skip }, async (t) => {
    const sec = s!;
    const allowed = await adminTopic(t, sec.admin, 'livetag.sec-oauth');
    const oauth = (clientSecret: string) => ({ mechanism: 'oauthbearer' as const, oauth: { tokenUrl, clientId: 'livetag', clientSecret, scope: 'kafka' } });
    const before = tokenRequests.length;
    t.diagnostic(`oauth send in ${await sendOne(adapter.name, oauth(CLIENT_SECRET), allowed)} ms`);
    assert.ok(tokenRequests.length > before, 'a token was fetched from the endpoint');
    assert.equal(tokenRequests.at(-1), 'livetag client_credentials');

    const t0 = Date.now();
    await assert.rejects(sendOne(adapter.name, oauth('wrong-secret'), allowed), (err: unknown) => {
      assert.ok(isLivetagError(err, 'LT_KAFKA_AUTH'), `got ${String(err)}`);
      assert.ok(!err.message.includes('wrong-secret'));
      t.diagnostic(`wrong client secret: ${err.message.slice(0, 200)} after ${Date.now() - t0} ms`);
      return true;
    });
    assert.ok(Date.now() - t0 < 10_000, `wrong client secret judged in ${Date.now() - t0} ms`);
  });
}
