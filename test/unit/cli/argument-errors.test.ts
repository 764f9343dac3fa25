import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { main } from '../../../src/cli/main.ts';
import { captureOutput, tempDir } from '../../helpers/shared.ts';

const run = (argv: string[]) => captureOutput(() => main(argv));

test('models list, rollback and prune refuse an argument they would ignore (rollback v7 rolled back to the previous version instead)', async () => {
  const registry = tempDir();
  for (const [argv, hint] of [
    [['models', 'rollback', 'v7'], /rollback takes no argument \(got "v7"\); to serve v7, `livetag models promote v7`/],
    [['models', 'prune', '3'], /prune takes no argument \(got "3"\); to keep 3, --keep 3/],
    [['models', 'list', 'x'], /list takes no argument/],
  ] as const) {
    const r = await run([...argv, '--registry', registry]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, hint);
  }
});

test('an input file that does not exist is a usage error naming its option, before any work (optimize --texts, make-model --tokenizer)', async () => {
  const dir = tempDir();
  const optimize = await run(['optimize', '--model', 'models/default', '--out', join(dir, 'opt'), '--texts', join(dir, 'nope.txt')]);
  assert.equal(optimize.code, 2, optimize.stderr);
  assert.match(optimize.stderr, /LT_USAGE: --texts .*nope\.txt: no such file/);
  const make = await run(['make-model', '--out', join(dir, 'm'), '--tokenizer', join(dir, 'nope.json')]);
  assert.equal(make.code, 2, make.stderr);
  assert.match(make.stderr, /LT_USAGE: --tokenizer .*nope\.json: no such file/);
});

test('kafka --env-file in a missing folder, or naming a folder, is a usage error before the broker formats and starts', async () => {
  const dir = tempDir();
  const missing = await run(['kafka', 'start', '--secure', '--dir', join(dir, 'broker'), '--env-file', join(dir, 'no', 'client.env')]);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /LT_USAGE: --env-file .*client\.env: folder .*no does not exist/);
  const folder = await run(['kafka', 'start', '--secure', '--dir', join(dir, 'broker'), '--env-file', dir]);
  assert.equal(folder.code, 2, folder.stderr);
  assert.match(folder.stderr, /LT_USAGE: --env-file .*: is a folder/);
  assert.doesNotMatch(missing.stderr + folder.stderr, /starting|KAFKA_BROKERS/);
});
