/**
 * Every codec real producers write is read, and every codec can be written:
 * Kafka's own Java producer writes 200 records with each of none, gzip,
 * snappy, lz4 and zstd into one topic, and `livetag serve` on each Kafka
 * adapter tags every one of them (writing its output compressed). Then each
 * adapter's producer writes with each codec and its consumer reads it back.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { deleteTopics, ensureTopics } from '../../helpers/kafkajs.ts';
import { COMPRESSIONS, type Compression, type ConsumedRecord } from '../../../src/kafka/port.ts';
import { brokersFromEnv, testKafka, uniqueName, useGroup, useTopic, waitUntil } from '../helpers/kafka.ts';
import { collector, serveEnv, tinyBundle } from '../helpers/serve.ts';
import { ADAPTERS, inProcessService, javaProduce, portClientOrSkip } from './helpers.ts';

const PER_CODEC = 200;
const OUTPUT_CODEC: Record<string, Compression> = { kafkajs: 'zstd', confluent: 'lz4' };

/** One input topic the Java producer fills once (a JVM start is the slow part); each adapter reads it with its own group. */
let javaInput: Promise<string> | undefined;
const javaKafka = testKafka('codecs-java');
const javaTopicName = uniqueName('codecs-java');
// Registered at the top level: an after() inside the first adapter's test would delete the topic before the second adapter reads it.
after(() => deleteTopics(javaKafka, [javaTopicName]).catch(() => undefined));
function javaTopic(log: (m: string) => void): Promise<string> {
  javaInput ??= (async () => {
    const topic = javaTopicName;
    const kafka = javaKafka;
    await ensureTopics(kafka, [{ topic, partitions: 2 }]);
    const t0 = Date.now();
    await javaProduce(brokersFromEnv(), topic, COMPRESSIONS, PER_CODEC);
    log(`Java producer wrote ${PER_CODEC} records × ${COMPRESSIONS.length} codecs in ${Date.now() - t0} ms`);
    return topic;
  })();
  return javaInput;
}

for (const adapter of ADAPTERS) {
  describe(`codecs on the ${adapter} adapter`, async () => {
    const client = await portClientOrSkip(adapter, brokersFromEnv());
    const skip = typeof client === 'string' ? client : false;

    test(`a Java producer writes ${PER_CODEC} records with each of ${COMPRESSIONS.join(', ')}; serve tags every one`, { skip, timeout: 240_000 }, async (t) => {
      const kafka = testKafka(`codecs-${adapter}`);
      const topics = {
        input: await javaTopic((m) => t.diagnostic(m)),
        output: await useTopic(t, { prefix: 'codecs-out', client: kafka, partitions: 2 }),
        dlq: await useTopic(t, { prefix: 'codecs-dlq', client: kafka, partitions: 2 }),
        group: useGroup(t, `codecs-${adapter}`, kafka),
      };
      const svc = inProcessService(t, serveEnv(topics, await tinyBundle(), { LIVETAG_KAFKA_CLIENT: adapter, LIVETAG_OUTPUT_COMPRESSION: OUTPUT_CODEC[adapter] }));
      const out = await collector(kafka, [topics.output, topics.dlq]);
      try {
        await svc.start();
        await out.until(PER_CODEC * COMPRESSIONS.length, 120_000, 'every Java record tagged or dead-lettered');
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        await svc.stop();
        await out.stop();
      }
      const dead = out.received.filter((r) => r.topic === topics.dlq);
      assert.equal(dead.length, 0, `no dead letters (${dead.map((d) => d.headers['livetag-error-code']).join(',')})`);
      const ids = new Set(out.received.map((r) => JSON.parse(r.value!.toString('utf8')).id as string));
      for (const codec of COMPRESSIONS) {
        const tagged = [...ids].filter((id) => id.startsWith(`${codec}-`)).length;
        t.diagnostic(`${adapter}: ${codec} ${tagged}/${PER_CODEC} tagged`);
        assert.equal(tagged, PER_CODEC, `${codec}: every record tagged once`);
      }
    });

    test(`the ${adapter} producer writes every codec and its consumer reads each back`, { skip, timeout: 120_000 }, async (t) => {
      if (typeof client === 'string') return;
      const topic = await useTopic(t, { prefix: `codec-rt-${adapter}`, partitions: 1 });
      for (const compression of COMPRESSIONS) {
        const producer = client.producer({ compression });
        await producer.start();
        try {
          await producer.send(Array.from({ length: 50 }, (_, i) => ({ topic, key: compression, value: `${compression}:${i}:${'x'.repeat(200)}` })));
        } finally {
          await producer.stop();
        }
      }
      const received: ConsumedRecord[] = [];
      const consumer = client.consumer({ groupId: uniqueName(`codec-rt-${adapter}`), topics: [topic], fromBeginning: true, maxWaitMs: 100 });
      try {
        await consumer.start(async (batch) => {
          received.push(...batch.records);
          if (batch.lastOffset !== null) batch.resolve(batch.lastOffset);
        });
        // At-least-once: a fetch repeated across a rebalance may hand a record over twice; the codec question is what arrives, once per offset.
        await waitUntil(() => new Set(received.map((r) => r.offset)).size >= 50 * COMPRESSIONS.length, 60_000, 'every codec read back');
      } finally {
        await consumer.stop();
      }
      for (const compression of COMPRESSIONS) {
        const once = [...new Map(received.map((r) => [r.offset, r])).values()];
        const values = once.filter((r) => r.key?.toString() === compression).map((r) => r.value!.toString());
        assert.equal(values.length, 50, compression);
        assert.equal(values[49], `${compression}:49:${'x'.repeat(200)}`);
      }
    });
  });
}
