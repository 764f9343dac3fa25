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

test('with the fix, a request in flight is checked once, at its deadline, not every 100 ms; a later request with an earlier deadline is checked at its own', async () => {
  assert.equal(fixIdleRequestTimeoutCheck(), true);
  const queue = newQueue();
  let checks = 0;
  // Each check walks the in-flight map once: count the walks.
  queue.inflight = new (class extends Map<number, unknown> {
    override forEach(...args: Parameters<Map<number, unknown>['forEach']>): void {
      checks++;
      super.forEach(...args);
    }
  })();
  queue.scheduleRequestTimeoutCheck();
  const timedOut: number[] = [];
  const t0 = Date.now();
  // A consumer's long-poll fetch: in flight all the time the service waits for comments.
  queue.sendSocketRequest(request(queue, 1, timedOut, 600));
  await new Promise((r) => setTimeout(r, 350));
  assert.equal(checks, 0, `no check before the deadline (kafkajs 2.2.4 makes ${Math.floor(350 / 100)} by now)`);
  // A request with a shorter timeout, sent later, is due first.
  const t1 = Date.now();
  queue.sendSocketRequest(request(queue, 2, timedOut, 40));
  while (timedOut.length < 1 && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 2));
  assert.deepEqual(timedOut, [2]);
  assert.ok(Date.now() - t1 >= 40 && Date.now() - t1 < 300, `timed out ${Date.now() - t1} ms after it was sent, its timeout 40`);
  while (timedOut.length < 2 && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 2));
  assert.deepEqual(timedOut, [2, 1]);
  assert.ok(Date.now() - t0 >= 600 && Date.now() - t0 < 900, `the long one timed out ${Date.now() - t0} ms after it was sent, its timeout 600`);
  assert.ok(checks <= 4, `${checks} checks for two requests`);
  assert.equal(queue.requestTimeoutIntervalId, undefined, 'nothing in flight: nothing armed');
  queue.destroy();
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
