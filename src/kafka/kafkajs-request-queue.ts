import { createRequire } from 'node:module';

/** The part of kafkajs' per-connection RequestQueue the fix reads and replaces. */
interface RequestQueue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

type RequestQueueClass = { prototype: RequestQueue } & (new (opts: Record<string, unknown>) => RequestQueue);

/** kafkajs' own interval for re-checking a non-empty queue (CHECK_PENDING_REQUESTS_INTERVAL). */
const RECHECK_MS = 10;
const FIXED = Symbol.for('livetag.kafkajs.requestQueueTimerFix');

export function kafkajsRequestQueue(): RequestQueueClass {
  return createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as RequestQueueClass;
}

/**
 * kafkajs 2.2.4 re-arms a timer on every broker connection each time its
 * pending-request check ends, pending requests or not, with a negative delay
 * (so 1 ms): about a thousand wake-ups per second per connection for the
 * life of the client (tulios/kafkajs#1556, #1704; the fix of #1667 is
 * unreleased). On a service at 100 messages/s that idle loop was the largest
 * cost on the main thread. This applies #1667 to the loaded kafkajs: with
 * nothing pending nothing is scheduled, since a request that has to wait
 * schedules its own check when it is queued and answers re-check as they
 * arrive. It changes nothing in a kafkajs whose method no longer has the fault.
 *
 * @returns whether the fix is in place now
 */
export function fixIdleRequestQueueTimer(queue: RequestQueueClass = kafkajsRequestQueue()): boolean {
  const proto = queue.prototype as RequestQueue & { [FIXED]?: true };
  if (proto[FIXED]) return true;
  const source = proto.scheduleCheckPendingRequests.toString();
  // The faulty body: the delay is only corrected inside the pending branch, then a timer is armed regardless.
  const faulty = /if\s*\(this\.pending\.length > 0\)\s*\{\s*scheduleAt = scheduleAt > 0 \? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL\s*\}\s*this\.throttleCheckTimeoutId = setTimeout/.test(source);
  if (!faulty) return false;
  proto.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueue): void {
    if (this.pending.length === 0 || this.throttleCheckTimeoutId) return;
    const wait = this.throttledUntil - Date.now();
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, wait > 0 ? wait : RECHECK_MS);
  };
  proto[FIXED] = true;
  return true;
}

/** The part of the queue the request-timeout check reads. */
interface InFlight {
  /** Null while the request's write is still under way (and so if the write threw). */
  readonly sentAt: number | null;
  readonly requestTimeout: number;
  timeoutRequest(): void;
}

interface TimedQueue {
  enforceRequestTimeout: boolean;
  requestTimeout: number;
  inflight: Map<unknown, InFlight>;
  requestTimeoutIntervalId?: NodeJS.Timeout;
  isConnected(): boolean;
  destroy(): void;
  sendSocketRequest(request: unknown): void;
  scheduleRequestTimeoutCheck(): void;
}

const TIMED = Symbol.for('livetag.kafkajs.requestTimeoutCheckFix');
const WANTED = Symbol('livetag.requestTimeoutCheckWanted');
const ARMED_FOR = Symbol('livetag.requestTimeoutCheckArmedFor');

/** When a request is past its timeout: kafkajs times one out once now − sentAt > requestTimeout (a null sentAt counting as 0, so at once). */
const deadlineOf = (r: InFlight): number => (r.sentAt ?? 0) + r.requestTimeout + 1;

/** Node runs a longer delay after 1 ms (with a warning); kafkajs allows timeouts up to Number.MAX_SAFE_INTEGER (a JoinGroup's). Checking early only re-arms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function earliestDeadline(q: TimedQueue): number {
  let deadline = Infinity;
  for (const r of q.inflight.values()) deadline = Math.min(deadline, deadlineOf(r));
  return deadline;
}

/**
 * kafkajs 2.2.4 checks every connection for timed-out requests every 100 ms
 * from connect to disconnect, requests in flight or not. The check wakes the
 * event loop ten times a second per connection: on the connections that sit
 * idle between calls (the group coordinator's, the producer's between
 * chunks, the lag monitor's admin), and on the consumer's fetch connection,
 * whose long-poll fetch is in flight all the time an idle service waits for
 * comments. An idle service's main thread spent ~1 ms a second on them. This
 * runs the same check once, when the earliest request in flight reaches its
 * timeout (armed when a request is sent, and earlier when a request with an
 * earlier deadline is sent), then for the next one, until none is in flight.
 * Which requests time out is unchanged; they time out at their deadline
 * instead of up to 100 ms after it. The timer does not hold the process: a
 * request is only in flight on an open socket, which does.
 *
 * @returns whether the fix is in place now
 */
export function fixIdleRequestTimeoutCheck(queue: RequestQueueClass = kafkajsRequestQueue()): boolean {
  const proto = queue.prototype as unknown as TimedQueue & { [TIMED]?: true };
  if (proto[TIMED]) return true;
  // The shape this replaces: an interval armed at connect that walks the in-flight requests.
  const original = proto.scheduleRequestTimeoutCheck.toString();
  if (!/setInterval\(/.test(original) || !/this\.inflight\.forEach/.test(original)) return false;
  const { destroy, sendSocketRequest } = proto;
  type Queue = TimedQueue & { [WANTED]?: boolean; [ARMED_FOR]?: number };
  const arm = (q: Queue, deadline: number): void => {
    // Not before its connect, nothing in flight (Infinity), or a check already armed as early.
    if (!q[WANTED] || !(deadline < (q[ARMED_FOR] ?? Infinity))) return;
    clearTimeout(q.requestTimeoutIntervalId);
    q[ARMED_FOR] = deadline;
    q.requestTimeoutIntervalId = setTimeout(() => {
      q.requestTimeoutIntervalId = undefined;
      q[ARMED_FOR] = undefined;
      const now = Date.now();
      q.inflight.forEach((request) => {
        if (deadlineOf(request) <= now) request.timeoutRequest();
      });
      if (!q.isConnected()) q.destroy();
      else arm(q, earliestDeadline(q));
    }, Math.min(MAX_TIMER_MS, Math.max(1, deadline - Date.now()))).unref();
  };
  proto.scheduleRequestTimeoutCheck = function scheduleRequestTimeoutCheck(this: Queue): void {
    if (!this.enforceRequestTimeout) return;
    this.destroy();
    this[WANTED] = true;
    arm(this, earliestDeadline(this));
  };
  proto.sendSocketRequest = function (this: Queue, request: unknown): void {
    try {
      sendSocketRequest.call(this, request);
    } finally {
      // A write that threw leaves the request in flight with no sentAt; kafkajs' interval timed it out, so must this.
      const sent = this.inflight.get((request as { correlationId?: unknown }).correlationId);
      if (sent) arm(this, deadlineOf(sent));
    }
  };
  proto.destroy = function (this: Queue): void {
    this[WANTED] = false;
    destroy.call(this);
    this.requestTimeoutIntervalId = undefined;
    this[ARMED_FOR] = undefined;
  };
  proto[TIMED] = true;
  return true;
}
