import { z } from 'zod';
import { NgramSpecSchema } from './ngram-hash.ts';

/**
 * The one architecture description shared by the ONNX writer, the Hugging Face
 * importer, the trainer and the bundle manifest. Field names follow Hugging
 * Face's BertConfig so a config.json maps over without renaming.
 */
export const BertConfigSchema = z
  .object({
    vocabSize: z.number().int().positive(),
    hiddenSize: z.number().int().positive(),
    numLayers: z.number().int().nonnegative(),
    numHeads: z.number().int().positive(),
    intermediateSize: z.number().int().positive(),
    maxPositions: z.number().int().positive(),
    typeVocabSize: z.number().int().positive(),
    numLabels: z.number().int().positive(),
    layerNormEps: z.number().positive(),
    /** The wide branch: hashed token n-grams whose logits add to the classifier's (absent: plain BERT). */
    ngram: NgramSpecSchema.optional(),
  })
  .refine((c) => c.hiddenSize % c.numHeads === 0, {
    message: 'hiddenSize must be divisible by numHeads',
    path: ['numHeads'],
  });

export type BertConfig = Readonly<z.infer<typeof BertConfigSchema>>;

export function parseBertConfig(value: unknown): BertConfig {
  return Object.freeze(BertConfigSchema.parse(value));
}

/** Small default: trains on two CPU cores in minutes, still a real transformer. */
export function smallBertConfig(vocabSize: number, numLabels: number): BertConfig {
  return parseBertConfig({
    vocabSize,
    hiddenSize: 128,
    numLayers: 2,
    numHeads: 2,
    intermediateSize: 512,
    maxPositions: 128,
    typeVocabSize: 2,
    numLabels,
    layerNormEps: 1e-12,
  });
}

/** bert-base-chinese's shape (the user's model). */
export function bertBaseConfig(numLabels: number, vocabSize = 21128): BertConfig {
  return parseBertConfig({
    vocabSize,
    hiddenSize: 768,
    numLayers: 12,
    numHeads: 12,
    intermediateSize: 3072,
    maxPositions: 512,
    typeVocabSize: 2,
    numLabels,
    layerNormEps: 1e-12,
  });
}

/**
 * Floating-point operations (two per multiply-add) of the encoder and head for
 * one sequence of `seq` tokens, as the graphs run them: the last layer's
 * queries, attention output and feed-forward on [CLS] alone (for GFLOP/s reports).
 */
export function flopsPerSequence(c: BertConfig, seq: number): number {
  const h = c.hiddenSize;
  const layer = (queries: number): number =>
    2 * seq * (2 * h * h) + // k, v projections
    2 * queries * (2 * h * h) + // q, output projections
    2 * queries * (2 * h * c.intermediateSize) + // feed-forward
    2 * 2 * queries * seq * h; // scores and context
  return (c.numLayers > 0 ? (c.numLayers - 1) * layer(seq) + layer(1) : 0) + 2 * h * h + 2 * h * c.numLabels;
}
