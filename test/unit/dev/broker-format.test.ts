import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isLivetagError } from '../../../src/common/errors.ts';
import { formatStorage } from '../../../src/dev/broker-process.ts';
import { tempDir } from '../../helpers/shared.ts';

test('a kept broker directory formatted without SCRAM users is refused for a secure start at once, not after the whole start wait', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data', 'meta.properties'), 'cluster.id=x\n');
  const launch = { java: '/nonexistent/java', args: [], configFile: join(dir, 'server.properties') };
  const run = (extra: string[]) => formatStorage(launch, dir, join(dir, 'log'), new AbortController().signal, { info: () => {}, warn: () => {} }, extra);
  const scram = ['--add-scram', 'SCRAM-SHA-512=[name=u,password=p]'];
  await run(scram); // no marker: a directory from before it, reused as it was
  writeFileSync(join(dir, 'livetag-format.json'), JSON.stringify({ secure: false }));
  await assert.rejects(run(scram), (err: unknown) => isLivetagError(err, 'LT_BROKER') && /formatted without --secure/.test(err.message));
  await run([]); // a plain start reuses it
  writeFileSync(join(dir, 'livetag-format.json'), JSON.stringify({ secure: true }));
  await run(scram); // formatted secure: reused
});
