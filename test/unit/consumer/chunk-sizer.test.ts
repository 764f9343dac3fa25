import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createChunkSizer } from '../../../src/consumer/chunk-sizer.ts';

test('chunks start small, grow for a fast model and shrink back for a slow one, within bounds', () => {
  const sizer = createChunkSizer({ min: 64, max: 256, targetMs: 250 });
  assert.equal(sizer.size(), 64);
  // 4000 records/s: 250 ms holds 1000, capped at max.
  for (let i = 0; i < 5; i++) sizer.observe(64, 16);
  assert.equal(sizer.size(), 256);
  // 45 records/s (bert-base on 2 cores): 250 ms holds ~11, floored at min.
  for (let i = 0; i < 20; i++) sizer.observe(64, 1400);
  assert.equal(sizer.size(), 64);
  // In between: ~500 records/s → ~125 per chunk.
  for (let i = 0; i < 30; i++) sizer.observe(100, 200);
  assert.ok(Math.abs(sizer.size() - 125) <= 2, String(sizer.size()));
  sizer.observe(0, 100);
  assert.ok(Math.abs(sizer.size() - 125) <= 2, 'an empty chunk changes nothing');
});
