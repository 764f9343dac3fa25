import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, tempDir } from '../helpers/shared.ts';
import { brokersFromEnv, testKafka, uniqueName, useGroup } from './helpers/kafka.ts';
import { tinyBundle } from './helpers/serve.ts';
import { deleteTopics } from '../helpers/kafkajs.ts';
import { runLivetag } from './console/cli.ts';

test('livetag demo (npm start) shows tagged comments with throughput and latency, serves /metrics, stops cleanly', { timeout: 180_000 }, async (t) => {
  const client = testKafka('demo-test');
  const topics = { input: uniqueName('demo-in'), output: uniqueName('demo-out'), dlq: uniqueName('demo-dlq') };
  t.after(() => deleteTopics(client, Object.values(topics)).catch(() => undefined));
  // The committed default model when present (what npm start serves), else a tiny random one.
  const defaultModel = join(REPO_ROOT, 'models/default');
  const model = existsSync(join(defaultModel, 'manifest.json')) ? defaultModel : await tinyBundle();
  const demo = runLivetag(t, ['demo', '--duration', '12', '--rate', '25'], {
    KAFKA_BROKERS: brokersFromEnv(),
    LIVETAG_MODEL: model,
    // Port 0: the demo picks a free one and prints it (a port probed here first could be taken before the demo binds it).
    LIVETAG_HTTP_PORT: '0',
    LIVETAG_INPUT_TOPIC: topics.input,
    LIVETAG_OUTPUT_TOPIC: topics.output,
    LIVETAG_DLQ_TOPIC: topics.dlq,
    LIVETAG_GROUP_ID: useGroup(t, 'demo', client),
  });

  let metrics = '';
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const port = /metrics at http:\/\/[^:/]+:(\d+)\/metrics/.exec(demo.stdout())?.[1];
    try {
      if (!port) throw new Error('not serving yet');
      metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const m = /^livetag_messages_classified_total (\d+)/m.exec(metrics);
      if (m && Number(m[1]) > 20) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.match(metrics, /^livetag_messages_classified_total [1-9]\d*/m, `no classifications in /metrics; stderr:\n${demo.stderr()}`);
  assert.match(metrics, /livetag_end_to_end_latency_seconds_bucket/);
  assert.equal(await demo.done, 0, demo.stderr());
  const stdout = demo.stdout();
  assert.match(stdout, / → /, 'tagged comments are shown');
  assert.match(stdout, /msg\/s · end-to-end p50 \d+ ms · p99 \d+ ms/);
  assert.match(stdout, /stopped cleanly/);
});

test('livetag demo --file whose lines carry no text stops with a usage error and exits, instead of re-reading the file for ever', { timeout: 120_000 }, async (t) => {
  const client = testKafka('demo-test-file');
  const topics = { input: uniqueName('demo-in'), output: uniqueName('demo-out'), dlq: uniqueName('demo-dlq') };
  t.after(() => deleteTopics(client, Object.values(topics)).catch(() => undefined));
  const file = join(tempDir(), 'no-text.jsonl');
  writeFileSync(file, '{"comment":"这个多少钱"}\n{"text": 42}\n');
  const demo = runLivetag(t, ['demo', '--file', file, '--duration', '60', '--console-port', '0', '--quiet'], {
    KAFKA_BROKERS: brokersFromEnv(),
    LIVETAG_MODEL: await tinyBundle(),
    LIVETAG_HTTP_PORT: '0',
    LIVETAG_INPUT_TOPIC: topics.input,
    LIVETAG_OUTPUT_TOPIC: topics.output,
    LIVETAG_DLQ_TOPIC: topics.dlq,
    LIVETAG_GROUP_ID: useGroup(t, 'demo-file', client),
  });
  const started = Date.now();
  const code = await Promise.race([demo.done, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
  assert.equal(code, 2, `exit ${code}; stderr:\n${demo.stderr()}`);
  assert.match(demo.stderr(), /no-text\.jsonl has no comments/);
  assert.ok(Date.now() - started < 60_000, 'it ended before its --duration: the stats timer did not keep it alive');
});
