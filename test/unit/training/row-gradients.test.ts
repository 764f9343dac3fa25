import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../../../src/common/rng.ts';
import { createRowSum, type RowSum } from '../../../src/training/row-gradients.ts';

/** A run's outputs: `positions` gathered ids drawn from `rows` table rows (so most repeat), and their gradients. */
function batch(seed: number, positions: number, rows: number, width: number): { ids: BigInt64Array; grads: Float32Array } {
  const rng = createRng(seed);
  const ids = BigInt64Array.from({ length: positions }, () => BigInt(Math.floor(rng() * rows) * 7 + 3));
  const grads = Float32Array.from({ length: positions * width }, () => (rng() - 0.5) * 10 ** Math.floor(rng() * 6 - 3));
  return { ids, grads };
}

const bits = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function sameSums(a: RowSum, b: RowSum, label: string): void {
  const x = a.result();
  const y = b.result();
  assert.deepEqual([...y.rows], [...x.rows], `${label}: rows in first-seen order`);
  assert.ok(bits(y.values).equals(bits(x.values)), `${label}: the same float32 bits`);
}

test('the wasm SIMD row sum gives the JS loop’s bits: repeated rows, growth past its first arrays, scaled micro-batches, reset between steps', () => {
  const width = 128;
  const wasm = createRowSum(width);
  const js = createRowSum(width, { useWasm: false });
  assert.equal(wasm.kernel, 'wasm SIMD');
  assert.equal(js.kernel, 'JS');
  const steps: ReadonlyArray<ReadonlyArray<readonly [ReturnType<typeof batch>, number]>> = [
    // One whole batch in the kernel, then more adds onto its rows; 1,500 rows outgrow the first 1,024.
    [[batch(1, 900, 300, width), 1], [batch(2, 4000, 1500, width), 1]],
    // Two micro-batches, shares 0.6 and 0.4 (doubles, so their products round in JS).
    [[batch(3, 700, 250, width), 0.6], [batch(4, 700, 250, width), 0.4]],
    // Fewer rows than any step before: nothing of those leaks in.
    [[batch(5, 300, 100, width), 1]],
  ];
  for (const [k, step] of steps.entries()) {
    wasm.reset();
    const fresh = createRowSum(width, { useWasm: false });
    for (const [{ ids, grads }, share] of step) {
      wasm.add(ids, grads, share);
      fresh.add(ids, grads, share);
    }
    sameSums(wasm, fresh, `step ${k + 1}`);
    assert.equal(wasm.result().rows.length, new Set(step.flatMap(([b]) => [...b.ids])).size);
  }
  // The JS loop's own reset matches a fresh one too.
  const [[{ ids, grads }]] = steps[2];
  const fresh = createRowSum(width, { useWasm: false });
  fresh.add(ids, grads, 1);
  js.add(steps[0][1][0].ids, steps[0][1][0].grads, 1);
  js.reset();
  js.add(ids, grads, 1);
  sameSums(js, fresh, 'the JS loop after a reset');
});

test('a row width that is not a multiple of 4 (an n-gram table of 13 labels) stays on the JS loop', () => {
  assert.equal(createRowSum(13).kernel, 'JS');
  const sum = createRowSum(13);
  sum.add(BigInt64Array.of(5n, 9n, 5n), Float32Array.from({ length: 39 }, (_, i) => i), 1);
  const { rows, values } = sum.result();
  assert.deepEqual([...rows], [5, 9]);
  assert.deepEqual([...values.subarray(0, 13)], Array.from({ length: 13 }, (_, j) => j + (26 + j)));
});
