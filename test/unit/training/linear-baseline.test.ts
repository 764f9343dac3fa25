import { parseNgramSpec } from '../../../src/model/ngram-hash.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitLinearBaseline, minimizeLbfgs } from '../../../src/training/linear-baseline.ts';
import { createRng } from '../../../src/common/rng.ts';

test('L-BFGS finds the minimum of an ill-conditioned quadratic', () => {
  const scale = [1, 10, 100, 1000];
  const target = [3, -2, 0.5, 7];
  const x = new Float64Array(4);
  const { value } = minimizeLbfgs((v, g) => {
    let f = 0;
    for (let i = 0; i < 4; i++) {
      f += 0.5 * scale[i] * (v[i] - target[i]) ** 2;
      g[i] = scale[i] * (v[i] - target[i]);
    }
    return f;
  }, x);
  assert.ok(value < 1e-8, `f ${value}`);
  x.forEach((v, i) => assert.ok(Math.abs(v - target[i]) < 1e-4, `x[${i}] ${v}`));
});

test('the baseline learns labels that n-grams decide, and picks C by validation', () => {
  // Token 5 then 6 ("the bigram") means label 0; token 7 anywhere means label 1; the rest is noise.
  const rng = createRng(3);
  const ids: Int32Array[] = [];
  const targets: Uint8Array[] = [];
  for (let i = 0; i < 300; i++) {
    const row = Array.from({ length: 6 + Math.floor(rng() * 6) }, () => 8 + Math.floor(rng() * 20));
    const a = rng() < 0.4;
    const b = rng() < 0.3;
    if (a) row.splice(2, 0, 5, 6);
    else if (rng() < 0.5) row.splice(2, 0, 6, 5);
    if (b) row.push(7);
    ids.push(Int32Array.from([2, ...row, 3]));
    targets.push(Uint8Array.of(a ? 1 : 0, b ? 1 : 0));
  }
  const trainRows = [...Array(200).keys()];
  const valRows = Array.from({ length: 100 }, (_, i) => 200 + i);
  const fit = fitLinearBaseline(ids, targets, trainRows, valRows, ['a', 'b'], { spec: parseNgramSpec({ buckets: 4096, maxN: 2, tf: 'binary' }), vocabSize: 30, cs: [1, 16] });
  assert.ok(fit.validation.metrics.macro_f1 > 0.95, `validation macro-F1 ${fit.validation.metrics.macro_f1}`);
  assert.ok([1, 16].includes(fit.c));
  assert.equal(fit.valLogits.length, 200);
});
