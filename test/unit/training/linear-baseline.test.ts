import { parseNgramSpec } from '../../../src/model/ngram-hash.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitLinearBaseline, minimizeLbfgs } from '../../../src/training/linear-baseline.ts';
import { bceWithLogits } from '../../../src/training/losses.ts';
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

/** Label a: token 5 then 6 ("the bigram"); label b: token 7 anywhere, a `flip` share of its rows flipped. The rest is noise. */
function rowsFor(seed: number, n: number, flip: number) {
  const rng = createRng(seed);
  const ids: Int32Array[] = [];
  const targets: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const row = Array.from({ length: 6 + Math.floor(rng() * 6) }, () => 8 + Math.floor(rng() * 20));
    const a = rng() < 0.4;
    const b = rng() < 0.3;
    if (a) row.splice(2, 0, 5, 6);
    else if (rng() < 0.5) row.splice(2, 0, 6, 5);
    if (b) row.push(7);
    ids.push(Int32Array.from([2, ...row, 3]));
    targets.push(Uint8Array.of(a ? 1 : 0, b !== rng() < flip ? 1 : 0));
  }
  return { ids, targets };
}

const trainRows = [...Array(200).keys()];
const valRows = Array.from({ length: 100 }, (_, i) => 200 + i);
const spec = parseNgramSpec({ buckets: 4096, maxN: 2, tf: 'binary' });

test('the baseline learns labels that n-grams decide, and picks C by validation', () => {
  const { ids, targets } = rowsFor(3, 300, 0);
  const fit = fitLinearBaseline(ids, targets, trainRows, valRows, ['a', 'b'], { spec, vocabSize: 30, cs: [1, 16] });
  assert.ok(fit.validation.metrics.macro_f1 > 0.95, `validation macro-F1 ${fit.validation.metrics.macro_f1}`);
  assert.ok(fit.cs.every((c) => [1, 16].includes(c)), `C ${fit.cs.join(', ')}`);
  assert.equal(fit.valLogits.length, 200);
});

test('each label keeps the C whose column has the lowest validation log loss, its weights exactly that fit\'s', () => {
  const { ids, targets } = rowsFor(3, 300, 1 / 3);
  const labels = ['a', 'b'];
  const cs = [0.25, 4, 64];
  const fit = fitLinearBaseline(ids, targets, trainRows, valRows, labels, { spec, vocabSize: 30, cs });
  const alone = cs.map((c) => fitLinearBaseline(ids, targets, trainRows, valRows, labels, { spec, vocabSize: 30, cs: [c] }));
  const loss = (logits: Float32Array, j: number) => valRows.reduce((t, r, i) => t + bceWithLogits([logits[i * 2 + j]], [targets[r][j]]), 0);
  labels.forEach((label, j) => {
    const losses = alone.map((f) => loss(f.valLogits, j));
    const best = losses.indexOf(Math.min(...losses));
    assert.equal(fit.cs[j], cs[best], `${label}: validation log loss ${losses.map((l) => l.toFixed(3)).join(' / ')} for C ${cs.join(' / ')}`);
    const from = alone[best].model;
    assert.equal(fit.model.bias[j], from.bias[j]);
    for (let b = 0; b < spec.buckets; b++) assert.equal(fit.model.weight[b * 2 + j], from.weight[b * 2 + j]);
  });
  // The clean label wants a weak penalty and the noisy one a strong one: the choice is per label, not one C for both.
  assert.notEqual(fit.cs[0], fit.cs[1], `C ${fit.cs.join(', ')}`);
});
