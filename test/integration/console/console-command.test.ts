import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brokersFromEnv, useTopic, waitUntil } from '../helpers/kafka.ts';
import { runLivetag } from './cli.ts';

test('livetag console: loopback, token required, ready once joined, stops on SIGTERM', { timeout: 120_000 }, async (t) => {
  const topic = await useTopic(t, { prefix: 'console-cmd' });
  const cli = runLivetag(t, ['console', '--topic', topic, '--port', '0'], { KAFKA_BROKERS: brokersFromEnv(), LIVETAG_CONSOLE_TOKEN: 'tok-123' });
  await waitUntil(() => /console at http:\/\/127\.0\.0\.1:\d+\//.test(cli.stdout()) || cli.exited(), 60_000, `"console at" in stdout; stderr:\n${cli.stderr()}`);
  const url = /console at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(cli.stdout())?.[1];
  assert.ok(url, cli.stderr());
  assert.equal((await fetch(url)).status, 401);
  assert.equal((await fetch(`${url}api/snapshot`, { headers: { authorization: 'Bearer tok-123' } })).status, 200);
  let health = 0;
  const poll = setInterval(() => void fetch(`${url}healthz`).then((r) => (health = r.status)).catch(() => undefined), 300);
  await waitUntil(() => health === 200, 60_000, '/healthz 200 (consumer joined)').finally(() => clearInterval(poll));
  cli.kill('SIGTERM');
  assert.equal(await cli.done, 0, cli.stderr());
});
