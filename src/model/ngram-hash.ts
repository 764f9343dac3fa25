/**
 * The wide branch's features: hashed n-grams (1…maxN) of either the token ids
 * the model already reads (source 'tokens') or the characters of the whole
 * text (source 'text': `textCodes`, fed as a second graph input, so the
 * branch sees past BERT's token limit and characters the vocabulary lacks).
 * The serving graph computes the buckets inside ONNX (build/ngram-graph.ts),
 * so training, the linear baseline and serving cannot disagree: this file is
 * the one definition and the graph is tested against it.
 *
 * Every intermediate stays below 2^53 (exact in a JavaScript number) and
 * below 2^63 (exact in ONNX int64): the n-gram's code is folded modulo a
 * prime P after each token, then mapped by a universal hash ((A·x + B_n) mod
 * P) mod buckets, B_n distinct per order so "a" and "a b" rarely collide.
 */
import { z } from 'zod';
import { LivetagError } from '../common/errors.ts';

export const NGRAM_PRIME = 4_194_301;
export const NGRAM_MULTIPLIER = 2_654_435;
export const NGRAM_OFFSETS = [0, 1_234_567, 2_718_281, 3_141_592] as const;
export const MAX_NGRAM_ORDER = NGRAM_OFFSETS.length - 1;
/** Ways a repeated n-gram's count becomes its term frequency (NgramSpec.tf). */
export const NGRAM_TFS = ['raw', 'binary', 'sublinear'] as const;
/** What the n-grams are made of (NgramSpec.source). */
export const NGRAM_SOURCES = ['tokens', 'text'] as const;
/** The longest text prefix, in characters, a 'text' branch may read: its count matrix grows with the square. */
export const MAX_NGRAM_CHARS = 2048;
/** textCodes' markers and offset: 0 is padding, then the start and end of the text, then code points. */
export const TEXT_START = 1;
export const TEXT_END = 2;
const CODE_OFFSET = 3;
/** The radix of a 'text' branch's codes (every code point, shifted past the markers). */
export const TEXT_CODE_RADIX = 0x110000 + CODE_OFFSET;

/** The wide branch's shape; present in BertConfig.ngram when the model has one. */
export const NgramSpecSchema = z.object({
  /** Hash buckets: rows of the n-gram table. */
  buckets: z.number().int().min(2).max(NGRAM_PRIME - 1),
  /** Longest n-gram (1…3). */
  maxN: z.number().int().min(1).max(MAX_NGRAM_ORDER),
  /**
   * How an n-gram's count in the row becomes its term frequency. 'raw' (every
   * position weighs idf, the norm over positions) is what bundles made before
   * this field had; 'binary' and 'sublinear' (1 + ln count) are normalised
   * over distinct n-grams, as scikit-learn's TfidfVectorizer is.
   */
  tf: z.enum(NGRAM_TFS).default('raw'),
  /**
   * 'tokens' (bundles before this field): n-grams of input_ids, cut where
   * BERT's token limit cuts. 'text': n-grams of the text's characters
   * (`textCodes`), the first maxChars of them, from their own graph input.
   */
  source: z.enum(NGRAM_SOURCES).default('tokens'),
  /** Characters a 'text' branch reads; unused for 'tokens'. */
  maxChars: z.number().int().min(1).max(MAX_NGRAM_CHARS).default(256),
});
export type NgramSpec = Readonly<z.infer<typeof NgramSpecSchema>>;
export type NgramTf = NgramSpec['tf'];
export type NgramSource = NgramSpec['source'];

