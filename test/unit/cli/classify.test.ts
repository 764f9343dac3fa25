import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { writeRandomBundle } from '../../../src/model/build/random-bundle.ts';
import { REPO_ROOT, tempDir } from '../../helpers/shared.ts';

const bin = join(REPO_ROOT, 'bin/livetag.js');

function livetag(args: string[], input = ''): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', cwd: REPO_ROOT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('livetag classify: one JSONL record per input line, in order, errors as records', async () => {
  const bundle = join(tempDir(), 'tiny');
  await writeRandomBundle(bundle, { shape: 'tiny' });
  const input = ['这个多少钱', '', '{"text":"M码还有吗","id":"x"}', '{broken', '{"text":7}', '什么时候发货', '😀😀'].join('\n') + '\n';
  const r = livetag(['classify', '--model', bundle, '--batch-size', '2', '--all-scores'], input);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(out.length, 7);
  assert.deepEqual(
    out.map((o) => o.text ?? o.error.code),
    ['这个多少钱', 'LT_MSG_EMPTY_TEXT', 'M码还有吗', 'LT_MSG_BAD_JSON', 'LT_MSG_INVALID', '什么时候发货', '😀😀'],
  );
  assert.deepEqual(out[1].line, 2);
  for (const o of out.filter((x) => x.text)) {
    assert.equal(Object.keys(o.scores).length, 13);
    for (const tag of o.tags) assert.ok(tag.score >= 0.5 && o.scores[tag.label] === tag.score);
  }
  assert.match(r.stderr, /3 line\(s\) could not be classified/);

  const table = livetag(['classify', '--model', bundle, '--format', 'table'], '这个多少钱\n');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /这个多少钱/);
});

test('livetag classify refuses a missing model with a clear error and usage errors with exit 2', () => {
  const missing = livetag(['classify', '--model', '/nonexistent/bundle'], 'x\n');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /LT_BUNDLE_MISSING_FILE: .*manifest\.json/);
  const usage = livetag(['classify']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--model is required/);
  const noInput = livetag(['classify', '--model', '/nonexistent/bundle', '/nonexistent/comments.txt']);
  assert.equal(noInput.code, 2, noInput.stderr);
  assert.match(noInput.stderr, /\/nonexistent\/comments\.txt: no such file/);
  assert.doesNotMatch(noInput.stderr, /ENOENT|at .*\.ts:/, 'no raw errno or stack');
});
