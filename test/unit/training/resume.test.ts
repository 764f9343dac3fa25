import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomWeights } from '../../../src/model/weights.ts';
import { createIdFeatures } from '../../../src/training/features.ts';
import { toMatrix } from '../../../src/training/metrics.ts';
import { resolveRecipe } from '../../../src/training/recipe.ts';
import { initTfBackend } from '../../../src/training/tf-backend.ts';
import { createTfEngine } from '../../../src/training/tf-engine.ts';
import { createOrtEngine } from '../../../src/training/ort-engine.ts';
import { engineOptionsFor, train } from '../../../src/training/trainer.ts';
import { REPO_ROOT, tempDir, tinyBertConfig } from '../../helpers/shared.ts';
import { TINY_LABELS, tinyRows, writeJsonl } from './fixtures.ts';

const config = tinyBertConfig();

for (const engineName of ['tfjs', 'onnxruntime'] as const) test(`${engineName}: a run stopped after an epoch resumes to exactly the weights of an uninterrupted run, dropout on`, async () => {
  const rows = tinyRows(40, 5);
  const ids = rows.map((r) => Int32Array.from([2, ...[...r.text].slice(0, 8).map((c) => 5 + (c.codePointAt(0)! % 30)), 3]));
  const features = createIdFeatures(ids);
  const targets = toMatrix(rows.map((r) => r.labels), TINY_LABELS);
  const recipe = resolveRecipe('livetag', 'scratch', 0, { maxEpochs: 3, batchSize: 8 });
  const weights = randomWeights(config, 9);
  const common = { features, labels: TINY_LABELS, targets, trainRows: [...Array(30).keys()], valRows: [30, 31, 32, 33, 34, 35, 36, 37, 38, 39], recipe, seed: 4, fingerprint: 'same', quiet: true };
  assert.ok(recipe.dropout > 0);
  const options = engineOptionsFor({ config, weights, frozenLayers: 0, features, recipe, targets, trainRows: common.trainRows });
  // One onnxruntime thread: its sums then run in one order, so equal inputs give equal bits.
  const engine = async () => (engineName === 'tfjs' ? createTfEngine({ ...options, backend: await initTfBackend() }) : createOrtEngine({ ...options, threads: 1, device: 'cpu' }));

  const straight = await engine();
  const full = await train({ ...common, engine: straight, checkpointDir: join(tempDir(), 'ckpt') });
  const expected = straight.exportWeights();
  await straight.dispose();

  const ckpt = join(tempDir(), 'ckpt');
  const first = await engine();
  // maxSteps stops the loop after one epoch (4 steps) with its checkpoint written, as a kill would.
  await train({ ...common, engine: first, checkpointDir: ckpt, maxSteps: 4 });
  await first.dispose();
  const second = await engine();
  const resumed = await train({ ...common, engine: second, checkpointDir: ckpt });
  assert.equal(resumed.resumedFromEpoch, 1);
  assert.deepEqual(resumed.history.map((h) => h.trainLoss), full.history.map((h) => h.trainLoss));
  for (const [name, t] of second.exportWeights()) assert.deepEqual(t.data, expected.get(name)!.data, name);
  await second.dispose();
});

test('livetag train killed mid-run picks up from its checkpoint', async () => {
  const dir = tempDir();
  const data = writeJsonl(join(dir, 'd.jsonl'), tinyRows(80, 6));
  const out = join(dir, 'run');
  const args = [join(REPO_ROOT, 'bin/livetag.js'), 'train', '--data', data, '--out', out, '--hidden', '16', '--layers', '1', '--heads', '2', '--epochs', '60', '--patience', '0', '--batch-size', '8', '--threads', '1', '--quiet'];
  // 60 epochs (~4 s here): a run that ended before the kill landed would leave no checkpoint to resume.
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  const state = join(out, 'checkpoint', 'state.json');
  const deadline = Date.now() + 60_000;
  const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
  while (!existsSync(state) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(existsSync(state), 'no checkpoint within 60 s');
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', 'the first run was killed, not finished before the kill');

  const rerun = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  rerun.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((r) => rerun.once('exit', r));
  assert.equal(code, 0, stderr);
  assert.match(stderr, /resuming from the checkpoint after epoch \d+/);
});
