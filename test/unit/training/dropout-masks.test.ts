import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DropoutSite } from '../../../src/model/build/dropout-sites.ts';
import { LivetagError } from '../../../src/common/errors.ts';
import { createDropoutMasks, microBatchSeed } from '../../../src/training/dropout-masks.ts';

const sites: DropoutSite[] = [
  { name: 'dropout_mask.0', shape: ['batch', 'sequence', 64] },
  { name: 'dropout_mask.1', shape: ['batch', 2, 'sequence', 'sequence'] },
  { name: 'dropout_mask.2', shape: ['batch', 64] },
];
const dims = { batch: 16, sequence: 33 };

test('masks take each site\'s shape, drop the ratio of elements and scale the rest by 1/(1−ratio)', () => {
  for (const ratio of [0.1, 0.3]) {
    const feeds = createDropoutMasks(sites).feeds(ratio, 11, dims);
    assert.deepEqual(Object.keys(feeds), sites.map((s) => s.name));
    assert.deepEqual(feeds['dropout_mask.1'].dims, [16, 2, 33, 33]);
    let zeros = 0;
    let total = 0;
    const kept = Math.fround(1 / (1 - ratio));
    for (const f of Object.values(feeds)) {
      assert.equal(f.data.length, f.dims.reduce((a, b) => a * b, 1));
      for (const v of f.data as Float32Array) {
        total++;
        if (v === 0) zeros++;
        else assert.equal(v, kept);
      }
    }
    // 70,000 Bernoulli draws: the share is within 4 standard deviations of the ratio.
    const sd = Math.sqrt((ratio * (1 - ratio)) / total);
    assert.ok(Math.abs(zeros / total - ratio) < 4 * sd, `ratio ${ratio}: dropped ${zeros}/${total}`);
  }
});

test('a seed gives the same masks (a resumed run draws what the first did); other seeds and sites differ', () => {
  const flat = (seed: number) => Object.values(createDropoutMasks(sites).feeds(0.1, seed, dims)).map((f) => Array.from(f.data as Float32Array));
  assert.deepEqual(flat(3), flat(3));
  assert.notDeepEqual(flat(3), flat(4));
  const [a, , c] = flat(3);
  assert.notDeepEqual(a.slice(0, c.length), c, 'each site continues the stream instead of repeating it');
  // Reused buffers: a smaller batch after a larger one still gets exactly its own size.
  const masks = createDropoutMasks(sites);
  masks.feeds(0.1, 1, dims);
  const small = masks.feeds(0.1, 1, { batch: 2, sequence: 5 });
  assert.equal(small['dropout_mask.0'].data.length, 2 * 5 * 64);
});

test('a ratio outside (0, 1) or a dim without a size is refused with a code', () => {
  assert.throws(() => createDropoutMasks(sites).feeds(1, 1, dims), (e: unknown) => e instanceof LivetagError && e.code === 'LT_TRAINING');
  assert.throws(() => createDropoutMasks(sites).feeds(0, 1, dims), (e: unknown) => e instanceof LivetagError && e.code === 'LT_TRAINING');
  assert.throws(() => createDropoutMasks(sites).feeds(0.1, 1, { batch: 2 }), (e: unknown) => e instanceof LivetagError && /no size for dim sequence/.test(e.message));
});

test('the wasm SIMD kernel fills the same masks as the JS loop, bit for bit, and is what runs here', () => {
  const wasm = createDropoutMasks(sites);
  const js = createDropoutMasks(sites, { useWasm: false });
  assert.equal(wasm.kernel, 'wasm SIMD');
  assert.equal(js.kernel, 'JS');
  // Sizes that are not whole rounds of 8, a batch larger than the first arena (the memory grows), several ratios and seeds.
  for (const [ratio, seed, d] of [[0.1, 1, dims], [0.3, 7, { batch: 3, sequence: 5 }], [0.1, 2 ** 40 + 3, { batch: 64, sequence: 61 }], [0.5, 0, dims]] as const) {
    const a = wasm.feeds(ratio, seed, d);
    const b = js.feeds(ratio, seed, d);
    for (const name of Object.keys(b)) {
      assert.deepEqual(a[name].dims, b[name].dims);
      assert.deepEqual(new Uint32Array((a[name].data as Float32Array).slice().buffer), new Uint32Array((b[name].data as Float32Array).slice().buffer), `${name} ratio ${ratio} seed ${seed}`);
    }
  }
});

test('a large --seed (a date, 20240101) keeps micro-batches and the four lanes apart; small seeds draw exactly what they drew before', () => {
  const stepSeed = 20240101 * 1_000_003 + 5 * 64; // the trainer's step seed, exact in float64
  // Before: stepSeed · 1009 + i rounded to one value for neighbouring i, and seed · 4 + k to one lane state.
  assert.notEqual(microBatchSeed(stepSeed, 1), microBatchSeed(stepSeed, 2));
  const masks = createDropoutMasks(sites);
  const lanes = (seed: number) => {
    const f = Object.values(masks.feeds(0.1, seed, dims))[0].data as Float32Array;
    return new Set(new Uint32Array(f.buffer, 0, 4));
  };
  assert.equal(lanes(microBatchSeed(stepSeed, 0)).size, 4, 'four independent lanes');
  assert.equal(lanes(stepSeed * 1009 * 4).size, 4, 'even a seed past 2^53 handed in directly');
  // Small seeds: the same value as the plain product, so runs and checkpoints made before draw the same masks.
  for (const [s, i] of [[13 * 1_000_003 + 64, 0], [1_000_003 * 99 + 640, 3]]) assert.equal(microBatchSeed(s, i), (s * 1009 + i) % 2 ** 32);
  const flat = (seed: number) => Object.values(createDropoutMasks(sites).feeds(0.1, seed, dims)).map((f) => Array.from(f.data as Float32Array));
  assert.deepEqual(flat(7), flat(7 + 2 ** 32), 'only seed mod 2^32 matters, as it always did');
});
