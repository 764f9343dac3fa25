import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from '../../../../src/common/logger.ts';
import { createServeMetrics } from '../../../../src/consumer/metrics.ts';
import { createLagMonitor } from '../../../../src/consumer/stages/lag-monitor.ts';
import type { KafkaAdminSession } from '../../../../src/kafka/port.ts';

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => quiet };
const until = async (ok: () => boolean, ms: number, what: string): Promise<void> => {
  for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 5))) if (Date.now() > end) assert.fail(`${what} within ${ms} ms`);
};

/**
 * An admin session whose committed-offsets call never answers while `hang` is
 * set: the shape of a librdkafka consumer call caught by a broker SIGKILL,
 * which waits 30 s although its request timeout is 5 s (reproduced on a real broker).
 */
type State = { hang: boolean; calls: number; closes: number; answer?: () => void };
function hangingAdmin(state: State): KafkaAdminSession {
  const committed = [{ partition: 0, offset: '4' }];
  return {
    watermarks: async () => [{ partition: 0, low: '0', high: '10' }],
    committedOffsets: () => {
      state.calls++;
      return state.hang ? new Promise((r) => (state.answer = () => r(committed))) : Promise.resolve(committed);
    },
    close: async () => {
      state.closes++;
    },
  };
}

test('a round trip that does not answer counts as failed ticks: not reachable after two, one call in flight, reachable again once calls answer', async () => {
  const state: State = { hang: false, calls: 0, closes: 0 };
  const metrics = createServeMetrics();
  const monitor = createLagMonitor({ admin: hangingAdmin(state), groupId: 'g', topic: 'in', intervalMs: 20, tickTimeoutMs: 50, metrics, logger: quiet });
  monitor.start();
  await until(() => monitor.ticks >= 2, 1_000, 'two healthy ticks');
  assert.equal(monitor.brokerReachable, true);
  assert.equal((await metrics.registry.getSingleMetric('livetag_consumer_lag')?.get())?.values[0]?.value, 6);

  state.hang = true;
  const hungAt = monitor.ticks;
  await until(() => !monitor.brokerReachable, 1_000, 'not reachable');
  assert.ok(monitor.ticks - hungAt <= 3, `unreachable after ${monitor.ticks - hungAt} ticks: the hung call and the one after it`);
  const callsWhileHung = state.calls;
  await until(() => monitor.ticks >= hungAt + 6, 1_000, 'more ticks');
  assert.equal(state.calls, callsWhileHung, 'no second round trip starts while one hangs');

  state.hang = false;
  state.answer?.();
  await until(() => monitor.brokerReachable, 1_000, 'reachable again');
  assert.ok(state.calls > callsWhileHung, 'a fresh round trip after the late answer');

  state.hang = true;
  await until(() => !monitor.brokerReachable, 1_000, 'not reachable again');
  const t0 = Date.now();
  await monitor.stop();
  await monitor.stop();
  assert.ok(Date.now() - t0 < 500, 'stop does not wait for the hung call');
  assert.ok(state.closes >= 1, 'stop closes the session the monitor owns');
});

test('a partition the group has not committed: from the beginning its whole log is lag; from the end only what arrived since the service started', async () => {
  const marks = { high: 5_000_000 };
  const admin: KafkaAdminSession = {
    watermarks: async () => [{ partition: 0, low: '0', high: String(marks.high) }],
    committedOffsets: async () => [{ partition: 0, offset: '-1' }],
    close: async () => {},
  };
  const lagOf = async (fromBeginning: boolean): Promise<number[]> => {
    const metrics = createServeMetrics();
    const monitor = createLagMonitor({ admin, groupId: 'g', topic: 'in', intervalMs: 10, metrics, logger: quiet, fromBeginning });
    const seen: number[] = [];
    const read = async (): Promise<number> => (await metrics.registry.getSingleMetric('livetag_consumer_lag')?.get())?.values[0]?.value ?? NaN;
    marks.high = 5_000_000;
    monitor.start();
    await until(() => monitor.ticks >= 1, 1_000, 'a tick');
    seen.push(await read());
    marks.high += 7; // seven new comments nobody has read
    const at = monitor.ticks;
    // Two ticks on: the first may have started before the new comments.
    await until(() => monitor.ticks > at + 1, 1_000, 'a tick begun after them');
    seen.push(await read());
    await monitor.stop();
    return seen;
  };
  assert.deepEqual(await lagOf(true), [5_000_000, 5_000_007]);
  assert.deepEqual(await lagOf(false), [0, 7]);
});

test('from the end, the baseline is taken again once the consumer has joined: comments before that are never read, so never lag; a group that never joins still shows its lag growing', async () => {
  const marks = { high: 100 };
  let joined = false;
  const admin: KafkaAdminSession = {
    watermarks: async () => [{ partition: 0, low: '0', high: String(marks.high) }],
    committedOffsets: async () => [{ partition: 0, offset: '-1' }],
    close: async () => {},
  };
  const metrics = createServeMetrics();
  const monitor = createLagMonitor({ admin, groupId: 'g', topic: 'in', intervalMs: 10, metrics, logger: quiet, fromBeginning: false, joined: () => joined });
  const read = async (): Promise<number> => (await metrics.registry.getSingleMetric('livetag_consumer_lag')?.get())?.values[0]?.value ?? NaN;
  const ticksAfter = async (): Promise<void> => {
    const at = monitor.ticks;
    await until(() => monitor.ticks > at + 1, 1_000, 'a tick begun after the change');
  };
  monitor.start();
  await ticksAfter();
  marks.high += 5; // written while the consumer joins (or never joins: ACLs, a crash loop)
  await ticksAfter();
  assert.equal(await read(), 5, 'not joined: lag since start');
  joined = true;
  await ticksAfter();
  assert.equal(await read(), 0, 'the baseline is the end at the join');
  marks.high += 3;
  await ticksAfter();
  assert.equal(await read(), 3, 'what came after the join and is not committed');
  await monitor.stop();
});
