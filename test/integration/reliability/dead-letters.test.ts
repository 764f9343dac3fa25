/**
 * Nothing blocks a partition: a 2 MiB record (too large for the service and
 * for a dead-letter topic with default configs) is dead-lettered as a
 * bounded copy marked truncated, with its original size and sha256, under
 * Kafka Connect's header names; the records behind it are tagged. With a
 * dead-letter topic whose max.message.bytes is below even the bounded copy,
 * the broker's MESSAGE_TOO_LARGE is answered with a smaller copy instead of
 * a crash. On each adapter.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { DEAD_LETTER_HEADERS as DLH, DEAD_LETTER_MAX_VALUE_BYTES } from '../../../src/consumer/output-record.ts';
import { brokersFromEnv, testKafka, useGroup, useTopic } from '../helpers/kafka.ts';
import { collector, serveEnv, tinyBundle, type ServeTopics } from '../helpers/serve.ts';
import { ADAPTERS, inProcessService, portClientOrSkip } from './helpers.ts';

const HUGE = Buffer.from(JSON.stringify({ id: 'huge', text: 'x'.repeat(2 * 1024 * 1024) }));

const CASES = [
  { name: 'dead-letter topic with default configs', dlqConfigs: undefined, expectedBytes: DEAD_LETTER_MAX_VALUE_BYTES },
  { name: 'dead-letter topic refusing even the bounded copy (max.message.bytes 100000)', dlqConfigs: { 'max.message.bytes': '100000' }, expectedBytes: 1024 },
] as const;

for (const adapter of ADAPTERS) {
  describe(`dead letters on the ${adapter} adapter`, async () => {
    const probe = await portClientOrSkip(adapter, brokersFromEnv());
    const skip = typeof probe === 'string' ? probe : false;
    for (const c of CASES) {
      test(`a 2 MiB record, ${c.name}: bounded copy with size and sha256, the partition goes on`, { skip, timeout: 120_000 }, async (t) => {
        const kafka = testKafka(`dlq-${adapter}`);
        const topics: ServeTopics = {
          input: await useTopic(t, { prefix: 'dlq-in', client: kafka, configs: { 'max.message.bytes': '4194304' } }),
          output: await useTopic(t, { prefix: 'dlq-out', client: kafka }),
          dlq: await useTopic(t, { prefix: 'dlq-dlq', client: kafka, ...(c.dlqConfigs ? { configs: c.dlqConfigs } : {}) }),
          group: useGroup(t, 'dlq', kafka),
        };
        const producer = kafka.producer();
        await producer.connect();
        const normal = (from: number) => Array.from({ length: 10 }, (_, i) => ({ value: JSON.stringify({ id: `n${from + i}`, text: `comment ${from + i}` }) }));
        await producer.send({ topic: topics.input, messages: normal(0) });
        await producer.send({ topic: topics.input, messages: [{ key: 'big', value: HUGE, headers: { 'x-trace': 'big' } }] });
        await producer.send({ topic: topics.input, messages: normal(10) });
        await producer.disconnect();

        const svc = inProcessService(t, { ...serveEnv(topics, await tinyBundle()), LIVETAG_KAFKA_CLIENT: adapter });
        const out = await collector(kafka, [topics.output, topics.dlq]);
        try {
          await svc.start();
          await out.until(21, 60_000, '20 tags and 1 dead letter');
        } finally {
          await svc.stop();
          await out.stop();
        }
        const dead = out.received.filter((r) => r.topic === topics.dlq);
        const tags = out.received.filter((r) => r.topic === topics.output);
        assert.equal(dead.length, 1);
        assert.equal(tags.length, 20, 'the records behind the huge one are tagged');
        const [d] = dead;
        t.diagnostic(`${adapter}, ${c.name}: dead letter of ${d.value!.length} bytes for a ${HUGE.length}-byte original; headers ${JSON.stringify(Object.keys(d.headers))}`);
        assert.equal(d.headers[DLH.truncated], 'true');
        assert.equal(d.headers[DLH.originalSize], String(HUGE.length));
        assert.equal(d.headers[DLH.originalSha256], createHash('sha256').update(HUGE).digest('hex'));
        assert.equal(d.value!.length, c.expectedBytes);
        assert.deepEqual(d.value, HUGE.subarray(0, c.expectedBytes), 'a prefix of the original bytes');
        assert.equal(d.headers[DLH.code], 'LT_MSG_TOO_LARGE');
        assert.equal(d.headers['__connect.errors.topic'], topics.input);
        assert.equal(d.headers['__connect.errors.partition'], '0');
        assert.equal(d.headers['__connect.errors.offset'], '10');
        assert.equal(d.headers['__connect.errors.exception.class.name'], 'LivetagError');
        assert.ok(d.headers['__connect.errors.exception.message'].length > 0);
        assert.ok(Number(d.headers[DLH.sourceTimestamp]) > 0);
        assert.equal(d.headers['x-trace'], 'big', 'original headers kept');
      });
    }
  });
}

/** Under the raised input limit, yet its tags record (the input's fields and ~700 bytes more) is over the output topic's limit. */
const WIDE = Buffer.from(JSON.stringify({ id: 'wide', text: '这个多少钱', note: 'n'.repeat(150_000) }));
/** Each fits the output topic, two together do not: sent in one batch (same key, same chunk), the broker would refuse both. */
const MID = (i: number) => Buffer.from(JSON.stringify({ id: `mid${i}`, text: '这个多少钱', note: 'm'.repeat(80_000) }));

