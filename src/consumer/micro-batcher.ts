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
 * Collects tokenized texts from every partition into inference batches bounded
 * by size, wait time and padded tokens. A batch is formed only when the model
 * can take one (at most `depth` in flight, so the next batch is padded and
 * queued while the current one runs); under load the queue is deep and each
 * batch is cut from texts of similar length around the oldest waiting one, so
 * padding stays small and nothing starves.
 */
export function createMicroBatcher<R>(limits: BatchLimits, run: (rows: (readonly number[])[]) => Promise<R[]>, depth = 2): MicroBatcher<R> {
  const queue: Pending<R>[] = [];
  let inFlight = 0;
  let seq = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let idle: (() => void) | undefined;

  function cut(): Pending<R>[] {
    const byLength = [...queue].sort((a, b) => a.ids.length - b.ids.length || a.seq - b.seq);
    const oldest = queue[0];
    let lo = byLength.indexOf(oldest);
    let hi = lo;
    let longest = oldest.ids.length;
    const fits = (n: number, len: number): boolean => n <= limits.maxSize && n * Math.max(longest, len) <= limits.maxTokens;
    while (hi - lo + 1 < limits.maxSize) {
      const left = lo > 0 ? byLength[lo - 1] : undefined;
      const right = hi + 1 < byLength.length ? byLength[hi + 1] : undefined;
      if (!left && !right) break;
      // Grow towards the neighbour whose length is closer to the oldest text's.
      const takeRight = right && (!left || right.ids.length - oldest.ids.length <= oldest.ids.length - left.ids.length);
      const next = takeRight ? right! : left!;
      if (!fits(hi - lo + 2, next.ids.length)) break;
      if (takeRight) hi++;
      else lo--;
      longest = Math.max(longest, next.ids.length);
    }
    const chosen = new Set(byLength.slice(lo, hi + 1));
    const batch = queue.filter((p) => chosen.has(p));
    for (let i = queue.length - 1; i >= 0; i--) if (chosen.has(queue[i])) queue.splice(i, 1);
    return batch;
  }

  function tokensQueued(): number {
    let longest = 0;
    for (const p of queue) longest = Math.max(longest, p.ids.length);
    return longest * queue.length;
  }

  function pump(): void {
    while (queue.length > 0 && inFlight < depth) {
      const waited = Date.now() - queue[0].arrived;
      const full = queue.length >= limits.maxSize || tokensQueued() >= limits.maxTokens;
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
        if (inFlight === 0 && queue.length === 0) idle?.();
      });
    }
  }

  let stopping: Promise<void> | undefined;
  return {
    submit(ids) {
      if (stopped) return Promise.reject(new LivetagError('LT_STOPPED', 'batcher is stopped'));
      return new Promise<R>((resolve, reject) => {
        queue.push({ ids, arrived: Date.now(), seq: seq++, resolve, reject });
        pump();
      });
    },
    get pending() {
      return queue.length + inFlight;
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        stopped = true;
        if (timer) clearTimeout(timer);
        timer = undefined;
        if (inFlight === 0 && queue.length === 0) return resolve();
        idle = resolve;
        pump();
      });
      return stopping;
    },
  };
}
