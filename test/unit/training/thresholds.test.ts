import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MACRO_F1_WEIGHT, RARE_POSITIVES, refineThresholds, tuneThresholds } from '../../../src/training/thresholds.ts';

test('picks the middle of the best-F1 plateau per label', () => {
  // Label 0: positives at 0.8, 0.7; negatives at 0.2, 0.3 → any t in (0.3, 0.7] is perfect.
  // Label 1: no positives → default.
  const probs = Float32Array.from([0.8, 0.1, 0.7, 0.2, 0.2, 0.9, 0.3, 0.1]);
  const truth = [Uint8Array.of(1, 0), Uint8Array.of(1, 0), Uint8Array.of(0, 0), Uint8Array.of(0, 0)];
  const [a, b] = tuneThresholds(probs, truth, 2);
  assert.equal(a.how, 'tuned');
  assert.equal(a.f1, 1);
  assert.ok(a.threshold > 0.3 && a.threshold <= 0.7, `threshold ${a.threshold}`);
  assert.ok(Math.abs(a.threshold - 0.5) <= 0.011, `middle of the plateau, got ${a.threshold}`);
  assert.deepEqual(b, { threshold: 0.5, f1: 0, how: 'default' });
});

test('a low-scoring rare label gets a low threshold', () => {
  const probs = Float32Array.from([0.12, 0.05, 0.04, 0.03]);
  const truth = [Uint8Array.of(1), Uint8Array.of(0), Uint8Array.of(0), Uint8Array.of(0)];
  const [t] = tuneThresholds(probs, truth, 1);
  assert.equal(t.f1, 1);
  assert.ok(t.threshold > 0.05 && t.threshold <= 0.12);
});

test('rareFloor: a label with fewer than RARE_POSITIVES validation positives is not cut below the floor; a well-evidenced one is', () => {
  // Column 0: 3 positives scoring 0.2-0.3 (best F1 cut ≈ 0.15). Column 1: RARE_POSITIVES positives alike.
  const rows = 40;
  const probs = new Float32Array(rows * 2);
  const truth: Uint8Array[] = [];
  for (let i = 0; i < rows; i++) {
    const pos0 = i < 3;
    const pos1 = i < RARE_POSITIVES;
    probs[i * 2] = pos0 ? 0.2 + i * 0.05 : 0.1;
    probs[i * 2 + 1] = pos1 ? 0.2 + (i % 3) * 0.05 : 0.1;
    truth.push(Uint8Array.of(pos0 ? 1 : 0, pos1 ? 1 : 0));
  }
  const plain = tuneThresholds(probs, truth, 2);
  assert.ok(plain[0].threshold < 0.2 && plain[1].threshold < 0.2, JSON.stringify(plain));
  const [rare, common] = tuneThresholds(probs, truth, 2, { rareFloor: 0.5 });
  assert.deepEqual(rare, { threshold: 0.5, f1: 0, how: 'floored' }, 'the floor, with the F1 it gives on validation');
  assert.deepEqual(common, plain[1], 'enough positives: the tuned value stands');
  // A tuned value already over the floor is kept as it is.
  const high = tuneThresholds(Float32Array.from([0.9, 0.1, 0.1]), [Uint8Array.of(1), Uint8Array.of(0), Uint8Array.of(0)], 1, { rareFloor: 0.3 });
  assert.equal(high[0].how, 'tuned');
  assert.ok(high[0].threshold > 0.3);
});

test('refineThresholds: a rare label whose F1-best cut adds it to many texts is raised until whole tag sets come out right', () => {
  // Label 0 is on every row (a sure tag). Label 1: 2 positives scoring 0.6 and 0.35, and 6 negatives at 0.3.
  // F1 alone takes a cut just under 0.35 (F1 1 at any cut in (0.3, 0.35]); exact match gains nothing there either,
  // so the F1 choice stays. Label 2 as label 1 but its 5 negatives sit at 0.34 and its F1 choice (0.2) lets them in.
  const rows = [
    [0.9, 0.6, 0.34],
    [0.9, 0.35, 0.34],
    [0.9, 0.3, 0.34],
    [0.9, 0.3, 0.34],
    [0.9, 0.3, 0.34],
    [0.9, 0.3, 0.8],
    [0.9, 0.3, 0.1],
    [0.9, 0.3, 0.1],
  ];
  const truth = [[1, 1, 0], [1, 1, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 1], [1, 0, 0], [1, 0, 0]].map((r) => Uint8Array.from(r));
  const probs = Float32Array.from(rows.flat());
  const start = [
    { threshold: 0.5, f1: 1, how: 'tuned' as const },
    { threshold: 0.33, f1: 1, how: 'tuned' as const },
    { threshold: 0.2, f1: 0.29, how: 'tuned' as const },
  ];
  const refined = refineThresholds(probs, truth, start, { min: 1, max: null });
  assert.equal(refined[0].threshold, 0.5, 'a label every cut in (0.02, 0.9] gets right keeps its F1 choice');
  assert.equal(refined[1].threshold, 0.33, 'no gain from moving: the F1 choice stays');
  assert.ok(refined[2].threshold > 0.34 && refined[2].threshold <= 0.8, `raised past the negatives: ${refined[2].threshold}`);
  assert.equal(refined[2].f1, 1, 'its F1 is recomputed at the new threshold');
  const exact = (thr: number[]) => truth.filter((t, i) => rows[i]!.every((p, j) => (p >= thr[j]!) === (t[j] === 1))).length;
  assert.equal(exact(start.map((c) => c.threshold)), 3);
  assert.equal(exact(refined.map((c) => c.threshold)), 8);
});

