/**
 * `livetag kafka start --secure --mtls`: the SASL_SSL listener requires a
 * client certificate. A client with the right CA and SCRAM login but no
 * certificate is refused (nothing reaches the topic); the same client with the
 * generated client certificate and key (what `--env-file` writes as
 * LIVETAG_KAFKA_TLS_CERT_FILE / _KEY_FILE) produces and consumes. Both Kafka
 * adapters, the confluent one where it builds.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { isLivetagError } from '../../../src/common/errors.ts';
import { loadKafkaConnection } from '../../../src/kafka/connection.ts';
import { createKafkaClient } from '../../../src/kafka/client.ts';
import type { KafkaClientName } from '../../../src/kafka/port.ts';
import { withAdmin } from '../../helpers/kafkajs.ts';
import { adminTopic, NO_BROKER, startSecureBroker, type Secured } from './secure-broker.ts';

let s: Secured | undefined;
before(async () => {
  if (!NO_BROKER) s = await startSecureBroker(() => {}, true);
}, { timeout: 300_000 });
after(async () => {
  await s?.broker.stop();
});

const confluentLoads = await import('@confluentinc/kafka-javascript').then(() => true, () => false);
const ADAPTERS: Array<{ name: KafkaClientName; skip: string | false }> = [
  { name: 'kafkajs', skip: NO_BROKER },
  { name: 'confluent', skip: NO_BROKER || (!confluentLoads && '@confluentinc/kafka-javascript did not build here') },
];

/** A port client configured from the env file's settings, optionally without the client certificate. */
async function clientFromEnv(name: KafkaClientName, env: Record<string, string>, withCert: boolean) {
  const settings = { ...env };
  if (!withCert) {
    delete settings.LIVETAG_KAFKA_TLS_CERT_FILE;
    delete settings.LIVETAG_KAFKA_TLS_KEY_FILE;
  }
  const connection = loadKafkaConnection(settings);
  return createKafkaClient({
    connection: { ...connection, client: name, clientId: `mtls-${name}` },
    logLevel: 'nothing',
    connectionTimeoutMs: 5_000,
    requestTimeoutMs: 10_000,
    maxRetryTimeMs: 2_000,
    retries: 2,
  });
}

async function highWatermark(topic: string): Promise<number> {
  return withAdmin(s!.admin, async (admin) => (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0));
}

for (const adapter of ADAPTERS) {
  test(`${adapter.name}: --mtls refuses a client without a certificate and admits one with the generated certificate`, { timeout: 180_000, skip: adapter.skip }, async (t) => {
    const sec = s!;
    assert.ok(sec.serviceEnv.LIVETAG_KAFKA_TLS_CERT_FILE && fs.existsSync(sec.serviceEnv.LIVETAG_KAFKA_TLS_CERT_FILE), 'the env file names the client certificate');
    assert.ok(sec.serviceEnv.LIVETAG_KAFKA_TLS_KEY_FILE && fs.existsSync(sec.serviceEnv.LIVETAG_KAFKA_TLS_KEY_FILE), 'and its key');
    const topic = await adminTopic(t, sec.admin, 'livetag.mtls');

    const bare = (await clientFromEnv(adapter.name, sec.serviceEnv, false)).producer();
    const t0 = Date.now();
    await assert.rejects(
      (async () => {
        try {
          await bare.start();
          await bare.send([{ topic, value: 'without a certificate' }]);
        } finally {
          await bare.stop().catch(() => undefined);
        }
      })(),
      (err: unknown) => {
        t.diagnostic(`no certificate: refused after ${Date.now() - t0} ms: ${String(err).slice(0, 240)}`);
        // kafkajs sees the broker's TLS alert itself; the confluent adapter's login check asks Node's TLS (librdkafka says only "broker transport failure").
        assert.ok(isLivetagError(err, 'LT_KAFKA_AUTH') && err.retryable === false, `a refused certificate is LT_KAFKA_AUTH, not retryable: ${String(err)}`);
        return true;
      },
    );
    assert.ok(Date.now() - t0 < 10_000, `refused in ${Date.now() - t0} ms, not at librdkafka's 30 s timeout`);
    assert.equal(await highWatermark(topic), 0, 'nothing written without a certificate');

    const client = await clientFromEnv(adapter.name, sec.serviceEnv, true);
    const producer = client.producer();
    await producer.start();
    try {
      await producer.send([{ topic, key: 'k', value: 'with the client certificate' }]);
    } finally {
      await producer.stop();
    }
    assert.equal(await highWatermark(topic), 1, 'the record is in the log');
    t.diagnostic(`with the generated client certificate: 1 record produced over SASL_SSL + mTLS`);
  });
}
