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

test('stoppableStart: a stop during the start closes once the start settled, never inside it; the start ends with LT_STOPPED at its next step', async () => {
  // kafkajs' disconnect inside run()'s join forgets the joining member, which then stays in the group.
  const events: string[] = [];
  let joinedNow!: () => void;
  const life = stoppableStart('consumer of group g', async () => void events.push('close'));
  const started = life.start(async (live) => {
    events.push('connect');
    live();
    events.push('join');
    await new Promise<void>((r) => (joinedNow = r));
    events.push('joined');
  });
  const stopped = life.stop();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(events, ['connect', 'join'], 'no close while the join is in flight');
  joinedNow();
  await assert.rejects(started, (err: unknown) => isLivetagError(err, 'LT_STOPPED') && /consumer of group g was stopped while it was starting/.test(err.message));
  await stopped;
  assert.deepEqual(events, ['connect', 'join', 'joined', 'close'], 'the close comes after the join, when it reaches the member');
  assert.equal(life.stop(), stopped, 'idempotent');
});

test('stoppableStart: a stop between steps ends the start there', async () => {
  const steps: string[] = [];
  let connected!: () => void;
  const life = stoppableStart('consumer of group g', async () => void steps.push('close'));
  const started = life.start(async (live) => {
    await new Promise<void>((r) => (connected = r));
    live();
    steps.push('subscribe');
  });
  const stopped = life.stop();
  connected();
  await assert.rejects(started, (err: unknown) => isLivetagError(err, 'LT_STOPPED'));
  await stopped;
  assert.deepEqual(steps, ['close']);
});

test('stoppableStart: a stop after the start settled closes once; a start after a stop, or a second start, runs no step', async () => {
  let closes = 0;
  let steps = 0;
  const life = stoppableStart('producer', async () => void closes++);
  await life.start(async () => void steps++);
  await assert.rejects(life.start(async () => void steps++), (err: unknown) => isLivetagError(err, 'LT_KAFKA') && err.retryable === false && /started already/.test(err.message));
  await life.stop();
  assert.equal(closes, 1);
  assert.equal(steps, 1);
  const stoppedFirst = stoppableStart('producer', async () => undefined);
  await stoppedFirst.stop();
  await assert.rejects(stoppedFirst.start(async () => void steps++), (err: unknown) => isLivetagError(err, 'LT_STOPPED'));
  assert.equal(steps, 1);
});

test('stoppableStart: a start that failed still gets its close, and a failed close is reported', async () => {
  const closes: number[] = [];
  const failing = stoppableStart('producer', async () => void closes.push(1));
  const started = failing.start(async () => Promise.reject(new Error('broker away')));
  const stopped = failing.stop();
  await assert.rejects(started, /broker away/, 'the start\'s own failure, not LT_STOPPED');
  await stopped;
  assert.deepEqual(closes, [1], 'a failed connect may leave a socket open');
  const refusing = stoppableStart('producer', async () => Promise.reject(new Error('disconnect refused')));
  await refusing.start(async () => undefined);
  await assert.rejects(refusing.stop(), /disconnect refused/);
});
