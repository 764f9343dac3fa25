import assert from 'node:assert/strict';
import { test } from 'node:test';
import onnxProto from 'onnx-proto';
import { createRng } from '../../../src/common/rng.ts';
import * as op from '../../../src/model/build/autodiff/ops.ts';
import { Tape } from '../../../src/model/build/autodiff/tape.ts';
import { buildMlmGraph, mlmHeadSpecs, mlmWeightSpecs, TIED_EMBEDDING } from '../../../src/model/build/mlm-graph.ts';
import { DataType, valueInfo } from '../../../src/model/build/onnx-graph-builder.ts';
import { createGraphSession, type Feed } from '../../../src/model/runtime/graph-session.ts';
import { initTensor, type WeightMap } from '../../../src/model/weights.ts';
import { createNormal } from '../../../src/common/rng.ts';
import { mlmFeeds } from '../../../src/training/pretrain/mlm-engine.ts';
import type { MaskedRow } from '../../../src/training/pretrain/masking.ts';
import { tinyConfig, tinyWeights } from './training-graph-helpers.ts';

const config = tinyConfig(1);

function mlmWeights(seed = 3): WeightMap {
  const w = tinyWeights(config, seed);
  const normal = createNormal(createRng(seed + 1));
  for (const spec of mlmHeadSpecs(config)) {
    const t = initTensor(spec, normal, 0.2);
    if (spec.init !== 'normal') for (let i = 0; i < t.data.length; i++) t.data[i] += (normal() * 0.2);
    w.set(spec.name, t);
  }
  return w;
}

/** Rows with real ids 5..14 only, so word-embedding rows ≥ 15 are read by the decoder alone. */
function rows(): MaskedRow[] {
  // Positions 1 and len−2 are masked in every row; labels range over ids the inputs never hold.
  const rng = createRng(5);
  return [7, 5, 6].map((len) => {
    const ids = Int32Array.from({ length: len }, (_, i) => (i === 0 ? 2 : i === len - 1 ? 3 : 5 + Math.floor(rng() * 10)));
    const positions = [1, len - 2];
    const labels = positions.map(() => 5 + Math.floor(rng() * 30));
    return { ids, positions, labels, kinds: [0, 0], spans: [] };
  });
}

function feeds(weights: WeightMap, trainable: readonly string[]): Record<string, Feed> {
  const f: Record<string, Feed> = {
    ...mlmFeeds(rows()),
  };
  for (const n of trainable) f[n] = { type: 'float32', data: weights.get(n)!.data, dims: weights.get(n)!.shape };
  return f;
}

/** Central differences at `coords` of tensor `name` against the analytic gradient; returns the mismatches. */
async function checkFd(run: (outputs?: string[]) => Promise<Record<string, Float32Array>>, data: Float32Array, grad: Float32Array, coords: number[], label: string): Promise<string[]> {
  const eps = 1e-2;
  const bad: string[] = [];
  for (const i of coords) {
    const orig = data[i];
    data[i] = orig + eps;
    const up = (await run(['loss'])).loss[0];
    data[i] = orig - eps;
    const down = (await run(['loss'])).loss[0];
    data[i] = orig;
    const fd = (up - down) / (2 * eps);
    if (Math.abs(fd - grad[i]) > 3e-4 + 2e-2 * Math.abs(fd)) bad.push(`${label}[${i}] analytic ${grad[i]} vs fd ${fd}`);
  }
  return bad;
}

test('MLM graph: every trainable tensor\'s gradient matches central finite differences on sampled coordinates', async () => {
  const weights = mlmWeights();
  const graph = buildMlmGraph(config, weights);
  assert.deepEqual([...graph.trainable].sort(), mlmWeightSpecs(config).map((s) => s.name).sort());
  const session = await createGraphSession(graph.bytes, { threads: 1 });
  const run = (outputs?: string[]) => session.run(feeds(weights, graph.trainable), outputs);
  const analytic = await run();
  assert.ok(analytic.loss[0] > 0 && Number.isFinite(analytic.loss[0]));
  const rng = createRng(17);
  const bad: string[] = [];
  for (const name of graph.trainable) {
    const grad = analytic[`grad.${name}`];
    let top = 0;
    for (let i = 1; i < grad.length; i++) if (Math.abs(grad[i]) > Math.abs(grad[top])) top = i;
    bad.push(...(await checkFd(run, weights.get(name)!.data, grad, [top, Math.floor(rng() * grad.length)], name)));
  }
  assert.deepEqual(bad, []);
  await session.release();
});

