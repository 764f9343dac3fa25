import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawRow, ServeResult } from '../../../bench/lib/suite-report.ts';
import { halfLoadBatchMs, summarizeShape } from '../../../bench/lib/suite-summary.ts';

const raw: RawRow = { batch: 64, textsPerSecond: 2000, gflops: 1, meanTokens: 10, paddingShare: 0.5, cpuSecondsPer1000: 1 };
const usage = { cores: 1, peakRssMb: 1, brokerCores: 0, benchCores: 0, cpuSeconds: 2, brokerCpuSeconds: 0, benchCpuSeconds: 0, wallSeconds: 10 };

function shape(livetag: ServeResult) {
  return {
    key: 'default',
    best: 64,
    rawBeside: { before: raw, after: raw, mean: 2000 },
    livetag,
    idle: { threadsCpuSecondsPerSecond: { main: 0.005 } },
    livetagAuto: livetag,
    ladder: [],
    serving: { cpu: 'int8', cuda: 'fp16' },
    transformersJs: { rows: [{ batch: 64, transformersJs: 500 }] },
  };
}
const run = { quick: false, threads: 0, partitions: 3, loadAverageAtStart: 0 };

test('summary: non-model CPU is the drain past its first quarter where the run has that split, the whole drain beside it', () => {
  // 1000 messages, 0.1 s of main-thread CPU in all (100 µs each); the last 750 took 0.03 s over 6 s.
  const livetag: ServeResult = { msgsPerSecond: 1000, received: 1000, expected: 1000, usage: { ...usage, threads: { main: 0.1 } }, steady: { fromReceived: 250, messages: 750, mainCpuSeconds: 0.03, wallSeconds: 6 } };
  const s = summarizeShape(shape(livetag), run);
  assert.equal(s.overhead_cpu_us_per_msg, 40);
  assert.equal(s.overhead_cpu_us_per_msg_whole_drain, 100);
  // Above the 5 ms/s floor over the steady part's own 6 s: (0.03 − 0.03) / 750.
  assert.equal(s.overhead_cpu_us_per_msg_above_idle, 0);
  assert.match(String(s.settings.overhead_steady_from), /message 250 of 1000/);
});

test('summary: a run without the split (older suite.json) keeps the whole drain as the figure', () => {
  const livetag: ServeResult = { msgsPerSecond: 1000, received: 1000, expected: 1000, usage: { ...usage, threads: { main: 0.1 } } };
  const s = summarizeShape(shape(livetag), run);
  assert.equal(s.overhead_cpu_us_per_msg, 100);
  assert.equal(s.overhead_cpu_us_per_msg_whole_drain, undefined);
  // (0.1 − 0.005 × 10 s) / 1000 messages.
  assert.ok(Math.abs(s.overhead_cpu_us_per_msg_above_idle! - 50) < 1e-9);
});

test('the p99 bound takes the 50 % step\'s own batch time, no longer than its capacity allows (the timer also counts the wait behind the batch ahead)', () => {
  // 50 % step: 100 batches timed at 30 ms each over a 2 s run on one session: at most 20 ms a batch.
  const half = { model: { inferenceSeconds: 3, batches: 100 }, usage: { wallSeconds: 2 } };
  assert.equal(halfLoadBatchMs(half, 1), 20);
  assert.equal(halfLoadBatchMs(half, 2), 30, 'two sessions leave room for the timed 30 ms');
  assert.equal(halfLoadBatchMs({ usage: { wallSeconds: 2 } }, 1), undefined, 'no model figures: the caller keeps the drain\'s');
});
