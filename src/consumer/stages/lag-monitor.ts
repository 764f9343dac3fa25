import type { Logger } from '../../common/logger.ts';
import type { KafkaAdminSession } from '../../kafka/port.ts';
import type { ServeMetrics } from '../metrics.ts';

export interface LagMonitorOptions {
  /**
   * From a client of its own, with short timeouts and no retry loop: a tick must answer within its
   * interval. The monitor owns it and closes it on stop.
   */
  readonly admin: KafkaAdminSession;
  readonly groupId: string;
  readonly topic: string;
  readonly intervalMs: number;
  readonly metrics: ServeMetrics;
  readonly logger: Logger;
  /** Called after every tick, reachable or not (health refreshes `livetag_ready` from it). */
  readonly onTick?: () => void;
  /**
   * Where the group starts on a partition it has not committed: the log's start (true, the
   * default), or its end (false: what the log already held is never read, so it is no lag).
   */
  readonly fromBeginning?: boolean;
  /**
   * Whether the group's consumer has joined: a group reading from the end starts at the end it
   * finds then, so a partition's baseline is taken again there (comments written before the join
   * are never read, and would otherwise be lag for good). Absent: the first tick's end stands.
   */
  readonly joined?: () => boolean;
  /** A round trip still unanswered after this long counts as a failed tick (default TICK_TIMEOUT_MS). */
  readonly tickTimeoutMs?: number;
}

const UNREACHABLE_AFTER = 2;
/**
 * A healthy round trip takes well under a second; each request has its own
 * 5 s timeout, but a broker killed in the middle of one can leave a library
 * call waiting 30 s (librdkafka's consumer, seen in the health test), and
 * readiness must not wait for it.
 */
export const TICK_TIMEOUT_MS = 8_000;

export interface LagMonitor {
  start(): void;
  /** False after a tick could not reach the broker, true again after one that could. */
  readonly brokerReachable: boolean;
  /** Ticks done (for tests and logs). */
  readonly ticks: number;
  stop(): Promise<void>;
}

/**
 * Measures the group's lag on its own timer, from the committed offsets and
 * the high watermarks, so it keeps growing while the service is stalled (a
 * lag set only after a publish freezes exactly when it matters). Every
 * instance reports the whole group's lag; the alerts take max per partition.
 * The same round trip tells readiness whether the broker answers.
 */
export function createLagMonitor(opts: LagMonitorOptions): LagMonitor {
  const { metrics, logger } = opts;
  let reachable = true;
  let failures = 0;
  let ticks = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  // At most one round trip at a time: one that outlived its tick is not doubled by the next.
  let pending: Promise<void> | undefined;
  const tickTimeoutMs = opts.tickTimeoutMs ?? TICK_TIMEOUT_MS;
  /** Each partition's end when first measured: where a group reading from the end starts. */
  const startedAt = new Map<number, bigint>();
  const rebased = new Set<number>();

  async function measure(): Promise<void> {
    const marks = await opts.admin.watermarks(opts.topic);
    const committed = await opts.admin.committedOffsets(opts.groupId, opts.topic);
    const next = new Map(committed.map((c) => [c.partition, BigInt(c.offset)]));
    const joinedNow = opts.joined?.() ?? true;
    for (const m of marks) {
      const at = next.get(m.partition) ?? -1n;
      // No committed offset yet: from the beginning, everything still in the log is waiting; from
      // the end, what arrived since the service started (an idle partition never commits, and its
      // whole log as lag would page on every quiet spell).
      let from = at;
      if (at < 0n) {
        if (opts.fromBeginning === false) {
          // Provisional from the first tick (a group that never joins still shows its lag growing),
          // taken again once at the first tick after the join: where the consumer really starts.
          if (!startedAt.has(m.partition) || (joinedNow && !rebased.has(m.partition))) {
            startedAt.set(m.partition, BigInt(m.high));
            if (joinedNow) rebased.add(m.partition);
          }
          from = startedAt.get(m.partition)!;
        } else from = BigInt(m.low);
      }
      const lag = BigInt(m.high) - from;
      metrics.lag.set({ topic: opts.topic, partition: String(m.partition) }, Number(lag > 0n ? lag : 0n));
    }
  }

  /** The round trip, or a failure once it has taken longer than a tick may. */
  async function roundTrip(): Promise<void> {
    if (pending) throw new Error('the previous round trip has not answered yet');
    const trip = measure();
    pending = trip;
    const settled = (): void => {
      pending = undefined;
    };
    void trip.then(settled, settled);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${tickTimeoutMs} ms`)), tickTimeoutMs);
    });
    try {
      await Promise.race([trip, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function tick(): Promise<void> {
    try {
      await roundTrip();
      if (!reachable) logger.info('Kafka reachable again', { topic: opts.topic });
      reachable = true;
      failures = 0;
    } catch (err) {
      // One slow answer on a busy node is not an outage: two in a row are.
      failures++;
      if (reachable && failures >= UNREACHABLE_AFTER) {
        logger.warn('Kafka not reachable: not ready until it answers', { error: (err as Error).message });
        reachable = false;
      }
      metrics.errors.inc({ code: 'LT_KAFKA' });
    }
    ticks++;
    opts.onTick?.();
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(schedule);
    }, opts.intervalMs);
    timer.unref();
  }

  return {
    start() {
      running = tick().finally(schedule);
    },
    get brokerReachable() {
      return reachable;
    },
    get ticks() {
      return ticks;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => undefined);
      await opts.admin.close();
    },
  };
}
