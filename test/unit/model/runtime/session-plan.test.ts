import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { writeRandomBundle } from '../../../../src/model/build/random-bundle.ts';
import { createClassifier } from '../../../../src/model/runtime/classifier.ts';
import { encoderWeights, MAX_AUTO_SESSIONS, planSessions, SMALL_MODEL_WEIGHTS } from '../../../../src/model/runtime/session-plan.ts';
import { tempDir } from '../../../helpers/shared.ts';

const defaultModel = { hiddenSize: 128, numLayers: 2, intermediateSize: 512 };
const bertBase = { hiddenSize: 768, numLayers: 12, intermediateSize: 3072 };

test('encoder weights: the projections and the feed-forward of every layer', () => {
  assert.equal(encoderWeights(defaultModel), 2 * (4 * 128 * 128 + 2 * 128 * 512));
  assert.equal(encoderWeights(bertBase), 12 * (4 * 768 * 768 + 2 * 768 * 3072));
  assert.ok(encoderWeights(defaultModel) < SMALL_MODEL_WEIGHTS && encoderWeights(bertBase) > SMALL_MODEL_WEIGHTS);
});

test('auto: a small model gets one session per thread, capped; a large one, or CUDA, gets one; a count is kept', () => {
  assert.equal(planSessions('auto', defaultModel, { threads: 2 }).sessions, 2);
  assert.equal(planSessions('auto', defaultModel, { threads: 1 }).sessions, 1);
  const many = planSessions('auto', defaultModel, { threads: 32 });
  assert.equal(many.sessions, MAX_AUTO_SESSIONS);
  assert.match(many.reason, /capped at 8/);
  // threads 0 = one per core, as LIVETAG_THREADS reads it.
  assert.equal(planSessions('auto', defaultModel, { threads: 0 }).sessions, Math.min(availableParallelism(), MAX_AUTO_SESSIONS));
  const base = planSessions('auto', bertBase, { threads: 16 });
  assert.equal(base.sessions, 1);
  assert.match(base.reason, /84\.9 M encoder weights/);
  assert.equal(planSessions('auto', defaultModel, { device: 'cuda', threads: 16 }).sessions, 1);
  assert.deepEqual(planSessions(3, bertBase, { threads: 1 }), { sessions: 3, reason: 'LIVETAG_SESSIONS' });
});

test('the classifier runs what the plan says: parallel sessions for a small bundle on worker threads, one in process', async () => {
  const dir = join(tempDir(), 'tiny');
  await writeRandomBundle(dir, { shape: 'tiny' });
  const pooled = await createClassifier({ bundle: dir, threads: 2 });
  const inline = await createClassifier({ bundle: dir, worker: false, threads: 2 });
  try {
    assert.equal(pooled.parallelism, 2);
    assert.match(pooled.sessionsReason, /^auto: .* one single-threaded session per thread \(2\)$/);
    assert.equal(inline.parallelism, 1);
    const texts = ['这个多少钱', 'M码还有吗', '什么时候发货'];
    const [a, b] = await Promise.all([pooled.classify(texts, { allScores: true }), inline.classify(texts, { allScores: true })]);
    a.forEach((row, i) => Object.entries(row.scores!).forEach(([label, p]) => assert.ok(Math.abs(p - b[i].scores![label]) < 1e-5, `${texts[i]} ${label}`)));
  } finally {
    await Promise.all([pooled.stop(), inline.stop()]);
  }
});
