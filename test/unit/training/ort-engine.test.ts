/**
 * The onnxruntime engine against the tfjs one (the independent oracle) and on
 * its own: the same training trajectory, reproducible losses, gradient
 * accumulation equal to one big batch, and a clean CPU fallback.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBertConfig } from '../../../src/model/bert-config.ts';
import { randomWeights } from '../../../src/model/weights.ts';
import type { EngineOptions, TrainingEngine } from '../../../src/training/engine.ts';
import { createIdFeatures } from '../../../src/training/features.ts';
import { createOrtEngine } from '../../../src/training/ort-engine.ts';
import { initTfBackend } from '../../../src/training/tf-backend.ts';
import { createTfEngine } from '../../../src/training/tf-engine.ts';
import { tinyConfig } from '../model/training-graph-helpers.ts';
import { createRng } from '../../../src/common/rng.ts';

const config = tinyConfig(4);
const rng = createRng(5);
const ids = Array.from({ length: 24 }, (_, r) => Int32Array.from({ length: 3 + (r % 7) }, () => 1 + Math.floor(rng() * 30)));
const features = createIdFeatures(ids);
const targets = Float32Array.from({ length: ids.length * config.numLabels }, () => (rng() < 0.35 ? 1 : 0));
const batches = Array.from({ length: 20 }, (_, s) => [0, 1, 2, 3, 4, 5].map((i) => (s * 5 + i * 3) % ids.length));
const targetsOf = (rows: number[]) => Float32Array.from(rows.flatMap((r) => [...targets.subarray(r * config.numLabels, (r + 1) * config.numLabels)]));

function options(overrides: Partial<EngineOptions> = {}): EngineOptions {
  return {
    config,
    weights: randomWeights(config, 11, 0.1),
    frozenLayers: 0,
    features,
    loss: { name: 'bce', posWeight: [1, 2, 1.5, 3] },
    optimizer: { lr: 1e-3, weightDecay: 0.01, clipNorm: 1 },
    dropout: 0,
    threads: 1,
    device: 'cpu',
    ...overrides,
  };
}

async function trajectory(engine: TrainingEngine): Promise<number[]> {
  const losses: number[] = [];
  for (const [s, rows] of batches.entries()) losses.push((await engine.step(rows, targetsOf(rows), 1e-3 * (1 - s / 40), s * 64)).loss);
  return losses;
}

test('20 steps with dropout off: onnxruntime follows the tfjs loss trajectory within 1e-3 relative', async () => {
  const backend = await initTfBackend('cpu');
  const ort = await createOrtEngine(options());
  const tfe = await createTfEngine({ ...options(), backend });
  const a = await trajectory(ort);
  const b = await trajectory(tfe);
  const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i]) / Math.abs(b[i])));
  assert.ok(worst <= 1e-3, `worst relative loss difference ${worst}: ${a.slice(-3)} vs ${b.slice(-3)}`);
  assert.ok(a[a.length - 1] < a[0], 'the loss goes down');
  const wa = ort.exportWeights().get('classifier.weight')!.data;
  const wb = tfe.exportWeights().get('classifier.weight')!.data;
  assert.ok(Math.max(...wa.map((v, i) => Math.abs(v - wb[i]))) < 1e-4, 'the same weights after 20 steps');
  await ort.dispose();
  await tfe.dispose();
});

test('same seed and thread count, same losses: dropout included', async () => {
  const run = async () => {
    const e = await createOrtEngine(options({ dropout: 0.1 }));
    const losses = await trajectory(e);
    await e.dispose();
    return losses;
  };
  const [a, b] = [await run(), await run()];
  assert.deepEqual(a, b);
  const plain = await createOrtEngine(options());
  assert.notDeepEqual(a, await trajectory(plain), 'dropout changes the losses');
  await plain.dispose();
});

test('gradient accumulation over micro-batches gives the update of one batch', async () => {
  const whole = await createOrtEngine(options());
  const micro = await createOrtEngine(options({ microBatchSize: 2 }));
  for (const rows of batches.slice(0, 3)) {
    const x = await whole.step(rows, targetsOf(rows), 1e-3, 0);
    const y = await micro.step(rows, targetsOf(rows), 1e-3, 0);
    assert.ok(Math.abs(x.loss - y.loss) < 1e-6, `${x.loss} vs ${y.loss}`);
    assert.ok(Math.abs(x.gradNorm - y.gradNorm) < 1e-5 * x.gradNorm);
  }
  const a = whole.exportWeights();
  const b = micro.exportWeights();
  for (const [name, t] of a) {
    // The key bias's true gradient is zero (softmax ignores a shift shared by a
    // row's scores); Adam scales its rounding noise up to full-size steps.
    if (name.endsWith('attention.self.key.bias')) continue;
    assert.ok(Math.max(...t.data.map((v, i) => Math.abs(v - b.get(name)!.data[i]))) < 1e-6, name);
  }
  await whole.dispose();
  await micro.dispose();
});

test('a step says where its time went: the feeds, the graph runs, the gathering, the update', async () => {
  const engine = await createOrtEngine(options({ microBatchSize: 2, dropout: 0.1 }));
  const rows = batches[0];
  const t0 = performance.now();
  const { phases } = await engine.step(rows, targetsOf(rows), 1e-3, 0);
  const wall = performance.now() - t0;
  assert.ok(phases, 'the onnxruntime engine reports phases');
  const parts = [phases.inputs, phases.graph, phases.gather, phases.update];
  assert.ok(parts.every((ms) => Number.isFinite(ms) && ms >= 0), JSON.stringify(phases));
  assert.ok(phases.graph > 0 && phases.update > 0, 'three graph runs and one update take time');
  const sum = parts.reduce((a, b) => a + b, 0);
  assert.ok(sum <= wall + 1e-6 && sum >= 0.5 * wall, `phases ${sum.toFixed(3)} ms of a ${wall.toFixed(3)} ms step`);
  await engine.dispose();
});

test('gradient accumulation with the n-gram table\'s row gradients: summed across micro-batches, the update of one batch', async () => {
  const wide = parseBertConfig({ ...config, ngram: { buckets: 97, maxN: 2 } });
  const weights = randomWeights(wide, 11, 0.1);
  const table = weights.get('ngram.weight')!.data;
  for (let i = 0; i < table.length; i++) table[i] = rng() - 0.5;
  const make = (micro?: number) => createOrtEngine(options({ config: wide, weights, sparseTensors: new Set(['ngram.weight']), ...(micro ? { microBatchSize: micro } : {}) }));
  const whole = await make();
  const micro = await make(2);
  for (const rows of batches.slice(0, 3)) {
    const x = await whole.step(rows, targetsOf(rows), 1e-2, 0);
    const y = await micro.step(rows, targetsOf(rows), 1e-2, 0);
    assert.ok(Math.abs(x.gradNorm - y.gradNorm) < 1e-5 * x.gradNorm, `${x.gradNorm} vs ${y.gradNorm}`);
  }
  const a = whole.exportWeights().get('ngram.weight')!.data;
  const b = micro.exportWeights().get('ngram.weight')!.data;
  assert.ok(a.some((v, i) => v !== table[i]), 'the table moved');
  assert.ok(Math.max(...a.map((v, i) => Math.abs(v - b[i]))) < 1e-6);
  await whole.dispose();
  await micro.dispose();
});

test('CUDA asked for where it is absent: CPU, with the reason logged once', async (t) => {
  const lines: string[] = [];
  const e = await createOrtEngine(options({ device: 'cuda', log: (l) => lines.push(l) }));
  if (/onnxruntime cuda/.test(e.description)) {
    t.skip('this machine has a working CUDA execution provider');
    await e.dispose();
    return;
  }
  assert.match(e.description, /^onnxruntime cpu/);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /--device cuda: CUDA execution provider unavailable/);
  const rows = batches[0];
  assert.ok(Number.isFinite((await e.step(rows, targetsOf(rows), 1e-3, 0)).loss));
  await e.dispose();
  const auto = await createOrtEngine(options({ device: 'auto', log: (l) => lines.push(l) }));
  assert.match(auto.description, /^onnxruntime cpu \(auto: CUDA provider not available\)/);
  assert.equal(lines.length, 1, 'auto falls back without a warning line');
  await auto.dispose();
});

test('a sparse n-gram table: rows no batch hashed to keep their values; the rows a batch read move as a dense update moves them', async () => {
  const wide = parseBertConfig({ ...config, ngram: { buckets: 97, maxN: 2 } });
  const weights = randomWeights(wide, 11, 0.1);
  // A table started from a fit, as the baseline starts it: non-zero rows, which a dense update decays.
  const table = weights.get('ngram.weight')!.data;
  for (let i = 0; i < table.length; i++) table[i] = rng() - 0.5;
  const make = (sparse: boolean) => createOrtEngine(options({ config: wide, weights, ...(sparse ? { sparseTensors: new Set(['ngram.weight']) } : {}) }));
  const lazy = await make(true);
  const dense = await make(false);
  const rows = batches[0];
  await lazy.step(rows, targetsOf(rows), 1e-2, 0);
  await dense.step(rows, targetsOf(rows), 1e-2, 0);
  const start = weights.get('ngram.weight')!.data;
  const after = lazy.exportWeights().get('ngram.weight')!.data;
  const afterDense = dense.exportWeights().get('ngram.weight')!.data;
  const width = wide.numLabels;
  let kept = 0;
  let moved = 0;
  for (let r = 0; r < start.length / width; r++) {
    const row = (a: Float32Array) => Array.from(a.subarray(r * width, (r + 1) * width));
    if (row(after).every((v, j) => v === row(start)[j])) kept++;
    else {
      moved++;
      assert.deepEqual(row(after), row(afterDense), `row ${r}`);
    }
    // The dense update decays every row, read or not.
    assert.notDeepEqual(row(afterDense), row(start), `dense row ${r}`);
  }
  assert.ok(kept > 0 && moved > 0, `kept ${kept}, moved ${moved}`);
  await lazy.dispose();
  await dense.dispose();
});
