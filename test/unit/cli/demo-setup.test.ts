import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, tempDir } from '../../helpers/shared.ts';

const bin = join(REPO_ROOT, 'bin/livetag.js');

function demo(args: string[], env: Record<string, string>): { code: number | null; stderr: string } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'KAFKA_BROKERS' && k !== 'LIVETAG_KAFKA_BROKERS')) as Record<string, string>;
  const r = spawnSync(process.execPath, [bin, 'demo', ...args], { encoding: 'utf8', cwd: REPO_ROOT, env: { ...clean, ...env }, timeout: 60_000 });
  return { code: r.status, stderr: r.stderr };
}

test('livetag demo --file that does not exist is a usage error before any broker starts', () => {
  const tmp = tempDir();
  const r = demo(['--file', join(tmp, 'missing.jsonl'), '--duration', '1'], { TMPDIR: tmp, MVN: '/bin/false' });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--file .*missing\.jsonl: no such file/);
  assert.deepEqual(readdirSync(tmp).filter((n) => n.startsWith('livetag-kafka-')), [], 'no broker directory was made');
});

test('livetag demo whose broker cannot start leaves no broker directory behind', () => {
  const tmp = tempDir();
  // Maven that fails, and an empty cache: the broker cannot be resolved.
  const r = demo(['--duration', '1'], { TMPDIR: tmp, MVN: '/bin/false', LIVETAG_KAFKA_CACHE: join(tmp, 'cache') });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /LT_BROKER/);
  assert.deepEqual(readdirSync(tmp).filter((n) => n.startsWith('livetag-kafka-')), [], 'the temp dir is removed');
});
