import { defineCommand, nonNegative, positive } from '../options.ts';
import { MODEL_FORMS, MODEL_VALUE } from './model-option.ts';

export const classifySpec = defineCommand({
  name: 'classify',
  summary: 'tag text lines or JSONL with a model; one JSONL record per input line',
  description: `Reads plain text lines or JSONL with a "text" field (file or stdin) and writes one JSONL
record per input line, in input order: {"text", "tags": [{"label","score"}], "scores"?}.
Empty or invalid lines give {"line", "error": {"code","reason"}} instead of stopping.`,
  positionals: [{ name: 'file', help: 'input file; absent or - reads stdin' }],
  options: {
    model: { type: 'string', required: true, value: MODEL_VALUE, help: `the model: ${MODEL_FORMS}` },
    'all-scores': { type: 'boolean', help: 'also write every label\'s score ("scores")' },
    'batch-size': { type: 'integer', default: 32, check: positive, help: 'lines classified together' },
    format: { type: 'string', default: 'jsonl', choices: ['jsonl', 'table'], help: 'output: JSONL records, or a table for people' },
    device: { type: 'string', default: 'cpu', choices: ['cpu', 'cuda'], help: 'onnxruntime execution provider' },
    'device-id': { type: 'integer', default: 0, check: nonNegative, help: 'GPU index for cuda' },
    threads: { type: 'integer', default: 0, check: nonNegative, help: 'onnxruntime intra-op threads; 0 lets onnxruntime choose' },
    variant: { type: 'string', default: 'auto', value: 'auto|base|NAME', help: "graph of the bundle (see optimize); auto: the manifest's choice for the provider that loads" },
  },
});
