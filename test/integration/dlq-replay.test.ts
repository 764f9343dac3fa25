import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/common/logger.ts';
import { loadServeConfig } from '../../src/consumer/config.ts';
import { DEAD_LETTER_HEADERS as DLH, OutputMessageSchema } from '../../src/consumer/output-record.ts';
import { createStreamService } from '../../src/consumer/stream-service.ts';
import { REPLAYED_FROM_HEADER } from '../../src/dlq/dead-letters.ts';
import { deadLetterStats, replayDeadLetters } from '../../src/dlq/replay.ts';
import { createKafkaClient } from '../../src/kafka/client.ts';
import { loadKafkaConnection } from '../../src/kafka/connection.ts';
import { brokersFromEnv, testKafka, uniqueName } from './helpers/kafka.ts';
import { withAdmin } from '../helpers/kafkajs.ts';
import { collector, serveEnv, serveTopics, tinyBundle } from './helpers/serve.ts';

const quiet = createLogger('error');
const N = 60;

test('dead letters from a wrong mapping come back once each after the fix; truncated and filtered ones stay', { timeout: 300_000 }, async (t) => {
  const kafkajs = testKafka('dlq-replay');
  const topics = await serveTopics(t, kafkajs, 2);
  const bundle = await tinyBundle();
  const producer = kafkajs.producer();
  await producer.connect();
  // The platform sends {"content": …}; the service still expects /text: all of it is dead-lettered.
  const messages = Array.from({ length: N }, (_, i) => ({ key: `r${i % 4}`, value: JSON.stringify({ content: `什么时候发货${i}`, id: `c${i}` }), headers: { 'x-origin': `o${i}` } }));
  await producer.send({ topic: topics.input, messages: [...messages, { key: 'r0', value: '{broken' }], acks: -1 });
  const out = await collector(kafkajs, [topics.output, topics.dlq]);
  const first = createStreamService(loadServeConfig({}, serveEnv(topics, bundle)), quiet);
  try {
    await first.start();
    await out.until(N + 1, 60_000, 'dead letters');
  } finally {
    await first.stop();
  }
  // A truncated dead letter (a prefix only) must never be replayed.
  await producer.send({ topic: topics.dlq, messages: [{ key: 'r0', value: '{"content":"cut', headers: { [DLH.code]: 'LT_MSG_INVALID', [DLH.sourceTopic]: topics.input, [DLH.truncated]: 'true' } }], acks: -1 });
  await producer.disconnect();

  const client = await createKafkaClient({ connection: { ...loadKafkaConnection({}, { LIVETAG_KAFKA_BROKERS: brokersFromEnv() }), clientId: 'dlq-test' }, logLevel: 'nothing' });
  const stats = await deadLetterStats({ client, from: topics.dlq, idleTimeoutMs: 10_000 });
  assert.deepEqual({ total: stats.total, byCode: stats.byCode, truncated: stats.truncated, complete: stats.complete }, { total: N + 2, byCode: { LT_MSG_INVALID: N + 1, LT_MSG_BAD_JSON: 1 }, truncated: 1, complete: true });
  assert.deepEqual(stats.bySourceTopic, { [topics.input]: N + 2 });

  const group = uniqueName('dlq-replay');
  const replay = (dryRun: boolean) => replayDeadLetters({ client, from: topics.dlq, codes: ['LT_MSG_INVALID'], dryRun, groupId: group, idleTimeoutMs: 10_000 });
  const dry = await replay(true);
  assert.deepEqual({ ...dry, byTopic: undefined }, { read: N + 2, replayed: N, byTopic: undefined, skippedTruncated: 1, skippedFilter: 1, skippedNoTarget: 0, skippedReplayed: 0, resetPartitions: 0, complete: true, dryRun: true });

  // The fix: the service reads /content now. Replay, twice: the second run finds nothing new.
  const fixed = createStreamService(loadServeConfig({}, serveEnv(topics, bundle, { LIVETAG_INPUT_TEXT_FIELD: '/content' })), quiet);
  try {
    await fixed.start();
    const done = await replay(false);
    assert.equal(done.replayed, N);
    assert.deepEqual(done.byTopic, { [topics.input]: N });
    assert.equal(done.skippedTruncated, 1);
    const again = await replay(false);
    assert.equal(again.read, 0, 'a second replay starts after the first');
    assert.equal(again.replayed, 0);
    // The filtered runs passed over the LT_MSG_BAD_JSON dead letter without taking it: a run of all codes still finds it.
    const rest = await replayDeadLetters({ client, from: topics.dlq, codes: [], dryRun: true, groupId: group, idleTimeoutMs: 10_000 });
    assert.deepEqual([rest.read, rest.replayed, rest.skippedReplayed, rest.skippedTruncated], [N + 2, 1, N, 1]);
    await out.until(N + 2 + N, 60_000, 'tags of the replayed records');
    await new Promise((r) => setTimeout(r, 1500)); // anything extra would show up now
  } finally {
    await fixed.stop();
    await out.stop();
  }
  const tags = out.received.filter((r) => r.topic === topics.output);
  assert.equal(tags.length, N, 'every dead letter back once, none twice');
  assert.deepEqual(new Set(tags.map((r) => OutputMessageSchema.parse(JSON.parse(r.value!.toString('utf8'))).id)), new Set(messages.map((_, i) => `c${i}`)));
  for (const r of tags) {
    assert.match(r.headers[REPLAYED_FROM_HEADER], new RegExp(`^${topics.dlq}/\\d+/\\d+$`));
    assert.match(r.headers['x-origin'], /^o\d+$/, 'the original headers come back');
    assert.equal(r.headers[DLH.code], undefined, 'dead-letter headers are removed');
  }
  const dlqAfter = out.received.filter((r) => r.topic === topics.dlq);
  assert.equal(dlqAfter.length, N + 2, 'no new dead letters after the fix (the first run\'s and the truncated one)');
  const { groups } = await withAdmin(kafkajs, (admin) => admin.listGroups());
  const ids = groups.map((g) => g.groupId);
  assert.ok(ids.includes(`${group}.code.LT_MSG_INVALID`), 'the replay progress group stays (the next run starts after it)');
  assert.deepEqual(ids.filter((id) => id.startsWith(`${group}-reader-`)), [], 'each run deletes its reader group');
});
