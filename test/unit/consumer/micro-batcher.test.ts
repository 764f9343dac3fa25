import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMicroBatcher } from '../../../src/consumer/micro-batcher.ts';

const row = (len: number, tag = len): number[] => Array.from({ length: len }, () => tag);

/**
 * A batcher whose model holds every batch until `release()`, recording each
 * batch's rows (by `key`) as it starts. With depth 1 everything after the first
 * submission queues behind it, so the cuts under test come from one deep queue.
 */
function gatedBatcher(
  limits: Parameters<typeof createMicroBatcher>[0],
  result: (r: readonly number[]) => number,
  depth?: number,
  cost?: Parameters<typeof createMicroBatcher>[3],
  key: (r: readonly number[]) => number = (r) => r.length,
) {
  const batches: number[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const b = createMicroBatcher<number>(limits, async (rows) => {
    batches.push(rows.map(key));
    await gate;
    return rows.map(result);
  }, depth, cost);
  return { b, batches, release };
}

test('batches are bounded by size and padded tokens, and results go back to their submitter', async () => {
  const { b, batches, release } = gatedBatcher({ maxSize: 4, maxWaitMs: 1000, maxTokens: 40 }, (r) => r.length * 10);
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

test('a deep queue is cut into batches of similar length; one batch per pass straddles a gap in lengths', async () => {
  const { b, batches, release } = gatedBatcher({ maxSize: 4, maxWaitMs: 0, maxTokens: 10_000 }, () => 0, 1);
  // The first submission starts a batch at once; the rest queue behind it.
  const lengths = [5, 30, 6, 31, 7, 32, 8, 33, 5, 30, 6, 31, 7, 32, 8, 33];
  const all = Promise.all(lengths.map((l) => b.submit(row(l))));
  release();
  await all;
  const spread = batches.slice(1).map((x) => Math.max(...x) - Math.min(...x));
  assert.equal(spread.filter((s) => s > 5).length, 1, `length spread per batch: ${spread}`);
  assert.equal(batches.flat().length, lengths.length);
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

test('with a quiet gap, an idle model takes a burst once submissions pause, long before maxWaitMs', async () => {
  const batches: number[] = [];
  const b = createMicroBatcher<number>({ maxSize: 64, maxWaitMs: 2000, maxTokens: 10_000, quietMs: 10 }, async (rows) => {
    batches.push(rows.length);
    return rows.map(() => 1);
  });
  const start = performance.now();
  // A burst over a few ticks, as partitions' chunks finish tokenizing one after another.
  const burst: Promise<number>[] = [b.submit(row(3))];
  await new Promise((r) => setImmediate(r));
  burst.push(b.submit(row(4)), b.submit(row(5)));
  await Promise.all(burst);
  const waited = performance.now() - start;
  assert.ok(waited >= 9 && waited < 1000, `waited ${waited.toFixed(1)} ms`);
  assert.deepEqual(batches, [3], 'the whole burst in one batch');
  await b.stop();
});

test('with a quiet gap, a steady stream still batches up to maxWaitMs', async () => {
  const batches: number[] = [];
  let firstCutAt: number | undefined;
  const b = createMicroBatcher<number>({ maxSize: 1000, maxWaitMs: 150, maxTokens: 100_000, quietMs: 60 }, async (rows) => {
    firstCutAt ??= performance.now();
    batches.push(rows.length);
    return rows.map(() => 1);
  });
  // One text every ~5 ms never leaves a 60 ms gap: the wait, not the gap, cuts. Timed, not counted:
  // a stalled test process submits fewer texts in the same 150 ms, but cannot make the batch cut early.
  const all: Promise<number>[] = [];
  const start = performance.now();
  for (let i = 0; i < 40; i++) {
    all.push(b.submit(row(2)));
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(all);
  assert.ok(firstCutAt! - start >= 140, `first batch cut ${(firstCutAt! - start).toFixed(1)} ms after the first text, not at maxWaitMs (batches ${batches})`);
  assert.ok(batches[0] > 1, `first batch ${batches[0]} texts (batches ${batches})`);
  assert.ok(batches.length < 20, `${batches.length} batches`);
  await b.stop();
});

test('with a quiet gap, texts behind a running batch keep filling until it ends or maxWaitMs', async () => {
  const batches: number[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const b = createMicroBatcher<number>({ maxSize: 64, maxWaitMs: 5000, maxTokens: 10_000, quietMs: 5 }, async (rows) => {
    batches.push(rows.length);
    if (batches.length === 1) await gate;
    return rows.map(() => 1);
  }, 2);
  const first = b.submit(row(3));
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(batches, [1], 'the lone text ran after the gap');
  const behind = [b.submit(row(3)), b.submit(row(4))];
  await new Promise((r) => setTimeout(r, 40));
  // A slot is free (depth 2), yet a batch cut now could only queue behind the running one.
  assert.deepEqual(batches, [1]);
  release();
  await Promise.all([first, ...behind]);
  assert.deepEqual(batches, [1, 2]);
  await b.stop();
});

test('with a quiet gap, a text that came just before the running batch ended goes after the gap, not after maxWaitMs', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let calls = 0;
  const b = createMicroBatcher<number>({ maxSize: 64, maxWaitMs: 5000, maxTokens: 10_000, quietMs: 5 }, async (rows) => {
    if (calls++ === 0) await gate;
    return rows.map(() => 1);
  }, 2);
  const first = b.submit(row(3));
  await new Promise((r) => setTimeout(r, 30));
  // Queued behind the running batch (a maxWaitMs timer), then the model falls idle within the gap.
  const late = b.submit(row(4));
  release();
  await first;
  const t0 = performance.now();
  await late;
  assert.ok(performance.now() - t0 < 1000, `the late text waited ${(performance.now() - t0).toFixed(0)} ms`);
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

/**
 * The rule the batcher implements, written the slow and obvious way: sort the
 * queue by length, cut it into runs of maxSize from the shortest up, take the
 * run holding the oldest (the last run shifted back to full size), drop its
 * longest then its shortest texts while over the token budget, never the
 * oldest; within a length the oldest texts go.
 */
function referenceCut(queue: { len: number; seq: number }[], maxSize: number, maxTokens: number): number[] {
  const lengths = queue.map((q) => q.len).sort((a, b) => a - b);
  const oldest = queue[0];
  const p = lengths.indexOf(oldest.len);
  const size = Math.min(maxSize, lengths.length);
  let a = Math.min(Math.floor(p / maxSize) * maxSize, lengths.length - size);
  let b = a + size;
  while (b - a > 1 && (b - a) * lengths[b - 1] > maxTokens) {
    if (b - 1 > p) b--;
    else a++;
  }
  const want = new Map<number, number>();
  for (const len of lengths.slice(a, b)) want.set(len, (want.get(len) ?? 0) + 1);
  const batch = queue.filter((q) => {
    const n = want.get(q.len) ?? 0;
    if (n === 0) return false;
    want.set(q.len, n - 1);
    return true;
  });
  for (const q of batch) queue.splice(queue.indexOf(q), 1);
  return batch.map((q) => q.seq);
}

test('length buckets cut the same batches as sorting the whole queue into runs, on random queues', async () => {
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let trial = 0; trial < 60; trial++) {
    const lengths = Array.from({ length: 1 + Math.floor(rnd() * 200) }, () => 1 + Math.floor(rnd() * (rnd() < 0.5 ? 8 : 50)));
    const limits = { maxSize: 1 + Math.floor(rnd() * 40), maxWaitMs: 0, maxTokens: 10 + Math.floor(rnd() * 2000) };
    const { b, batches: seen, release } = gatedBatcher(limits, (r) => r[0], 1, undefined, (r) => r[0]);
    const all = Promise.all(lengths.map((len, seq) => b.submit(row(len, seq))));
    release();
    assert.deepEqual(await all, lengths.map((_, seq) => seq));
    await b.stop();
    const queue = lengths.map((len, seq) => ({ len, seq })).slice(1);
    const expected = [[0]];
    while (queue.length > 0) expected.push(referenceCut(queue, limits.maxSize, limits.maxTokens));
    assert.deepEqual(seen, expected, `trial ${trial}`);
  }
});

test('a queue thousands deep drains with every result delivered', async () => {
  let batches = 0;
  const b = createMicroBatcher<number>({ maxSize: 64, maxWaitMs: 5, maxTokens: 4096 }, async (rows) => {
    batches++;
    return rows.map((r) => r.length);
  });
  const lengths = Array.from({ length: 20_000 }, (_, i) => 3 + ((i * 7919) % 40));
  assert.deepEqual(await Promise.all(lengths.map((l) => b.submit(row(l)))), lengths);
  assert.ok(batches >= 20_000 / 64, `${batches} batches`);
  await b.stop();
});

test('with a cost model, a shallow queue is split by length and the part holding the oldest goes first', async () => {
  const observed: [number, number][] = [];
  const cost = { overheadTokens: () => 5, observe: (tokens: number, ms: number) => void observed.push([tokens, ms]) };
  const { b, batches, release } = gatedBatcher({ maxSize: 64, maxWaitMs: 0, maxTokens: 10_000 }, (r) => r.length * 10, 1, cost);
  // The first text goes alone at once; the rest queue behind it, the oldest of them 20 tokens long.
  const lengths = [1, 20, 3, 3, 3, 21, 4];
  const all = Promise.all(lengths.map((l) => b.submit(row(l))));
  release();
  assert.deepEqual(await all, lengths.map((l) => l * 10));
  // Sorted 3 3 3 4 20 21: one batch costs 5 + 6 × 21 = 131 padded tokens, [3 3 3 4] [20 21] 21 + 47 = 68.
  assert.deepEqual(batches, [[1], [20, 21], [3, 3, 3, 4]]);
  // Only batches with nothing ahead time their cost (depth 1: all of them), as size × longest.
  assert.deepEqual(observed.map(([t]) => t), [1, 42, 16]);
  await b.stop();
});

test('with a quiet gap and a cost model, the rest of a split follows at once, not after maxWaitMs', async () => {
  // Held until the assertion, so both parts are seen in flight together.
  const cost = { overheadTokens: () => 5, observe: () => undefined };
  const { b, batches, release } = gatedBatcher({ maxSize: 64, maxWaitMs: 5000, maxTokens: 10_000, quietMs: 5 }, () => 0, 2, cost);
  const all = Promise.all([20, 3, 3, 3, 21, 4].map((l) => b.submit(row(l))));
  await new Promise((r) => setTimeout(r, 100));
  // Both parts started, the second queued behind the first (depth 2), long before the 5 s wait.
  assert.deepEqual(batches, [[20, 21], [3, 3, 3, 4]]);
  release();
  assert.deepEqual(await all, [0, 0, 0, 0, 0, 0]);
  await b.stop();
});

test('with a cost model that never pays to split, cuts are the plain ones', async () => {
  const { b, batches, release } = gatedBatcher({ maxSize: 64, maxWaitMs: 0, maxTokens: 10_000 }, () => 0, 1, { overheadTokens: () => 1e9, observe: () => undefined });
  const all = Promise.all([1, 20, 3, 3, 3, 21, 4].map((l) => b.submit(row(l))));
  release();
  await all;
  await b.stop();
  assert.deepEqual(batches, [[1], [20, 3, 3, 3, 21, 4]]);
});
