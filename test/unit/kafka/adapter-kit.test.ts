import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLivetagError, LivetagError } from '../../../src/common/errors.ts';
import { keptConnection } from '../../../src/kafka/adapter-kit.ts';

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
