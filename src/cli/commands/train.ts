import { parseArgs } from 'node:util';
import { isLivetagError } from '../../common/errors.ts';
import { kafkaConnection, loadServeConfig } from '../../consumer/config.ts';
import { parseLabelList } from '../../model/labels.ts';
import { createKafkaLabelSource } from '../../training/kafka-label-source.ts';
import type { LabelSource } from '../../training/label-source.ts';
import type { LossName } from '../../training/losses.ts';
import type { BackendChoice } from '../../training/tf-backend.ts';
import { runTrainJob } from '../../training/train-job.ts';
import { usageError, type Command } from '../main.ts';

const HELP = `usage: livetag train --out <run-dir> [--data <file|dir>]... [--labels-topic T]
                     [--base <bundle|run-dir>] [--init scratch|<bundle>|<hf-dir>] [--recipe livetag|seed]

Fine-tunes a model on labeled JSONL rows ({"text", "labels": [...]}) merged with the training
set of --base, and writes <run-dir>/bundle plus its data, splits and report (see docs/training.md).

data:
  --data PATH             JSONL file or directory of *.jsonl (repeatable)
  --labels-topic T        also read new labels from Kafka topic T to its end (offsets committed
                          only after a successful run); --kafka-brokers or KAFKA_BROKERS,
                          --labels-group (default livetag-train)
  --labels a,b,...        fixed label set (default: the init/base bundle's, else all seen)
  --add-labels            unknown labels become new labels instead of rejecting their rows
  --max-chars N           reject longer texts (default 1000)
  --seed N                split/shuffle/init seed (default 13)
  --split a,b,c           train,validation,test ratios (default 0.6,0.2,0.2)
model:
  --init X                scratch (default: small config), a bundle, or a Hugging Face dir
  --tokenizer PATH        tokenizer.json or a dir with one/vocab.txt (scratch; default: built from data)
  --train-layers K        train only the top K encoder layers (+ head); lower ones run once in onnxruntime
  --hidden N --layers N --heads N --intermediate N   scratch architecture overrides
  --max-length N          token limit (default: the init model's, else 128)
recipe:
  --recipe livetag|seed   (default livetag)
  --epochs N --batch-size N --lr X --patience N --dropout X --weight-decay X
  --loss bce|focal|asl|sigmoid-bce
champion/challenger:
  --promote-metric M      macro_f1 (default), micro_f1 or subset_accuracy
  --promote-margin X      required gain over the base on the pinned test split (default 0.01)
  --promote-to DIR        on promotion, copy the run (bundle + data) there atomically
run:
  --backend auto|tensorflow-gpu|tensorflow|wasm|cpu   (default auto)
  --no-resume             ignore a checkpoint left by a killed run in <run-dir>
  --threads N             onnxruntime threads (default: one per core)
  --model-id ID --quiet

exit codes: 0 trained (promoted or kept), 1 failed, 2 usage, 3 no usable data,
            4 exported model disagrees with tfjs (bundle must not be served)`;

function num(name: string, value: string | undefined, check: (n: number) => boolean = Number.isFinite): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!check(n)) throw usageError(`--${name} ${value}: not a valid number`);
  return n;
}

const posInt = (n: number): boolean => Number.isInteger(n) && n > 0;

