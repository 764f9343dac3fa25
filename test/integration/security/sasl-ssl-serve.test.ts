/**
 * `livetag serve`, `livetag models promote` and `livetag train --labels-topic`
 * on a SASL_SSL broker with ACLs, configured exactly by the env file
 * `livetag kafka start --secure` writes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { withAdmin } from '../../helpers/kafkajs.ts';
import { tempDir } from '../../helpers/shared.ts';
import { tinyRows } from '../../unit/training/fixtures.ts';
import { uniqueName, waitUntil } from '../helpers/kafka.ts';
import { collector, exited, spawnServe, tinyBundle } from '../helpers/serve.ts';
import { adminTopic, NO_BROKER, runLivetag, startSecureBroker, type Secured } from './secure-broker.ts';

let s: Secured | undefined;
const lines: string[] = [];
before(async () => {
  if (!NO_BROKER) s = await startSecureBroker((m) => lines.push(m));
}, { timeout: 300_000 });
after(async () => {
  await s?.broker.stop();
});

async function serveEnvFor(t: Parameters<typeof adminTopic>[0], sec: Secured, input?: string): Promise<Record<string, string>> {
  return {
    ...sec.serviceEnv,
    LIVETAG_INPUT_TOPIC: input ?? (await adminTopic(t, sec.admin, 'livetag.sec-in', 2)),
    LIVETAG_OUTPUT_TOPIC: await adminTopic(t, sec.admin, 'livetag.sec-out', 2),
    LIVETAG_DLQ_TOPIC: await adminTopic(t, sec.admin, 'livetag.sec-dlq', 2),
    LIVETAG_GROUP_ID: uniqueName('livetag-sec'),
    LIVETAG_TRANSACTIONAL_ID: uniqueName('livetag-txn'),
    LIVETAG_MODEL: await tinyBundle(),
    LIVETAG_HTTP_PORT: '0',
    LIVETAG_HTTP_HOST: '127.0.0.1',
    LIVETAG_THREADS: '1',
  };
}

test('serve round trip over SASL_SSL as the ACL-limited service user', { timeout: 300_000, skip: NO_BROKER }, async (t) => {
  const sec = s!;
  t.diagnostic(lines.join('\n'));
  const env = await serveEnvFor(t, sec);
  const N = 200;
  const producer = sec.admin.producer();
  await producer.connect();
  await producer.send({ topic: env.LIVETAG_INPUT_TOPIC!, messages: Array.from({ length: N }, (_, i) => ({ key: `room-${i % 7}`, value: JSON.stringify({ text: `这个多少钱${i}`, id: `m${i}` }) })) });
  await producer.disconnect();
  const out = await collector(sec.admin, [env.LIVETAG_OUTPUT_TOPIC!]);
  const serve = spawnServe(t, env);
  try {
    await waitUntil(() => out.received.length >= N || serve.exitCode !== null, 180_000, `${N} tagged records`);
    assert.equal(serve.exitCode, null, `serve exited early:\n${serve.logs.slice(-20).join('\n')}`);
    const ids = new Set(out.received.map((r) => (JSON.parse(r.value!.toString('utf8')) as { id?: string }).id));
    assert.equal(ids.size, N, 'every comment tagged once');
    t.diagnostic(`${N}/${N} tagged over SASL_SSL (SCRAM-SHA-512, User:livetag)`);
  } finally {
    await out.stop();
    serve.kill('SIGTERM');
    await exited(serve);
  }
});

const confluentLoads = await import('@confluentinc/kafka-javascript').then(() => true, () => false);
for (const client of ['kafkajs', 'confluent'] as const) {
  const skip = NO_BROKER || (client === 'confluent' && !confluentLoads && '@confluentinc/kafka-javascript did not build here');
  test(`${client}: a wrong password exits non-zero quickly with LT_KAFKA_AUTH and never prints a secret`, { timeout: 180_000, skip }, async (t) => {
    const sec = s!;
    const env = { ...(await serveEnvFor(t, sec)), LIVETAG_KAFKA_CLIENT: client };
    const wrong = `wrong-${uniqueName('pw')}`;
    const file = join(tempDir(), 'password');
    fs.writeFileSync(file, wrong);
    const serve = spawnServe(t, { ...env, LIVETAG_KAFKA_SASL_PASSWORD_FILE: file });
    const t0 = Date.now();
    const { code } = await exited(serve);
    const ms = Date.now() - t0;
    const output = serve.logs.join('\n');
    t.diagnostic(`exit ${code} after ${ms} ms: ${serve.logs.filter((l) => /LT_KAFKA_AUTH/.test(l)).slice(0, 1).join('')}`);
    assert.notEqual(code, 0);
    // Under librdkafka's 30 s metadata timeout, which is what the confluent client took before its login check.
    assert.ok(ms < 25_000, `exited in ${ms} ms`);
    assert.match(output, /LT_KAFKA_AUTH/);
    assert.ok(!output.includes(wrong), 'the wrong password is not printed');
    assert.ok(!output.includes(sec.security.service.password), 'the real password is not printed');
    assert.ok(!output.includes(sec.security.admin.password), 'the admin password is not printed');
  });
}

test('a topic the ACLs deny exits non-zero with LT_KAFKA_DENIED naming it', { timeout: 180_000, skip: NO_BROKER }, async (t) => {
  const sec = s!;
  const denied = await adminTopic(t, sec.admin, 'denied-in');
  const env = await serveEnvFor(t, sec, denied);
  const serve = spawnServe(t, env);
  const t0 = Date.now();
  const { code } = await exited(serve);
  const ms = Date.now() - t0;
  const output = serve.logs.join('\n');
  t.diagnostic(`exit ${code} after ${ms} ms: ${serve.logs.filter((l) => /LT_KAFKA_DENIED/.test(l)).slice(0, 1).join('')}`);
  assert.notEqual(code, 0);
  assert.ok(ms < 90_000, `exited in ${ms} ms`);
  assert.match(output, /LT_KAFKA_DENIED/);
  assert.ok(!output.includes(sec.security.service.password));
});

test('a consumer group the ACLs deny: LT_KAFKA_DENIED naming the group, final (liveness fails), not a retried LT_KAFKA', { timeout: 180_000, skip: NO_BROKER }, async (t) => {
  const sec = s!;
  const group = uniqueName('other-serve');
  const serve = spawnServe(t, { ...(await serveEnvFor(t, sec)), LIVETAG_GROUP_ID: group });
  const t0 = Date.now();
  // The consumer joins after start, so this is a crash, not a start failure:
  // final (no restart loop), and liveness fails so Kubernetes restarts the pod.
  await waitUntil(() => serve.logs.some((l) => /LT_KAFKA_DENIED/.test(l)), 90_000, 'an LT_KAFKA_DENIED log line');
  const ms = Date.now() - t0;
  const line = serve.logs.find((l) => /LT_KAFKA_DENIED/.test(l))!;
  t.diagnostic(`after ${ms} ms: ${line.slice(0, 300)}`);
  assert.match(line, /will not restart/);
  assert.match(line, new RegExp(`group ${group}: .*[Aa]uthoriz`));
  assert.ok(!serve.logs.some((l) => /restarting/.test(l)), serve.logs.join('\n'));
  assert.ok(!serve.logs.join('\n').includes(sec.security.service.password));
});

test('models promote announces on the secured broker with the same settings', { timeout: 180_000, skip: NO_BROKER }, async (t) => {
  const sec = s!;
  const topic = await adminTopic(t, sec.admin, 'livetag.sec-models');
  const registry = join(tempDir(), 'registry');
  const env = { ...sec.serviceEnv, LIVETAG_REGISTRY: registry, LIVETAG_MODEL_TOPIC: topic };
  const published = await runLivetag(['models', 'publish', await tinyBundle()], { ...env, LIVETAG_KAFKA_BROKERS: '' });
  assert.equal(published.code, 0, published.output);
  const id = /published (\S+)/.exec(published.output)?.[1];
  assert.ok(id, published.output);
  const out = await collector(sec.admin, [topic]);
  try {
    const promoted = await runLivetag(['models', 'promote', id], env);
    assert.equal(promoted.code, 0, promoted.output);
    assert.match(promoted.output, new RegExp(`announced ${id} on ${topic}`));
    await out.until(1, 60_000, 'the announcement');
    assert.match(out.received[0]!.value!.toString('utf8'), new RegExp(id));
  } finally {
    await out.stop();
  }
});

test('train --labels-topic reads labels over SASL_SSL as the service user and commits its group only after the run', { timeout: 300_000, skip: NO_BROKER }, async (t) => {
  const sec = s!;
  const topic = await adminTopic(t, sec.admin, 'livetag.sec-labels', 2);
  const group = uniqueName('livetag.train');
  const rows = tinyRows(60, 3);
  const producer = sec.admin.producer();
  await producer.connect();
  await producer.send({ topic, messages: rows.map((r, i) => ({ key: String(i), value: JSON.stringify({ text: r.text, labels: r.labels }) })) });
  await producer.disconnect();

  const out = join(tempDir(), 'run');
  const args = ['train', '--labels-topic', topic, '--labels-group', group, '--out', out, '--hidden', '16', '--layers', '1', '--heads', '2', '--epochs', '2', '--ngram', '0', '--batch-size', '8', '--threads', '1', '--quiet'];
  // Only the env file's settings: brokers, SCRAM user, password file, CA.
  const trained = await runLivetag(args, sec.serviceEnv, 240_000);
  t.diagnostic(`train exit ${trained.code} after ${trained.ms} ms`);
  assert.equal(trained.code, 0, trained.output.slice(-3000));
  assert.ok(fs.existsSync(join(out, 'bundle', 'manifest.json')), 'a bundle was written');
  assert.ok(!trained.output.includes(sec.security.service.password), 'the password is not printed');
  const committed = await withAdmin(sec.admin, async (admin) => (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0]!.partitions.reduce((n, p) => n + Number(p.offset), 0));
  assert.equal(committed, rows.length, 'the labels group committed every row it trained on');
  t.diagnostic(`${rows.length} labeled rows read over SASL_SSL (User:${sec.security.service.username}), group ${group} committed ${committed}`);

  // The same run with a group outside the service user's ACLs: it fails, naming the group, not a hang.
  const foreign = uniqueName('other-train');
  const denied = await runLivetag([...args.slice(0, 3), '--labels-group', foreign, ...args.slice(5, 6), join(tempDir(), 'run2'), ...args.slice(7)], sec.serviceEnv, 120_000);
  const line = denied.output.split('\n').find((l) => l.startsWith('livetag train:')) ?? '';
  t.diagnostic(`foreign group: exit ${denied.code} after ${denied.ms} ms: ${line.slice(0, 200)}`);
  assert.notEqual(denied.code, 0);
  assert.ok(denied.ms < 60_000, `failed in ${denied.ms} ms`);
  // kafkajs hides the refusal behind "Failed to find group coordinator"; the adapter's probe finds it.
  assert.match(line, new RegExp(`LT_KAFKA_DENIED: .*${foreign}.*[Aa]uthoriz`));
});
