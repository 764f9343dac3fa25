import { defineCommand, positive } from '../options.ts';

export const makeModelSpec = defineCommand({
  name: 'make-model',
  summary: 'generate a random-weight model bundle (tests, benchmarks)',
  description: `Writes a bundle with random weights at a given shape through the project's ONNX writer:
for tests and speed measurements only (its tags are meaningless). --shape base is
bert-base-chinese's shape (12 layers, hidden 768); pair it with the real tokenizer.`,
  options: {
    out: { type: 'string', required: true, value: 'DIR', help: 'bundle directory to write' },
    shape: { type: 'string', default: 'tiny', choices: ['tiny', 'small', 'base'], help: 'architecture size' },
    tokenizer: { type: 'string', value: 'FILE', help: 'tokenizer.json to use', defaultHelp: 'a generated character vocabulary' },
    labels: { type: 'string', value: 'a,b,…', help: 'labels', defaultHelp: 'the 13 live-commerce tags' },
    seed: { type: 'integer', default: 42, help: 'weight seed' },
    'max-length': { type: 'integer', default: 128, check: positive, help: 'token limit' },
  },
});
