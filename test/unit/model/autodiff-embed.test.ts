import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../../../src/common/rng.ts';
import * as op from '../../../src/model/build/autodiff/ops.ts';
import { Tape } from '../../../src/model/build/autodiff/tape.ts';
import { encodeTrainingModel } from '../../../src/model/build/encoder-graph.ts';
import { DataType } from '../../../src/model/build/onnx-graph-builder.ts';
import { createGraphSession } from '../../../src/model/runtime/graph-session.ts';

// A batch the size of a bert-base step (64 × 64 ids, rows 768 wide): large
// enough that onnxruntime splits a scatter across its threads. Its ScatterND
// with reduction add then lost updates on rows that two threads shared, a
// different 6–25% of the word and token-type gradients every run.
const ROWS = 64;
const SEQ = 64;
const WIDTH = 768;

type Mode = 'repeating' | 'oneHot' | 'distinctIds';

/** loss = Σ embed(table, ids) ⊙ c, so dtable[r] is exactly Σ of c over the positions that read row r. */
async function gradient(mode: Mode, tableRows: number, ids: BigInt64Array, idsShape: number[], c: Float32Array, threads: number): Promise<Float32Array> {
  const tape = new Tape();
  const weights = new Map([['table', { shape: [tableRows, WIDTH], data: new Float32Array(tableRows * WIDTH) }]]);
  const table = tape.param('table', weights.get('table')!, true);
  const idsT = tape.input('ids', DataType.INT64, idsShape);
  const cT = tape.input('c', DataType.FLOAT, [...idsShape, WIDTH]);
  const y = op.embed(tape, table, idsT, mode === 'repeating' ? {} : { [mode]: true });
  let loss = op.mul(tape, y, cT);
  while (loss.shape.length > 0) loss = op.sumAxis(tape, loss, loss.shape.length - 1);
  const grads = tape.gradients(loss);
  const session = await createGraphSession(encodeTrainingModel(tape, 'embed', [], grads, weights), { threads });
  try {
    const out = await session.run(
      {
        table: { type: 'float32', data: weights.get('table')!.data, dims: [tableRows, WIDTH] },
        ids: { type: 'int64', data: ids, dims: idsShape },
        c: { type: 'float32', data: c, dims: [...idsShape, WIDTH] },
      },
      [grads.get('table')!],
    );
    return out[grads.get('table')!];
  } finally {
    await session.release();
  }
}

function exactSums(tableRows: number, ids: BigInt64Array, c: Float32Array): Float64Array {
  const sums = new Float64Array(tableRows * WIDTH);
  ids.forEach((id, i) => {
    for (let j = 0; j < WIDTH; j++) sums[Number(id) * WIDTH + j] += c[i * WIDTH + j];
  });
  return sums;
}

function relativeError(got: Float32Array, want: Float64Array): number {
  let diff = 0;
  let norm = 0;
  want.forEach((w, i) => {
    diff += (got[i] - w) ** 2;
    norm += w * w;
  });
  return Math.sqrt(diff / norm);
}

const cases: Array<{ mode: Mode; what: string; tableRows: number; ids: () => BigInt64Array; idsShape: number[] }> = [
  // Token ids repeat: [CLS] in every row, padding, common characters.
  { mode: 'repeating', what: 'token ids that repeat', tableRows: 40, ids: () => BigInt64Array.from({ length: ROWS * SEQ }, (_, i) => BigInt(i % SEQ === 0 ? 2 : (i * 7919) % 7)), idsShape: [ROWS, SEQ] },
  // Token types: all 0 but the second segment's 1s.
  { mode: 'oneHot', what: 'token types (two rows)', tableRows: 2, ids: () => BigInt64Array.from({ length: ROWS * SEQ }, (_, i) => (i % SEQ >= SEQ / 2 ? 1n : 0n)), idsShape: [ROWS, SEQ] },
  // Positions: each id once.
  { mode: 'distinctIds', what: 'distinct ids (positions)', tableRows: ROWS * SEQ, ids: () => BigInt64Array.from({ length: ROWS * SEQ }, (_, i) => BigInt((i * 97) % (ROWS * SEQ))), idsShape: [ROWS * SEQ] },
];

for (const { mode, what, tableRows, ids: makeIds, idsShape } of cases) {
  test(`embedding gradient for ${what}: on onnxruntime's threads, the exact row sums, the same bits every run and as on one thread`, async () => {
    const ids = makeIds();
    const rng = createRng(5);
    const c = Float32Array.from({ length: ids.length * WIDTH }, () => rng() - 0.5);
    const want = exactSums(tableRows, ids, c);
    const single = await gradient(mode, tableRows, ids, idsShape, c, 1);
    assert.ok(relativeError(single, want) < 1e-6, `one thread: relative error ${relativeError(single, want)}`);
    for (let run = 0; run < 3; run++) {
      const threaded = await gradient(mode, tableRows, ids, idsShape, c, 2);
      assert.ok(relativeError(threaded, want) < 1e-6, `two threads, run ${run}: relative error ${relativeError(threaded, want)}`);
      assert.deepEqual(threaded, single, `two threads, run ${run}: not the bits of one thread`);
    }
  });
}
