import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LivetagError, isLivetagError } from '../../../src/common/errors.ts';
import { writeRandomBundle } from '../../../src/model/build/random-bundle.ts';
import { createClassifier } from '../../../src/model/runtime/classifier.ts';
import { createModelRunner, createRunnerPool } from '../../../src/model/runtime/model-runner.ts';
import { tempDir } from '../../helpers/shared.ts';

const notAGraph = new Uint8Array([1, 2, 3, 4]);

test('a graph onnxruntime cannot load is LT_ONNX_INVALID, inline and on the worker thread alike', async () => {
  await assert.rejects(createModelRunner(notAGraph, { worker: false }), (e: unknown) => isLivetagError(e, 'LT_ONNX_INVALID'));
  // The worker's LivetagError crosses the thread boundary as a plain Error; its code must survive.
  await assert.rejects(createModelRunner(notAGraph), (e: unknown) => isLivetagError(e, 'LT_ONNX_INVALID') && !e.retryable);
});

test('sessions: batches spread over worker sessions give the logits one session gives, each to its own caller', async () => {
  const dir = join(tempDir(), 'tiny');
  await writeRandomBundle(dir, { shape: 'tiny' });
  const model = new Uint8Array(readFileSync(join(dir, 'model.onnx')));
  const classifier = await createClassifier({ bundle: dir, worker: false, threads: 1 });
  const pool = await createModelRunner(model, { sessions: 2 });
  const texts = ['这个多少钱', 'M码还有吗', '什么时候发货', '包邮吗', '黑色还有货吗'];
  const batches = await Promise.all(texts.map((_, i) => classifier.encode(texts.slice(0, i + 1))));
  try {
    assert.equal(pool.parallelism, 2);
    // All in flight at once: the pool answers each from whichever session ran it.
    const pooled = await Promise.all(batches.map((b) => pool.infer(b)));
    for (let i = 0; i < batches.length; i++) {
      const one = await classifier.infer(batches[i]);
      assert.equal(pooled[i].length, one.length);
      pooled[i].forEach((x, k) => assert.ok(Math.abs(x - one[k]) < 1e-5, `batch ${i} logit ${k}: ${x} vs ${one[k]}`));
    }
  } finally {
    await Promise.all([pool.stop(), pool.stop(), classifier.stop()]);
  }
  // Stopped (twice, at once): the pool answers nothing more.
  await assert.rejects(pool.infer(batches[0]), (e: unknown) => isLivetagError(e, 'LT_WORKER_EXITED'));
});

test('sessions: a graph that cannot load fails the pool with its code and leaves no worker running', async () => {
  // A worker left running would keep this test file from exiting.
  await assert.rejects(createModelRunner(notAGraph, { sessions: 3 }), (e: unknown) => isLivetagError(e, 'LT_ONNX_INVALID'));
});

/** A session stand-in whose answers the test releases by hand. */
function heldSession(name: string) {
  const waiting: { resolve: (v: Float32Array) => void; reject: (e: Error) => void }[] = [];
  const session = {
    provider: 'cpu' as const,
    parallelism: 1,
    infer: () => new Promise<Float32Array>((resolve, reject) => waiting.push({ resolve, reject })),
    stop: async () => undefined,
  };
  return { name, session, waiting };
}

test('a pool sends each batch to the session with the fewest outstanding, and stops using a session whose worker died', async () => {
  const a = heldSession('a');
  const b = heldSession('b');
  const pool = createRunnerPool([a.session, b.session]);
  const batch = {} as Parameters<typeof pool.infer>[0];
  const calls = [pool.infer(batch), pool.infer(batch), pool.infer(batch), pool.infer(batch)];
  assert.deepEqual([a.waiting.length, b.waiting.length], [2, 2]);
  a.waiting[0].resolve(new Float32Array([1]));
  assert.deepEqual(await calls[0], new Float32Array([1]));
  // a now holds one outstanding, b two: the next goes to a.
  const fifth = pool.infer(batch);
  assert.equal(a.waiting.length, 3);
  a.waiting[1].reject(new LivetagError('LT_WORKER_EXITED', 'inference worker exited with code 1'));
  await assert.rejects(calls[2], /exited/);
  // a is dead: everything goes to b, though b has more outstanding.
  const sixth = pool.infer(batch);
  assert.deepEqual([a.waiting.length, b.waiting.length], [3, 3]);
  for (const w of b.waiting) w.resolve(new Float32Array([2]));
  assert.deepEqual(await sixth, new Float32Array([2]));
  a.waiting[2].reject(new LivetagError('LT_WORKER_EXITED', 'gone'));
  await assert.rejects(fifth, /gone/);
  b.waiting.length = 0;
  const seventh = pool.infer(batch);
  b.waiting[0].reject(new LivetagError('LT_WORKER_EXITED', 'b gone'));
  await assert.rejects(seventh, /b gone/);
  // Both dead: the last death answers at once.
  await assert.rejects(pool.infer(batch), /b gone/);
  await Promise.allSettled(calls);
});

test('a pool skips a session whose worker exited while idle, instead of failing the next batch on it; all exited: LT_WORKER_EXITED at once', async () => {
  const a = heldSession('a');
  const b = heldSession('b');
  let aExited = false;
  const aSession = { ...a.session, get exited() { return aExited; } };
  const pool = createRunnerPool([aSession, b.session]);
  const batch = {} as Parameters<typeof pool.infer>[0];
  assert.equal(pool.exited, false);
  aExited = true; // a's worker exits with nothing in flight
  const calls = [pool.infer(batch), pool.infer(batch)];
  assert.deepEqual([a.waiting.length, b.waiting.length], [0, 2], 'both go to b, though a has none outstanding');
  for (const w of b.waiting) w.resolve(new Float32Array([2]));
  assert.deepEqual(await Promise.all(calls), [new Float32Array([2]), new Float32Array([2])]);
  const c = heldSession('c');
  const gone = createRunnerPool([{ ...c.session, exited: true }]);
  assert.equal(gone.exited, true);
  await assert.rejects(gone.infer(batch), (e: unknown) => isLivetagError(e, 'LT_WORKER_EXITED'));
  assert.equal(c.waiting.length, 0);
});

test('a worker runner says when its worker has exited', async () => {
  const dir = join(tempDir(), 'tiny');
  await writeRandomBundle(dir, { shape: 'tiny' });
  const runner = await createModelRunner(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { threads: 1 });
  assert.equal(runner.exited, false);
  await runner.stop();
  assert.equal(runner.exited, true);
});

test('stop() with batches in flight on the worker answers every one of them first, then stops', async () => {
  const dir = join(tempDir(), 'tiny');
  await writeRandomBundle(dir, { shape: 'tiny' });
  const model = new Uint8Array(readFileSync(join(dir, 'model.onnx')));
  const classifier = await createClassifier({ bundle: dir, worker: false, threads: 1 });
  const texts = ['这个多少钱', 'M码还有吗', '什么时候发货', '包邮吗', '黑色还有货吗', '有优惠吗'];
  const batches = await Promise.all(texts.map((_, i) => classifier.encode(texts.slice(0, i + 1))));
  try {
    for (let round = 0; round < 5; round++) {
      const runner = await createModelRunner(model, { threads: 1 });
      const answers = batches.map((b) => runner.infer(b));
      await runner.stop();
      const settled = await Promise.allSettled(answers);
      const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [`batch ${i}: ${(s.reason as Error).message}`] : []));
      assert.deepEqual(failed, [], `round ${round}`);
    }
  } finally {
    await classifier.stop();
  }
});
