import { DEFAULT_NGRAM, parseNgramSpec } from '../../model/ngram-hash.ts';
import { existsSync } from 'node:fs';
import { isLivetagError } from '../../common/errors.ts';
import { loadKafkaConnection } from '../../kafka/connection.ts';
import { parseLabelList } from '../../model/labels.ts';
import { parseRegistryRef, resolveModelRef } from '../../model/registry/model-ref.ts';
import { createKafkaLabelSource } from '../../training/kafka-label-source.ts';
import type { LabelSource } from '../../training/label-source.ts';
import { runTrainJob, type TrainJobOptions, type TrainJobResult } from '../../training/train-job.ts';
import { createCommand, usageError } from '../command.ts';
import type { OptionValues } from '../options.ts';
import { trainSpec } from '../specs/train.ts';

type Values = OptionValues<typeof trainSpec.options>;

function labelSources(values: Values): LabelSource[] {
  if (!values['labels-topic']) return [];
  const brokers = values['kafka-brokers'] ?? process.env.KAFKA_BROKERS ?? process.env.LIVETAG_KAFKA_BROKERS;
  if (!brokers) throw usageError('--labels-topic needs --kafka-brokers or KAFKA_BROKERS');
  // TLS/SASL from the same LIVETAG_KAFKA_* settings as the service, so secured clusters work.
  const kafka = loadKafkaConnection(process.env, { LIVETAG_KAFKA_BROKERS: brokers });
  return [createKafkaLabelSource({ kafka, topic: values['labels-topic'], groupId: values['labels-group'] })];
}

/**
 * --init also takes a Hugging Face checkpoint dir, which is no model ref: anything but a
 * registry ref that does not resolve goes to train-job as given, which tells those apart.
 */
async function resolveInit(init: string): Promise<string> {
  if (init === 'scratch') return init;
  try {
    return await resolveModelRef(init);
  } catch (err) {
    if (isLivetagError(err, 'LT_BUNDLE_MISSING_FILE') && !(parseRegistryRef(init) && !existsSync(init))) return init;
    throw err;
  }
}

/**
 * --ngram 0 turns the wide branch off; any other --ngram-* flag alone keeps
 * the other defaults. --ngram-source auto (the default) lets the run choose
 * between the token ids and the text by the linear fits' validation log loss.
 */
export function ngramOptions(values: Values): Pick<TrainJobOptions, 'ngram' | 'ngramSource' | 'ngramWarmStart' | 'ngramFrozen'> {
  const source = values['ngram-source'] ?? 'auto';
  const warm = {
    ...(values['ngram-cold'] ? { ngramWarmStart: false } : {}),
    ...(values['ngram-frozen'] ? { ngramFrozen: true } : {}),
    ...(source === 'auto' ? { ngramSource: 'auto' as const } : {}),
  };
  const shape = [values.ngram, values['ngram-max-n'], values['ngram-tf'], values['ngram-chars'], source === 'auto' ? undefined : source];
  if (shape.every((v) => v === undefined)) return warm;
  if (values.ngram === 0) return { ...warm, ngram: null };
  return {
    ...warm,
    ngram: parseNgramSpec({
      buckets: values.ngram ?? DEFAULT_NGRAM.buckets,
      maxN: values['ngram-max-n'] ?? DEFAULT_NGRAM.maxN,
      tf: values['ngram-tf'] ?? DEFAULT_NGRAM.tf,
      source: source === 'auto' ? DEFAULT_NGRAM.source : source,
      maxChars: values['ngram-chars'] ?? DEFAULT_NGRAM.maxChars,
    }),
  };
}

async function jobOptions(values: Values, argv: readonly string[]): Promise<TrainJobOptions> {
  const split = values.split?.map(Number);
  return {
    data: values.data,
    sources: labelSources(values),
    // Resolved to the bundle dir: train-job finds a run's data and splits beside it.
    ...(values.base ? { base: await resolveModelRef(values.base) } : {}),
    ...(values.init ? { init: await resolveInit(values.init) } : {}),
    recipe: values.recipe,
    out: values.out,
    ...(values.labels ? { labels: parseLabelList(values.labels) } : {}),
    addLabels: values['add-labels'],
    ...(values['max-chars'] === undefined ? {} : { maxChars: values['max-chars'] }),
    ...(values.seed === undefined ? {} : { seed: values.seed }),
    ...(split ? { ratios: [split[0], split[1], split[2]] as const } : {}),
    ...(values.tokenizer ? { tokenizer: values.tokenizer } : {}),
    ...(values['train-layers'] === undefined ? {} : { trainLayers: values['train-layers'] }),
    ...ngramOptions(values),
    arch: { hiddenSize: values.hidden, numLayers: values.layers, numHeads: values.heads, intermediateSize: values.intermediate },
    ...(values['max-length'] === undefined ? {} : { maxLength: values['max-length'] }),
    recipeOverrides: {
      maxEpochs: values.epochs,
      batchSize: values['batch-size'],
      lr: values.lr,
      patience: values.patience,
      dropout: values.dropout,
      weightDecay: values['weight-decay'],
      ...(values.loss ? { loss: values.loss } : {}),
      ...(values['tag-count'] ? { tagCount: values['tag-count'] } : {}),
      ...(values['select-by'] ? { selectBy: values['select-by'] } : {}),
      ...(values['threshold-objective'] ? { thresholdObjective: values['threshold-objective'] } : {}),
      ...(values['ngram-update'] ? { ngramUpdate: values['ngram-update'] } : {}),
      ...(values.fusion ? { fusion: values.fusion } : {}),
      rareLabelFloor: values['rare-label-floor'],
    },
    promoteMetric: values['promote-metric'],
    promoteMargin: values['promote-margin'],
    ...(values['promote-to'] ? { promoteTo: values['promote-to'] } : {}),
    backend: values.backend,
    device: values.device,
    resume: !values['no-resume'],
    ...(values.threads === undefined ? {} : { threads: values.threads }),
    ...(values['model-id'] ? { modelId: values['model-id'] } : {}),
    quiet: values.quiet,
    command: `livetag train ${argv.join(' ')}`,
  };
}

function summary(result: TrainJobResult): string {
  const d = result.decision;
  const t = result.report.test;
  const champion = result.report.champion?.test;
  return (
    `${d.decision.toUpperCase()}: ${d.reason}\n` +
    `challenger test: macro-F1 ${t.macro_f1.toFixed(4)}, micro-F1 ${t.micro_f1.toFixed(4)}, subset accuracy ${t.subset_accuracy.toFixed(4)}, hamming ${t.hamming_loss.toFixed(4)}\n` +
    (champion ? `champion test:   macro-F1 ${champion.macro_f1.toFixed(4)}, micro-F1 ${champion.micro_f1.toFixed(4)}, subset accuracy ${champion.subset_accuracy.toFixed(4)}\n` : '') +
    `bundle ${result.bundleDir}\nreport ${result.reportDir}/report.md\n` +
    JSON.stringify({ decision: d.decision, metric: d.metric, challenger: d.challenger, champion: d.champion, margin: d.margin, bundle: result.bundleDir }) +
    '\n'
  );
}

// LT_DATA and LT_PARITY end the run with their own exit status (declared in the spec), so the
// retrain job can tell "nothing to learn from" and "do not serve this" from a crash.
export const command = createCommand(trainSpec, async ({ values, argv }) => {
  if (values.data.length === 0 && !values['labels-topic'] && !values.base) throw usageError('give --data, --labels-topic or --base');
  const result = await runTrainJob(await jobOptions(values, argv));
  process.stdout.write(summary(result));
  return 0;
});
