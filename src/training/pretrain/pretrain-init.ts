/**
 * Where pretraining starts: from scratch (a character vocabulary built from
 * the pretraining corpus), from a livetag bundle (an encoder bundle keeps its
 * MLM head when `mlm-head/` lies beside it), or from a Hugging Face
 * checkpoint. The classifier of whatever it starts from is replaced by the
 * encoder bundle's one-label placeholder.
 */
import { dirname, join } from 'node:path';
import { LivetagError } from '../../common/errors.ts';
import { pathExists } from '../../common/fs.ts';
import { createNormal, createRng } from '../../common/rng.ts';
import { parseBertConfig, smallBertConfig, type BertConfig } from '../../model/bert-config.ts';
import { readHfCheckpoint } from '../../model/build/hf-import.ts';
import { mlmHeadSpecs } from '../../model/build/mlm-graph.ts';
import { readBertWeights } from '../../model/onnx-reader.ts';
import { createTextEncoder, parseTokenizer } from '../../model/tokenizer.ts';
import { initTensor, randomWeights, type WeightMap } from '../../model/weights.ts';
import { loadCheckpoint } from '../checkpoint.ts';
import { resolveInit } from '../steps/load-data.ts';
import { freshHead, type ArchOverrides } from '../steps/initialise.ts';
import { buildCharVocab, charVocabTokenizerJson } from '../vocab.ts';
import type { MaskingOptions } from './masking.ts';

/** The encoder bundle's one label: the manifest needs one, and no classifier is trained for it. */
export const ENCODER_PLACEHOLDER_LABEL = '[encoder]';
export const MLM_HEAD_DIR = 'mlm-head';

export interface PretrainStart {
  readonly config: BertConfig;
  /** The whole BERT (pooler and placeholder classifier included) plus the MLM head. */
  readonly weights: WeightMap;
  readonly tokenizerJson: string;
  readonly maxLength: number;
  readonly initFrom: string;
}

export interface PretrainInitInput {
  readonly init?: string;
  readonly texts: readonly string[];
  readonly seed: number;
  readonly maxLength?: number;
  readonly arch?: ArchOverrides;
}

function scratch(input: PretrainInitInput): Omit<PretrainStart, 'weights'> & { weights: WeightMap } {
  const tokenizerJson = charVocabTokenizerJson(buildCharVocab(input.texts));
  const vocabSize = createTextEncoder(tokenizerJson, 8).vocabSize;
  const arch = Object.fromEntries(Object.entries(input.arch ?? {}).filter(([, v]) => v !== undefined));
  let config = parseBertConfig({ ...smallBertConfig(vocabSize, 1), ...arch });
  if (input.arch?.hiddenSize && !input.arch.intermediateSize) config = parseBertConfig({ ...config, intermediateSize: 4 * config.hiddenSize });
  return { config, weights: randomWeights(config, input.seed), tokenizerJson, maxLength: Math.min(input.maxLength ?? 128, config.maxPositions), initFrom: `scratch (seed ${input.seed}, character vocabulary of ${vocabSize} built from the corpus)` };
}

/** The MLM head saved beside a bundle by an earlier pretrain run, else a fresh one. */
async function mlmHead(config: BertConfig, bundleDir: string | undefined, seed: number): Promise<{ weights: WeightMap; from: string }> {
  const dir = bundleDir ? join(dirname(bundleDir), MLM_HEAD_DIR) : undefined;
  const saved = dir && (await pathExists(dir)) ? await loadCheckpoint<unknown>(dir) : undefined;
  const specs = mlmHeadSpecs(config);
  if (saved && specs.every((s) => saved.tensors.get(s.name)?.data.length === s.shape.reduce((a, b) => a * b, 1))) {
    return { weights: new Map(specs.map((s) => [s.name, { shape: [...s.shape], data: saved.tensors.get(s.name)!.data }])), from: `MLM head from ${dir}` };
  }
  const normal = createNormal(createRng(seed + 11));
  return { weights: new Map(specs.map((s) => [s.name, initTensor(s, normal)])), from: 'new MLM head' };
}

export async function initialisePretraining(input: PretrainInitInput, log: (line: string) => void): Promise<PretrainStart> {
  const init = await resolveInit(input.init);
  let start: PretrainStart;
  let bundleDir: string | undefined;
  if (init.kind === 'scratch') start = scratch(input);
  else {
    let config: BertConfig;
    let weights: WeightMap;
    let tokenizerJson: string;
    let maxLength: number;
    if (init.kind === 'bundle') {
      bundleDir = init.dir;
      config = parseBertConfig(init.bundle.manifest.architecture);
      weights = readBertWeights(config, init.bundle.modelBytes);
      tokenizerJson = init.bundle.tokenizerJson;
      maxLength = init.bundle.manifest.maxSequenceLength;
    } else {
      const hf = await readHfCheckpoint(init.dir, { labels: [ENCODER_PLACEHOLDER_LABEL] });
      ({ config, weights, tokenizerJson, maxLength } = hf);
    }
    const head = freshHead(config, weights, [ENCODER_PLACEHOLDER_LABEL], input.seed);
    start = { config: head.config, weights: head.weights, tokenizerJson, maxLength: Math.min(input.maxLength ?? maxLength, head.config.maxPositions), initFrom: `${init.kind} ${init.dir}` };
  }
  const head = await mlmHead(start.config, bundleDir, input.seed);
  const weights = new Map([...start.weights, ...head.weights]);
  log(`init: ${start.initFrom}; ${head.from}; ${start.config.numLayers} layers × hidden ${start.config.hiddenSize}, vocab ${start.config.vocabSize}, max length ${start.maxLength}`);
  return { ...start, weights };
}

/** [CLS], [SEP], [PAD] and [MASK] of the tokenizer: never masked, never a random replacement. */
export function maskingFor(tokenizerJson: string, config: BertConfig, maskProb: number, spanMasking: boolean): MaskingOptions {
  const tok = parseTokenizer(tokenizerJson);
  const id = (t: string): number | undefined => tok.tokenToId(t) ?? undefined;
  const maskId = id('[MASK]');
  if (maskId === undefined) throw new LivetagError('LT_TOKENIZER', 'the tokenizer has no [MASK] token, which masked-language-model pretraining needs');
  const specialIds = new Set([0, ...['[CLS]', '[SEP]', '[PAD]', '[MASK]'].map(id).filter((v): v is number => v !== undefined)]);
  return { maskProb, maskId, vocabSize: config.vocabSize, specialIds, spanMasking };
}