for (const adapter of ADAPTERS) {
  describe(`oversized tags records on the ${adapter} adapter`, async () => {
    const probe = await portClientOrSkip(adapter, brokersFromEnv());
    const skip = typeof probe === 'string' ? probe : false;
    test('an input whose tags record the output topic would refuse is dead-lettered whole as LT_OUTPUT_TOO_LARGE, records that fit only alone are sent alone; the partition goes on', { skip, timeout: 120_000 }, async (t) => {
      const kafka = testKafka(`wide-${adapter}`);
      const topics: ServeTopics = {
        input: await useTopic(t, { prefix: 'wide-in', client: kafka }),
        output: await useTopic(t, { prefix: 'wide-out', client: kafka, configs: { 'max.message.bytes': '150100' } }),
        dlq: await useTopic(t, { prefix: 'wide-dlq', client: kafka }),
        group: useGroup(t, 'wide', kafka),
      };
      const producer = kafka.producer();
      await producer.connect();
      const normal = (from: number) => Array.from({ length: 5 }, (_, i) => ({ value: JSON.stringify({ id: `n${from + i}`, text: `comment ${from + i}` }) }));
      await producer.send({ topic: topics.input, messages: [...normal(0), { key: 'wide', value: WIDE }, { key: 'room', value: MID(1) }, { key: 'room', value: MID(2) }, ...normal(5)] });
      await producer.disconnect();

      const svc = inProcessService(t, { ...serveEnv(topics, await tinyBundle()), LIVETAG_KAFKA_CLIENT: adapter, LIVETAG_MAX_MESSAGE_BYTES: '200000', LIVETAG_MAX_OUTPUT_BYTES: '150100' });
      const out = await collector(kafka, [topics.output, topics.dlq]);
      try {
        await svc.start();
        await out.until(13, 60_000, '12 tags and 1 dead letter');
      } finally {
        await svc.stop();
        await out.stop();
      }
      const dead = out.received.filter((r) => r.topic === topics.dlq);
      const tags = out.received.filter((r) => r.topic === topics.output);
      assert.equal(tags.length, 12, 'the records behind the wide one are tagged, the two mid-sized ones in sends of their own');
      assert.ok(tags.some((r) => JSON.parse(String(r.value)).id === 'mid2'));
      assert.equal(dead.length, 1);
      assert.equal(dead[0].headers[DLH.code], 'LT_OUTPUT_TOO_LARGE');
      assert.equal(dead[0].headers['__connect.errors.offset'], '5');
      assert.deepEqual(dead[0].value, WIDE, 'the whole input, under the dead-letter bound');
    });
  });
}
