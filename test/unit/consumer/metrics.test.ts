import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServeMetrics, EVENT_LOOP_RESOLUTION_MS } from '../../../src/consumer/metrics.ts';
import { loadServeConfig } from '../../../src/consumer/config.ts';

const value = (text: string, name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

test('the event-loop lag metrics sample at LIVETAG_EVENT_LOOP_RESOLUTION_MS, and export it: an idle process reads about the interval itself', async () => {
  assert.equal(loadServeConfig({}, {}).eventLoopResolutionMs, EVENT_LOOP_RESOLUTION_MS);
  assert.equal(loadServeConfig({}, { LIVETAG_EVENT_LOOP_RESOLUTION_MS: '10' }).eventLoopResolutionMs, 10);
  assert.throws(() => loadServeConfig({}, { LIVETAG_EVENT_LOOP_RESOLUTION_MS: '0' }), /LIVETAG_EVENT_LOOP_RESOLUTION_MS/);

  for (const ms of [EVENT_LOOP_RESOLUTION_MS, 20]) {
    const metrics = createServeMetrics({ eventLoopResolutionMs: ms });
    await new Promise((r) => setTimeout(r, 20 * ms));
    const text = await metrics.registry.metrics();
    assert.equal(value(text, 'livetag_event_loop_resolution_seconds'), ms / 1000);
    // Why the dashboard subtracts it: the shortest sample is the interval, not zero.
    const min = value(text, 'nodejs_eventloop_lag_min_seconds');
    assert.ok(min >= (0.9 * ms) / 1000 && min < (ms + 40) / 1000, `min lag ${min} s at a ${ms} ms interval`);
  }
});
