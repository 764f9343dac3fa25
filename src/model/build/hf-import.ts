import { join } from 'node:path';
import { parseBertConfig, type BertConfig } from '../bert-config.ts';
import { writeBundle } from './write-bundle.ts';
import { type Manifest } from '../manifest.ts';
import { createNormal, createRng } from '../../common/rng.ts';
import { initTensor, weightSpecs, type WeightMap, type WeightSpec } from '../weights.ts';
import { importError as fail, isFloatDtype, type CheckpointTensor } from './checkpoint-tensor.ts';
import { readWeightFiles } from './hf-weight-files.ts';
import { loadHfTokenizer, readJsonFile } from './hf-tokenizer.ts';

export interface HfImportOptions {
  readonly labels?: readonly string[];
  readonly maxLength?: number;
  readonly modelId?: string;
  readonly seed?: number;
}

export interface HfCheckpoint {
  readonly config: BertConfig;
  readonly labels: string[];
  readonly weights: WeightMap;
  readonly tokenizerJson: string;
  readonly maxLength: number;
  /** 'pretrained' when the checkpoint had a classifier for these labels, else a fresh one was initialised. */
  readonly head: 'pretrained' | 'random';
  /** Tensors the checkpoint holds that the model does not use (pretraining heads, unexpected names), never silently used. */
  readonly ignored: string[];
  /** Buffers that are not weights (position_ids, token_type_ids), skipped. */
  readonly buffers: string[];
  readonly initialised: string[];
  /** The weights file read (or the index of its shards). */
  readonly weightsFile: string;
  /** One line each about what the import decided for the user (skipped buffers, replaced head, single-label scores). */
  readonly notes: string[];
}

/** Architectures whose weights are a BERT encoder this importer maps; any head but a sequence classifier is dropped. */
const SEQUENCE_CLASSIFIER = 'BertForSequenceClassification';
const ENCODER_ONLY = new Set(['BertModel', 'BertForMaskedLM', 'BertForPreTraining', 'BertLMHeadModel', 'BertForNextSentencePrediction']);

/** Maps a checkpoint's tensor name onto the canonical name, or undefined for tensors we do not use. */
export function canonicalName(name: string): string | undefined {
  if (name.startsWith('cls.') || isBuffer(name)) return undefined;
  let n = name.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  if (/^(embeddings|encoder|pooler)\./.test(n)) n = `bert.${n}`;
  return n;
}

/** Index buffers BertModel registers next to its weights; older checkpoints saved them, they carry no learned values. */
function isBuffer(name: string): boolean {
  return /(^|\.)(position_ids|token_type_ids)$/.test(name);
}

function checkArchitecture(hf: Record<string, unknown>): { sequenceHead: boolean } {
  if (hf.model_type !== undefined && hf.model_type !== 'bert') fail(`config.json: model_type "${String(hf.model_type)}" is not bert`);
  if (hf.hidden_act !== undefined && hf.hidden_act !== 'gelu') {
    fail(`config.json: hidden_act "${String(hf.hidden_act)}" is not supported (the graph uses exact erf GELU)`);
  }
  if (hf.position_embedding_type !== undefined && hf.position_embedding_type !== 'absolute') {
    fail(`config.json: position_embedding_type "${String(hf.position_embedding_type)}" is not supported (absolute only)`);
  }
  if (hf.problem_type === 'regression') fail('config.json: problem_type "regression" is not a classification head');
  const archs = Array.isArray(hf.architectures) ? hf.architectures.map(String) : [];
  const unknown = archs.filter((a) => a !== SEQUENCE_CLASSIFIER && !ENCODER_ONLY.has(a));
  if (unknown.length > 0) {
    fail(`config.json: architectures ${unknown.join(', ')} not supported (${[SEQUENCE_CLASSIFIER, ...ENCODER_ONLY].join(', ')} are)`);
  }
  return { sequenceHead: archs.length === 0 || archs.includes(SEQUENCE_CLASSIFIER) };
}

