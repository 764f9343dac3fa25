/**
 * Chaos on the real broker with `livetag serve` (child processes), in both
 * delivery modes: the broker SIGKILLed and restarted mid-stream, the broker
 * down for 30 s, a second instance joining mid-stream, one of two instances
 * SIGKILLed mid-stream. Exactly-once: 0 lost and 0 duplicates visible to a
 * read_committed reader. At-least-once: 0 lost, duplicates reported and
 * bounded (at most LIVETAG_MAX_IN_FLIGHT, see BOUND below).
 *
 * CI runs the combinations marked `ci` (about six minutes on a 2-core
 * machine); LIVETAG_CHAOS_FULL=1 runs the whole matrix (4 faults x 2 modes x 2
 * adapters), which `node --import tsx bench/chaos.ts` does and records in
 * bench/results/chaos.md.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLocalBroker, type LocalBroker } from '../../../src/dev/local-broker.ts';
import { CHAOS_TIMEOUT_MS, MAX_IN_FLIGHT, runChaos, type Delivery, type Fault } from './chaos-kit.ts';
import { ADAPTERS, portClientOrSkip } from './helpers.ts';

const NO_BROKER = process.env.LIVETAG_TEST_NO_LOCAL_BROKER === '1' && 'LIVETAG_TEST_NO_LOCAL_BROKER=1';
const FULL = process.env.LIVETAG_CHAOS_FULL === '1';
/**
 * At-least-once redelivers what was published but not yet committed when the
 * fault hit; the service holds at most LIVETAG_MAX_IN_FLIGHT uncommitted
 * records (chaos-kit.ts sets it), so that bounds the duplicates of one fault.
 */
const BOUND = MAX_IN_FLIGHT;

/** The CI subset, the same for each adapter: every fault in exactly-once (the strict mode), and the instance SIGKILL at-least-once (the one with duplicates to bound) on kafkajs, the broker SIGKILL at-least-once on confluent. */
const CI = new Set([
  ...['kafkajs', 'confluent'].flatMap((a) => ['broker-sigkill', 'broker-down-30s', 'instance-joins', 'instance-sigkill'].map((f) => `${f}/exactly-once/${a}`)),
  'instance-sigkill/at-least-once/kafkajs',
  'broker-sigkill/at-least-once/confluent',
]);
const FAULTS: Fault[] = ['broker-sigkill', 'broker-down-30s', 'instance-joins', 'instance-sigkill'];
const MODES: Delivery[] = ['exactly-once', 'at-least-once'];

let broker: LocalBroker | undefined;
let dir = '';
before(async () => {
  if (NO_BROKER) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'livetag-chaos-'));
  broker = createLocalBroker({ dir, logger: { info: () => {}, warn: () => {} } });
  await broker.start();
}, { timeout: 180_000 });
after(async () => {
  await broker?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

for (const adapter of ADAPTERS) {
  describe(`chaos, ${adapter}`, () => {
    for (const fault of FAULTS) {
      for (const delivery of MODES) {
        const key = `${fault}/${delivery}/${adapter}`;
        const skip = NO_BROKER || (!FULL && !CI.has(key) && 'not in the CI subset: LIVETAG_CHAOS_FULL=1 (bench/chaos.ts) runs it');
        test(`${fault}, ${delivery}: 0 lost${delivery === 'exactly-once' ? ', 0 duplicates to read_committed' : `, duplicates ≤ ${BOUND}`}`, { skip, timeout: CHAOS_TIMEOUT_MS }, async (t) => {
          const probe = await portClientOrSkip(adapter, broker!.brokers);
          if (typeof probe === 'string') return t.skip(probe);
          const r = await runChaos(t, broker!, fault, delivery, adapter).catch((err: unknown) => {
            // bench/chaos.ts tabulates the CHAOS lines, failures included.
            t.diagnostic(`CHAOS ${JSON.stringify({ fault, delivery, adapter, error: (err as Error).message.split('\n')[0]!.slice(0, 160) })}`);
            throw err;
          });
          t.diagnostic(`CHAOS ${JSON.stringify({ fault, delivery, adapter, ...r })}`);
          assert.equal(r.lost, 0, `${r.lost} of ${r.input} lost`);
          if (delivery === 'exactly-once') assert.equal(r.duplicates, 0, `${r.duplicates} duplicates visible to read_committed`);
          else assert.ok(r.duplicates <= BOUND, `${r.duplicates} duplicates, bound ${BOUND}`);
        });
      }
    }
  });
}
