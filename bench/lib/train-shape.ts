import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bertBaseConfig, smallBertConfig, type BertConfig } from '../../src/model/bert-config.ts';
import { createTextEncoder } from '../../src/model/tokenizer.ts';
import { randomWeights, type WeightMap } from '../../src/model/weights.ts';
import { createIdFeatures, tokenizeAll, type FeatureStore } from '../../src/training/features.ts';
import { resolveRecipe, type Recipe } from '../../src/training/recipe.ts';
import { buildCharVocab, charVocabTokenizerJson } from '../../src/training/vocab.ts';
import { tianchiReviews } from './texts.ts';

export interface TrainShape {
  readonly config: BertConfig;
  readonly weights: WeightMap;
  readonly features: FeatureStore;
  readonly rows: number[];
  /** Made-up targets, 13 labels: training speed does not depend on them. */
  readonly targets: Uint8Array[];
  readonly recipe: Recipe;
  readonly source: string;
}

/**
 * The training benches' model and data: the default small shape on a character
 * vocabulary of the tianchi texts, or the bert-base shape on the bert-base-chinese
 * tokenizer (rows cut at 64 tokens: the issue's memory bound is stated for batch
 * 32 × 64), random weights, the livetag recipe at `batchSize`.
 */
export async function trainShape(shape: 'small' | 'base', sharedDir: string, batchSize: number): Promise<TrainShape> {
  const { texts, source } = tianchiReviews(sharedDir);
  const baseTok = join(sharedDir, 'tokenizers/bert-base-chinese/tokenizer.json');
  const tokenizerJson = shape === 'base' && existsSync(baseTok) ? readFileSync(baseTok, 'utf8') : charVocabTokenizerJson(buildCharVocab(texts));
  const vocab = createTextEncoder(tokenizerJson, 8).vocabSize;
  const config = shape === 'base' ? bertBaseConfig(13, vocab) : smallBertConfig(vocab, 13);
  const ids = await tokenizeAll(createTextEncoder(tokenizerJson, shape === 'base' ? 64 : 128), texts);
  const rows = [...ids.keys()];
  return {
    config,
    weights: randomWeights(config, 1),
    features: createIdFeatures(ids),
    rows,
    targets: rows.map((r) => Uint8Array.from({ length: 13 }, (_, j) => ((r + j) % 5 === 0 ? 1 : 0))),
    recipe: resolveRecipe('livetag', 'pretrained', 0, { batchSize }),
    source,
  };
}
