import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixIdleRequestTimeoutCheck, kafkajsRequestQueue } from '../../../src/kafka/kafkajs-request-queue.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
type Queue = InstanceType<ReturnType<typeof kafkajsRequestQueue>> & {
  inflight: Map<number, unknown>;
  requestTimeoutIntervalId?: NodeJS.Timeout;
  scheduleRequestTimeoutCheck(): void;
  sendSocketRequest(request: unknown): void;
  destroy(): void;
};
const newQueue = (): Queue => new (kafkajsRequestQueue())({ maxInFlightRequests: 1, requestTimeout: 30, enforceRequestTimeout: true, clientId: 'test', broker: 'localhost:9092', logger: silent }) as Queue;

/** What kafkajs' socket request does on send: it enters the in-flight map; a timeout takes it out. */
function request(queue: Queue, id: number, timedOut: number[], requestTimeout = 30) {
  const entry = { sentAt: 0, requestTimeout, timeoutRequest: () => (timedOut.push(id), queue.inflight.delete(id)) };
  return {
    expectResponse: true,
    correlationId: id,
    send: () => queue.inflight.set(id, Object.assign(entry, { sentAt: Date.now() })),
  };
}

test('kafkajs 2.2.4 checks a connection for timed-out requests every 100 ms with none in flight; with the fix only while one is, and it still times them out', async () => {
  // This file imports only the fix, so kafkajs' own method runs first.
  const unfixed = newQueue();
  unfixed.scheduleRequestTimeoutCheck();
  assert.ok(unfixed.requestTimeoutIntervalId, 'unfixed kafkajs arms its check at connect, with nothing in flight');
  unfixed.destroy();

  assert.equal(fixIdleRequestTimeoutCheck(), true);
  assert.equal(fixIdleRequestTimeoutCheck(), true, 'applying it twice changes nothing');
  const queue = newQueue();
  queue.scheduleRequestTimeoutCheck();
  assert.equal(queue.requestTimeoutIntervalId, undefined, 'an idle connection has no timer');

  const timedOut: number[] = [];
  const t0 = Date.now();
  queue.sendSocketRequest(request(queue, 1, timedOut));
  assert.ok(queue.requestTimeoutIntervalId, 'a request in flight arms the check');
  while (timedOut.length === 0 && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(timedOut, [1], 'the request past its 30 ms timeout was timed out');
  assert.ok(Date.now() - t0 >= 30);
  while (queue.requestTimeoutIntervalId && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 5));
  assert.equal(queue.requestTimeoutIntervalId, undefined, 'with nothing left in flight the check disarms');

  // Sent again: armed again. Disconnected (destroy): gone, and a send then arms nothing until the next connect.
  queue.sendSocketRequest(request(queue, 2, timedOut));
  assert.ok(queue.requestTimeoutIntervalId);
  queue.destroy();
  assert.equal(queue.requestTimeoutIntervalId, undefined);
  queue.sendSocketRequest(request(queue, 3, timedOut));
  assert.equal(queue.requestTimeoutIntervalId, undefined, 'no check before the connection is made again');
  queue.scheduleRequestTimeoutCheck();
  assert.ok(queue.requestTimeoutIntervalId, 'connected again with a request in flight: checked');
  queue.destroy();

  // enforceRequestTimeout: false keeps its meaning: never checked.
  const unenforced = new (kafkajsRequestQueue())({ maxInFlightRequests: 1, requestTimeout: 30, enforceRequestTimeout: false, clientId: 'test', broker: 'b', logger: silent }) as Queue;
  unenforced.scheduleRequestTimeoutCheck();
  unenforced.sendSocketRequest(request(unenforced, 4, timedOut));
  assert.equal(unenforced.requestTimeoutIntervalId, undefined);
});

