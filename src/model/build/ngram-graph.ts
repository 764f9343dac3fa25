/**
 * The wide branch inside the ONNX graph: hashed n-gram buckets of input_ids
 * (the arithmetic of ../ngram-hash.ts, in int64) and their normalised tf·idf
 * weights. The serving writer and the training graph both emit it from here,
 * so `livetag serve` needs no feature code of its own and cannot drift.
 */
import { NGRAM_MULTIPLIER, NGRAM_OFFSETS, NGRAM_PRIME, type NgramSpec } from '../ngram-hash.ts';
import { DataType, intAttr, type GraphBuilder } from './onnx-graph-builder.ts';

export const NGRAM_TABLE = 'ngram.weight';
export const NGRAM_IDF = 'ngram.idf';

export interface NgramFeatures {
  /** [batch, positions] int64 buckets, every order's positions concatenated. */
  readonly buckets: string;
  /** [batch, positions] float: idf × (all tokens real), divided by the row's L2 norm. */
  readonly weights: string;
}

/**
 * Buckets and weights of every n-gram position; a position that reaches into
 * padding weighs 0, so the result does not depend on how the batch is padded.
 */
export function emitNgramFeatures(g: GraphBuilder, ids: string, mask: string, spec: NgramSpec, vocabSize: number): NgramFeatures {
  const seq = g.op('Gather', [g.op('Shape', [ids]), g.int64s([1])], [intAttr('axis', 0)]);
  const axis1 = g.int64s([1]);
  const maskF = g.op('Cast', [mask], [intAttr('to', DataType.FLOAT)]);
  const prime = g.int64s([NGRAM_PRIME], true);
  const vocab = g.int64s([vocabSize], true);
  const bucketsAll: string[] = [];
  const realAll: string[] = [];
  for (let n = 1; n <= spec.maxN; n++) {
    // Token k of each n-gram: columns k … seq-n+k.
    const slice = (t: string, k: number): string =>
      g.op('Slice', [t, g.int64s([k]), g.op('Sub', [seq, g.int64s([n - 1 - k])]), axis1]);
    let code = '';
    let real = '';
    for (let k = 0; k < n; k++) {
      const tok = slice(ids, k);
      code = k === 0 ? g.op('Mod', [tok, prime]) : g.op('Mod', [g.op('Add', [g.op('Mul', [code, vocab]), tok]), prime]);
      const m = slice(maskF, k);
      real = k === 0 ? m : g.op('Mul', [real, m]);
    }
    const mixed = g.op('Mod', [g.op('Add', [g.op('Mul', [code, g.int64s([NGRAM_MULTIPLIER], true)]), g.int64s([NGRAM_OFFSETS[n]], true)]), prime]);
    bucketsAll.push(g.op('Mod', [mixed, g.int64s([spec.buckets], true)]));
    realAll.push(real);
  }
  const buckets = bucketsAll.length === 1 ? bucketsAll[0] : g.op('Concat', bucketsAll, [intAttr('axis', 1)]);
  const real = realAll.length === 1 ? realAll[0] : g.op('Concat', realAll, [intAttr('axis', 1)]);
  const raw = g.op('Mul', [real, g.op('Gather', [NGRAM_IDF, buckets], [intAttr('axis', 0)])]);
  const norm = g.op('Sqrt', [g.op('ReduceSum', [g.op('Mul', [raw, raw]), axis1], [intAttr('keepdims', 1)])]);
  const weights = g.op('Div', [raw, g.op('Max', [norm, g.float32Tensor('ngram.norm_floor', { shape: [], data: Float32Array.of(1e-12) })])]);
  return { buckets, weights };
}

/** Serving form: Σ_positions weight × table[bucket], [batch, labels], float32. */
export function emitWideLogits(g: GraphBuilder, f: NgramFeatures): string {
  const rows = g.op('Gather', [NGRAM_TABLE, f.buckets], [intAttr('axis', 0)]);
  const weighted = g.op('Mul', [rows, g.op('Unsqueeze', [f.weights, g.int64s([-1])])]);
  return g.op('ReduceSum', [weighted, g.int64s([1])], [intAttr('keepdims', 0)]);
}
