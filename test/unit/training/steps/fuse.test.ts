import { parseNgramSpec } from '../../../../src/model/ngram-hash.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBertConfig } from '../../../../src/model/bert-config.ts';
import type { LinearFit } from '../../../../src/training/linear-baseline.ts';
import { bceWithLogits } from '../../../../src/training/losses.ts';
import { FUSION_WEIGHTS, fuseLate, logitSpread, type FuseInput } from '../../../../src/training/steps/fuse.ts';

test('logitSpread: the pooled within-label deviation, per-label offsets aside', () => {
  // Label 0 moves ±1 around 2, label 1 sits at 10 on both rows.
  assert.equal(logitSpread(Float32Array.from([1, 10, 3, 10]), 2), Math.sqrt(2 / 4));
  assert.equal(logitSpread(Float32Array.from([5, -3, 5, -3]), 2), 0);
});

/** Two labels over `rows` rows; `bert` and `linear` give each part's logit from the truth and the cell's index. */
function input(bert: (y: number, i: number) => number, linear: (y: number, i: number) => number, rows = 200): FuseInput {
  const valTruth = Array.from({ length: rows }, (_, i) => Uint8Array.from([i % 2, (i >> 1) % 2]));
  const logits = (f: (y: number, i: number) => number) => Float32Array.from(valTruth.flatMap((t, i) => [...t].map((y, j) => f(y, i * 2 + j))));
  const config = parseBertConfig({ vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 8, typeVocabSize: 2, numLabels: 2, layerNormEps: 1e-12 });
  // Only valLogits is read while choosing the share; the fitted model matters to weights()/logits(), not used here.
  const fit = { valLogits: logits(linear) } as unknown as LinearFit;
  return {
    config,
    spec: parseNgramSpec({ buckets: 16, maxN: 2, tf: 'binary' }),
    fit,
    bertValLogits: logits(bert),
    valTruth,
    labels: ['a', 'b'],
  };
}

// A deterministic wobble with no relation to the truth.
const wobble = (i: number) => Math.sin(i * 12.9898) * 2;

test('fuseLate: BERT is put on the fit\'s spread and the share is the lowest validation log loss', () => {
  const lines: string[] = [];
  // BERT knows the truth, on a scale 4× the fit's; the fit is noise.
  const given = input((y, i) => (y ? 8 : -8) + wobble(i), (_, i) => wobble(i + 7) / 4);
  const f = fuseLate(given, (l) => lines.push(l));
  assert.ok(Math.abs(f.bertScale * logitSpread(given.bertValLogits, 2) - logitSpread(given.fit.valLogits, 2)) < 1e-5, 'k·spread(BERT) = spread(fit)');
  assert.deepEqual(f.scores.map((s) => s.bertWeight), [...FUSION_WEIGHTS]);
  assert.equal(f.scores.length, 21);
  const best = Math.min(...f.scores.map((s) => s.score));
  assert.equal(f.bertWeight, f.scores.find((s) => s.score === best)!.bertWeight);
  assert.ok(f.bertWeight >= 0.8, `an informative BERT against a noise fit takes most of the mix (w ${f.bertWeight})`);
  // The score is the log loss of the mix itself.
  const truth = Float32Array.from(given.valTruth.flatMap((t) => [...t]));
  assert.ok(Math.abs(bceWithLogits(f.valLogits, truth) - best) < 1e-6);
  assert.match(lines[0], /^late fusion: logits \d\.\d\d·k·BERT \+ \d\.\d\d·linear n-gram fit, k \d+\.\d{3}/);

  // The other way round, the fit takes it.
  const g = fuseLate(input((_, i) => wobble(i) * 3, (y, i) => (y ? 2 : -2) + wobble(i + 3) / 4), () => {});
  assert.ok(g.bertWeight <= 0.2, `a noise BERT gets little (w ${g.bertWeight})`);

  // BERT three times the fit: k undoes the scale, so every share gives the same mix and the same loss.
  const h = fuseLate(input((y, i) => 3 * ((y ? 2 : -2) + wobble(i)), (y, i) => (y ? 2 : -2) + wobble(i)), () => {});
  assert.ok(Math.abs(h.bertScale - 1 / 3) < 1e-5, `k ${h.bertScale}`);
  for (const s of h.scores) assert.ok(Math.abs(s.score - h.scores[0].score) < 1e-5, `share ${s.bertWeight}: ${s.score} against ${h.scores[0].score}`);
});

test('fuseLate: a BERT whose logits never move is left unscaled (k = 1)', () => {
  const f = fuseLate(input(() => 0.5, (y, i) => (y ? 2 : -2) + wobble(i)), () => {});
  assert.equal(f.bertScale, 1);
  assert.ok(Number.isFinite(f.scores[20].score));
});
