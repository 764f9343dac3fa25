import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLivetagError } from '../../../src/common/errors.ts';
import { isClasspathComplete, pomXml, resolveClasspath } from '../../../src/dev/broker-classpath.ts';
import { isClasspathCached } from '../../../src/dev/local-broker.ts';
import { tempDir } from '../../helpers/shared.ts';

const quiet = { info: () => {} };

test('the pom asks for the broker and a logging binding', () => {
  const pom = pomXml('9.9.9');
  assert.match(pom, /<artifactId>kafka_2\.13<\/artifactId><version>9\.9\.9<\/version>/);
  assert.match(pom, /slf4j-reload4j/);
});

test('a completed classpath is reused without running Maven', async () => {
  const cache = tempDir();
  assert.equal(isClasspathCached({ cacheDir: cache, version: '1.0.0' }), false);
  mkdirSync(join(cache, '1.0.0', 'lib'), { recursive: true });
  writeFileSync(join(cache, '1.0.0', 'lib.complete'), 'x\n');
  assert.equal(isClasspathComplete(cache, '1.0.0'), true);
  assert.equal(isClasspathCached({ cacheDir: cache, version: '1.0.0' }), true);
  assert.equal(await resolveClasspath(cache, '1.0.0', quiet), join(cache, '1.0.0', 'lib'));
});

test('Maven missing or failing is LT_BROKER with advice, and leaves no staging directory', async (t) => {
  const cache = tempDir();
  const saved = process.env.MVN;
  t.after(() => (saved === undefined ? delete process.env.MVN : (process.env.MVN = saved)));

  process.env.MVN = join(cache, 'no-such-mvn');
  await assert.rejects(resolveClasspath(cache, '1.0.0', quiet), (e: unknown) => isLivetagError(e, 'LT_BROKER') && /cannot run Maven/.test(e.message));

  const fake = join(cache, 'fake-mvn');
  writeFileSync(fake, '#!/bin/sh\necho "no network" >&2\nexit 3\n', { mode: 0o755 });
  process.env.MVN = fake;
  await assert.rejects(
    resolveClasspath(cache, '1.0.0', quiet),
    (e: unknown) => isLivetagError(e, 'LT_BROKER') && /exit 3/.test(e.message) && /no network/.test(e.message),
  );
  assert.ok(readFileSync(join(cache, '1.0.0', 'pom.xml'), 'utf8').includes('1.0.0'));
  assert.ok(!existsSync(join(cache, '1.0.0', 'lib')));
  assert.equal(isClasspathComplete(cache, '1.0.0'), false);
});
