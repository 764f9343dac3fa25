import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLivetagError, LivetagError } from '../../../src/common/errors.ts';
import { keptConnection, stoppableStart } from '../../../src/kafka/adapter-kit.ts';

/** A library client that counts its connects and disconnects; `failConnect` refuses the next connect. */
function countingClients() {
  const log = { connects: 0, disconnects: 0, failConnect: false, made: 0 };
  const create = () => {
    const id = ++log.made;
    return {
      id,
      connect: async () => {
        log.connects++;
        if (log.failConnect) {
          log.failConnect = false;
          throw new Error('connection refused');
        }
      },
      disconnect: async () => {
        log.disconnects++;
      },
    };
  };
  return { log, create };
}

const toError = (err: unknown) => new LivetagError('LT_KAFKA', `mapped: ${(err as Error).message}`, { cause: err, retryable: true });

test('keptConnection: calls share one connection; a failed call drops it and the next connects anew; close disconnects once', async () => {
  const { log, create } = countingClients();
  const kept = keptConnection(create);
  const ids: number[] = [];
  for (let i = 0; i < 3; i++) ids.push(await kept.run(toError, async (c) => c.id));
  assert.deepEqual(ids, [1, 1, 1], 'three calls, one client');
  assert.deepEqual([log.connects, log.disconnects], [1, 0]);

  await assert.rejects(
    kept.run(toError, async () => {
      throw new Error('request timed out');
    }),
    (err: unknown) => isLivetagError(err) && err.code === 'LT_KAFKA' && err.message === 'mapped: request timed out',
  );
  await new Promise((r) => setImmediate(r));
  assert.equal(log.disconnects, 1, 'the failed call dropped its client');

  log.failConnect = true;
  await assert.rejects(kept.run(toError, async (c) => c.id), (err: unknown) => isLivetagError(err) && err.message === 'mapped: connection refused');
  assert.equal(await kept.run(toError, async (c) => c.id), 3, 'the next call connected a new client; the refused one was not kept');
  assert.equal(await kept.run(toError, async (c) => c.id), 3);

  await kept.close();
  await kept.close();
  assert.equal(log.connects, log.disconnects, 'every client that connected was disconnected');
  await assert.rejects(kept.run(toError, async (c) => c.id), (err: unknown) => isLivetagError(err) && err.code === 'LT_STOPPED');
});

test('keptConnection: close does not wait for a call in flight; its client disconnects all the same', async () => {
  const { log, create } = countingClients();
  const kept = keptConnection(create);
  let answer: (v: number) => void = () => {};
  const hung = kept.run(toError, () => new Promise<number>((r) => (answer = r)));
  await new Promise((r) => setImmediate(r));
  const t0 = Date.now();
  await kept.close();
  assert.ok(Date.now() - t0 < 100, 'close returned while the call hangs');
  answer(7);
  assert.equal(await hung, 7, 'the call in flight still gets its answer');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([log.connects, log.disconnects], [1, 1]);
});

test('stoppableStart: a stop during the start closes at once, ends the start at its next step, and closes again once the start settled', async () => {
  const events: string[] = [];
  let connected!: () => void;
  const life = stoppableStart('consumer of group g', async () => void events.push('close'));
  const started = life.start(async (live) => {
    events.push('connect');
    await new Promise<void>((r) => (connected = r));
    events.push('connected');
    live();
    events.push('joined');
  });
  const stopped = life.stop();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(events, ['connect', 'close'], 'closed while the connect is in flight');
  connected();
  await assert.rejects(started, (err: unknown) => isLivetagError(err, 'LT_STOPPED') && /consumer of group g was stopped while it was starting/.test(err.message));
  await stopped;
  assert.deepEqual(events, ['connect', 'close', 'connected', 'close'], 'never joined; what the late connect opened is closed');
  assert.equal(life.stop(), stopped, 'idempotent');
});

test('stoppableStart: a stop after the start settled closes once; a start after the stop runs no step', async () => {
  let closes = 0;
  let steps = 0;
  const life = stoppableStart('producer', async () => void closes++);
  await life.start(async () => void steps++);
  await life.stop();
  assert.equal(closes, 1);
  await assert.rejects(life.start(async () => void steps++), (err: unknown) => isLivetagError(err, 'LT_STOPPED'));
  assert.equal(steps, 1);
});

test('stoppableStart: a start that failed before the stop is not waited for, and a failed close still closes again after the start', async () => {
  const closes: number[] = [];
  const failing = stoppableStart('producer', async () => void closes.push(1));
  await assert.rejects(failing.start(async () => Promise.reject(new Error('broker away'))), /broker away/);
  await failing.stop();
  assert.deepEqual(closes, [1]);
  let release!: () => void;
  let n = 0;
  const life = stoppableStart('producer', async () => {
    if (++n === 1) throw new Error('disconnect refused');
  });
  const started = life.start(() => new Promise<void>((r) => (release = r)));
  const stopped = life.stop();
  release();
  await started;
  await assert.rejects(stopped, /disconnect refused/, 'the first close failure is reported');
  assert.equal(n, 2, 'closed again after the start settled');
});