/** A fixed queue whose checks are counted: every check ends by asking whether the connection is still up. */
function countedQueue(): { queue: Queue; checks: () => number } {
  assert.equal(fixIdleRequestTimeoutCheck(), true);
  const queue = newQueue();
  let checks = 0;
  Object.assign(queue, { isConnected: () => (checks++, true) });
  queue.scheduleRequestTimeoutCheck();
  return { queue, checks: () => checks };
}

const tick = (ms = 2): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('with the fix, a request in flight is checked once, at its deadline, not every 100 ms; a later request with an earlier deadline is checked at its own', async () => {
  const { queue, checks } = countedQueue();
  const timedOut: number[] = [];
  const at = new Map<number, number>();
  const t0 = Date.now();
  // A consumer's long-poll fetch: in flight all the time the service waits for comments.
  queue.sendSocketRequest(request(queue, 1, timedOut, 600));
  await tick(350);
  assert.equal(checks(), 0, `no check before the deadline (kafkajs 2.2.4 makes ${Math.floor(350 / 100)} by now)`);
  // A request with a shorter timeout, sent later, is due first: at its own deadline, not at the long one's.
  const t1 = Date.now();
  queue.sendSocketRequest(request(queue, 2, timedOut, 40));
  while (timedOut.length < 2 && Date.now() - t0 < 5_000) {
    for (const id of timedOut) if (!at.has(id)) at.set(id, Date.now());
    await tick();
  }
  for (const id of timedOut) if (!at.has(id)) at.set(id, Date.now());
  assert.deepEqual(timedOut, [2, 1]);
  assert.ok(at.get(2)! - t1 >= 40 && at.get(2)! < t0 + 600, `the short one timed out ${at.get(2)! - t1} ms after it was sent (its timeout 40), before the long one's deadline`);
  assert.ok(at.get(1)! - t0 >= 600, `the long one timed out ${at.get(1)! - t0} ms after it was sent, its timeout 600`);
  assert.ok(checks() <= 4, `${checks()} checks for two requests`);
  assert.equal(queue.requestTimeoutIntervalId, undefined, 'nothing in flight: nothing armed');
  queue.destroy();
});

test('with the fix, a timeout beyond what a Node timer holds (kafkajs allows up to Number.MAX_SAFE_INTEGER) arms no 1 ms timer; a send that throws is still timed out', async () => {
  const { queue, checks } = countedQueue();
  const timedOut: number[] = [];
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    queue.sendSocketRequest(request(queue, 1, timedOut, Number.MAX_SAFE_INTEGER - Date.now()));
    await tick(60);
    assert.equal(checks(), 0, 'a delay past 2³¹−1 ms would run after 1 ms, and re-arm, and run again');
    assert.deepEqual(warnings, []);
    queue.inflight.delete(1);

    // kafkajs enters the request in flight, then writes, then sets sentAt: a write that throws leaves it in flight with none.
    const failing = {
      expectResponse: true,
      correlationId: 2,
      send: () => {
        queue.inflight.set(2, { sentAt: null, requestTimeout: 30, timeoutRequest: () => (timedOut.push(2), queue.inflight.delete(2)) });
        throw new Error('socket write failed');
      },
    };
    assert.throws(() => queue.sendSocketRequest(failing), /socket write failed/);
    const t0 = Date.now();
    while (timedOut.length === 0 && Date.now() - t0 < 5_000) await tick();
    assert.deepEqual(timedOut, [2], 'timed out, as kafkajs 2.2.4 did within its 100 ms');
  } finally {
    process.off('warning', onWarning);
    queue.destroy();
  }
});

test('a kafkajs whose request-timeout check is no longer an always-on interval is left alone', () => {
  class Fixed {
    inflight = new Map();
    scheduleRequestTimeoutCheck() {}
    sendSocketRequest() {}
    destroy() {}
  }
  const original = Fixed.prototype.sendSocketRequest;
  assert.equal(fixIdleRequestTimeoutCheck(Fixed as never), false);
  assert.equal(Fixed.prototype.sendSocketRequest, original);
});
