import { LivetagError } from '../common/errors.ts';
import { splitByLength, type BatchCost } from './batch-cost.ts';

export interface BatchLimits {
  readonly maxSize: number;
  readonly maxWaitMs: number;
  /** Padded tokens: batch size × its longest row. */
  readonly maxTokens: number;
  /**
   * A batch stops waiting for company once no text has come for this long
   * (0: it waits the whole maxWaitMs). Texts come in bursts: one fetch
   * response, tokenized per partition, lands within a millisecond or two, and
   * the next is a fetch round trip away, so the rest of maxWaitMs is spent
   * waiting for nothing.
   */
  readonly quietMs?: number;
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
    /** Takes the n oldest entries of each length named. */
    take(ranges: readonly { len: number; n: number }[]): Pending<R>[] {
      const out: Pending<R>[] = [];
      for (const { len, n } of ranges) {
        const got = buckets[len].splice(0, n);
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
 * by size, wait time and padded tokens; an idle model stops waiting once
 * submissions pause (quietMs). A batch is formed only when the model
 * can take one (at most `depth` in flight, so the next batch is padded and
 * queued while the current one runs); under load the queue is deep and each
 * batch is a run of texts of similar length holding the oldest waiting one,
 * so padding stays small and nothing starves. With a cost model, a queue
 * shorter than a batch is split by length too, and the batches that ran
 * alone teach the model what a batch costs.
 */
export function createMicroBatcher<R>(limits: BatchLimits, run: (rows: (readonly number[])[]) => Promise<R[]>, depth = 2, cost?: BatchCost): MicroBatcher<R> {
  const queue = createLengthQueue<R>();
  let inFlight = 0;
  let seq = 0;
  let timer: NodeJS.Timeout | undefined;
  let timerDue = 0;
  let stopped = false;
  let idle: (() => void) | undefined;
  let lastSubmit = 0;
  let dueBefore = 0;
  const quietMs = limits.quietMs ?? 0;

  /**
   * The queue sorted by length is cut into runs of maxSize from the shortest
   * text up, and the batch is the run holding the oldest (the last run
   * shifted back to full size). Growing a window around the oldest instead
   * splits runs wherever the oldest happens to fall, and the fragments left on
   * either side later share a batch spanning both; picking, among the runs
   * holding the oldest, the one with the least padding fragments worse still.
   * bench/batcher-padding.ts replays real live comments: 11.4 / 12.3 padded
   * tokens per text at 2 / 3 batches in flight, against 11.8–12.0 / 12.4–13.4
   * for the window (real 9.3; sorting each round of chunks: 10.6). The price
   * is one batch per pass straddling a gap in lengths. Within a length the oldest
   * go first; a run over the token budget gives up its longest texts, then
   * its shortest, never the oldest.
   */
  /** The next batch and its padded tokens (size × its longest text, which the cut already knows). */
  function cut(): { batch: Pending<R>[]; padded: number } {
    const len0 = queue.oldest()!.ids.length;
    // ends[len]: sorted positions before the first text longer than len.
    const ends: number[] = [];
    let total = 0;
    for (let len = 0; len <= queue.longest; len++) ends.push((total += queue.bucket(len)?.length ?? 0));
    const lengthAt = (pos: number): number => {
      let lo = 0;
      let hi = ends.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (ends[mid] > pos) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    };
    const startOf = (len: number): number => (len > 0 ? ends[len - 1] : 0);
    const p = startOf(len0);
    const size = Math.min(limits.maxSize, total);
    let a = Math.min(Math.floor(p / limits.maxSize) * limits.maxSize, total - size);
    let b = a + size;
    while (b - a > 1 && (b - a) * lengthAt(b - 1) > limits.maxTokens) {
      if (b - 1 > p) b--;
      else a++;
    }
    // A shallow queue (light load: the wait ran out before maxSize texts came) is
    // all one run, padded to its longest text. Split by length where a batch
    // more costs less than the padding it saves, and take the part holding the
    // oldest; the rest is just as due and follows. Paced at half of capacity,
    // the bert-base shape batched ~36 texts at ~19 padded tokens per text this
    // way (real 9.3) and its p99 reached seconds (docs/performance.md).
    if (cost && total <= limits.maxSize && b - a > 1) {
      const lens: number[] = [];
      for (let i = a; i < b; i++) lens.push(lengthAt(i));
      let start = a;
      for (const end of splitByLength(lens, cost.overheadTokens())) {
        if (a + end > p) {
          b = a + end;
          a = start;
          break;
        }
        start = a + end;
      }
    }
    const ranges: { len: number; n: number }[] = [];
    for (let len = lengthAt(a); len <= queue.longest && startOf(len) < b; len++) {
      const n = Math.min(ends[len], b) - Math.max(startOf(len), a);
      if (n > 0) ranges.push({ len, n });
    }
    return { batch: queue.take(ranges), padded: (b - a) * lengthAt(b - 1) };
  }

  function pump(): void {
    while (queue.size > 0 && inFlight < depth) {
      const now = performance.now();
      const oldest = queue.oldest()!;
      const waited = now - oldest.arrived;
      const full = queue.size >= limits.maxSize || queue.longest * queue.size >= limits.maxTokens;
      // Only an idle model is worth an early cut: behind a running batch, the
      // next one cannot start sooner and may as well keep filling. Texts
      // queued when a gap cut them are due, so the rest of a split follows at once.
      const gapCuts = quietMs > 0 && inFlight === 0;
      const quiet = (gapCuts && now - lastSubmit >= quietMs) || oldest.seq < dueBefore;
      if (!full && !quiet && waited < limits.maxWaitMs && !stopped) {
        const left = limits.maxWaitMs - waited;
        const delay = gapCuts ? Math.min(left, quietMs - (now - lastSubmit)) : left;
        // A timer armed while a batch ran waits out maxWaitMs; the model now idle wants the earlier gap.
        if (timer && timerDue <= now + delay) return;
        if (timer) clearTimeout(timer);
        timerDue = now + delay;
        timer = setTimeout(() => {
          timer = undefined;
          pump();
        }, delay);
        return;
      }
      if (quiet) dueBefore = Math.max(dueBefore, seq);
      const { batch, padded } = cut();
      // Only a batch with nothing ahead of it times its own cost.
      const t0 = cost && inFlight === 0 ? performance.now() : undefined;
      inFlight++;
      run(batch.map((p) => p.ids)).then(
        (results) => {
          if (t0 !== undefined) cost!.observe(padded, performance.now() - t0);
          batch.forEach((p, i) => p.resolve(results[i]));
        },
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
        lastSubmit = performance.now();
        queue.push({ ids, arrived: lastSubmit, seq: seq++, taken: false, resolve, reject });
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
