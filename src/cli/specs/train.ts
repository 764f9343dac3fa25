import { atLeast, defineCommand, nonNegative, positive, ratio, type Check } from '../options.ts';
import { DEFAULT_NGRAM, MAX_NGRAM_CHARS, NGRAM_SOURCES, NGRAM_TFS } from '../../model/ngram-hash.ts';
import { MODEL_FORMS, MODEL_VALUE } from './model-option.ts';
import { THRESHOLD_OBJECTIVES } from '../../training/recipe.ts';

const splitRatios: Check<readonly string[]> = {
  // Validation chooses the epoch and the thresholds (without it the first epoch would ship,
  // untuned); test decides promotion (without it a challenger would be promoted on nothing).
  test: (parts) => parts.length === 3 && parts.every((p) => p !== '' && Number(p) > 0),
  text: 'three ratios above 0 (train, validation, test), e.g. 0.6,0.2,0.2',
};

const DATA = 'data';
const MODEL = 'model';
const RECIPE = 'recipe';
const CHAMPION = 'champion/challenger';
const RUN = 'run';

export const trainSpec = defineCommand({
  name: 'train',
  summary: 'fine-tune a model on labeled data and decide champion/challenger',
  description: `Fine-tunes a model on labeled JSONL rows ({"text", "labels": [...]}) merged with the training
set of --base, and writes <run-dir>/bundle plus its data, splits and report (see docs/training.md).
Give --data, --labels-topic or --base (or several).`,
  options: {
    data: { type: 'string', multiple: true, value: 'PATH', group: DATA, help: 'JSONL file or directory of *.jsonl' },
    'labels-topic': { type: 'string', value: 'T', group: DATA, help: 'also read new labels from Kafka topic T to its end (offsets committed only after a successful run)' },
    'labels-group': { type: 'string', default: 'livetag-train', value: 'G', group: DATA, help: 'consumer group for --labels-topic' },
    'kafka-brokers': { type: 'string', value: 'B', group: DATA, help: 'brokers for --labels-topic', defaultHelp: '$KAFKA_BROKERS, else $LIVETAG_KAFKA_BROKERS' },
    labels: { type: 'string', value: 'a,b,…', group: DATA, help: 'fixed label set', defaultHelp: "the init/base model's, else all seen" },
    'add-labels': { type: 'boolean', group: DATA, help: 'unknown labels become new labels instead of rejecting their rows' },
    'max-chars': { type: 'integer', check: positive, group: DATA, help: 'reject longer texts', defaultHelp: '1000' },
    seed: { type: 'integer', group: DATA, help: 'split/shuffle/init seed', defaultHelp: '13' },
    split: { type: 'list', check: splitRatios, value: 'a,b,c', group: DATA, help: 'train,validation,test ratios', defaultHelp: '0.6,0.2,0.2' },
    base: { type: 'string', value: MODEL_VALUE, group: MODEL, help: `champion to merge data from and beat: ${MODEL_FORMS}; a run dir brings its training set and pinned splits` },
    init: { type: 'string', value: `scratch|${MODEL_VALUE}|HF_DIR`, group: MODEL, help: 'initial weights: scratch, a model, or a Hugging Face checkpoint dir', defaultHelp: 'scratch, a small config' },
    tokenizer: { type: 'string', value: 'PATH', group: MODEL, help: 'tokenizer.json, or a dir with one or vocab.txt; scratch only', defaultHelp: 'built from the data' },
    'train-layers': { type: 'integer', check: nonNegative, value: 'K', group: MODEL, help: 'train only the top K encoder layers (+ head); lower ones run once in onnxruntime' },
    ngram: { type: 'integer', check: nonNegative, value: 'BUCKETS', group: MODEL, help: 'wide n-gram branch: hash buckets (0: none); trains on onnxruntime only', defaultHelp: '262144 on onnxruntime (a model keeps its own), 0 on tfjs' },
    'ngram-max-n': { type: 'integer', check: positive, value: 'N', group: MODEL, help: 'wide n-gram branch: longest n-gram (1-3)', defaultHelp: '3' },
    'ngram-tf': { type: 'string', choices: NGRAM_TFS, group: MODEL, help: "wide n-gram branch: a repeated n-gram's term frequency (binary: 1; sublinear: 1 + ln count; raw: the count, norm over positions, as bundles before it)", defaultHelp: DEFAULT_NGRAM.tf },
    'ngram-source': { type: 'string', choices: ['auto', ...NGRAM_SOURCES], group: MODEL, help: "wide n-gram branch and baseline: characters of the whole text (NFKC, lower-cased, its own graph input), BERT's token ids (cut at the token limit, as bundles before it), or auto: whichever linear fit has the lower validation log loss (a model's own branch keeps its source)", defaultHelp: 'auto' },
    'ngram-chars': { type: 'integer', check: positive, value: 'N', group: MODEL, help: `wide n-gram branch on text: characters read per text (up to ${MAX_NGRAM_CHARS})`, defaultHelp: String(DEFAULT_NGRAM.maxChars) },
    'ngram-frozen': { type: 'boolean', group: MODEL, help: 'keep the n-gram branch at the linear fit; BERT learns what it misses' },
    'ngram-cold': { type: 'boolean', group: MODEL, help: 'start the n-gram branch from zero instead of the linear baseline fit' },
    hidden: { type: 'integer', check: positive, group: MODEL, help: 'scratch architecture: hidden size' },
    layers: { type: 'integer', check: positive, group: MODEL, help: 'scratch architecture: encoder layers' },
    heads: { type: 'integer', check: positive, group: MODEL, help: 'scratch architecture: attention heads' },
    intermediate: { type: 'integer', check: positive, group: MODEL, help: 'scratch architecture: feed-forward size' },
    'max-length': { type: 'integer', check: atLeast(3), group: MODEL, help: "token limit; past a pretrained encoder's positions it grows them (the learned rows copied)", defaultHelp: "the init model's (a pretrained encoder's: at least 128, within its positions), else 128" },
    recipe: { type: 'string', default: 'livetag', choices: ['livetag', 'seed'], group: RECIPE, help: 'training recipe, see docs/training.md' },
    epochs: { type: 'integer', check: positive, group: RECIPE, help: 'maximum epochs', defaultHelp: "the recipe's" },
    'batch-size': { type: 'integer', check: positive, group: RECIPE, help: 'batch size', defaultHelp: "the recipe's" },
    lr: { type: 'number', check: positive, group: RECIPE, help: 'peak learning rate', defaultHelp: "the recipe's" },
    patience: { type: 'integer', check: nonNegative, group: RECIPE, help: 'early-stopping patience in epochs', defaultHelp: "the recipe's" },
    dropout: { type: 'number', check: ratio, group: RECIPE, help: 'dropout', defaultHelp: "the recipe's" },
    'weight-decay': { type: 'number', check: nonNegative, group: RECIPE, help: 'weight decay', defaultHelp: "the recipe's" },
    loss: { type: 'string', choices: ['bce', 'focal', 'asl', 'sigmoid-bce'], group: RECIPE, help: 'loss', defaultHelp: "the recipe's" },
    'select-by': {
      type: 'string',
      choices: ['macro_f1', 'loss'],
      group: RECIPE,
      help: 'what picks the kept epoch and drives early stopping: validation macro-F1 or validation loss',
      defaultHelp: "the recipe's",
    },
    fusion: {
      type: 'string',
      choices: ['joint', 'late'],
      group: RECIPE,
      help: 'how the wide n-gram branch joins BERT: trained with it from the linear fit, or BERT trained alone and joined with the linear fit at a weight chosen on validation',
      defaultHelp: "the recipe's",
    },
    'ngram-update': {
      type: 'string',
      choices: ['lazy', 'dense'],
      group: RECIPE,
      help: 'how AdamW moves the n-gram table: only the rows a batch touched, or every row each step',
      defaultHelp: "the recipe's",
    },
    'threshold-objective': {
      type: 'string',
      choices: THRESHOLD_OBJECTIVES,
      group: RECIPE,
      help: "what tuned thresholds maximise on validation, starting from each label's F1 choice: texts whose whole tag set is right plus 2 × macro-F1 (subset-macro), whole tag sets alone (exact-match), or each label's own F1 (f1)",
      defaultHelp: "the recipe's",
    },
    'rare-label-floor': {
      type: 'number',
      check: ratio,
      group: RECIPE,
      help: 'lowest tuned threshold for a label with under 10 validation positives (0: none)',
      defaultHelp: "the recipe's",
    },
    'tag-count': {
      type: 'string',
      choices: ['learned', 'any'],
      group: RECIPE,
      help: 'learned: every text gets at least one tag if every labeled row had one, at most one if none had two; any: thresholds alone',
      defaultHelp: "the recipe's",
    },
    'promote-metric': { type: 'string', default: 'macro_f1', choices: ['macro_f1', 'micro_f1', 'subset_accuracy'], group: CHAMPION, help: 'metric the challenger must improve' },
    'promote-margin': { type: 'number', default: 0.01, group: CHAMPION, help: 'required gain over the base on the pinned test split' },
    'promote-to': { type: 'string', value: 'DIR', group: CHAMPION, help: 'on promotion, copy the run (bundle + data) there atomically; when kept, carry its data there beside the champion' },
    out: { type: 'string', required: true, value: 'RUN_DIR', group: RUN, help: 'run directory to write (bundle/, data, splits, report/)' },
    backend: {
      type: 'string',
      default: 'onnxruntime',
      choices: ['onnxruntime', 'auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'],
      group: RUN,
      help: 'training engine: onnxruntime (auto is the same), or the TensorFlow.js engine on its wasm, cpu, tensorflow or tensorflow-gpu backend',
    },
    device: {
      type: 'string',
      default: 'auto',
      choices: ['auto', 'cpu', 'cuda'],
      group: RUN,
      help: 'onnxruntime only: CUDA execution provider when it loads, else CPU with the reason logged',
    },
    'no-resume': { type: 'boolean', group: RUN, help: 'ignore a checkpoint left by a killed run in the run directory' },
    threads: { type: 'integer', check: nonNegative, group: RUN, help: 'onnxruntime threads', defaultHelp: 'one per core' },
    'model-id': { type: 'string', value: 'ID', group: RUN, help: 'modelId recorded in the manifest' },
    quiet: { type: 'boolean', group: RUN, help: 'no progress output' },
  },
  exitCodes: {
    LT_CONFIG_INVALID: { status: 2, help: 'options that do not fit together or the model (e.g. --train-layers beyond its layers)' },
    LT_DATA: { status: 3, help: 'no usable data' },
    LT_PARITY: { status: 4, help: 'exported model disagrees with the training engine, must not be served' },
  },
});
