import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { isLivetagError } from '../../src/common/errors.ts';
import { createLogger } from '../../src/common/logger.ts';
import { loadServeConfig } from '../../src/consumer/config.ts';
import { createStreamService, type StreamService } from '../../src/consumer/stream-service.ts';
import { testKafka, waitUntil } from './helpers/kafka.ts';
import { collector, committedOffsets, exited, serveEnv, serveTopics, spawnServe, tinyBundle, type KafkaClient, type ServeTopics } from './helpers/serve.ts';

const PHRASES = ['这个多少钱', 'M码还有吗', '什么时候发货', '有优惠券吗', '质量怎么样'];

async function produce(client: KafkaClient, topic: string, from: number, to: number): Promise<void> {
  const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let start = from; start < to; start += 1000) {
      const messages = [];
      for (let i = start; i < Math.min(to, start + 1000); i++) {
        messages.push({ key: `room-${i % 24}`, value: JSON.stringify({ text: `${PHRASES[i % PHRASES.length]}${i}`, id: `m${i}` }) });
      }
      await producer.send({ topic, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
}

function idsOf(received: { value: Buffer | null }[]): string[] {
  return received.map((r) => JSON.parse(r.value!.toString('utf8')).id as string);
}

/** Starts serve, SIGKILLs it once some output exists, restarts it, and returns every output record. */
async function killAndRestart(t: TestContext, client: KafkaClient, topics: ServeTopics, total: number, env: Record<string, string>) {
  const out = await collector(client, [topics.output], { readUncommitted: false });
  try {
    const first = spawnServe(t, env);
    await out.until(total / 5, 120_000, 'first outputs before the kill');
    first.kill('SIGKILL');
    const { signal } = await exited(first);
    assert.equal(signal, 'SIGKILL');
    const before = out.received.length;
    const second = spawnServe(t, env);
    await waitUntil(() => new Set(idsOf(out.received)).size >= total, 240_000, `all ${total} ids after the restart`);
    // Give a late duplicate time to show up before counting.
    await new Promise((r) => setTimeout(r, 2000));
    second.kill('SIGTERM');
    assert.equal((await exited(second)).code, 0, second.logs.join('\n'));
    return { received: out.received.slice(), before };
  } finally {
    await out.stop();
  }
}

test('SIGKILL mid-stream then restart, at-least-once: no message lost, duplicates counted', { timeout: 400_000 }, async (t) => {
  const TOTAL = 6000;
  const client = testKafka('serve-kill');
  const topics = await serveTopics(t, client, 3);
  await produce(client, topics.input, 0, TOTAL);
  const env = serveEnv(topics, await tinyBundle(), { LIVETAG_BATCH_MAX_SIZE: '16' });
  const { received, before } = await killAndRestart(t, client, topics, TOTAL, env);
  const ids = idsOf(received);
  const unique = new Set(ids);
  for (let i = 0; i < TOTAL; i++) assert.ok(unique.has(`m${i}`), `m${i} lost`);
  t.diagnostic(`outputs before the kill: ${before}; total ${ids.length} for ${TOTAL} messages: ${ids.length - unique.size} duplicates (at-least-once redelivery of uncommitted work)`);
});

test('SIGKILL mid-stream then restart, exactly-once: a read_committed reader sees each message exactly once', { timeout: 400_000 }, async (t) => {
  const TOTAL = 6000;
  const client = testKafka('serve-kill-eos');
  const topics = await serveTopics(t, client, 3);
  await produce(client, topics.input, 0, TOTAL);
  const env = serveEnv(topics, await tinyBundle(), { LIVETAG_DELIVERY: 'exactly-once', LIVETAG_BATCH_MAX_SIZE: '16' });
  const { received, before } = await killAndRestart(t, client, topics, TOTAL, env);
  const ids = idsOf(received);
  t.diagnostic(`outputs before the kill: ${before}; read_committed saw ${ids.length} records for ${TOTAL} messages`);
  assert.equal(new Set(ids).size, TOTAL);
  assert.equal(ids.length, TOTAL, 'no duplicates under exactly-once');
});

/** SIGTERM, then exit code 0 within `withinMs`. */
async function terminatedCleanly(t: TestContext, serve: ReturnType<typeof spawnServe>, withinMs: number): Promise<void> {
  const t0 = Date.now();
  serve.kill('SIGTERM');
  const { code } = await exited(serve);
  const took = Date.now() - t0;
  t.diagnostic(`exited ${code} ${took} ms after SIGTERM`);
  assert.equal(code, 0, serve.logs.slice(-20).join('\n'));
  assert.ok(took < withinMs, `took ${took} ms`);
}

test('SIGTERM drains and exits within the deadline with everything it published committed', { timeout: 300_000 }, async (t) => {
  const TOTAL = 20_000;
  const DEADLINE_MS = 15_000;
  const client = testKafka('serve-term');
  const topics = await serveTopics(t, client, 3);
  await produce(client, topics.input, 0, TOTAL);
  const out = await collector(client, [topics.output]);
  try {
    const serve = spawnServe(t, serveEnv(topics, await tinyBundle(), { LIVETAG_DRAIN_TIMEOUT_MS: String(DEADLINE_MS) }));
    await out.until(2000, 120_000, 'outputs before SIGTERM');
    await terminatedCleanly(t, serve, DEADLINE_MS);
    assert.ok(serve.logs.some((l) => l.includes('"drained":true')));
    // Everything published is committed, and nothing is committed unpublished.
    await new Promise((r) => setTimeout(r, 1500));
    const committed = await committedOffsets(client, topics.group, topics.input);
    const published = new Map<number, Set<number>>();
    for (const r of out.received) {
      const src = JSON.parse(r.value!.toString('utf8')).source;
      const set = published.get(src.partition) ?? new Set<number>();
      set.add(Number(src.offset));
      published.set(src.partition, set);
    }
    let total = 0;
    for (const [partition, next] of committed) {
      const offsets = published.get(partition) ?? new Set();
      assert.equal(offsets.size, Math.max(0, next), `partition ${partition}: ${offsets.size} published, committed up to ${next}`);
      for (let o = 0; o < next; o++) assert.ok(offsets.has(o), `partition ${partition} offset ${o} committed but not published`);
      total += Math.max(0, next);
    }
    t.diagnostic(`${total} of ${TOTAL} processed and committed before exit`);
    assert.ok(total >= 2000);
  } finally {
    await out.stop();
  }
});

test('SIGTERM while the model warms up ends the start there: no group join, a clean exit long before the warm-up would end', { timeout: 120_000 }, async (t) => {
  const client = testKafka('serve-term-start');
  const topics = await serveTopics(t, client, 1);
  // A minute of warm-up: a start that ran on through it would join the group, then leave it (two rebalances for the rest of the group).
  const serve = spawnServe(t, serveEnv(topics, await tinyBundle(), { LIVETAG_WARMUP_MS: '60000' }));
  await waitUntil(() => serve.logs.some((l) => l.includes('"msg":"loading the model"')), 60_000, 'the start reached the model');
  await terminatedCleanly(t, serve, 20_000);
  assert.ok(serve.logs.some((l) => l.includes('"msg":"signalled while starting; stopping"')), serve.logs.join('\n'));
  assert.ok(!serve.logs.some((l) => l.includes('"msg":"serving"')), 'it never served');
  // A group that a member ever joined would be Empty now, with a protocol type; one never joined is Dead.
  const admin = client.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([topics.group]);
    assert.deepEqual(groups.map((g) => [g.state, g.protocolType]), [['Dead', '']], JSON.stringify(groups));
  } finally {
    await admin.disconnect();
  }
});

test('a stop while the consumer joins the group (in process, from the join\'s own log line) ends the start; the member leaves and none stays', { timeout: 120_000 }, async (t) => {
  // kafkajs logs the join inside run(), before its runner counts as running: a disconnect there used to leave the member in the group.
  const client = testKafka('serve-stop-join');
  const topics = await serveTopics(t, client, 1);
  let svc!: StreamService;
  let stopped: Promise<{ drained: boolean }> | undefined;
  const logger = createLogger('info', {}, (line) => {
    if (line.includes('"msg":"joined consumer group"')) stopped ??= svc.stop();
  });
  svc = createStreamService(loadServeConfig({}, serveEnv(topics, await tinyBundle(), { LIVETAG_WARMUP_MS: '0' })), logger);
  await assert.rejects(svc.start(), (err: unknown) => isLivetagError(err, 'LT_STOPPED'), 'the start ends with LT_STOPPED');
  assert.ok(stopped, 'the stop came from the join');
  assert.deepEqual(await stopped, { drained: true });
  const admin = client.admin();
  await admin.connect();
  try {
    // A member left behind would keep the group Stable with one member.
    const { groups } = await admin.describeGroups([topics.group]);
    assert.deepEqual(groups.map((g) => [g.state, g.members.length]), [['Empty', 0]], JSON.stringify(groups));
  } finally {
    await admin.disconnect();
  }
});