export const command: Command = {
  summary: 'fine-tune a model on labeled data and decide champion/challenger',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        data: { type: 'string', multiple: true, default: [] },
        'labels-topic': { type: 'string' },
        'labels-group': { type: 'string', default: 'livetag-train' },
        'kafka-brokers': { type: 'string' },
        base: { type: 'string' },
        init: { type: 'string' },
        recipe: { type: 'string', default: 'livetag' },
        out: { type: 'string' },
        labels: { type: 'string' },
        'add-labels': { type: 'boolean', default: false },
        'max-chars': { type: 'string' },
        seed: { type: 'string' },
        split: { type: 'string' },
        tokenizer: { type: 'string' },
        'train-layers': { type: 'string' },
        hidden: { type: 'string' },
        layers: { type: 'string' },
        heads: { type: 'string' },
        intermediate: { type: 'string' },
        'max-length': { type: 'string' },
        epochs: { type: 'string' },
        'batch-size': { type: 'string' },
        lr: { type: 'string' },
        patience: { type: 'string' },
        dropout: { type: 'string' },
        'weight-decay': { type: 'string' },
        loss: { type: 'string' },
        'promote-metric': { type: 'string', default: 'macro_f1' },
        'promote-margin': { type: 'string', default: '0.01' },
        'promote-to': { type: 'string' },
        backend: { type: 'string', default: 'auto' },
        'no-resume': { type: 'boolean', default: false },
        threads: { type: 'string' },
        'model-id': { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if (!values.out) throw usageError(`--out is required\n\n${HELP}`);
    if (values.data.length === 0 && !values['labels-topic'] && !values.base) throw usageError('give --data, --labels-topic or --base');
    if (!['livetag', 'seed'].includes(values.recipe)) throw usageError('--recipe must be livetag or seed');
    const backends = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
    if (!backends.includes(values.backend)) throw usageError(`--backend must be one of ${backends.join(', ')}`);
    const losses = ['bce', 'focal', 'asl', 'sigmoid-bce'];
    if (values.loss && !losses.includes(values.loss)) throw usageError(`--loss must be one of ${losses.join(', ')}`);
    if (!['macro_f1', 'micro_f1', 'subset_accuracy'].includes(values['promote-metric'])) throw usageError('--promote-metric must be macro_f1, micro_f1 or subset_accuracy');
    let ratios: [number, number, number] | undefined;
    if (values.split) {
      const parts = values.split.split(',').map(Number);
      if (parts.length !== 3 || parts.some((p) => !(p >= 0)) || parts[0] <= 0) throw usageError('--split must be three non-negative ratios, e.g. 0.6,0.2,0.2');
      ratios = [parts[0], parts[1], parts[2]];
    }

    const sources: LabelSource[] = [];
    if (values['labels-topic']) {
      const brokers = values['kafka-brokers'] ?? process.env.KAFKA_BROKERS ?? process.env.LIVETAG_KAFKA_BROKERS;
      if (!brokers) throw usageError('--labels-topic needs --kafka-brokers or KAFKA_BROKERS');
      // TLS/SASL from the same LIVETAG_KAFKA_* settings as the service, so secured clusters work.
      const { ssl, sasl } = kafkaConnection(loadServeConfig());
      const kafka = { brokers, ...(ssl ? { ssl } : {}), ...(sasl ? { sasl } : {}) };
      sources.push(createKafkaLabelSource({ kafka, topic: values['labels-topic'], groupId: values['labels-group'] }));
    }
    try {
      const result = await runTrainJob({
        data: values.data,
        sources,
        ...(values.base ? { base: values.base } : {}),
        ...(values.init ? { init: values.init } : {}),
        recipe: values.recipe,
        out: values.out,
        ...(values.labels ? { labels: parseLabelList(values.labels) } : {}),
        addLabels: values['add-labels'],
        ...(values['max-chars'] ? { maxChars: num('max-chars', values['max-chars'], posInt) } : {}),
        ...(values.seed ? { seed: num('seed', values.seed, Number.isInteger) } : {}),
        ...(ratios ? { ratios } : {}),
        ...(values.tokenizer ? { tokenizer: values.tokenizer } : {}),
        ...(values['train-layers'] ? { trainLayers: num('train-layers', values['train-layers'], (n) => Number.isInteger(n) && n >= 0) } : {}),
        arch: {
          hiddenSize: num('hidden', values.hidden, posInt),
          numLayers: num('layers', values.layers, posInt),
          numHeads: num('heads', values.heads, posInt),
          intermediateSize: num('intermediate', values.intermediate, posInt),
        },
        ...(values['max-length'] ? { maxLength: num('max-length', values['max-length'], posInt) } : {}),
        recipeOverrides: {
          maxEpochs: num('epochs', values.epochs, posInt),
          batchSize: num('batch-size', values['batch-size'], posInt),
          lr: num('lr', values.lr, (n) => n > 0),
          patience: num('patience', values.patience, (n) => Number.isInteger(n) && n >= 0),
          dropout: num('dropout', values.dropout, (n) => n >= 0 && n < 1),
          weightDecay: num('weight-decay', values['weight-decay'], (n) => n >= 0),
          ...(values.loss ? { loss: values.loss as LossName } : {}),
        },
        promoteMetric: values['promote-metric'],
        promoteMargin: num('promote-margin', values['promote-margin']),
        ...(values['promote-to'] ? { promoteTo: values['promote-to'] } : {}),
        backend: values.backend as BackendChoice,
        resume: !values['no-resume'],
        ...(values.threads ? { threads: num('threads', values.threads, (n) => Number.isInteger(n) && n >= 0) } : {}),
        ...(values['model-id'] ? { modelId: values['model-id'] } : {}),
        quiet: values.quiet,
        command: `livetag train ${argv.join(' ')}`,
      });
      const d = result.decision;
      const t = result.report.test;
      process.stdout.write(
        `${d.decision.toUpperCase()}: ${d.reason}\n` +
          `challenger test: macro-F1 ${t.macro_f1.toFixed(4)}, micro-F1 ${t.micro_f1.toFixed(4)}, subset accuracy ${t.subset_accuracy.toFixed(4)}, hamming ${t.hamming_loss.toFixed(4)}\n` +
          (result.report.champion
            ? `champion test:   macro-F1 ${result.report.champion.test.macro_f1.toFixed(4)}, micro-F1 ${result.report.champion.test.micro_f1.toFixed(4)}, subset accuracy ${result.report.champion.test.subset_accuracy.toFixed(4)}\n`
            : '') +
          `bundle ${result.bundleDir}\nreport ${result.reportDir}/report.md\n` +
          JSON.stringify({ decision: d.decision, metric: d.metric, challenger: d.challenger, champion: d.champion, margin: d.margin, bundle: result.bundleDir }) +
          '\n',
      );
      return 0;
    } catch (err) {
      if (isLivetagError(err, 'LT_DATA')) {
        process.stderr.write(`livetag train: ${err.code}: ${err.message}\n`);
        return 3;
      }
      if (isLivetagError(err, 'LT_PARITY')) {
        process.stderr.write(`livetag train: ${err.code}: ${err.message}\n`);
        return 4;
      }
      throw err;
    }
  },
};
