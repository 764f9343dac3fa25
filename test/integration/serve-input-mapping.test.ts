import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { createLogger } from '../../src/common/logger.ts';
import { loadServeConfig } from '../../src/consumer/config.ts';
import { DEAD_LETTER_HEADERS as DLH, OutputMessageSchema } from '../../src/consumer/output-record.ts';
import { createStreamService } from '../../src/consumer/stream-service.ts';
import { testKafka } from './helpers/kafka.ts';
import { collector, serveEnv, serveTopics, tinyBundle, type Received } from './helpers/serve.ts';

const quiet = createLogger('error');
type Message = { key: string; value: string; headers?: Record<string, string> };

/** Runs a service with `extra` settings over `messages`; returns what reached the output and dead-letter topics. */
async function through(t: TestContext, name: string, extra: Record<string, string>, messages: Message[]): Promise<{ tags: Received[]; dead: Received[] }> {
  const client = testKafka(name);
  const topics = await serveTopics(t, client, 2);
  const producer = client.producer();
  await producer.connect();
  await producer.send({ topic: topics.input, messages, acks: -1 });
  await producer.disconnect();
  const svc = createStreamService(loadServeConfig({}, serveEnv(topics, await tinyBundle(), extra)), quiet);
  const out = await collector(client, [topics.output, topics.dlq]);
  try {
    await svc.start();
    await out.until(messages.length, 60_000, `${messages.length} records out`);
  } finally {
    await svc.stop();
    await out.stop();
  }
  return { tags: out.received.filter((r) => r.topic === topics.output), dead: out.received.filter((r) => r.topic === topics.dlq) };
}

const parse = (r: Received) => OutputMessageSchema.parse(JSON.parse(r.value!.toString('utf8')));

test('a platform sending {"content": …}: LIVETAG_INPUT_TEXT_FIELD=/content tags every record', { timeout: 120_000 }, async (t) => {
  const messages = Array.from({ length: 20 }, (_, i) => ({ key: `r${i % 3}`, value: JSON.stringify({ content: `这个多少钱${i}`, id: `c${i}`, channel: 'live' }) }));
  const { tags, dead } = await through(t, 'map-content', { LIVETAG_INPUT_TEXT_FIELD: '/content' }, messages);
  assert.equal(dead.length, 0);
  assert.equal(tags.length, 20);
  const out = tags.map(parse);
  assert.deepEqual(out.map((m) => m.id).sort(), messages.map((_, i) => `c${i}`).sort());
  for (const m of out) {
    assert.match(m.text, /^这个多少钱\d+$/);
    assert.equal(m.channel, 'live', 'top-level fields pass through with `*`');
  }
});

test('a nested envelope: text, id and named passthrough fields by pointer; a missing field is dead-lettered naming its pointer', { timeout: 120_000 }, async (t) => {
  const env = { LIVETAG_INPUT_TEXT_FIELD: '/payload/msg/text', LIVETAG_INPUT_ID_FIELD: '/payload/msg/id', LIVETAG_PASSTHROUGH_FIELDS: '/payload/room,viewer=/payload/user/name' };
  const good = Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: JSON.stringify({ payload: { msg: { text: `M码还有吗${i}`, id: i }, room: 'r7', user: { name: `u${i}` }, internal: 'x' } }) }));
  const bad = { key: 'k', value: JSON.stringify({ payload: { msg: { body: 'no text here' } } }) };
  const { tags, dead } = await through(t, 'map-nested', env, [...good, bad]);
  assert.equal(tags.length, 10);
  for (const m of tags.map(parse)) {
    assert.equal(typeof m.id, 'number');
    assert.equal(m.room, 'r7');
    assert.equal(m.viewer, `u${m.id}`);
    assert.equal(m.internal, undefined, 'only the listed fields pass through');
    assert.equal(m.payload, undefined);
  }
  assert.equal(dead.length, 1);
  assert.equal(dead[0].headers[DLH.code], 'LT_MSG_INVALID');
  assert.match(dead[0].headers[DLH.reason], /^\/payload\/msg\/text: not found/);
});

test('CloudEvents, structured and binary, with the default mapping; traceparent is carried on to the output', { timeout: 120_000 }, async (t) => {
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const structured = Array.from({ length: 5 }, (_, i) => ({
    key: 'ce',
    value: JSON.stringify({ specversion: '1.0', id: `s${i}`, source: '/shop/42', type: 'com.shop.comment.created', datacontenttype: 'application/json', data: { text: `有优惠券吗${i}`, room: 'r1' } }),
    headers: { 'content-type': 'application/cloudevents+json; charset=utf-8', traceparent },
  }));
  const binary = Array.from({ length: 5 }, (_, i) => ({
    key: 'ce',
    value: JSON.stringify({ text: `包邮吗${i}` }),
    headers: { ce_specversion: '1.0', ce_id: `b${i}`, ce_source: '/shop/43', ce_type: 'com.shop.comment.created', 'content-type': 'application/json' },
  }));
  const { tags, dead } = await through(t, 'map-ce', {}, [...structured, ...binary]);
  assert.equal(dead.length, 0);
  assert.equal(tags.length, 10);
  const byId = new Map(tags.map((r) => [String(parse(r).id), r]));
  for (let i = 0; i < 5; i++) {
    const s = parse(byId.get(`s${i}`)!);
    assert.equal(s.text, `有优惠券吗${i}`);
    assert.equal(s.room, 'r1');
    assert.deepEqual(s.cloudevent, { specversion: '1.0', id: `s${i}`, source: '/shop/42', type: 'com.shop.comment.created' });
    // Tracing is off here (no OTEL_EXPORTER_OTLP_ENDPOINT): the context passes through unchanged.
    assert.equal(byId.get(`s${i}`)!.headers.traceparent, traceparent);
    const b = parse(byId.get(`b${i}`)!);
    assert.equal(b.text, `包邮吗${i}`);
    assert.equal((b.cloudevent as { source: string }).source, '/shop/43');
  }
});
