import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { REPO_ROOT } from '../../helpers/shared.ts';

/** The test's linger time: long enough that a clean exit under CI load comes well before it. */
const LINGER = 2_000;

/**
 * A service process (runUntilSignalled; its work an interval, as a client's
 * connections keep a real one alive) that stops cleanly on SIGTERM; with
 * `leak`, its stop leaves a listening server behind, as kafkajs left a broker
 * socket open after a broker restart.
 */
function serviceProcess(t: TestContext, leak: boolean, o: { hangingStart?: boolean; startFails?: boolean } = {}) {
  const serve = pathToFileURL(join(REPO_ROOT, 'src/cli/commands/serve.ts')).href;
  const logger = pathToFileURL(join(REPO_ROOT, 'src/common/logger.ts')).href;
  const errors = pathToFileURL(join(REPO_ROOT, 'src/common/errors.ts')).href;
  const script = `
    const { runUntilSignalled } = await import(${JSON.stringify(serve)});
    const { createLogger } = await import(${JSON.stringify(logger)});
    const { LivetagError } = await import(${JSON.stringify(errors)});
    const net = await import('node:net');
    let work;
    let endStart;
    const service = ${o.hangingStart ? `{
      // A start that would not end by itself (a group it cannot join): stop() is what ends it.
      start: () => new Promise((_, reject) => { work = setInterval(() => {}, 1000); endStart = () => reject(${o.startFails ? `new Error('the model did not load')` : `new LivetagError('LT_STOPPED', 'stopped while starting')`}); process.stdout.write('started\\n'); }),
      stop: async () => { endStart(); clearInterval(work); process.stderr.write('stop called\\n'); return { drained: true }; },
    }` : `{
      start: async () => { work = setInterval(() => {}, 1000); process.stdout.write('started\\n'); },
      stop: async () => { clearInterval(work); if (${leak}) net.createServer().listen(0, '127.0.0.1'); return { drained: true }; },
    }`};
    process.exitCode = await runUntilSignalled(service, createLogger('info'), ${LINGER});`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  // A child that never exits (the behaviour under test broken) must not outlive its test.
  t.after(() => void child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  const started = new Promise<void>((resolve) => child.stdout.on('data', (b: Buffer) => b.toString('utf8').includes('started') && resolve()));
  const exit = new Promise<{ code: number | null; ms: number; stderr: string }>((resolve) => {
    let signalledAt = 0;
    void started.then(() => {
      signalledAt = Date.now();
      child.kill('SIGTERM');
    });
    child.once('exit', (code) => resolve({ code, ms: Date.now() - signalledAt, stderr }));
  });
  return exit;
}

test('a stopped service whose stop left a handle open still exits, naming what held it', { timeout: 30_000 }, async (t) => {
  const r = await serviceProcess(t, true);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.ms >= LINGER, `exited ${r.ms} ms after SIGTERM, before the linger time`);
  const warning = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { msg: string; holding: string[] };
  assert.equal(warning.msg, 'still running after stop; exiting anyway');
  assert.ok(warning.holding.includes('TCPServerWrap'), JSON.stringify(warning.holding));
});

test('a stopped service that closed everything exits on its own, without the warning', { timeout: 30_000 }, async (t) => {
  const r = await serviceProcess(t, false);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.ms < LINGER, `exited ${r.ms} ms after SIGTERM: the linger timer held it`);
  assert.doesNotMatch(r.stderr, /still running after stop/);
});

test('a signal during a start that does not end stops the service at once: the start is ended by stop, and the process exits cleanly', { timeout: 30_000 }, async (t) => {
  const r = await serviceProcess(t, false, { hangingStart: true });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.ms < LINGER, `exited ${r.ms} ms after SIGTERM`);
  assert.match(r.stderr, /stop called/);
  assert.match(r.stderr, /"msg":"signalled while starting; stopping"/);
  assert.doesNotMatch(r.stderr, /still running after stop|start failed/, 'the start it ended (LT_STOPPED) is neither reported as a failure nor left running');
});

test('a start that fails for another reason while the service stops is still reported, and the process exits cleanly', { timeout: 30_000 }, async (t) => {
  const r = await serviceProcess(t, false, { hangingStart: true, startFails: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /"msg":"the start failed while the service was stopping","error":"the model did not load"/);
});
