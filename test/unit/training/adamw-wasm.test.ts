import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../../../src/common/rng.ts';
import { createArrayAdamW } from '../../../src/training/adamw-arrays.ts';

// Odd lengths put the kernel's spare lanes next to another tensor; the last is longer than one gradient chunk (2^18 floats).
const shapes = new Map([
  ['bert.embeddings.word_embeddings.weight', (1 << 18) + 7],
  ['bert.encoder.layer.0.output.dense.weight', 650],
  ['bert.encoder.layer.0.attention.output.LayerNorm.weight', 13],
  ['classifier.bias', 1],
  ['bert.pooler.dense.weight', 5],
]);
const options = { lr: 3e-3, weightDecay: 0.01, clipNorm: 1 };

function same(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) if (!Object.is(actual[i], expected[i])) assert.fail(`${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

test('the wasm SIMD update gives the same bits as the JS loop on every tensor, moments included, over steps with clipping and decay', () => {
  const simd = createArrayAdamW(shapes, options);
  const js = createArrayAdamW(shapes, options, { kernel: 'js' });
  assert.equal(simd.kernel, 'wasm SIMD');
  assert.equal(js.kernel, 'JS');
  const rng = createRng(11);
  const start = new Map([...shapes].map(([n, size]) => [n, Float32Array.from({ length: size }, () => rng() - 0.5)]));
  const ws = new Map([...start].map(([n, w]) => [n, w.slice()]));
  const wj = new Map([...start].map(([n, w]) => [n, w.slice()]));
  for (let step = 0; step < 6; step++) {
    // Gradients as views at an offset into a larger buffer, as accumulated ones can be; large enough on step 0 to clip.
    const grads = new Map(
      [...shapes].map(([n, size]) => {
        const data = Float32Array.from({ length: size + 3 }, () => (rng() - 0.5) * (step === 0 ? 50 : 0.5));
        return [n, data.subarray(3)];
      }),
    );
    assert.equal(simd.apply(ws, grads, options.lr), js.apply(wj, grads, options.lr));
  }
  for (const n of shapes.keys()) {
    same(ws.get(n)!, wj.get(n)!, n);
    same(simd.m.get(n)!, js.m.get(n)!, `m/${n}`);
    same(simd.v.get(n)!, js.v.get(n)!, `v/${n}`);
    assert.notDeepEqual(ws.get(n), start.get(n), `${n} moved`);
  }
});

test('the arena takes the weights over: the map holds its views after the first update, and writes into them are what the next update reads', () => {
  const shape = new Map([['classifier.weight', 10]]);
  const opt = createArrayAdamW(shape, options);
  const reference = createArrayAdamW(shape, options, { kernel: 'js' });
  const given = Float32Array.from({ length: 10 }, (_, i) => i / 10);
  const weights = new Map([['classifier.weight', given]]);
  const ref = new Map([['classifier.weight', given.slice()]]);
  const grads = new Map([['classifier.weight', new Float32Array(10).fill(0.1)]]);
  opt.apply(weights, grads, 1e-2);
  reference.apply(ref, grads, 1e-2);
  assert.notEqual(weights.get('classifier.weight'), given);
  assert.deepEqual(Array.from(given), Array.from({ length: 10 }, (_, i) => Math.fround(i / 10)), 'the caller\'s array is left as it was');
  // A restore writes into the map's arrays in place, as the engines' checkpoint load does.
  weights.get('classifier.weight')!.set(given);
  ref.get('classifier.weight')!.set(given);
  opt.apply(weights, grads, 1e-2);
  reference.apply(ref, grads, 1e-2);
  same(weights.get('classifier.weight')!, ref.get('classifier.weight')!, 'after a restore');
});
