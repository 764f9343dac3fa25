import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAll } from '../../../src/common/run-all.ts';

test('runAll: every step runs in order even after failures; the first failure is rethrown', async () => {
  const ran: string[] = [];
  const boom = (name: string) => async () => {
    ran.push(name);
    throw new Error(name);
  };
  await assert.rejects(runAll([() => ran.push('drain'), boom('classify'), boom('source'), async () => void ran.push('publisher')]), /^Error: classify$/);
  assert.deepEqual(ran, ['drain', 'classify', 'source', 'publisher']);
  ran.length = 0;
  await runAll([() => ran.push('a'), async () => void ran.push('b')]);
  assert.deepEqual(ran, ['a', 'b']);
});
