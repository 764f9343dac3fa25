/** Shared set-up for the training-graph tests: a tiny BERT, a batch, and feeds for onnxruntime. */
import { parseBertConfig, type BertConfig } from '../../../src/model/bert-config.ts';
import { createRng } from '../../../src/common/rng.ts';
import assert from 'node:assert/strict';
import type { Feed, GraphSession } from '../../../src/model/runtime/graph-session.ts';
import { randomWeights, type WeightMap } from '../../../src/model/weights.ts';

export function tinyConfig(numLabels = 5): BertConfig {
  return parseBertConfig({ vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 16, typeVocabSize: 2, numLabels, layerNormEps: 1e-12 });
}

/** Random weights with non-trivial LayerNorm parameters (identity γ, zero β would hide their gradients' bugs). */
export function tinyWeights(config: BertConfig, seed = 3): WeightMap {
  const w = randomWeights(config, seed, 0.2);
  const rng = createRng(seed + 100);
  for (const [name, t] of w) {
    if (name.includes('LayerNorm') || name.endsWith('.bias')) for (let i = 0; i < t.data.length; i++) t.data[i] += (rng() - 0.5) * 0.4;
  }
  return w;
}

export interface Batch {
  readonly ids: BigInt64Array;
  readonly mask: BigInt64Array;
  readonly types: BigInt64Array;
  readonly labels: Float32Array;
  readonly rows: number;
  readonly seq: number;
}

/** Rows of different lengths (padding masked), repeated ids (the embedding gradient must sum them), both token types. */
export function tinyBatch(config: BertConfig, rows = 3, seq = 6, seed = 9): Batch {
  const rng = createRng(seed);
  const ids = new BigInt64Array(rows * seq);
  const mask = new BigInt64Array(rows * seq);
  const types = new BigInt64Array(rows * seq);
  for (let r = 0; r < rows; r++) {
    const len = seq - (r % 3);
    for (let s = 0; s < seq; s++) {
      const real = s < len;
      ids[r * seq + s] = BigInt(real ? 1 + Math.floor(rng() * 6) : 0);
      mask[r * seq + s] = real ? 1n : 0n;
      types[r * seq + s] = real && s >= len / 2 ? 1n : 0n;
    }
  }
  const labels = new Float32Array(rows * config.numLabels).map(() => (rng() < 0.4 ? 1 : 0));
  return { ids, mask, types, labels, rows, seq };
}

export function feedsFor(config: BertConfig, b: Batch, weights: WeightMap, trainable: Iterable<string>, posWeight?: Float32Array): Record<string, Feed> {
  const dims = [b.rows, b.seq];
  const feeds: Record<string, Feed> = {
    input_ids: { type: 'int64', data: b.ids, dims },
    attention_mask: { type: 'int64', data: b.mask, dims },
    token_type_ids: { type: 'int64', data: b.types, dims },
    labels: { type: 'float32', data: b.labels, dims: [b.rows, config.numLabels] },
    pos_weight: { type: 'float32', data: posWeight ?? new Float32Array(config.numLabels).fill(1), dims: [config.numLabels] },
  };
  for (const name of trainable) {
    const t = weights.get(name)!;
    feeds[name] = { type: 'float32', data: t.data, dims: t.shape };
  }
  return feeds;
}

/**
 * Central differences of the loss at entries `at` of `table` (an input the
 * feeds hold by reference) against the analytic gradient `grad`.
 */
export async function assertFiniteDifferences(session: GraphSession, feeds: Record<string, Feed>, table: Float32Array, grad: Float32Array, at: readonly number[], what: string, eps = 1e-2): Promise<void> {
  for (const i of at) {
    const orig = table[i];
    table[i] = orig + eps;
    const up = (await session.run(feeds, ['loss'])).loss[0];
    table[i] = orig - eps;
    const down = (await session.run(feeds, ['loss'])).loss[0];
    table[i] = orig;
    const fd = (up - down) / (2 * eps);
    assert.ok(Math.abs(fd - grad[i]) <= 2e-4 + 2e-2 * Math.abs(fd), `${what} ${i}: analytic ${grad[i]} vs fd ${fd}`);
  }
}
