/**
 * Model inputs for the trainer: token ids per row, and for frozen lower
 * layers their output, computed once per text with onnxruntime (whose
 * forward pass is much faster than tfjs's) and kept for every epoch.
 */
import type { BertConfig } from '../model/bert-config.ts';
import { toEncodedBatch } from '../model/build/id-batch.ts';
import { buildBertOnnx } from '../model/build/onnx-graph.ts';
import { createOrtRunner } from '../model/runtime/onnx-session.ts';
import type { TextEncoder } from '../model/tokenizer.ts';
import type { WeightMap } from '../model/weights.ts';
import { createRng } from '../common/rng.ts';
import { tf } from './tf-backend.ts';
import type { TfInput } from './tf-bert.ts';
import type { Progress } from './progress.ts';

export async function tokenizeAll(encoder: TextEncoder, texts: readonly string[], chunk = 512): Promise<Int32Array[]> {
  const out: Int32Array[] = [];
  for (let i = 0; i < texts.length; i += chunk) {
    for (const ids of await encoder.ids(texts.slice(i, i + chunk))) out.push(Int32Array.from(ids));
  }
  return out;
}

/** Rows grouped by similar length, so padding (wasted compute) stays small. */
export function lengthSortedBatches(indices: readonly number[], lengths: readonly number[], batchSize: number): number[][] {
  const sorted = [...indices].sort((a, b) => lengths[a] - lengths[b] || a - b);
  const out: number[][] = [];
  for (let i = 0; i < sorted.length; i += batchSize) out.push(sorted.slice(i, i + batchSize));
  return out;
}

/**
 * Training batches: shuffled, then length-bucketed within pools of 50
 * batches, then the batches shuffled. Keeps SGD's randomness while most
 * of a batch's rows are about as long as its longest, so little is padding.
 */
export function shuffledBatches(indices: readonly number[], lengths: readonly number[], batchSize: number, seed: number): number[][] {
  const rng = createRng(seed);
  const order = [...indices];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const pool = batchSize * 50;
  const batches: number[][] = [];
  for (let p = 0; p < order.length; p += pool) {
    const chunk = order.slice(p, p + pool).sort((a, b) => lengths[a] - lengths[b]);
    for (let i = 0; i < chunk.length; i += batchSize) batches.push(chunk.slice(i, i + batchSize));
  }
  for (let i = batches.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [batches[i], batches[j]] = [batches[j], batches[i]];
  }
  return batches;
}

/** A text n-gram branch's input for a batch: textCodes 0-padded, [rows, chars]. */
export interface RawCodes {
  readonly chars: number;
  readonly data: Int32Array;
}

/** A padded batch as plain arrays, [rows, seq] (hidden: [rows, seq, hidden]); mask 1 for real tokens; codes for a text n-gram branch. */
export type RawInput =
  | { readonly kind: 'ids'; readonly rows: number; readonly seq: number; readonly ids: Int32Array; readonly mask: Float32Array; readonly codes?: RawCodes }
  | { readonly kind: 'hidden'; readonly rows: number; readonly seq: number; readonly hidden: Float32Array; readonly mask: Float32Array; readonly ids: Int32Array; readonly codes?: RawCodes };

export interface FeatureStore {
  readonly kind: 'ids' | 'hidden';
  readonly lengths: readonly number[];
  /** The padded batch for these rows as plain arrays (what onnxruntime takes). */
  raw(rows: readonly number[]): RawInput;
  /** Builds the tfjs input for these rows; the caller disposes it. */
  input(rows: readonly number[]): TfInput;
  /** Token ids per row (the same for both kinds), for onnxruntime comparisons. */
  readonly ids: readonly Int32Array[];
}

function maskFor(rows: readonly number[], lengths: readonly number[], seq: number): Float32Array {
  const mask = new Float32Array(rows.length * seq);
  rows.forEach((r, b) => mask.fill(1, b * seq, b * seq + lengths[r]));
  return mask;
}

/** tfjs tensors of a raw batch; the caller disposes them. */
function toTfInput(x: RawInput): TfInput {
  const mask = tf.tensor2d(x.mask, [x.rows, x.seq]);
  if (x.kind === 'hidden') return { kind: 'hidden', hidden: tf.tensor3d(x.hidden, [x.rows, x.seq, x.hidden.length / (x.rows * x.seq || 1)]), mask };
  return { kind: 'ids', ids: tf.tensor2d(x.ids, [x.rows, x.seq], 'int32'), typeIds: tf.zeros([x.rows, x.seq], 'int32') as tf.Tensor2D, mask };
}

