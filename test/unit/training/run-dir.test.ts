import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLivetagError } from '../../../src/common/errors.ts';
import { textKey, type LabeledRow } from '../../../src/training/data.ts';
import { promoteRun, readSplits, resolveBaseRun, writeRunData } from '../../../src/training/run-dir.ts';
import { tempDir } from '../../helpers/shared.ts';

const rows: LabeledRow[] = ['多少钱', '有M码吗', '几天发货', '包邮吗'].map((text, i) => ({ key: textKey(text), id: `r${i}`, text, labels: ['x'], origin: 'new' }));
const split = ['train', 'train', 'validation', 'test'] as const;
const splits = { version: 1 as const, seed: 1, ratios: [0.5, 0.25, 0.25], assignments: Object.fromEntries(rows.map((r, i) => [r.key, split[i]])) };

function fakeRun(dir: string, version: string): void {
  mkdirSync(join(dir, 'bundle'), { recursive: true });
  writeFileSync(join(dir, 'bundle', 'manifest.json'), version);
  mkdirSync(join(dir, 'report'), { recursive: true });
  writeFileSync(join(dir, 'report', 'report.md'), `# ${version}\n`);
}

test('writeRunData writes the accepted rows, each split and splits.json; resolveBaseRun reads them back', async () => {
  const dir = tempDir();
  fakeRun(dir, 'v1');
  await writeRunData(dir, rows, split, splits);
  assert.equal(readFileSync(join(dir, 'train-data.jsonl'), 'utf8').trim().split('\n').length, 4);
  assert.deepEqual(readFileSync(join(dir, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).id), ['r0', 'r1']);
  assert.deepEqual(readFileSync(join(dir, 'test.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).text), ['包邮吗']);
  assert.deepEqual(await readSplits(join(dir, 'splits.json')), splits);
  const base = await resolveBaseRun(dir);
  assert.equal(base.previous.length, 4);
  assert.deepEqual(base.splits, splits);
  assert.ok(!readdirSync(dir).some((n) => n.startsWith('.')), 'no temp files left');
});

test('promoteRun replaces the target with the run (bundle, data, report) and nothing else', async () => {
  const root = tempDir();
  const run = join(root, 'run');
  fakeRun(run, 'v2');
  await writeRunData(run, rows, split, splits);
  writeFileSync(join(run, 'scratch-file'), 'not promoted');
  const target = join(root, 'serving');
  fakeRun(target, 'v1');
  writeFileSync(join(target, 'stale'), 'from the old champion');
  await promoteRun(run, target);
  assert.equal(readFileSync(join(target, 'bundle', 'manifest.json'), 'utf8'), 'v2');
  assert.deepEqual(readdirSync(target).sort(), ['bundle', 'report', 'splits.json', 'train-data.jsonl']);
  assert.deepEqual(readdirSync(root).sort(), ['run', 'serving']);
});

test('a promotion that fails part-way is LT_TRAINING and leaves the target as it was', async () => {
  const root = tempDir();
  const run = join(root, 'run');
  fakeRun(run, 'v2');
  await writeRunData(run, rows, split, splits);
  // A FIFO cannot be copied: the copy fails after the bundle went into the temp directory.
  rmSync(join(run, 'report'), { recursive: true });
  execFileSync('mkfifo', [join(run, 'report')]);
  const target = join(root, 'serving');
  fakeRun(target, 'v1');
  await assert.rejects(promoteRun(run, target), (err: unknown) => isLivetagError(err, 'LT_TRAINING') && err.message.includes(target));
  assert.equal(readFileSync(join(target, 'bundle', 'manifest.json'), 'utf8'), 'v1');
  assert.deepEqual(readdirSync(root).sort(), ['run', 'serving']);
});
