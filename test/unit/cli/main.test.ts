import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LivetagError } from '../../../src/common/errors.ts';
import { createCommand } from '../../../src/cli/command.ts';
import { COMMANDS } from '../../../src/cli/command-table.ts';
import { main } from '../../../src/cli/main.ts';
import { defineCommand } from '../../../src/cli/options.ts';
import { REPO_ROOT, captureOutput, tempDir } from '../../helpers/shared.ts';

const capture = captureOutput;

test('livetag --version and -v print the package.json version', async () => {
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-v']) {
    const r = await capture(() => main([flag]));
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${version}\n`);
  }
});

test('livetag --help lists every command with its summary; no arguments is a usage error showing the same', async () => {
  const help = await capture(() => main(['--help']));
  assert.equal(help.code, 0);
  for (const { spec } of COMMANDS) assert.ok(help.stdout.includes(`  ${spec.name}`) && help.stdout.includes(spec.summary), spec.name);
  const bare = await capture(() => main([]));
  assert.equal(bare.code, 2);
  assert.equal(bare.stdout, help.stdout);
  const unknown = await capture(() => main(['frobnicate']));
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
});

test('a command usage error exits 2 naming the flag, with the usage line', async () => {
  const r = await capture(() => main(['generate', '--bogus']));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^livetag generate: LT_USAGE: unknown option --bogus\n/);
  assert.match(r.stderr, /usage: livetag generate \[options\]/);
  const help = await capture(() => main(['generate', '--help']));
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--no-labeled/);
});

test('declared exit codes end the command with their status; other errors propagate', async () => {
  const spec = defineCommand({ name: 'job', summary: 's', options: { fail: { type: 'string', help: 'error code to throw' } }, exitCodes: { LT_DATA: { status: 3, help: 'no data' } } });
  const command = createCommand(spec, async ({ values }) => {
    if (values.fail) throw new LivetagError(values.fail === 'data' ? 'LT_DATA' : 'LT_TRAINING', 'boom');
    return 0;
  });
  const data = await capture(() => command.run(['--fail', 'data']));
  assert.equal(data.code, 3);
  assert.equal(data.stderr, 'livetag job: LT_DATA: boom\n');
  await assert.rejects(command.run(['--fail', 'other']), (err) => err instanceof LivetagError && err.code === 'LT_TRAINING');
  assert.equal((await capture(() => command.run([]))).code, 0);
});

test("train declares exit status 3 for LT_DATA and 4 for LT_PARITY", () => {
  const train = COMMANDS.find((c) => c.spec.name === 'train')!.spec;
  assert.equal(train.exitCodes?.LT_DATA?.status, 3);
  assert.equal(train.exitCodes?.LT_PARITY?.status, 4);
});

test('a reader that closes the pipe early ends the command quietly with status 0, not an EPIPE stack trace', async () => {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/livetag.js'), '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Closed before the CLI has loaded, so its first write meets a pipe nobody reads.
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});

test('eval with no row left to score exits 3 naming the file, instead of printing zeros', async () => {
  const file = join(tempDir(), 'labels.jsonl');
  writeFileSync(file, '{"text":"这个多少钱","labels":["prize"]}\nnot json\n');
  const r = await capture(() => main(['eval', '--model', join(REPO_ROOT, 'models/default'), '--data', file]));
  assert.equal(r.code, 3);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /unknown-label: 1/);
  assert.match(r.stderr, new RegExp(`livetag eval: LT_DATA: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: no row to score \\(2 rejected`));
});

test('eval scores texts of any length as serving would, says an unknown label is the model\'s to lack, and notes the model\'s labels no row has', async () => {
  const file = join(tempDir(), 'labels.jsonl');
  const rows = [{ text: '这个多少钱', labels: ['price'] }, { text: `${'好'.repeat(1200)}多少钱`, labels: ['price'] }, { text: 'M码还有吗', labels: ['bogus'] }];
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const r = await capture(() => main(['eval', '--model', join(REPO_ROOT, 'models/default'), '--data', file]));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).samples, 2, 'the 1203-character text is scored');
  assert.match(r.stderr, /unknown label "bogus" \(the model has no such label; eval scores its own labels only\)/);
  assert.doesNotMatch(r.stderr, /--add-labels/);
  assert.match(r.stderr, /note: 12 of the model's 13 labels are on no row of the data \(size, stock, .*\); macro-F1 counts each as 0/);
});

test('models list says so when the registry holds no version, and when its directory is missing', async () => {
  const missing = join(tempDir(), 'no-registry');
  const r = await capture(() => main(['models', 'list', '--registry', missing]));
  assert.equal(r.code, 0);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `livetag models: no versions in ${missing} (no such directory)\n`);
  const empty = tempDir();
  assert.equal((await capture(() => main(['models', 'list', '--registry', empty]))).stderr, `livetag models: no versions in ${empty}\n`);
});
