import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../../../src/common/rng.ts';
import { createArrayAdamW } from '../../../src/training/adamw-arrays.ts';

test('a sparse-row tensor moves only the rows its gradient touches; those rows move exactly as the dense update moves them', () => {
  const rows = 50;
  const width = 3;
  const shapes = new Map([['ngram.weight', rows * width]]);
  const rng = createRng(7);
  const start = Float32Array.from({ length: rows * width }, () => rng() - 0.5);
  const options = { lr: 1e-2, weightDecay: 0.01, clipNorm: 1 };
  const dense = createArrayAdamW(shapes, options, { kernel: 'js' });
  const sparse = createArrayAdamW(shapes, options, { sparseRows: new Map([['ngram.weight', width]]) });
  const wd = new Map([['ngram.weight', start.slice()]]);
  const ws = new Map([['ngram.weight', start.slice()]]);
  const touched = new Set([2, 17, 49]);
  const grad = Float32Array.from({ length: rows * width }, (_, i) => (touched.has(Math.floor(i / width)) ? rng() - 0.5 : 0));
  // One step from zero moments: a touched row's update does not depend on the others.
  assert.equal(sparse.apply(ws, new Map([['ngram.weight', grad]]), 1e-2), dense.apply(wd, new Map([['ngram.weight', grad]]), 1e-2));
  const after = ws.get('ngram.weight')!;
  for (let r = 0; r < rows; r++) {
    const slice = (a: Float32Array) => Array.from(a.subarray(r * width, (r + 1) * width));
    if (touched.has(r)) {
      assert.deepEqual(slice(after), slice(wd.get('ngram.weight')!), `row ${r}`);
      assert.notDeepEqual(slice(after), slice(start), `row ${r} moved`);
    } else {
      assert.deepEqual(slice(after), slice(start), `row ${r} stays`);
      assert.deepEqual(slice(sparse.m.get('ngram.weight')!), [0, 0, 0]);
      // The dense update decays every row.
      assert.notDeepEqual(slice(wd.get('ngram.weight')!), slice(start), `dense row ${r}`);
    }
  }
});