/** Per-row values (`width` per token) laid out [rows, seq, width], padded with zeros to the batch's longest row. */
function padRows<T extends Int32Array | Float32Array>(rows: readonly number[], lengths: readonly number[], values: readonly T[], width: number, alloc: (n: number) => T): { seq: number; flat: T } {
  const seq = rows.reduce((m, r) => Math.max(m, lengths[r]), 0);
  const flat = alloc(rows.length * seq * width);
  rows.forEach((r, b) => flat.set(values[r], b * seq * width));
  return { seq, flat };
}

/** The batch's codes, when there are codes. */
function codesFor(rows: readonly number[], codes: readonly Int32Array[] | undefined): { codes?: RawCodes } {
  if (!codes) return {};
  const { seq, flat } = padRows(rows, codes.map((c) => c.length), codes, 1, (n) => new Int32Array(n));
  return { codes: { chars: seq, data: flat } };
}

/** `codes`: each row's textCodes, for a model whose n-gram branch reads the text. */
export function createIdFeatures(ids: readonly Int32Array[], codes?: readonly Int32Array[]): FeatureStore {
  const lengths = ids.map((r) => r.length);
  const raw = (rows: readonly number[]): RawInput => {
    const { seq, flat } = padRows(rows, lengths, ids, 1, (n) => new Int32Array(n));
    return { kind: 'ids', rows: rows.length, seq, ids: flat, mask: maskFor(rows, lengths, seq), ...codesFor(rows, codes) };
  };
  return { kind: 'ids', lengths, ids, raw, input: (rows) => toTfInput(raw(rows)) };
}

/**
 * Runs the frozen prefix (embeddings + `frozenLayers` encoder layers) through
 * onnxruntime once per row. Real-token outputs do not depend on the padding
 * of the batch they were computed in (masked scores underflow to exactly 0),
 * so rows are cached unpadded and re-padded per training batch.
 */
export async function createFrozenFeatures(
  config: BertConfig,
  weights: WeightMap,
  frozenLayers: number,
  ids: readonly Int32Array[],
  opts: { batchSize?: number; threads?: number; progress?: Progress; codes?: readonly Int32Array[] } = {},
): Promise<FeatureStore> {
  const h = config.hiddenSize;
  const lengths = ids.map((r) => r.length);
  const runner = await createOrtRunner(buildBertOnnx(config, weights, { hiddenAfterLayers: frozenLayers }), {
    ...(opts.threads === undefined ? {} : { threads: opts.threads }),
  });
  const cache: Float32Array[] = new Array(ids.length);
  try {
    const batches = lengthSortedBatches([...ids.keys()], lengths, opts.batchSize ?? 32);
    let done = 0;
    for (const batch of batches) {
      const enc = toEncodedBatch(batch.map((r) => ids[r]));
      const out = await runner.run(enc);
      batch.forEach((r, b) => {
        const start = b * enc.seqLength * h;
        cache[r] = out.slice(start, start + lengths[r] * h);
      });
      done += batch.length;
      opts.progress?.tick(done);
    }
  } finally {
    await runner.release();
  }
  opts.progress?.finish();
  const raw = (rows: readonly number[]): RawInput => {
    const { seq, flat } = padRows(rows, lengths, cache, h, (n) => new Float32Array(n));
    // Ids too: a wide n-gram branch above the frozen prefix hashes them.
    const padded = padRows(rows, lengths, ids, 1, (n) => new Int32Array(n)).flat;
    return { kind: 'hidden', rows: rows.length, seq, hidden: flat, mask: maskFor(rows, lengths, seq), ids: padded, ...codesFor(rows, opts.codes) };
  };
  return { kind: 'hidden', lengths, ids, raw, input: (rows) => toTfInput(raw(rows)) };
}

export function disposeInput(input: TfInput): void {
  if (input.kind === 'ids') tf.dispose([input.ids, input.typeIds, input.mask]);
  else tf.dispose([input.hidden, input.mask]);
}
