import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../src/common/logger.ts';
import { loadServeConfig } from '../../src/consumer/config.ts';
import { DEAD_LETTER_HEADERS as DLH } from '../../src/consumer/output-record.ts';
import { createStreamService, type StreamService } from '../../src/consumer/stream-service.ts';
import { REPO_ROOT } from '../helpers/shared.ts';
import { testKafka, waitUntil } from './helpers/kafka.ts';
import { collector, serveEnv, serveTopics, tinyBundle, type Received } from './helpers/serve.ts';

const PHRASES = ['这个多少钱', 'M码还有吗', '什么时候发货', '有优惠券吗', '质量怎么样', '黑色还有货吗', '包邮吗', '主播好漂亮'];
const quiet = createLogger('error');

function service(env: Record<string, string>): StreamService {
  return createStreamService(loadServeConfig({}, env), quiet);
}

/** Three 1 MB comments, sent on their own: Kafka caps a record batch at the topic's max.message.bytes. */
const HUGE_AT = new Set([5005, 10005, 15005]);

/** The i-th input: one in ten invalid, each invalid kind in turn; emoji-only text is valid. */
function inputAt(i: number, key: string, seq: number): { value: Buffer; invalid?: string } {
  if (HUGE_AT.has(i)) return { value: Buffer.from(JSON.stringify({ text: '多'.repeat(350_000), room: key, seq })), invalid: 'LT_MSG_TOO_LARGE' };
  if (i % 10 === 5) {
    const kinds: [Buffer, string][] = [
      [Buffer.from('{"text": "unterminated'), 'LT_MSG_BAD_JSON'],
      [Buffer.concat([Buffer.from('{"text":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]), 'LT_MSG_BAD_UTF8'],
      [Buffer.from(JSON.stringify({ room: key, seq })), 'LT_MSG_INVALID'],
      [Buffer.from(JSON.stringify({ text: 12345, room: key, seq })), 'LT_MSG_INVALID'],
      [Buffer.from(JSON.stringify({ text: '', room: key, seq })), 'LT_MSG_EMPTY_TEXT'],
      [Buffer.from(JSON.stringify({ text: '大'.repeat(30_000), room: key, seq })), 'LT_MSG_TOO_LARGE'],
    ];
    const [value, invalid] = kinds[Math.floor(i / 10) % kinds.length];
    return { value, invalid };
  }
  const text = i % 10 === 7 ? '😀👍🔥'.repeat(1 + (i % 3)) : `${PHRASES[i % PHRASES.length]}${i}`;
  return { value: Buffer.from(JSON.stringify({ text, room: key, seq, id: `m${i}` })) };
}

test('20,000 messages with one in ten invalid: every valid one tagged, every invalid one dead-lettered, none lost, per-key order kept', { timeout: 600_000 }, async (t) => {
  const TOTAL = 20_000;
  const KEYS = 40;
  const client = testKafka('serve-bulk');
  // The 1 MB message must fit the input and dead-letter topics.
  const topics = await serveTopics(t, client, 4, { 'max.message.bytes': '2097152' });
  const expectedInvalid = new Map<string, string>();
  const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const seqByKey = new Map<string, number>();
  for (let start = 0; start < TOTAL; start += 1000) {
    const messages = [];
    for (let i = start; i < start + 1000; i++) {
      const key = `room-${i % KEYS}`;
      const seq = seqByKey.get(key) ?? 0;
      seqByKey.set(key, seq + 1);
      const { value, invalid } = inputAt(i, key, seq);
      if (invalid) expectedInvalid.set(`${key}#${seq}`, invalid);
      const message = { key, value, headers: { 'x-trace': `t${i}`, 'x-seq': String(seq) } };
      if (!HUGE_AT.has(i)) {
        messages.push(message);
        continue;
      }
      // Per-key order: flush what precedes it, then the huge one alone.
      await producer.send({ topic: topics.input, messages: messages.splice(0), acks: -1 });
      await producer.send({ topic: topics.input, messages: [message], acks: -1 });
    }
    await producer.send({ topic: topics.input, messages, acks: -1 });
  }
  await producer.disconnect();

  // Two sessions of one thread each: the pooled path under the same checks as the default.
  const svc = service(serveEnv(topics, await tinyBundle(), { LIVETAG_BATCH_MAX_WAIT_MS: '2', LIVETAG_THREADS: '2', LIVETAG_SESSIONS: '2' }));
  const out = await collector(client, [topics.output, topics.dlq]);
  const t0 = Date.now();
  try {
    await svc.start();
    await out.until(TOTAL, 480_000, `${TOTAL} output + dead-letter records`);
    const seconds = (Date.now() - t0) / 1000;
    t.diagnostic(`${TOTAL} messages through the service in ${seconds.toFixed(1)} s (${(TOTAL / seconds).toFixed(0)} msg/s, tiny model)`);
  } finally {
    await svc.stop();
    await out.stop();
  }

  const tags = out.received.filter((r) => r.topic === topics.output);
  const dead = out.received.filter((r) => r.topic === topics.dlq);
  assert.equal(dead.length, expectedInvalid.size, 'dead-letter count');
  assert.equal(tags.length, TOTAL - expectedInvalid.size, 'output count');

  for (const d of dead) {
    const where = `${d.key}#${d.headers['x-seq']}`;
    assert.equal(d.headers[DLH.code], expectedInvalid.get(where), where);
    assert.ok(d.headers[DLH.reason].length > 0);
    assert.equal(d.headers[DLH.sourceTopic], topics.input);
    assert.ok(d.headers['x-trace'], 'original headers kept');
    assert.ok(d.value && d.value.length > 0, 'original bytes kept');
  }
  const codes = new Set(dead.map((d) => d.headers[DLH.code]));
  assert.deepEqual([...codes].sort(), ['LT_MSG_BAD_JSON', 'LT_MSG_BAD_UTF8', 'LT_MSG_EMPTY_TEXT', 'LT_MSG_INVALID', 'LT_MSG_TOO_LARGE']);
  const big = dead.filter((d) => Number(d.headers[DLH.originalSize] ?? 0) > 1_000_000);
  assert.equal(big.length, HUGE_AT.size, 'the 1 MB originals are dead-lettered as bounded copies');
  for (const d of big) assert.ok(d.headers[DLH.truncated] === 'true' && d.value!.length < 1_000_000 && /^[0-9a-f]{64}$/.test(d.headers[DLH.originalSha256]));

  // Per key: outputs and dead letters together cover seq 0..n-1 exactly once, and outputs keep key order.
  const byKey = new Map<string, { seq: number; r: Received }[]>();
  for (const r of tags) {
    const msg = JSON.parse(r.value!.toString('utf8'));
    assert.equal(r.key, msg.room);
    assert.ok(Array.isArray(msg.tags));
    assert.equal(msg.source.topic, topics.input);
    assert.ok(msg.model.version && msg.timing.classifiedAt >= msg.timing.producedAt);
    // The split of the latency: Kafka's share up to fetchedAt, livetag's after it (one host's clock here).
    assert.ok(msg.timing.producedAt <= msg.timing.fetchedAt && msg.timing.fetchedAt <= msg.timing.classifiedAt, JSON.stringify(msg.timing));
    assert.ok(r.headers['x-trace'], 'headers pass through');
    const list = byKey.get(r.key!) ?? [];
    list.push({ seq: msg.seq, r });
    byKey.set(r.key!, list);
  }
  for (const [key, list] of byKey) {
    const seqs = list.map((x) => x.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `order of ${key}`);
    const all = new Set([...seqs, ...dead.filter((d) => d.key === key).map((d) => Number(d.headers['x-seq']))]);
    assert.equal(all.size, seqByKey.get(key), `every message of ${key} accounted for once`);
  }
  const emoji = tags.map((r) => JSON.parse(r.value!.toString('utf8'))).filter((m) => /^(😀👍🔥)+$/.test(m.text));
  assert.ok(emoji.length > 0, 'emoji-only comments are classified');
});

test('two instances share the partitions; when one leaves the other takes over; nothing lost', { timeout: 300_000 }, async (t) => {
  const client = testKafka('serve-pair');
  const topics = await serveTopics(t, client, 4);
  const bundle = await tinyBundle();
  const env = serveEnv(topics, bundle);
  const a = service(env);
  const b = service({ ...env, LIVETAG_TRANSACTIONAL_ID: `${env.LIVETAG_TRANSACTIONAL_ID}-b` });
  const producer = client.producer();
  await producer.connect();
  const send = async (from: number, to: number): Promise<void> => {
    const messages = [];
    for (let i = from; i < to; i++) messages.push({ key: `k${i % 16}`, value: JSON.stringify({ text: `${PHRASES[i % 8]}${i}`, id: `m${i}` }) });
    await producer.send({ topic: topics.input, messages });
  };
  const out = await collector(client, [topics.output]);
  try {
    await a.start();
    await b.start();
    await waitUntil(() => a.ready && b.ready, 60_000, 'both instances ready');
    await send(0, 2000);
    await out.until(2000, 120_000, 'first 2000 outputs');
    const consumed = async (s: StreamService) => (await s.metrics.consumed.get()).values.reduce((x, v) => x + v.value, 0);
    const [ca, cb] = [await consumed(a), await consumed(b)];
    t.diagnostic(`instance a consumed ${ca}, instance b ${cb}`);
    assert.ok(ca > 0 && cb > 0, 'both instances took part');

    await a.stop();
    await send(2000, 4000);
    await out.until(4000, 120_000, 'all 4000 outputs after a left');
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await producer.disconnect();
    await out.stop();
  }
  const ids = new Set(out.received.map((r) => JSON.parse(r.value!.toString('utf8')).id));
  for (let i = 0; i < 4000; i++) assert.ok(ids.has(`m${i}`), `m${i} lost`);
  t.diagnostic(`duplicates after the hand-over: ${out.received.length - ids.size}`);
});

test('a bad configuration prints every problem and exits non-zero', () => {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/livetag.js'), 'serve'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      LIVETAG_HTTP_PORT: 'eighty',
      LIVETAG_DELIVERY: 'at-most-once',
      LIVETAG_BATCH_MAX_SIZE: '0',
      LIVETAG_KAFKA_SASL_MECHANISM: 'plain',
      LIVETAG_INPUT_TOPIC: 'same',
      LIVETAG_OUTPUT_TOPIC: 'same',
    },
  });
  assert.equal(r.status, 1);
  for (const needle of ['LIVETAG_HTTP_PORT="eighty"', 'LIVETAG_DELIVERY="at-most-once"', 'LIVETAG_BATCH_MAX_SIZE="0"', 'LIVETAG_KAFKA_SASL_USERNAME', 'must differ', '5 problems']) {
    assert.ok(r.stderr.includes(needle), `stderr lacks ${needle}:\n${r.stderr}`);
  }
});
