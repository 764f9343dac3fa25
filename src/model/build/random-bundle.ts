import { readFile } from 'node:fs/promises';
import { bertBaseConfig, parseBertConfig, smallBertConfig, type BertConfig } from '../bert-config.ts';
import { writeBundle } from './write-bundle.ts';
import { type Manifest } from '../manifest.ts';
import { DEFAULT_LABELS } from '../labels.ts';
import { BERT_CHINESE_DEFAULTS, buildWordPieceTokenizerJson, parseTokenizer } from '../tokenizer.ts';
import { randomWeights } from '../weights.ts';

export type ModelShape = 'tiny' | 'small' | 'base';

export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/** Characters common in live-commerce chat; enough for tests and demos without ../shared. */
const COMMON_CHARS =
  '这个多少钱码还有吗什么时候发货包邮退换颜色尺寸大小号能不能便宜点优惠券链接赠品送主播好看质量怎么样面料材质' +
  '棉的衣服裤子鞋适合穿用了我要买下单拍今天明天快递到哪里红黑白蓝色库存没货补吗想问一下可以试是真假正品售后' +
  '0123456789abcdefghijklmnopqrstuvwxyzSML？！，。、~ 哈啊呀嘛呢吧了';

/** A WordPiece vocabulary of the special tokens plus the given characters. */
export function charVocab(chars: string = COMMON_CHARS): string[] {
  const seen = new Set<string>(SPECIAL_TOKENS);
  const vocab: string[] = [...SPECIAL_TOKENS];
  for (const ch of chars) {
    if (ch.trim() === '' || seen.has(ch)) continue;
    seen.add(ch);
    vocab.push(ch);
  }
  return vocab;
}

export function shapeConfig(shape: ModelShape, vocabSize: number, numLabels: number): BertConfig {
  if (shape === 'base') return bertBaseConfig(numLabels, vocabSize);
  if (shape === 'small') return smallBertConfig(vocabSize, numLabels);
  return parseBertConfig({
    vocabSize,
    hiddenSize: 32,
    numLayers: 2,
    numHeads: 4,
    intermediateSize: 64,
    maxPositions: 64,
    typeVocabSize: 2,
    numLabels,
    layerNormEps: 1e-12,
  });
}

export interface RandomBundleOptions {
  readonly shape?: ModelShape;
  readonly labels?: readonly string[];
  /** tokenizer.json to use; default is a character vocabulary built in. */
  readonly tokenizerPath?: string;
  readonly seed?: number;
  readonly maxLength?: number;
  readonly modelId?: string;
}

/**
 * A bundle with randomly initialised weights: the real graph and tokenizer at a
 * chosen shape, for tests and speed measurements (its tags mean nothing).
 */
export async function writeRandomBundle(out: string, opts: RandomBundleOptions = {}): Promise<Manifest> {
  const labels = [...(opts.labels ?? DEFAULT_LABELS)];
  const tokenizerJson = opts.tokenizerPath
    ? await readFile(opts.tokenizerPath, 'utf8')
    : buildWordPieceTokenizerJson(charVocab(), BERT_CHINESE_DEFAULTS);
  const vocabSize = parseTokenizer(tokenizerJson).getVocabSize(true);
  const config = shapeConfig(opts.shape ?? 'tiny', vocabSize, labels.length);
  return writeBundle(
    out,
    {
      modelId: opts.modelId ?? `random-${opts.shape ?? 'tiny'}`,
      labels,
      maxSequenceLength: Math.min(opts.maxLength ?? 128, config.maxPositions),
      architecture: config,
      tokenizerJson,
      head: 'random',
      source: `random weights, seed ${opts.seed ?? 42} (not trained: tags are meaningless)`,
    },
    randomWeights(config, opts.seed ?? 42),
  );
}
