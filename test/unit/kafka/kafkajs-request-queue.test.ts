import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixIdleRequestQueueTimer, kafkajsRequestQueue } from '../../../src/kafka/kafkajs-request-queue.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const newQueue = () => new (kafkajsRequestQueue())({ maxInFlightRequests: 1, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'test', broker: 'localhost:9092', logger: silent });

/** How often an idle queue checks its (empty) pending list in `ms`, counting from one initial check. */
async function idleChecks(ms: number): Promise<number> {
  const queue = newQueue();
  let checks = 0;
  const check = queue.checkPendingRequests.bind(queue);
  queue.checkPendingRequests = () => {
    checks++;
    check();
  };
  queue.checkPendingRequests();
  await new Promise((r) => setTimeout(r, ms));
  clearTimeout(queue.throttleCheckTimeoutId ?? undefined);
  queue.throttleCheckTimeoutId = null;
  return checks;
}

test('kafkajs 2.2.4 checks an empty request queue every millisecond; with the fix it does not, and a waiting request is still checked', async () => {
  // This file imports only the fix, so kafkajs' own method runs first.
  const before = await idleChecks(200);
  assert.ok(before > 20, `unfixed kafkajs checked an empty queue ${before} times in 200 ms`);

  assert.equal(fixIdleRequestQueueTimer(), true);
  assert.equal(fixIdleRequestQueueTimer(), true, 'applying it twice changes nothing');
  assert.equal(await idleChecks(200), 1, 'only the check the test made itself');

  // A request that cannot go out (throttled) is checked when the throttle ends.
  const queue = newQueue();
  queue.throttledUntil = Date.now() + 30;
  queue.pending.push({});
  let checked = 0;
  queue.checkPendingRequests = () => {
    checked++;
    queue.pending.length = 0;
  };
  queue.scheduleCheckPendingRequests();
  assert.ok(queue.throttleCheckTimeoutId, 'a timer is armed for the waiting request');
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(checked, 1);
});

test('a kafkajs whose method no longer has the fault is left alone', () => {
  class Fixed {
    pending: unknown[] = [];
    throttledUntil = -1;
    throttleCheckTimeoutId = null;
    checkPendingRequests() {}
    scheduleCheckPendingRequests() {
      if (this.pending.length === 0) return;
    }
  }
  const original = Fixed.prototype.scheduleCheckPendingRequests;
  assert.equal(fixIdleRequestQueueTimer(Fixed as never), false);
  assert.equal(Fixed.prototype.scheduleCheckPendingRequests, original);
});
