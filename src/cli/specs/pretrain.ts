import { MAX_TIMER_MS } from '../../common/timer-limit.ts';
import { atLeast, between, defineCommand, nonNegative, positive, ratio } from '../options.ts';

const DATA = 'data';
const MODEL = 'model';
const RECIPE = 'recipe';
const RUN = 'run';

export const pretrainSpec = defineCommand({
  name: 'pretrain',
  summary: 'masked-language-model pretraining of the encoder on unlabeled text',
  description: `Pretrains BERT's encoder as a masked language model (15% of tokens, 80/10/10, new masks each
epoch, MLM head tied to the word embeddings) on unlabeled text: JSONL files ("text" field),
plain-text files (a text a line), directories of them, and/or a Kafka topic. Writes
<out>/bundle (an encoder without a classifier: manifest head "encoder"), <out>/mlm-head and
<out>/report.{json,md}. Fine-tune it with \`livetag train --init <out> --data labeled.jsonl\`;
it cannot be served as it is (see docs/training.md).`,
  options: {
    data: { type: 'string', multiple: true, value: 'PATH', group: DATA, help: 'JSONL (.jsonl/.ndjson) or text file, or a directory of them (uncompressed)' },
    topic: { type: 'string', value: 'T', group: DATA, help: 'also read texts from Kafka topic T (from its beginning, with the service\'s input mapping)' },
    group: { type: 'string', default: 'livetag-pretrain', value: 'G', group: DATA, help: 'consumer group for --topic (never commits)' },
    'text-field': { type: 'string', env: 'LIVETAG_INPUT_TEXT_FIELD', default: '/text', value: 'POINTER', group: DATA, help: 'JSON Pointer to the text in a --topic message, as serve reads it (e.g. /payload/msg/text)' },
    'max-records': { type: 'integer', check: positive, default: 1_000_000, value: 'N', group: DATA, help: 'stop reading --topic after N records' },
    'max-seconds': { type: 'integer', check: between(1, Math.floor(MAX_TIMER_MS / 1000)), default: 300, value: 'S', group: DATA, help: 'stop reading --topic after S seconds' },
    'kafka-brokers': { type: 'string', value: 'B', group: DATA, help: 'brokers for --topic', defaultHelp: '$KAFKA_BROKERS, else $LIVETAG_KAFKA_BROKERS' },
    init: { type: 'string', value: 'scratch|BUNDLE|HF_DIR', group: MODEL, help: 'start from scratch (character vocabulary from the corpus), a bundle or pretrain output, or a Hugging Face checkpoint', defaultHelp: 'scratch' },
    hidden: { type: 'integer', check: positive, group: MODEL, help: 'scratch architecture: hidden size', defaultHelp: '128' },
    layers: { type: 'integer', check: positive, group: MODEL, help: 'scratch architecture: encoder layers', defaultHelp: '2' },
    heads: { type: 'integer', check: positive, group: MODEL, help: 'scratch architecture: attention heads', defaultHelp: '2' },
    intermediate: { type: 'integer', check: positive, group: MODEL, help: 'scratch architecture: feed-forward size', defaultHelp: '4 × hidden' },
    'max-length': { type: 'integer', check: atLeast(3), group: MODEL, help: 'token limit', defaultHelp: "the init model's, else 128" },
    epochs: { type: 'integer', check: positive, default: 3, group: RECIPE, help: 'epochs (new masks each)' },
    'max-steps': { type: 'integer', check: positive, value: 'N', group: RECIPE, help: 'stop after N optimizer steps in all (the schedule decays to them): bounds the time a large corpus takes', defaultHelp: 'epochs × batches' },
    'batch-size': { type: 'integer', check: positive, default: 64, group: RECIPE, help: 'rows per step' },
    lr: { type: 'number', check: positive, default: 1e-3, group: RECIPE, help: 'peak learning rate (linear warmup, linear decay)' },
    'mask-prob': { type: 'number', check: between(0.01, 0.5), default: 0.15, group: RECIPE, help: 'share of real tokens masked' },
    'span-masking': { type: 'boolean', group: RECIPE, help: 'mask contiguous spans with geometric lengths (SpanBERT) instead of single tokens' },
    dropout: { type: 'number', check: ratio, default: 0.1, group: RECIPE, help: 'dropout' },
    'weight-decay': { type: 'number', check: nonNegative, default: 0.01, group: RECIPE, help: 'AdamW weight decay' },
    seed: { type: 'integer', default: 13, group: RECIPE, help: 'initialisation, batch and mask seed' },
    out: { type: 'string', required: true, value: 'DIR', group: RUN, help: 'output directory (bundle/, mlm-head/, report.json, report.md, checkpoint/ while running)' },
    resume: { type: 'boolean', group: RUN, help: 'continue from the checkpoint a killed run left in --out' },
    device: { type: 'string', default: 'auto', choices: ['auto', 'cpu', 'cuda'], group: RUN, help: 'CUDA execution provider when it loads, else CPU' },
    threads: { type: 'integer', check: nonNegative, group: RUN, help: 'onnxruntime threads', defaultHelp: 'one per core' },
    'model-id': { type: 'string', value: 'ID', group: RUN, help: 'modelId recorded in the manifest', defaultHelp: 'livetag-pretrained' },
    quiet: { type: 'boolean', group: RUN, help: 'no progress output' },
  },
  exitCodes: {
    LT_DATA: { status: 3, help: 'no texts to pretrain on' },
  },
});
