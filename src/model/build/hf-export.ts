import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { replaceDirAtomically, writeFiles } from '../../common/atomic-write.ts';
import { LivetagError } from '../../common/errors.ts';
import { createRng } from '../../common/rng.ts';
import type { BertConfig } from '../bert-config.ts';
import { MANIFEST_FILE, ManifestSchema, type LoadedBundle, type Manifest } from '../manifest.ts';
import { INPUT_NAMES } from '../onnx-names.ts';
import { readBertWeights, summarizeOnnx } from '../onnx-reader.ts';
import { loadBundle } from '../runtime/load-bundle.ts';
import type { WeightMap } from '../weights.ts';
import { maxAbsDiff, onnxLogits } from './export-parity.ts';
import { hfTokenizerFiles } from './hf-tokenizer.ts';
import { buildBertOnnx } from './onnx-graph.ts';
import { encodeSafetensors, parseSafetensors } from './safetensors.ts';

/** How far the bundle's graph and a plain BERT rebuilt from its weights may disagree before the export is refused. */
export const EXPORT_TOLERANCE = 1e-5;
export const THRESHOLDS_FILE = 'livetag_thresholds.json';

export interface HfExportResult {
  readonly files: string[];
  /** max |Δlogit| between the bundle's graph and the standard BERT graph rebuilt from the exported weights. */
  readonly maxAbsDiff: number;
  readonly notes: string[];
}

const refuse = (bundle: string, why: string): never => {
  throw new LivetagError('LT_HF_EXPORT', `${bundle}: cannot export to BertForSequenceClassification: ${why}; nothing was written`);
};

/**
 * What BertForSequenceClassification cannot hold: anything in the manifest
 * this exporter does not know (a new head branch, say) is a refusal, not a
 * field to drop, so a model never leaves changed.
 */
async function checkExpressible(dir: string, bundle: LoadedBundle): Promise<void> {
  const raw = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as Record<string, unknown>;
  if (bundle.manifest.head === 'encoder') refuse(dir, 'it is a pretrained encoder (livetag pretrain) whose one label is a placeholder, not a classifier; fine-tune it with `livetag train --init` and export that');
  const ngram = bundle.manifest.architecture.ngram;
  if (ngram) {
    refuse(dir, `its head has a hashed n-gram branch (${ngram.buckets} buckets, 1–${ngram.maxN}-grams) beside the [CLS] classifier, which Hugging Face's class has no place for (train with --ngram 0 for an exportable model)`);
  }
  const known = new Set(Object.keys(ManifestSchema.shape));
  const unknown = Object.keys(raw).filter((k) => !known.has(k));
  if (unknown.length > 0) refuse(dir, `its manifest has ${unknown.join(', ')}, which export-hf does not know how to carry over`);
  if (bundle.manifest.onnx.precision !== 'fp32') refuse(dir, `model.onnx is ${bundle.manifest.onnx.precision}; export needs the fp32 graph`);
  const inputs = summarizeOnnx(bundle.modelBytes).inputs;
  if (inputs.join() !== INPUT_NAMES.join()) refuse(dir, `model.onnx takes ${inputs.join(', ')}, not BERT's ${INPUT_NAMES.join(', ')}`);
}

/** Token rows over the whole vocabulary and every position, so each embedding row a bug could touch is exercised. */
function probeRows(config: BertConfig, maxLength: number): Int32Array[] {
  const rng = createRng(16);
  const rows: Int32Array[] = [];
  for (let i = 0; i < 8; i++) {
    const len = i === 0 ? maxLength : 2 + Math.floor(rng() * (maxLength - 1));
    rows.push(Int32Array.from({ length: len }, () => Math.floor(rng() * config.vocabSize)));
  }
  return rows;
}

