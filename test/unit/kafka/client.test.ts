import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLivetagError } from '../../../src/common/errors.ts';
import { main } from '../../../src/cli/main.ts';
import { createKafkaClient, parseBrokers } from '../../../src/kafka/client.ts';

test('parseBrokers accepts KAFKA_BROKERS strings and lists, and refuses the rest', () => {
  assert.deepEqual(parseBrokers('127.0.0.1:9092'), ['127.0.0.1:9092']);
  assert.deepEqual(parseBrokers(' a:1, b:2 ,'), ['a:1', 'b:2']);
  assert.deepEqual(parseBrokers(['kafka-0.kafka:9093', '[::1]:9092']), ['kafka-0.kafka:9093', '[::1]:9092']);
  for (const bad of ['', ' , ', 'localhost', 'host:port', 'a:1,b']) {
    assert.throws(() => parseBrokers(bad), (err) => isLivetagError(err, 'LT_CONFIG_INVALID'), bad);
  }
});

test('createKafkaClient needs no broker until something connects; kafkajs is the default adapter', async () => {
  const client = await createKafkaClient({ connection: { brokers: '127.0.0.1:1', clientId: 'unit' } });
  assert.equal(client.name, 'kafkajs');
  assert.deepEqual(client.brokers, ['127.0.0.1:1']);
  assert.equal(typeof client.producer().send, 'function');
  assert.equal(typeof client.admin.ensureTopics, 'function');
  await assert.rejects(createKafkaClient({ connection: { brokers: 'nope', clientId: 'unit' } }), (err) => isLivetagError(err, 'LT_CONFIG_INVALID'));
});

test('livetag kafka: usage errors exit 2 before anything starts', async () => {
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    assert.equal(await main(['kafka', 'stop']), 2);
    assert.equal(await main(['kafka', 'start', '--port', 'abc']), 2);
    assert.equal(await main(['kafka', 'start', '--port', '70000']), 2);
    assert.equal(await main(['kafka', 'start', '--bogus']), 2);
  } finally {
    process.stderr.write = write;
  }
});