function id2labelOf(hf: Record<string, unknown>): string[] | undefined {
  const id2label = hf.id2label;
  if (typeof id2label !== 'object' || id2label === null) return undefined;
  const entries = Object.entries(id2label as Record<string, unknown>);
  const ids = entries.map(([k]) => Number(k)).sort((a, b) => a - b);
  if (!ids.every((id, i) => id === i)) fail(`config.json: id2label ids are not 0..${entries.length - 1}`);
  return ids.map((i) => String((id2label as Record<string, unknown>)[String(i)]));
}

interface HeadChoice {
  readonly labels: string[];
  readonly keepHead: boolean;
  readonly note?: string;
}

/**
 * The labels and whether the checkpoint's classifier is kept: a head of
 * another width than the labels asked for is replaced only when --labels
 * says which labels the new one has; otherwise the import refuses.
 */
function chooseHead(hf: Record<string, unknown>, width: number | undefined, given?: readonly string[]): HeadChoice {
  const named = id2labelOf(hf);
  if (given && given.length > 0) {
    if (width === undefined) return { labels: [...given], keepHead: false };
    if (width !== given.length) return { labels: [...given], keepHead: false, note: `the checkpoint's classifier has ${width} outputs; replaced by a new head for the ${given.length} labels of --labels` };
    // Only real names say which output is which; default LABEL_n names leave the order to --labels.
    if (!named || named.length !== width || named.every((l) => /^LABEL_\d+$/.test(l))) return { labels: [...given], keepHead: true };
    const same = given.length === new Set(given).size && given.every((l) => named.includes(l));
    // The classifier's outputs follow id2label: taking --labels' order would publish one label's logit under another's name.
    if (same) return { labels: named, keepHead: true, ...(given.some((l, i) => l !== named[i]) ? { note: `labels kept in the checkpoint's id2label order (${named.join(',')}), which its classifier's outputs follow` } : {}) };
    return { labels: [...given], keepHead: false, note: `the checkpoint's classifier was trained for ${named.join(',')} (config.json id2label), not the labels of --labels; replaced by a new head` };
  }
  if (width !== undefined) {
    if (!named || named.length !== width) {
      fail(`the checkpoint's classifier has ${width} outputs but config.json id2label names ${named?.length ?? 0} labels; pass --labels a,b,… to replace the head`);
    }
    return { labels: named!, keepHead: true };
  }
  if (!named || named.every((l) => /^LABEL_\d+$/.test(l))) fail('checkpoint has no classification head and only default LABEL_n names; pass --labels a,b,…');
  return { labels: named!, keepHead: false };
}

function bertConfigOf(hf: Record<string, unknown>, numLabels: number): BertConfig {
  const num = (k: string, d?: number): number => {
    const v = hf[k] ?? d;
    return typeof v === 'number' ? v : fail(`config.json: ${k} is missing`);
  };
  try {
    return parseBertConfig({
      vocabSize: num('vocab_size'),
      hiddenSize: num('hidden_size'),
      numLayers: num('num_hidden_layers'),
      numHeads: num('num_attention_heads'),
      intermediateSize: num('intermediate_size'),
      maxPositions: num('max_position_embeddings'),
      typeVocabSize: num('type_vocab_size', 2),
      numLabels,
      layerNormEps: num('layer_norm_eps', 1e-12),
    });
  } catch (cause) {
    return fail(`config.json: ${(cause as Error).message}`);
  }
}

function decodeWeight(spec: WeightSpec, t: CheckpointTensor, file: string): Float32Array {
  if (!isFloatDtype(t.dtype)) fail(`${file}: tensor ${t.name} is ${t.dtype}, a weight must be a float type`);
  const same = t.shape.length === spec.shape.length && t.shape.every((d, i) => d === spec.shape[i]);
  if (!same) fail(`${file}: tensor ${t.name} has shape [${t.shape.join(',')}], config.json implies [${spec.shape.join(',')}]`);
  return t.decode();
}