test('tied decoder: one word-embedding input, its gradient the sum of the lookup\'s and the decoder\'s (finite differences on both kinds of row)', async () => {
  const weights = mlmWeights(4);
  const graph = buildMlmGraph(config, weights);
  const model = onnxProto.onnx.ModelProto.decode(graph.bytes);
  const names = model.graph!.input!.map((i) => i.name);
  assert.equal(names.filter((n) => n === TIED_EMBEDDING).length, 1);
  assert.ok(!names.some((n) => n!.includes('decoder')), names.join(','));
  const session = await createGraphSession(graph.bytes, { threads: 1 });
  const run = (outputs?: string[]) => session.run(feeds(weights, graph.trainable), outputs);
  const grad = (await run())[`grad.${TIED_EMBEDDING}`];
  const h = config.hiddenSize;
  // Row 7 is read by the lookup and scored by the decoder; row 30 only by the decoder (no input id ≥ 15).
  const bothRow = [7 * h, 7 * h + 3, 7 * h + 9];
  const decoderRow = [30 * h, 30 * h + 5];
  assert.ok(decoderRow.some((i) => grad[i] !== 0), 'the decoder alone reaches rows no input reads');
  assert.deepEqual(await checkFd(run, weights.get(TIED_EMBEDDING)!.data, grad, [...bothRow, ...decoderRow], TIED_EMBEDDING), []);
  await session.release();
});

/** A graph of one parameter x through `f` to a scalar, for the new operators' rules. */
async function opCheck(shape: number[], f: (tape: Tape, x: ReturnType<Tape['param']>) => ReturnType<typeof op.meanAll>, extra: Record<string, Feed> = {}, extraInputs: Array<[string, number, number[]]> = []): Promise<string[]> {
  const tape = new Tape();
  for (const [n, t, s] of extraInputs) tape.input(n, t, s);
  const rng = createRng(23);
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rng() - 0.5) * 4);
  const x = tape.param('x', { shape, data }, true);
  const loss = f(tape, x);
  tape.g.op('Identity', [loss.name], [], 'loss');
  const grads = tape.gradients(loss);
  const model = onnxProto.onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 't', node: tape.g.nodes, initializer: tape.g.initializers, input: tape.inputs, output: [valueInfo('loss', DataType.FLOAT, []), valueInfo(grads.get('x')!, DataType.FLOAT, shape)] },
  });
  const session = await createGraphSession(onnxProto.onnx.ModelProto.encode(model).finish(), { threads: 1 });
  const run = (outputs?: string[]) => session.run({ ...extra, x: { type: 'float32', data, dims: shape } }, outputs);
  const grad = (await run())[grads.get('x')!];
  const bad = await checkFd(run, data, grad, [...data.keys()], 'x');
  await session.release();
  return bad;
}

test('logSoftmax: gradient matches finite differences at every coordinate (weighted, so Σdy ≠ 0)', async () => {
  const w = Float32Array.from({ length: 12 }, (_, i) => ((i * 7) % 5) - 2);
  const bad = await opCheck([3, 4], (tape, x) => {
    const weights = { name: tape.g.float32Tensor('w', { shape: [3, 4], data: w }), shape: [3, 4], grad: false };
    return op.meanAll(tape, op.mul(tape, op.logSoftmax(tape, x), weights));
  });
  assert.deepEqual(bad, []);
});

test('pickColumn: cross-entropy (−mean log-softmax at the targets) has the finite-difference gradient at every coordinate', async () => {
  const idx: Feed = { type: 'int64', data: BigInt64Array.of(2n, 0n, 3n), dims: [3] };
  const bad = await opCheck([3, 4], (tape, x) => op.neg(tape, op.meanAll(tape, op.pickColumn(tape, op.logSoftmax(tape, x), { name: 'idx', shape: [3], grad: false }))), { idx }, [['idx', DataType.INT64, [3]]]);
  assert.deepEqual(bad, []);
});
