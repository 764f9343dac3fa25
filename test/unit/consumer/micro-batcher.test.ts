import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMicroBatcher } from '../../../src/consumer/micro-batcher.ts';

const row = (len: number, tag = len): number[] => Array.from({ length: len }, () => tag);

test('batches are bounded by size and padded tokens, and results go back to their submitter', async () => {
  const batches: number[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const b = createMicroBatcher<number>({ maxSize: 4, maxWaitMs: 1000, maxTokens: 40 }, async (rows) => {
    await gate;
    batches.push(rows.map((r) => r.length));
    return rows.map((r) => r.length * 10);
  });
  const lengths = [3, 20, 4, 21, 5, 3, 22, 4, 6, 19];
  const results = Promise.all(lengths.map((l) => b.submit(row(l))));
  release();
  assert.deepEqual(await results, lengths.map((l) => l * 10));
  for (const batch of batches) {
    assert.ok(batch.length <= 4);
    assert.ok(batch.length * Math.max(...batch) <= 40 || batch.length === 1, `batch ${batch} exceeds the token budget`);
  }
  assert.equal(batches.flat().length, lengths.length);
  await b.stop();
});

test('a deep queue is cut into batches of similar length', async () => {
  const batches: number[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const b = createMicroBatcher<number>({ maxSize: 4, maxWaitMs: 0, maxTokens: 10_000 }, async (rows) => {
    await gate;
    batches.push(rows.map((r) => r.length));
    return rows.map(() => 0);
  }, 1);
  // The first submission starts a batch at once; the rest queue behind it.
  const lengths = [5, 30, 6, 31, 7, 32, 8, 33, 5, 30, 6, 31, 7, 32, 8, 33];
  const all = Promise.all(lengths.map((l) => b.submit(row(l))));
  release();
  await all;
  const spread = batches.slice(1).map((x) => Math.max(...x) - Math.min(...x));
  assert.ok(spread.every((s) => s <= 5), `length spread per batch: ${spread}`);
  await b.stop();
});

test('a lone text waits at most maxWaitMs', async () => {
  const b = createMicroBatcher<number>({ maxSize: 64, maxWaitMs: 20, maxTokens: 10_000 }, async (rows) => rows.map(() => 1));
  const start = Date.now();
  assert.equal(await b.submit(row(3)), 1);
  const waited = Date.now() - start;
  assert.ok(waited >= 15 && waited < 1000, `waited ${waited} ms`);
  await b.stop();
});

test('a failing batch rejects its own submitters only', async () => {
  const b = createMicroBatcher<number>({ maxSize: 2, maxWaitMs: 0, maxTokens: 10_000 }, async (rows) => {
    if (rows.some((r) => r[0] === 99)) throw new Error('boom');
    return rows.map(() => 1);
  }, 1);
  const bad = b.submit([99]);
  const good = b.submit([1]);
  await assert.rejects(bad, /boom/);
  assert.equal(await good, 1);
  await b.stop();
});

test('stop runs queued work first, then refuses new work; it is idempotent', async () => {
  const b = createMicroBatcher<number>({ maxSize: 64, maxWaitMs: 10_000, maxTokens: 10_000 }, async (rows) => rows.map(() => 7));
  const queued = b.submit(row(2));
  await Promise.all([b.stop(), b.stop()]);
  assert.equal(await queued, 7);
  await assert.rejects(b.submit(row(1)), /stopped/);
});
