import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLivetagError } from '../../../src/common/errors.ts';
import { createLocalBroker } from '../../../src/dev/local-broker.ts';
import { tempDir } from '../../helpers/shared.ts';

test('a broker that cannot run java fails start with LT_BROKER, and stop() cleans up', async (t) => {
  const cache = tempDir();
  mkdirSync(join(cache, '0.0.1', 'lib'), { recursive: true });
  writeFileSync(join(cache, '0.0.1', 'lib.complete'), 'x\n');
  const saved = process.env.JAVA_HOME;
  process.env.JAVA_HOME = join(cache, 'no-java');
  t.after(() => (saved === undefined ? delete process.env.JAVA_HOME : (process.env.JAVA_HOME = saved)));

  const broker = createLocalBroker({ cacheDir: cache, version: '0.0.1' });
  assert.throws(() => broker.brokers, (e: unknown) => isLivetagError(e, 'LT_BROKER'));
  await assert.rejects(broker.start(), (e: unknown) => isLivetagError(e, 'LT_BROKER') && /storage format failed/.test(e.message));
  assert.match(broker.brokers, /^127\.0\.0\.1:\d+$/);
  assert.match(readFileSync(join(broker.dir, 'server.properties'), 'utf8'), /process\.roles=broker,controller/);
  assert.equal(broker.pid, undefined);
  await broker.stop();
  assert.ok(!existsSync(broker.dir), 'an ephemeral directory is removed');
  await assert.rejects(broker.start(), (e: unknown) => isLivetagError(e, 'LT_STOPPED'));
});
