import { pointerSchema } from '../../consumer/input-mapping.ts';
import { loadKafkaConnection } from '../../kafka/connection.ts';
import type { CorpusTopic } from '../../training/pretrain/corpus.ts';
import { runPretrainJob } from '../../training/pretrain/pretrain-job.ts';
import { createCommand, usageError } from '../command.ts';
import type { OptionValues } from '../options.ts';
import { pretrainSpec } from '../specs/pretrain.ts';

type Values = OptionValues<typeof pretrainSpec.options>;

function topicOf(values: Values): CorpusTopic | undefined {
  if (!values.topic) return undefined;
  const brokers = values['kafka-brokers'] ?? process.env.KAFKA_BROKERS ?? process.env.LIVETAG_KAFKA_BROKERS;
  if (!brokers) throw usageError('--topic needs --kafka-brokers or KAFKA_BROKERS');
  // TLS/SASL from the same LIVETAG_KAFKA_* settings as the service, so secured clusters work.
  const kafka = loadKafkaConnection(process.env, { LIVETAG_KAFKA_BROKERS: brokers });
  const textPointer = pointerSchema.safeParse(values['text-field']);
  if (!textPointer.success) throw usageError(`--text-field ${JSON.stringify(values['text-field'])}: ${textPointer.error.issues[0].message}`);
  return { kafka, topic: values.topic, groupId: values.group, maxRecords: values['max-records'], maxSeconds: values['max-seconds'], textPointer: textPointer.data };
}

export const command = createCommand(pretrainSpec, async ({ values }) => {
  const data = values.data ?? [];
  if (data.length === 0 && !values.topic) throw usageError('give --data, --topic or both');
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const result = await runPretrainJob(
    {
      data,
      topic: topicOf(values),
      out: values.out,
      init: values.init,
      epochs: values.epochs,
      maxSteps: values['max-steps'],
      batchSize: values['batch-size'],
      lr: values.lr,
      maskProb: values['mask-prob'],
      spanMasking: values['span-masking'] ?? false,
      maxLength: values['max-length'],
      arch: { hiddenSize: values.hidden, numLayers: values.layers, numHeads: values.heads, intermediateSize: values.intermediate },
      seed: values.seed,
      dropout: values.dropout,
      weightDecay: values['weight-decay'],
      warmupRatio: 0.06,
      resume: values.resume ?? false,
      threads: values.threads,
      device: values.device as 'auto' | 'cpu' | 'cuda',
      modelId: values['model-id'],
      quiet: values.quiet,
    },
    log,
  );
  const last = result.epochs[result.epochs.length - 1];
  process.stdout.write(`wrote ${result.bundleDir}: ${result.epochs.length} epochs in ${result.seconds.toFixed(0)} s${last ? `, MLM loss ${last.loss.toFixed(4)}, masked-token accuracy ${last.accuracy.toFixed(4)}` : ''}\n`);
  return 0;
});
