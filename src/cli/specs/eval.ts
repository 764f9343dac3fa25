import { defineCommand, nonNegative } from '../options.ts';
import { MODEL_FORMS, MODEL_VALUE } from './model-option.ts';

export const evalSpec = defineCommand({
  name: 'eval',
  summary: 'score a model on labeled JSONL (subset accuracy, micro/macro-F1, per label)',
  description: `Scores a bundle on labeled JSONL ({"text", "labels": [...]}) with its own tokenizer,
onnxruntime and its manifest's thresholds, and prints JSON: subset_accuracy, micro_f1,
macro_f1, hamming_loss, per_label {label: {precision, recall, f1, support}}.
Rows with labels the model does not know, and invalid rows, are skipped and reported on stderr;
when no row is left there is nothing to score, and it exits 3.`,
  options: {
    model: { type: 'string', required: true, value: MODEL_VALUE, help: `the model: ${MODEL_FORMS}` },
    data: { type: 'string', multiple: true, required: true, value: 'PATH', help: 'labeled JSONL file or directory of *.jsonl' },
    threads: { type: 'integer', check: nonNegative, help: 'onnxruntime threads', defaultHelp: 'one per core' },
    variant: { type: 'string', default: 'auto', value: 'auto|base|NAME', help: 'graph of the bundle to score; auto: what serve runs on CPU' },
  },
  exitCodes: {
    LT_DATA: { status: 3, help: 'no row left to score (empty, or every row rejected; a path that does not exist is a usage error)' },
  },
});
