import type { BertConfig } from './bert-config.ts';
import { LivetagError } from '../common/errors.ts';
import { createNormal, createRng } from '../common/rng.ts';

/** A tensor of float32 weights, row-major, in Hugging Face layout (Linear: [out, in]). */
export interface WeightTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Canonical names are Hugging Face BertForSequenceClassification's state_dict keys. */
export type WeightMap = Map<string, WeightTensor>;

export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: 'normal' | 'zeros' | 'ones';
}

/** In the embeddings or one of the first `layers` encoder layers: what a frozen prefix (or an encoder-prefix graph) holds. */
export function inEncoderPrefix(name: string, layers: number): boolean {
  if (name.startsWith('bert.embeddings.')) return true;
  const m = /^bert\.encoder\.layer\.(\d+)\./.exec(name);
  return m !== null && Number(m[1]) < layers;
}

/** Trained when the lower `frozenLayers` layers (and with them the embeddings) are frozen. */
export function isTrainable(name: string, frozenLayers: number): boolean {
  // The n-gram idf is a statistic of the training texts, fitted once, not learned.
  if (name === 'ngram.idf') return false;
  return frozenLayers === 0 || !inEncoderPrefix(name, frozenLayers);
}

export function layerPrefix(i: number): string {
  return `bert.encoder.layer.${i}`;
}

/** The token table (the MLM head ties its decoder to it). */
export const WORD_EMBEDDINGS = 'bert.embeddings.word_embeddings.weight';

/** Every tensor the architecture has, in a stable order. */
export function weightSpecs(c: BertConfig): WeightSpec[] {
  const h = c.hiddenSize;
  const linear = (name: string, out: number, inp: number): WeightSpec[] => [
    { name: `${name}.weight`, shape: [out, inp], init: 'normal' },
    { name: `${name}.bias`, shape: [out], init: 'zeros' },
  ];
  const norm = (name: string): WeightSpec[] => [
    { name: `${name}.weight`, shape: [h], init: 'ones' },
    { name: `${name}.bias`, shape: [h], init: 'zeros' },
  ];
  const specs: WeightSpec[] = [
    { name: WORD_EMBEDDINGS, shape: [c.vocabSize, h], init: 'normal' },
    { name: 'bert.embeddings.position_embeddings.weight', shape: [c.maxPositions, h], init: 'normal' },
    { name: 'bert.embeddings.token_type_embeddings.weight', shape: [c.typeVocabSize, h], init: 'normal' },
    ...norm('bert.embeddings.LayerNorm'),
  ];
  for (let i = 0; i < c.numLayers; i++) {
    const p = layerPrefix(i);
    specs.push(
      ...linear(`${p}.attention.self.query`, h, h),
      ...linear(`${p}.attention.self.key`, h, h),
      ...linear(`${p}.attention.self.value`, h, h),
      ...linear(`${p}.attention.output.dense`, h, h),
      ...norm(`${p}.attention.output.LayerNorm`),
      ...linear(`${p}.intermediate.dense`, c.intermediateSize, h),
      ...linear(`${p}.output.dense`, h, c.intermediateSize),
      ...norm(`${p}.output.LayerNorm`),
    );
  }
  specs.push(...linear('bert.pooler.dense', h, h), ...linear('classifier', c.numLabels, h));
  if (c.ngram) {
    // Zero table: an untrained wide branch adds nothing to the logits.
    specs.push({ name: 'ngram.weight', shape: [c.ngram.buckets, c.numLabels], init: 'zeros' }, { name: 'ngram.idf', shape: [c.ngram.buckets], init: 'ones' });
  }
  return specs;
}

export function headSpecs(c: BertConfig): WeightSpec[] {
  return weightSpecs(c).filter((s) => s.name.startsWith('classifier.'));
}

export function initTensor(spec: WeightSpec, normal: () => number, std = 0.02): WeightTensor {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  if (spec.init === 'ones') data.fill(1);
  else if (spec.init === 'normal') for (let i = 0; i < size; i++) data[i] = normal() * std;
  return { shape: [...spec.shape], data };
}

/** BERT's initialisation: N(0, 0.02) for matrices and embeddings, LayerNorm at identity. */
export function randomWeights(c: BertConfig, seed = 42, std = 0.02): WeightMap {
  const normal = createNormal(createRng(seed));
  const map: WeightMap = new Map();
  for (const spec of weightSpecs(c)) map.set(spec.name, initTensor(spec, normal, std));
  return map;
}

/** Refuses a weight map that lacks a tensor or has one of the wrong shape, naming it. */
export function checkWeights(c: BertConfig, weights: WeightMap): void {
  for (const spec of weightSpecs(c)) {
    const t = weights.get(spec.name);
    if (!t) throw new LivetagError('LT_WEIGHTS_INVALID', `missing tensor ${spec.name}`);
    const same = t.shape.length === spec.shape.length && t.shape.every((d, i) => d === spec.shape[i]);
    if (!same) {
      throw new LivetagError(
        'LT_WEIGHTS_INVALID',
        `tensor ${spec.name} has shape [${t.shape.join(',')}], expected [${spec.shape.join(',')}]`,
      );
    }
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== size) {
      throw new LivetagError('LT_WEIGHTS_INVALID', `tensor ${spec.name} holds ${t.data.length} values, expected ${size}`);
    }
  }
}