/**
 * Reads a Hugging Face BERT checkpoint directory into the canonical weight
 * map. Accepts what real checkpoints vary in: safetensors of any dtype,
 * pytorch_model.bin (zip or legacy), sharded indexes of either, with or
 * without the `bert.` prefix, gamma/beta LayerNorm names, saved index
 * buffers, pretraining heads, and no classifier (bert-base-chinese), in
 * which case a new head is initialised for the given labels.
 */
export async function readHfCheckpoint(dir: string, opts: HfImportOptions = {}): Promise<HfCheckpoint> {
  const hf = await readJsonFile(join(dir, 'config.json'));
  if (!hf) return fail(`${dir}/config.json: not found`);
  const { sequenceHead } = checkArchitecture(hf);
  const files = await readWeightFiles(dir);
  const tensors = new Map<string, CheckpointTensor>();
  const ignored: string[] = [];
  const buffers: string[] = [];
  for (const [name, t] of files.tensors) {
    const canon = canonicalName(name);
    if (canon === undefined) (isBuffer(name) ? buffers : ignored).push(name);
    else if (!sequenceHead && canon.startsWith('classifier.')) ignored.push(name);
    else tensors.set(canon, t);
  }
  const head = tensors.get('classifier.weight');
  const choice = chooseHead(hf, head?.shape[0], opts.labels);
  const config = bertConfigOf(hf, choice.labels.length);
  const notes: string[] = [];
  if (buffers.length > 0) notes.push(`skipped ${buffers.length} index buffer${buffers.length > 1 ? 's' : ''} that are not weights: ${buffers.join(', ')}`);
  if (choice.note) notes.push(choice.note);
  if (hf.problem_type === 'single_label_classification' && choice.keepHead) {
    notes.push('the head was trained single-label (softmax over labels); livetag scores each label with a sigmoid of its logit, so scores do not sum to 1, the top label is the same, and thresholds need calibrating (train, or set them) before tags mean anything');
  }

  const normal = createNormal(createRng(opts.seed ?? 42));
  const std = typeof hf.initializer_range === 'number' ? hf.initializer_range : 0.02;
  const weights: WeightMap = new Map();
  const initialised: string[] = [];
  for (const spec of weightSpecs(config)) {
    const t = tensors.get(spec.name);
    const isHead = spec.name.startsWith('classifier.');
    if (t && !(isHead && !choice.keepHead)) {
      weights.set(spec.name, { shape: [...spec.shape], data: decodeWeight(spec, t, files.source) });
    } else if (isHead || spec.name.startsWith('bert.pooler.')) {
      // Pretraining checkpoints may lack the pooler too; both are trained by fine-tuning.
      weights.set(spec.name, initTensor(spec, normal, std));
      initialised.push(spec.name);
    } else {
      fail(`${files.source}: tensor ${spec.name} is missing`);
    }
  }
  for (const [name, t] of tensors) if (!weights.has(name) || (name.startsWith('classifier.') && !choice.keepHead)) ignored.push(t.name);

  const tok = await loadHfTokenizer(dir);
  const maxLength = Math.min(opts.maxLength ?? tok.maxLength ?? 128, config.maxPositions);
  return {
    config, labels: choice.labels, weights, tokenizerJson: tok.json, maxLength,
    head: choice.keepHead ? 'pretrained' : 'random', ignored, buffers, initialised, weightsFile: files.source, notes,
  };
}

export async function importHf(dir: string, out: string, opts: HfImportOptions = {}): Promise<{ manifest: Manifest; checkpoint: HfCheckpoint }> {
  const checkpoint = await readHfCheckpoint(dir, opts);
  const manifest = await writeBundle(
    out,
    {
      modelId: opts.modelId ?? 'hf-import',
      labels: checkpoint.labels,
      maxSequenceLength: checkpoint.maxLength,
      architecture: checkpoint.config,
      tokenizerJson: checkpoint.tokenizerJson,
      head: checkpoint.head,
      source: `import-hf:${dir}`,
    },
    checkpoint.weights,
  );
  return { manifest, checkpoint };
}