test('refineThresholds keeps labels without validation positives at their default and floored ones at or above the floor', () => {
  const probs = Float32Array.from([0.9, 0.3, 0.2, 0.9, 0.3, 0.2, 0.9, 0.1, 0.6]);
  const truth = [Uint8Array.of(1, 0, 0), Uint8Array.of(1, 0, 0), Uint8Array.of(1, 0, 1)];
  const start = [
    { threshold: 0.5, f1: 1, how: 'tuned' as const },
    { threshold: 0.5, f1: 0, how: 'default' as const },
    { threshold: 0.5, f1: 1, how: 'floored' as const },
  ];
  const refined = refineThresholds(probs, truth, start, { min: 0, max: null });
  assert.deepEqual(refined[1], start[1]);
  assert.ok(refined[2].threshold >= 0.5, `floored label stays at or above 0.5: ${refined[2].threshold}`);
});

test('refineThresholds with macroWeight: a label keeps its F1 for one more text exactly right, and still moves where both gain', () => {
  // Label 0 is right on rows 2-7 and falsely on at rows 0-1 at any cut that keeps its positives, so those two
  // texts are wrong whatever label 1 does. Label 1: positives on rows 0-1 (0.6), a negative on row 2 at 0.75.
  // Any cut ≤ 0.6 gives label 1 F1 0.8 and row 2 wrong; a cut over 0.75 gets row 2 right and label 1's F1 to 0.
  // Label 2 is the earlier case: its F1 choice (0.2) admits negatives at 0.34, raising it gains on both counts.
  const rows = [
    [0.95, 0.6, 0.1],
    [0.95, 0.6, 0.1],
    [0.9, 0.75, 0.34],
    [0.9, 0.1, 0.34],
    [0.9, 0.1, 0.34],
    [0.9, 0.1, 0.8],
    [0.9, 0.1, 0.8],
    [0.9, 0.1, 0.1],
  ];
  const truth = [[0, 1, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 1], [1, 0, 1], [1, 0, 0]].map((r) => Uint8Array.from(r));
  const probs = Float32Array.from(rows.flat());
  const start = [
    { threshold: 0.5, f1: 0.86, how: 'tuned' as const },
    { threshold: 0.3, f1: 0.8, how: 'tuned' as const },
    { threshold: 0.2, f1: 0.57, how: 'tuned' as const },
  ];
  const count = { min: 0, max: null };
  const exact = refineThresholds(probs, truth, start, count);
  const both = refineThresholds(probs, truth, start, count, { macroWeight: MACRO_F1_WEIGHT });
  assert.equal(exact[0].threshold, 0.5, 'label 0: no cut gets rows 0-1 right without losing its positives');
  assert.ok(exact[1].threshold > 0.75, `exact match alone drops label 1's positives for row 2: ${exact[1].threshold}`);
  assert.equal(exact[1].f1, 0);
  assert.equal(both[1].threshold, 0.3, 'weighing macro-F1, label 1 keeps its F1 choice');
  assert.equal(both[1].f1, 0.8);
  for (const r of [exact, both]) assert.ok(r[2].threshold > 0.34 && r[2].threshold <= 0.8, `label 2 raised past its negatives either way: ${r[2].threshold}`);
  assert.equal(both[2].f1, 1);
});

test('refinement keeps every rare label at or above --rare-label-floor, not only those whose F1 choice was floored', () => {
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  let rareSeen = 0;
  for (let trial = 0; trial < 300; trial++) {
    const n = 30;
    const w = 3;
    const truth: Uint8Array[] = [];
    const probs = new Float32Array(n * w);
    for (let i = 0; i < n; i++) {
      const t = new Uint8Array(w);
      for (let j = 0; j < w; j++) {
        t[j] = rnd() < (j === 2 ? 0.12 : 0.4) ? 1 : 0;
        probs[i * w + j] = Math.min(0.99, Math.max(0.01, (t[j] ? 0.45 : 0.2) + (rnd() - 0.5) * 0.6));
      }
      truth.push(t);
    }
    const start = tuneThresholds(probs, truth, w, { rareFloor: 0.3 });
    const refined = refineThresholds(probs, truth, start, { min: 1, max: null }, { macroWeight: MACRO_F1_WEIGHT, rareFloor: 0.3 });
    for (let j = 0; j < w; j++) {
      const positives = truth.filter((t) => t[j]).length;
      if (positives === 0 || positives >= RARE_POSITIVES) continue;
      rareSeen++;
      assert.ok(refined[j].threshold >= 0.3, `trial ${trial} label ${j}: ${positives} positives, refined to ${refined[j].threshold}`);
    }
  }
  assert.ok(rareSeen > 100, `rare labels met: ${rareSeen}`);
});
