/**
 * What a pretrain run leaves in --out: bundle/ (the encoder, manifest head
 * "encoder", one placeholder label), mlm-head/ (the MLM head, so a later run
 * can continue pretraining), report.json and report.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mlmHeadSpecs } from '../../model/build/mlm-graph.ts';
import { writeBundle } from '../../model/build/write-bundle.ts';
import { weightSpecs, type WeightMap } from '../../model/weights.ts';
import { saveCheckpoint } from '../checkpoint.ts';
import { BUNDLE_DIR } from '../run-dir.ts';
import type { CorpusSource } from './corpus.ts';
import { ENCODER_PLACEHOLDER_LABEL, MLM_HEAD_DIR, type PretrainStart } from './pretrain-init.ts';
import type { PretrainOptions } from './pretrain-options.ts';

export interface EpochRecord {
  readonly epoch: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly masked: number;
  /** Real (not special) tokens in the epoch's rows: masked / maskable is the share drawn (--mask-prob per token, one at least a row). Absent in checkpoints written before it was kept. */
  readonly maskable?: number;
  /** Optimizer steps (fewer than the epoch's batches when --max-steps cut it). */
  readonly steps: number;
  readonly seconds: number;
}

export interface PretrainOutputs {
  readonly out: string;
  readonly options: PretrainOptions;
  readonly start: PretrainStart;
  /** The whole BERT and the MLM head, trained. */
  readonly weights: WeightMap;
  readonly history: readonly EpochRecord[];
  readonly corpus: { readonly texts: number; readonly rows: number; readonly tokens: number; readonly duplicates: number; readonly sources: readonly CorpusSource[] };
  readonly seconds: number;
  readonly engine: string;
}

function markdown(r: PretrainOutputs, bundleDir: string): string {
  const o = r.options;
  const last = r.history[r.history.length - 1];
  return [
    '# livetag pretrain',
    '',
    `- init: ${r.start.initFrom}`,
    `- architecture: ${r.start.config.numLayers} layers × hidden ${r.start.config.hiddenSize}, ${r.start.config.numHeads} heads, vocab ${r.start.config.vocabSize}, max length ${r.start.maxLength}`,
    `- corpus: ${r.corpus.texts} distinct texts (${r.corpus.duplicates} duplicates dropped), ${r.corpus.rows} rows, ${r.corpus.tokens} tokens`,
    ...r.corpus.sources.map((s) => `  - ${s.name}: ${s.read} records, ${s.kept} new texts${s.ended && s.ended !== 'end' ? ` (stopped at its ${s.ended} limit)` : ''}`),
    `- masking: ${o.maskProb} of real tokens, 80% [MASK] / 10% random / 10% unchanged${o.spanMasking ? ', geometric spans (SpanBERT)' : ''}; new masks each epoch (seed ${o.seed})`,
    `- optimiser: AdamW lr ${o.lr}, weight decay ${o.weightDecay}, warmup ${o.warmupRatio}, batch ${o.batchSize}, dropout ${o.dropout}; ${r.engine}`,
    `- time: ${r.seconds.toFixed(0)} s`,
    `- result: ${bundleDir} (encoder only: \`livetag train --init ${r.out} --data …\` gives it a classification head)`,
    '',
    '| epoch | steps | MLM loss | masked-token accuracy | masked tokens | share of real tokens | seconds |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...r.history.map((e) => `| ${e.epoch} | ${e.steps} | ${e.loss.toFixed(4)} | ${e.accuracy.toFixed(4)} | ${e.masked} | ${e.maskable ? (e.masked / e.maskable).toFixed(3) : '–'} | ${e.seconds.toFixed(0)} |`),
    '',
    last ? `Final MLM loss ${last.loss.toFixed(4)} (perplexity ${Math.exp(last.loss).toFixed(1)}), masked-token accuracy ${last.accuracy.toFixed(4)}.` : 'No epoch ran.',
    '',
  ].join('\n');
}

/** The options as the report keeps them: never the Kafka connection (it may carry credentials). */
function reportOptions(o: PretrainOptions): Record<string, unknown> {
  const { afterEpoch: _a, topic, ...rest } = o;
  return { ...rest, ...(topic ? { topic: { topic: topic.topic, groupId: topic.groupId, maxRecords: topic.maxRecords, maxSeconds: topic.maxSeconds } } : {}) };
}

/** Writes bundle/, mlm-head/ and the report; returns the bundle directory. */
export async function writePretrainOutputs(r: PretrainOutputs, log: (line: string) => void): Promise<string> {
  const { config } = r.start;
  const bundleDir = join(r.out, BUNDLE_DIR);
  const bert: WeightMap = new Map(weightSpecs(config).map((s) => [s.name, r.weights.get(s.name)!]));
  const last = r.history[r.history.length - 1];
  const manifest = await writeBundle(
    bundleDir,
    {
      modelId: r.options.modelId ?? 'livetag-pretrained',
      labels: [ENCODER_PLACEHOLDER_LABEL],
      maxSequenceLength: r.start.maxLength,
      architecture: config,
      tokenizerJson: r.start.tokenizerJson,
      head: 'encoder',
      source: `livetag pretrain (masked language model) from ${r.start.initFrom}`,
      training: {
        recipe: 'mlm',
        trainedOn: `${r.corpus.texts} unlabeled texts (${r.corpus.sources.map((s) => s.name).join(', ')})`,
        ...(last ? { metrics: { mlm_loss: last.loss, mlm_accuracy: last.accuracy } } : {}),
        details: { epochs: r.history.length, maskProb: r.options.maskProb, spanMasking: r.options.spanMasking, seconds: r.seconds },
      },
    },
    bert,
  );
  const head = new Map(mlmHeadSpecs(config).map((s) => [s.name, { shape: [...s.shape], data: r.weights.get(s.name)!.data }]));
  await saveCheckpoint(join(r.out, MLM_HEAD_DIR), { kind: 'mlm-head', version: manifest.version }, head);
  await mkdir(r.out, { recursive: true });
  const report = { command: 'pretrain', init: r.start.initFrom, architecture: config, maxLength: r.start.maxLength, options: reportOptions(r.options), corpus: r.corpus, engine: r.engine, epochs: r.history, seconds: r.seconds, bundle: { dir: bundleDir, version: manifest.version } };
  await writeFile(join(r.out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  await writeFile(join(r.out, 'report.md'), markdown(r, bundleDir));
  log(`wrote ${bundleDir} (encoder ${manifest.version}), ${join(r.out, MLM_HEAD_DIR)}, ${join(r.out, 'report.md')}`);
  return bundleDir;
}