/** config.json of a BertForSequenceClassification directory for a bundle's manifest (also the benchmarks' transformers.js layout). */
export function hfConfig(m: Pick<Manifest, 'architecture' | 'labels' | 'modelId' | 'version' | 'head'>): Record<string, unknown> {
  const a = m.architecture;
  return {
    architectures: ['BertForSequenceClassification'],
    model_type: 'bert',
    vocab_size: a.vocabSize,
    hidden_size: a.hiddenSize,
    num_hidden_layers: a.numLayers,
    num_attention_heads: a.numHeads,
    intermediate_size: a.intermediateSize,
    max_position_embeddings: a.maxPositions,
    type_vocab_size: a.typeVocabSize,
    layer_norm_eps: a.layerNormEps,
    hidden_act: 'gelu',
    position_embedding_type: 'absolute',
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    initializer_range: 0.02,
    pad_token_id: 0,
    problem_type: 'multi_label_classification',
    id2label: Object.fromEntries(m.labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(m.labels.map((l, i) => [l, i])),
    torch_dtype: 'float32',
    livetag: { modelId: m.modelId, version: m.version, head: m.head },
  };
}

function tagCountNote(count: Manifest['tagCount']): string {
  if (!count || (count.min === 0 && count.max === null)) return '';
  const bounds = [count.min > 0 ? `at least ${count.min}` : '', count.max !== null ? `at most ${count.max}` : ''].filter(Boolean).join(' and ');
  return (
    `\nlivetag also gives every text ${bounds} tag(s) (\`tag_count\` in the same file, learned from the labeled rows): ` +
    'when the thresholds give fewer or more, labels are ranked by logit(p) − logit(threshold) and the best are kept.'
  );
}

function readme(bundle: LoadedBundle, tokenizerNote: string | undefined): string {
  const m = bundle.manifest;
  const rows = m.labels.map((l, i) => `| ${l} | ${m.thresholds[i]} |`).join('\n');
  return `# ${m.modelId} (livetag ${m.version})

A BERT multi-label classifier exported by \`livetag export-hf\`. Load it with

\`\`\`python
from transformers import AutoTokenizer, BertForSequenceClassification
import json, torch
tok = AutoTokenizer.from_pretrained(path)
model = BertForSequenceClassification.from_pretrained(path).eval()
thresholds = json.load(open(f"{path}/${THRESHOLDS_FILE}"))["thresholds"]
probs = torch.sigmoid(model(**tok(texts, padding=True, truncation=True, max_length=${m.maxSequenceLength}, return_tensors="pt")).logits)
tags = [[label for label, p in zip(model.config.id2label.values(), row) if p >= thresholds[label]] for row in probs.tolist()]
\`\`\`

Each label is scored on its own (sigmoid of its logit, \`problem_type: multi_label_classification\`),
so a comment can carry several tags or none. The per-label thresholds below were calibrated by
livetag (0.5 where never calibrated); a tag is on when its probability is at or over its threshold.
They live in \`${THRESHOLDS_FILE}\` because Hugging Face's config has no field for them.${tagCountNote(m.tagCount)}

| label | threshold |
|---|---|
${rows}
${tokenizerNote ? `\nNote: ${tokenizerNote}.\n` : ''}`;
}

/**
 * Writes a bundle as a Hugging Face directory that
 * BertForSequenceClassification.from_pretrained loads. Everything is checked
 * before anything is written: the manifest holds nothing the class cannot
 * express, and onnxruntime computes the same logits (≤ EXPORT_TOLERANCE) on
 * the bundle's graph and on a plain BERT rebuilt from the exported weights.
 */
export async function exportHf(bundleDir: string, outDir: string): Promise<HfExportResult> {
  // Only an absent or empty directory: a file or an unreadable one is not "empty" (it would be replaced).
  const existing = await readdir(outDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw new LivetagError('LT_HF_EXPORT', `${outDir} ${err.code === 'ENOTDIR' ? 'is a file' : `cannot be read (${err.code ?? 'error'})`}; choose a new --out directory`, { cause: err });
  });
  if (existing.length > 0) throw new LivetagError('LT_HF_EXPORT', `${outDir} exists and is not empty; choose a new --out directory`);
  const bundle = await loadBundle(bundleDir);
  await checkExpressible(bundleDir, bundle);
  const config = bundle.manifest.architecture;
  let weights: WeightMap;
  try {
    weights = readBertWeights(config, bundle.modelBytes);
  } catch (cause) {
    return refuse(bundleDir, `model.onnx does not hold BERT's weights (${(cause as Error).message})`);
  }
  const rows = probeRows(config, bundle.manifest.maxSequenceLength);
  const diff = maxAbsDiff(await onnxLogits(bundle.modelBytes, rows, { threads: 1 }), await onnxLogits(buildBertOnnx(config, weights), rows, { threads: 1 }));
  if (!(diff <= EXPORT_TOLERANCE)) refuse(bundleDir, `model.onnx computes something a plain BERT with its weights does not (max |Δlogit| ${diff} > ${EXPORT_TOLERANCE})`);

  const safetensors = encodeSafetensors(weights);
  for (const t of parseSafetensors(safetensors, 'model.safetensors')) {
    if (maxAbsDiff(t.decode(), weights.get(t.name)!.data) !== 0) throw new LivetagError('LT_HF_EXPORT', `model.safetensors: ${t.name} did not survive encoding`);
  }
  const tokenizer = hfTokenizerFiles(bundle.tokenizerJson, bundle.manifest.maxSequenceLength);
  const m = bundle.manifest;
  const files = new Map<string, string | Uint8Array>([
    ['config.json', JSON.stringify(hfConfig(bundle.manifest), null, 2) + '\n'],
    ['model.safetensors', safetensors],
    ...tokenizer.files,
    [
      THRESHOLDS_FILE,
      JSON.stringify(
        { labels: m.labels, thresholds: Object.fromEntries(m.labels.map((l, i) => [l, m.thresholds[i]])), ...(m.tagCount ? { tag_count: m.tagCount } : {}) },
        null,
        2,
      ) + '\n',
    ],
    ['README.md', readme(bundle, tokenizer.note)],
  ]);
  await replaceDirAtomically(outDir, (tmp) => writeFiles(tmp, files));
  const notes = tokenizer.note ? [tokenizer.note] : [];
  if (m.variants && Object.keys(m.variants).length > 0) notes.push(`serving variants (${Object.keys(m.variants).join(', ')}) are not exported; the fp32 weights are`);
  return { files: [...files.keys()], maxAbsDiff: diff, notes };
}
