/**
 * Bounds the messages held in memory. Fetch handlers wait here before taking
 * more work, so a slow model pauses fetching instead of growing the heap.
 */
export interface InFlightGate {
  acquire(n: number): Promise<void>;
  release(n: number): void;
  readonly used: number;
  readonly waiting: number;
}

export function createInFlightGate(capacity: number, onChange?: (used: number, waiting: number) => void): InFlightGate {
  let used = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const notify = (): void => onChange?.(used, waiters.length);
  const drain = (): void => {
    // FIFO: a large request at the head is not overtaken by small ones.
    while (waiters.length > 0 && (used === 0 || used + waiters[0].n <= capacity)) {
      const w = waiters.shift()!;
      used += w.n;
      w.resolve();
    }
    notify();
  };
  return {
    acquire(n) {
      // A single request larger than the capacity still runs, alone.
      if (waiters.length === 0 && (used === 0 || used + n <= capacity)) {
        used += n;
        notify();
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        waiters.push({ n, resolve });
        notify();
      });
    },
    release(n) {
      used -= n;
      drain();
    },
    get used() {
      return used;
    },
    get waiting() {
      return waiters.length;
    },
  };
}
