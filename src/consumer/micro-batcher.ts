import { LivetagError } from '../common/errors.ts';

export interface BatchLimits {
  readonly maxSize: number;
  readonly maxWaitMs: number;
  /** Padded tokens: batch size × its longest row. */
  readonly maxTokens: number;
}

interface Pending<R> {
  readonly ids: readonly number[];
  readonly arrived: number;
  readonly seq: number;
  /** Set when a batch took it; the arrival queue drops taken entries lazily. */
  taken: boolean;
  resolve(r: R): void;
  reject(e: Error): void;
}

export interface MicroBatcher<R> {
  submit(ids: readonly number[]): Promise<R>;
  readonly pending: number;
  /** Runs what is queued, waits for in-flight batches, then refuses new work. */
  stop(): Promise<void>;
}

/**
 * Queued texts by token length, each length in arrival order. Walking the
 * buckets is walking the queue sorted by (length, arrival) without sorting
 * it: a cut costs the batch it takes, not the depth of the queue, which
 * under load holds thousands of texts.
 */
function createLengthQueue<R>() {
  const buckets: Pending<R>[][] = [];
  let arrivals: Pending<R>[] = [];
  let head = 0;
  let count = 0;
  let longest = 0;

  function oldest(): Pending<R> | undefined {
    while (head < arrivals.length && arrivals[head].taken) head++;
    // Compact now and then so the arrival array does not grow without bound.
    if (head > 1024 && head * 2 > arrivals.length) {
      arrivals = arrivals.slice(head);
      head = 0;
    }
    return arrivals[head];
  }

  return {
    get size() {
      return count;
    },
    get longest() {
      return longest;
    },
    oldest,
    push(p: Pending<R>): void {
      (buckets[p.ids.length] ??= []).push(p);
      arrivals.push(p);
      count++;
      longest = Math.max(longest, p.ids.length);
    },
    /** Takes n entries from the front or the back of each bucket named. */
    take(ranges: readonly { len: number; from: 'front' | 'back'; n: number }[]): Pending<R>[] {
      const out: Pending<R>[] = [];
      for (const { len, from, n } of ranges) {
        const b = buckets[len];
        const got = from === 'front' ? b.splice(0, n) : b.splice(b.length - n, n);
        for (const p of got) p.taken = true;
        out.push(...got);
        count -= n;
      }
      while (longest > 0 && !(buckets[longest]?.length)) longest--;
      return out.sort((a, b) => a.seq - b.seq);
    },
    bucket: (len: number): readonly Pending<R>[] | undefined => buckets[len],
  };
}

/**
 * Collects tokenized texts from every partition into inference batches bounded
 * by size, wait time and padded tokens. A batch is formed only when the model
 * can take one (at most `depth` in flight, so the next batch is padded and
 * queued while the current one runs); under load the queue is deep and each
 * batch is cut from texts of similar length around the oldest waiting one, so
 * padding stays small and nothing starves.
 */
export function createMicroBatcher<R>(limits: BatchLimits, run: (rows: (readonly number[])[]) => Promise<R[]>, depth = 2): MicroBatcher<R> {
  const queue = createLengthQueue<R>();
  let inFlight = 0;
  let seq = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let idle: (() => void) | undefined;

  /** The oldest text and its neighbours in (length, arrival) order, growing toward the closer length while size and tokens allow. */
  function cut(): Pending<R>[] {
    const first = queue.oldest()!;
    const len0 = first.ids.length;
    // Right: the oldest's bucket from its front (the oldest is its first), then longer buckets from their fronts.
    // Left: shorter buckets from their backs (their latest arrivals sit next to the oldest in sorted order).
    let rLen = len0;
    let rTaken = 1;
    let lLen = len0 - 1;
    let lTaken = 0;
    const ranges = new Map<number, { len: number; from: 'front' | 'back'; n: number }>([[len0, { len: len0, from: 'front', n: 1 }]]);
    let size = 1;
    let longest = len0;
    const peekRight = (): number | undefined => {
      for (let len = rLen, taken = rTaken; len <= queue.longest; len++, taken = 0) if ((queue.bucket(len)?.length ?? 0) > taken) return len;
      return undefined;
    };
    const peekLeft = (): number | undefined => {
      for (let len = lLen, taken = lTaken; len >= 0; len--, taken = 0) if ((queue.bucket(len)?.length ?? 0) > taken) return len;
      return undefined;
    };
    while (size < limits.maxSize) {
      const right = peekRight();
      const left = peekLeft();
      if (left === undefined && right === undefined) break;
      const takeRight = right !== undefined && (left === undefined || right - len0 <= len0 - left);
      const nextLen = takeRight ? right : left!;
      if ((size + 1) * Math.max(longest, nextLen) > limits.maxTokens) break;
      if (takeRight) {
        rTaken = nextLen === rLen ? rTaken + 1 : 1;
        rLen = nextLen;
      } else {
        lTaken = nextLen === lLen ? lTaken + 1 : 1;
        lLen = nextLen;
      }
      const range = ranges.get(nextLen) ?? { len: nextLen, from: takeRight ? 'front' : 'back', n: 0 };
      range.n++;
      ranges.set(nextLen, range);
      size++;
      longest = Math.max(longest, nextLen);
    }
    return queue.take([...ranges.values()]);
  }

  function pump(): void {
    while (queue.size > 0 && inFlight < depth) {
      const waited = Date.now() - queue.oldest()!.arrived;
      const full = queue.size >= limits.maxSize || queue.longest * queue.size >= limits.maxTokens;
      if (!full && waited < limits.maxWaitMs && !stopped) {
        timer ??= setTimeout(() => {
          timer = undefined;
          pump();
        }, limits.maxWaitMs - waited);
        return;
      }
      const batch = cut();
      inFlight++;
      run(batch.map((p) => p.ids)).then(
        (results) => batch.forEach((p, i) => p.resolve(results[i])),
        (err: Error) => batch.forEach((p) => p.reject(err)),
      ).finally(() => {
        inFlight--;
        pump();
        if (inFlight === 0 && queue.size === 0) idle?.();
      });
    }
  }

  let stopping: Promise<void> | undefined;
  return {
    submit(ids) {
      if (stopped) return Promise.reject(new LivetagError('LT_STOPPED', 'batcher is stopped'));
      return new Promise<R>((resolve, reject) => {
        queue.push({ ids, arrived: Date.now(), seq: seq++, taken: false, resolve, reject });
        pump();
      });
    },
    get pending() {
      return queue.size + inFlight;
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        stopped = true;
        if (timer) clearTimeout(timer);
        timer = undefined;
        if (inFlight === 0 && queue.size === 0) return resolve();
        idle = resolve;
        pump();
      });
      return stopping;
    },
  };
}
