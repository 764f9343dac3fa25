import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../../../src/common/rng.ts';
import { epochSeed, geometricLength, maskRow, type MaskingOptions } from '../../../src/training/pretrain/masking.ts';

const PAD = 0;
const CLS = 2;
const SEP = 3;
const MASK = 4;
const opts: MaskingOptions = { maskProb: 0.15, maskId: MASK, vocabSize: 100, specialIds: new Set([PAD, CLS, SEP, MASK]) };

/** [CLS] + n ids in 5..99 + [SEP], some rows followed by padding. */
function rows(count: number, seed = 1): Int32Array[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, (_, r) => {
    const n = 20 + Math.floor(rng() * 40);
    const pad = r % 3 === 0 ? 5 : 0;
    return Int32Array.from([CLS, ...Array.from({ length: n }, () => 5 + Math.floor(rng() * 95)), SEP, ...Array(pad).fill(PAD)]);
  });
}

function stats(o: MaskingOptions, data: Int32Array[], seed: number) {
  const rng = createRng(seed);
  let candidates = 0;
  const kinds = [0, 0, 0];
  const spans: number[] = [];
  let minPerRow = Infinity;
  for (const row of data) {
    const m = maskRow(row, o, rng);
    candidates += row.filter((id) => !o.specialIds.has(id)).length;
    minPerRow = Math.min(minPerRow, m.positions.length);
    spans.push(...m.spans);
    m.positions.forEach((p, k) => {
      assert.ok(!o.specialIds.has(row[p]), `special token at ${p} chosen`);
      assert.equal(m.labels[k], row[p]);
      kinds[m.kinds[k]]++;
      if (m.kinds[k] === 0) assert.equal(m.ids[p], MASK);
      else if (m.kinds[k] === 2) assert.equal(m.ids[p], row[p]);
      else assert.ok(!o.specialIds.has(m.ids[p]), 'a random replacement is never a special token');
    });
    // Nothing but the chosen positions changes.
    const chosen = new Set(m.positions);
    row.forEach((id, i) => chosen.has(i) || assert.equal(m.ids[i], id));
  }
  const masked = kinds[0] + kinds[1] + kinds[2];
  return { rate: masked / candidates, shares: kinds.map((k) => k / masked), minPerRow, spans };
}

test('token masking: 15% of real tokens, 80/10/10, never [CLS]/[SEP]/[PAD]/[MASK], at least one per row', () => {
  const s = stats(opts, rows(3000), 7);
  assert.ok(Math.abs(s.rate - 0.15) < 0.005, `rate ${s.rate}`);
  assert.ok(Math.abs(s.shares[0] - 0.8) < 0.015, `[MASK] share ${s.shares[0]}`);
  assert.ok(Math.abs(s.shares[1] - 0.1) < 0.01, `random share ${s.shares[1]}`);
  assert.ok(Math.abs(s.shares[2] - 0.1) < 0.01, `unchanged share ${s.shares[2]}`);
  assert.ok(s.minPerRow >= 1);
  // A one-token row still gets its token masked; a row of specials only gets none.
  const one = maskRow(Int32Array.of(CLS, 50, SEP), opts, createRng(1));
  assert.deepEqual(one.positions, [1]);
  assert.deepEqual(maskRow(Int32Array.of(CLS, SEP, PAD), opts, createRng(1)).positions, []);
});

test('masks are drawn anew each epoch from a seeded stream, and the same epoch draws the same masks', () => {
  const data = rows(50, 3);
  const draw = (epoch: number) => {
    const rng = createRng(epochSeed(13, epoch));
    return data.map((r) => maskRow(r, opts, rng).positions.join(','));
  };
  const e0 = draw(0);
  const e1 = draw(1);
  assert.deepEqual(draw(0), e0);
  const same = e0.filter((p, i) => p === e1[i]).length;
  assert.ok(same < 3, `${same} of 50 rows kept their mask between epochs`);
  assert.notEqual(epochSeed(13, 1), epochSeed(14, 0));
});

test('span masking: contiguous geometric spans (p 0.2, ≤ 10, mean ≈ 4.46), still ~15% of tokens', () => {
  const rng = createRng(5);
  const lengths = Array.from({ length: 20000 }, () => geometricLength(rng, 0.2, 10));
  const mean = lengths.reduce((a, b) => a + b, 0) / lengths.length;
  // E[min(G, 10)] = Σ_{k<10} 0.8^k = (1 − 0.8^10) / 0.2
  assert.ok(Math.abs(mean - (1 - 0.8 ** 10) / 0.2) < 0.08, `mean span ${mean}`);
  assert.equal(Math.min(...lengths), 1);
  assert.equal(Math.max(...lengths), 10);
  assert.ok(Math.abs(lengths.filter((l) => l === 1).length / lengths.length - 0.2) < 0.01);
  const spanOpts = { ...opts, spanMasking: true };
  const s = stats(spanOpts, rows(2000), 9);
  assert.ok(Math.abs(s.rate - 0.15) < 0.01, `rate ${s.rate}`);
  assert.ok(s.spans.some((l) => l > 1), 'spans longer than one token');
  assert.ok(Math.abs(s.shares[0] - 0.8) < 0.03, `[MASK] share ${s.shares[0]}`);
  // Spans are contiguous: the chosen positions form no more runs of consecutive positions than there are spans.
  for (const [r, row] of rows(200, 11).entries()) {
    const m = maskRow(row, spanOpts, createRng(r));
    const runs = m.positions.filter((p, k) => k === 0 || p !== m.positions[k - 1] + 1).length;
    assert.ok(runs <= m.spans.length, `${runs} runs from ${m.spans.length} spans`);
    assert.equal(m.spans.reduce((a, b) => a + b, 0), m.positions.length);
  }
});
