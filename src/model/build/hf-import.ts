import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseBertConfig, type BertConfig } from '../bert-config.ts';
import { writeBundle } from './write-bundle.ts';
import { type Manifest } from '../manifest.ts';
import { readSafetensors } from './safetensors.ts';
import { BERT_CHINESE_DEFAULTS, buildWordPieceTokenizerJson, vocabFromText } from '../tokenizer.ts';
import { createNormal, createRng } from '../../common/rng.ts';
import { initTensor, weightSpecs, type WeightMap, type WeightTensor } from '../weights.ts';
import { LivetagError } from '../../common/errors.ts';
import { pathExists } from '../../common/fs.ts';

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
  readonly ignored: string[];
  readonly initialised: string[];
}

const fail = (msg: string): never => {
  throw new LivetagError('LT_HF_IMPORT', msg);
};

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return fail(`${path}: ${(err as Error).message}`);
  }
}

/** Maps a checkpoint's tensor name onto the canonical name, or undefined for tensors we do not use. */
export function canonicalName(name: string): string | undefined {
  if (name.startsWith('cls.') || name.endsWith('position_ids')) return undefined;
  let n = name.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  if (/^(embeddings|encoder|pooler)\./.test(n)) n = `bert.${n}`;
  return n;
}

function labelsFrom(hfConfig: Record<string, unknown>, hasHead: boolean, width: number | undefined, given?: readonly string[]): string[] {
  if (given && given.length > 0) {
    if (hasHead && width !== undefined && width !== given.length) {
      fail(`--labels lists ${given.length} labels but the checkpoint's classifier has ${width} outputs`);
    }
    return [...given];
  }
  const id2label = hfConfig.id2label as Record<string, string> | undefined;
  if (!id2label) return fail('config.json has no id2label; pass --labels a,b,…');
  const labels = Object.keys(id2label)
    .map(Number)
    .sort((a, b) => a - b)
    .map((i) => id2label[String(i)]);
  if (!hasHead && labels.every((l) => /^LABEL_\d+$/.test(l))) {
    fail('checkpoint has no classification head and only default LABEL_n names; pass --labels a,b,…');
  }
  return labels;
}

async function loadTokenizer(dir: string): Promise<{ json: string; maxLength?: number }> {
  const tokConfig = (await readJson(join(dir, 'tokenizer_config.json'))) ?? {};
  const modelMax = typeof tokConfig.model_max_length === 'number' && tokConfig.model_max_length < 1e6 ? tokConfig.model_max_length : undefined;
  const tokenizerPath = join(dir, 'tokenizer.json');
  if (await pathExists(tokenizerPath)) return { json: await readFile(tokenizerPath, 'utf8'), maxLength: modelMax };
  const vocabPath = join(dir, 'vocab.txt');
  if (!(await pathExists(vocabPath))) fail(`${dir}: neither tokenizer.json nor vocab.txt is present`);
  const str = (k: string, d: string): string => (typeof tokConfig[k] === 'string' ? (tokConfig[k] as string) : d);
  const json = buildWordPieceTokenizerJson(vocabFromText(await readFile(vocabPath, 'utf8')), {
    lowercase: tokConfig.do_lower_case === true,
    tokenizeChineseChars: tokConfig.tokenize_chinese_chars !== false,
    stripAccents: typeof tokConfig.strip_accents === 'boolean' ? tokConfig.strip_accents : null,
    unkToken: str('unk_token', BERT_CHINESE_DEFAULTS.unkToken),
    clsToken: str('cls_token', BERT_CHINESE_DEFAULTS.clsToken),
    sepToken: str('sep_token', BERT_CHINESE_DEFAULTS.sepToken),
    padToken: str('pad_token', BERT_CHINESE_DEFAULTS.padToken),
    maskToken: str('mask_token', BERT_CHINESE_DEFAULTS.maskToken),
  });
  return { json, maxLength: modelMax };
}

/**
 * Reads a Hugging Face BERT checkpoint directory into the canonical weight
 * map. Accepts what real checkpoints vary in: with or without the `bert.`
 * prefix, gamma/beta LayerNorm names, extra tensors, and no classifier (a
 * pretraining checkpoint such as bert-base-chinese), in which case a new head
 * is initialised for the given labels.
 */
export async function readHfCheckpoint(dir: string, opts: HfImportOptions = {}): Promise<HfCheckpoint> {
  const hf = await readJson(join(dir, 'config.json'));
  if (!hf) return fail(`${dir}/config.json: not found`);
  if (hf.model_type !== undefined && hf.model_type !== 'bert') fail(`config.json: model_type "${hf.model_type}" is not bert`);
  if (hf.hidden_act !== undefined && hf.hidden_act !== 'gelu') {
    fail(`config.json: hidden_act "${hf.hidden_act}" is not supported (the graph uses exact erf GELU)`);
  }
  const stPath = join(dir, 'model.safetensors');
  if (!(await pathExists(stPath))) fail(`${dir}: model.safetensors not found (convert pytorch_model.bin to safetensors first)`);
  const raw = await readSafetensors(stPath);

  const tensors = new Map<string, WeightTensor>();
  const ignored: string[] = [];
  for (const [name, t] of raw) {
    const canon = canonicalName(name);
    if (canon === undefined) ignored.push(name);
    else tensors.set(canon, t);
  }
  const head = tensors.get('classifier.weight');
  const hasHead = head !== undefined;
  const labels = labelsFrom(hf, hasHead, head?.shape[0], opts.labels);
  const num = (k: string, d?: number): number => {
    const v = hf[k] ?? d;
    return typeof v === 'number' ? v : fail(`config.json: ${k} is missing`);
  };
  let config: BertConfig;
  try {
    config = parseBertConfig({
      vocabSize: num('vocab_size'),
      hiddenSize: num('hidden_size'),
      numLayers: num('num_hidden_layers'),
      numHeads: num('num_attention_heads'),
      intermediateSize: num('intermediate_size'),
      maxPositions: num('max_position_embeddings'),
      typeVocabSize: num('type_vocab_size', 2),
      numLabels: labels.length,
      layerNormEps: num('layer_norm_eps', 1e-12),
    });
  } catch (cause) {
    return fail(`config.json: ${(cause as Error).message}`);
  }

  const normal = createNormal(createRng(opts.seed ?? 42));
  const std = typeof hf.initializer_range === 'number' ? hf.initializer_range : 0.02;
  const weights: WeightMap = new Map();
  const initialised: string[] = [];
  for (const spec of weightSpecs(config)) {
    const t = tensors.get(spec.name);
    const fresh = spec.name.startsWith('classifier.') || spec.name.startsWith('bert.pooler.');
    if (t && !(spec.name.startsWith('classifier.') && !hasHead)) {
      weights.set(spec.name, t);
    } else if (fresh) {
      // Pretraining checkpoints may lack the pooler too; both are trained by fine-tuning.
      weights.set(spec.name, initTensor(spec, normal, std));
      initialised.push(spec.name);
    } else {
      fail(`model.safetensors: tensor ${spec.name} is missing`);
    }
  }
  for (const name of tensors.keys()) {
    if (!weights.has(name)) ignored.push(name);
  }

  const tok = await loadTokenizer(dir);
  const maxLength = Math.min(opts.maxLength ?? tok.maxLength ?? 128, config.maxPositions);
  return { config, labels, weights, tokenizerJson: tok.json, maxLength, head: hasHead ? 'pretrained' : 'random', ignored, initialised };
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
