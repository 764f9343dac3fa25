import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { deleteTopics } from '../../helpers/kafkajs.ts';
import { REPO_ROOT } from '../../helpers/shared.ts';
import { brokersFromEnv, testKafka, uniqueName, useGroup, waitUntil } from '../helpers/kafka.ts';
import { tinyBundle } from '../helpers/serve.ts';
import { runLivetag } from './cli.ts';

test('npm start (livetag demo) starts the console beside it and prints where', { timeout: 180_000 }, async (t) => {
  const client = testKafka('demo-console-test');
  const topics = { input: uniqueName('dc-in'), output: uniqueName('dc-out'), dlq: uniqueName('dc-dlq') };
  t.after(() => deleteTopics(client, Object.values(topics)).catch(() => undefined));
  const defaultModel = join(REPO_ROOT, 'models/default');
  const model = existsSync(join(defaultModel, 'manifest.json')) ? defaultModel : await tinyBundle();
  const demo = runLivetag(t, ['demo', '--duration', '25', '--rate', '40', '--quiet', '--console-port', '0'], {
    KAFKA_BROKERS: brokersFromEnv(),
    LIVETAG_MODEL: model,
    LIVETAG_HTTP_PORT: '0',
    LIVETAG_INPUT_TOPIC: topics.input,
    LIVETAG_OUTPUT_TOPIC: topics.output,
    LIVETAG_DLQ_TOPIC: topics.dlq,
    LIVETAG_GROUP_ID: useGroup(t, 'demo-console', client),
  });
  await waitUntil(() => /^console at http:\/\/127\.0\.0\.1:\d+\/$/m.test(demo.stdout()) || demo.exited(), 120_000, `"console at" in stdout:\n${demo.stdout()}\n${demo.stderr()}`);
  const url = /^console at (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(demo.stdout())?.[1];
  assert.ok(url, `stdout:\n${demo.stdout()}\nstderr:\n${demo.stderr()}`);
  const page = await fetch(url);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /livetag console/);
  let snap: { total: { m1: number }; tags: Array<{ label: string; m1: number }> } | undefined;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    snap = (await (await fetch(`${url}api/snapshot?untagged=1`)).json()) as typeof snap;
    if (snap && snap.total.m1 >= 20) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(snap && snap.total.m1 >= 20, `the console saw the demo's tagged comments: ${JSON.stringify(snap?.total)}`);
  assert.equal(await demo.done, 0, demo.stderr());
  assert.match(demo.stdout(), /stopped cleanly/);
});
