/**
 * The wide branch inside the ONNX graph: hashed n-gram buckets of input_ids
 * or of the text's codes (the arithmetic of ../ngram-hash.ts, in int64) and
 * their normalised tf·idf weights. The serving writer and the training graph
 * both emit it from here, so `livetag serve` needs no feature code of its own
 * and cannot drift.
 */
import { LivetagError } from '../../common/errors.ts';
import { NGRAM_INPUT } from '../onnx-names.ts';
import { NGRAM_MULTIPLIER, NGRAM_OFFSETS, NGRAM_PRIME, ngramRadix, type NgramSpec } from '../ngram-hash.ts';
import { DataType, intAttr, type GraphBuilder } from './onnx-graph-builder.ts';

export const NGRAM_TABLE = 'ngram.weight';
export const NGRAM_IDF = 'ngram.idf';

export interface NgramFeatures {
  /** [batch, positions] int64 buckets, every order's positions concatenated. */
  readonly buckets: string;
  /** [batch, positions] float: idf × (all tokens real) × the tf share of the position, divided by the row's L2 norm. */
  readonly weights: string;
}

/**
 * What the branch hashes and which positions are real: input_ids under
 * attention_mask, or the NGRAM_INPUT codes, whose padding is 0 (textCodes
 * never emits 0), so they carry their own mask.
 */
export function ngramSource(g: GraphBuilder, spec: NgramSpec, ids: string | undefined, mask: string): { ids: string; mask: string } {
  if (spec.source === 'tokens') {
    if (ids === undefined) throw new LivetagError('LT_WEIGHTS_INVALID', 'a token n-gram branch needs input_ids in its graph');
    return { ids, mask };
  }
  return { ids: NGRAM_INPUT, mask: g.op('Greater', [NGRAM_INPUT, g.int64s([0], true)]) };
}

/**
 * Buckets and weights of every n-gram position; a position that reaches into
 * padding weighs 0, so the result does not depend on how the batch is padded.
 * `ids` and `mask` as ngramSource gives them.
 */
export function emitNgramFeatures(g: GraphBuilder, ids: string, mask: string, spec: NgramSpec, vocabSize: number): NgramFeatures {
  const seq = g.op('Gather', [g.op('Shape', [ids]), g.int64s([1])], [intAttr('axis', 0)]);
  const axis1 = g.int64s([1]);
  const maskF = g.op('Cast', [mask], [intAttr('to', DataType.FLOAT)]);
  const prime = g.int64s([NGRAM_PRIME], true);
  const vocab = g.int64s([ngramRadix(spec, vocabSize)], true);
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
  const idfReal = g.op('Mul', [real, g.op('Gather', [NGRAM_IDF, buckets], [intAttr('axis', 0)])]);
  const floor = (name: string, v: number): string => g.float32Tensor(name, { shape: [], data: Float32Array.of(v) });
  const normalise = (weights: string, squares: string): string =>
    g.op('Div', [weights, g.op('Max', [g.op('Sqrt', [g.op('ReduceSum', [squares, axis1], [intAttr('keepdims', 1)])]), floor('ngram.norm_floor', 1e-12)])]);
  if (spec.tf === 'raw') return { buckets, weights: normalise(idfReal, g.op('Mul', [idfReal, idfReal])) };
  // A graph cannot group a row by bucket, so each position learns its
  // bucket's count c in the row (an equality matrix over the row's real
  // positions) and carries tf(c)/c of the weight: the c copies then sum to
  // tf(c)·idf, and Σ_positions weight²·c is the norm over distinct buckets.
  const same = g.op('Cast', [g.op('Equal', [g.op('Unsqueeze', [buckets, g.int64s([2])]), g.op('Unsqueeze', [buckets, axis1])])], [intAttr('to', DataType.FLOAT)]);
  const count = g.op('Max', [g.op('Squeeze', [g.op('MatMul', [same, g.op('Unsqueeze', [real, g.int64s([2])])]), g.int64s([2])]), floor('ngram.count_floor', 1)]);
  const share = spec.tf === 'binary' ? g.op('Reciprocal', [count]) : g.op('Div', [g.op('Add', [g.op('Log', [count]), floor('ngram.one', 1)]), count]);
  const weighted = g.op('Mul', [idfReal, share]);
  return { buckets, weights: normalise(weighted, g.op('Mul', [g.op('Mul', [weighted, weighted]), count])) };
}

/** Serving form: Σ_positions weight × table[bucket], [batch, labels], float32. */
export function emitWideLogits(g: GraphBuilder, f: NgramFeatures): string {
  const rows = g.op('Gather', [NGRAM_TABLE, f.buckets], [intAttr('axis', 0)]);
  const weighted = g.op('Mul', [rows, g.op('Unsqueeze', [f.weights, g.int64s([-1])])]);
  return g.op('ReduceSum', [weighted, g.int64s([1])], [intAttr('keepdims', 0)]);
}