export function parseNgramSpec(value: unknown): NgramSpec {
  const parsed = NgramSpecSchema.safeParse(value);
  if (!parsed.success) {
    throw new LivetagError('LT_CONFIG_INVALID', `n-gram branch: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return Object.freeze(parsed.data);
}

export const DEFAULT_NGRAM: NgramSpec = Object.freeze({ buckets: 1 << 18, maxN: 3, tf: 'binary', source: 'tokens', maxChars: 256 });

/** The spec as logs and reports name it: "token 1–3-grams, 262144 buckets, binary tf" or "character 1–3-grams of the text (≤ 256), …". */
export function describeNgram(spec: NgramSpec): string {
  const of = spec.source === 'text' ? `character 1–${spec.maxN}-grams of the text (≤ ${spec.maxChars})` : `token 1–${spec.maxN}-grams`;
  return `${of}, ${spec.buckets} buckets, ${spec.tf} tf`;
}

/**
 * A 'text' branch's input for one text: NFKC-normalised (full-width forms
 * fold into their ASCII twins, as they mean the same), lower-cased,
 * whitespace dropped, each code point shifted past the markers, between
 * TEXT_START and TEXT_END so the first and last characters form n-grams of
 * their own (what [CLS] and [SEP] give the token source). A text longer than
 * maxChars keeps its first maxChars and no end marker: it does not end there.
 */
export function textCodes(text: string, maxChars: number): Int32Array {
  const chars = [...text.normalize('NFKC').toLowerCase().replace(/\s+/gu, '')];
  const n = Math.min(chars.length, maxChars);
  const cut = chars.length > maxChars;
  const out = new Int32Array(n + (cut ? 1 : 2));
  out[0] = TEXT_START;
  for (let i = 0; i < n; i++) out[i + 1] = chars[i].codePointAt(0)! + CODE_OFFSET;
  if (!cut) out[n + 1] = TEXT_END;
  return out;
}

/** The characters a model's encoder must add to each row: a 'text' branch's maxChars, else none. */
export function textChars(spec: NgramSpec | undefined): number | undefined {
  return spec?.source === 'text' ? spec.maxChars : undefined;
}

/** The values an n-gram's parts range over: the vocabulary, or every code point. */
export function ngramRadix(spec: NgramSpec, vocabSize: number): number {
  return spec.source === 'text' ? TEXT_CODE_RADIX : vocabSize;
}

/** The bucket of the n-gram ids[start…start+n-1], its parts below `radix`. */
export function ngramBucket(ids: ArrayLike<number>, start: number, n: number, radix: number, buckets: number): number {
  let code = 0;
  for (let k = 0; k < n; k++) code = (code * radix + ids[start + k]) % NGRAM_PRIME;
  return ((code * NGRAM_MULTIPLIER + NGRAM_OFFSETS[n]) % NGRAM_PRIME) % buckets;
}

/**
 * One row's buckets (`ids`: token ids or textCodes, as spec.source says),
 * every position of every order (1 first), repeats kept: the graph weighs
 * each position, and the tf decides what a repeat adds.
 */
export function ngramBuckets(ids: ArrayLike<number>, spec: NgramSpec, vocabSize: number): Int32Array {
  const radix = ngramRadix(spec, vocabSize);
  const len = ids.length;
  let total = 0;
  for (let n = 1; n <= spec.maxN; n++) total += Math.max(0, len - n + 1);
  const out = new Int32Array(total);
  let o = 0;
  for (let n = 1; n <= spec.maxN; n++) {
    for (let s = 0; s + n <= len; s++) out[o++] = ngramBucket(ids, s, n, radix, spec.buckets);
  }
  return out;
}

/** A row as a sparse vector: unique buckets and their L2-normalised tf·idf values (what the graph's weights sum to). */
export interface SparseRow {
  readonly index: Int32Array;
  readonly value: Float32Array;
}

/** The term frequency of an n-gram seen `count` times in its row. */
export function termFrequency(tf: NgramTf, count: number): number {
  return tf === 'binary' ? 1 : tf === 'sublinear' ? 1 + Math.log(count) : count;
}

/**
 * tf·idf with the graph's normalisation. 'raw': every position weighs
 * idf[bucket] and the norm runs over positions (not over unique buckets: the
 * graph of that version did not group). Otherwise each distinct bucket gets
 * tf(count)·idf and the norm runs over distinct buckets. A bucket is the unit
 * throughout: two n-grams that share one count as one, in the graph too.
 */
export function sparseRow(buckets: Int32Array, idf: Float32Array, tf: NgramTf = 'raw'): SparseRow {
  const counts = new Map<number, number>();
  for (const b of buckets) counts.set(b, (counts.get(b) ?? 0) + 1);
  const index = Int32Array.from(counts.keys()).sort();
  const value = Float32Array.from(index, (b) => termFrequency(tf, counts.get(b)!) * idf[b]);
  let sq = 0;
  if (tf === 'raw') for (const b of buckets) sq += idf[b] * idf[b];
  else for (const v of value) sq += v * v;
  const norm = Math.max(Math.sqrt(sq), 1e-12);
  for (let k = 0; k < value.length; k++) value[k] /= norm;
  return { index, value };
}

/** Smoothed idf as scikit-learn's TfidfVectorizer computes it: ln((1+N)/(1+df)) + 1. */
export function fitIdf(rows: readonly Int32Array[], buckets: number): Float32Array {
  const df = new Float64Array(buckets);
  for (const row of rows) for (const b of new Set(row)) df[b]++;
  const n = rows.length;
  return Float32Array.from(df, (d) => Math.log((1 + n) / (1 + d)) + 1);
}
