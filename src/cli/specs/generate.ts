import { DEFAULT_LABELS } from '../../model/labels.ts';
import { defineCommand, nonNegative } from '../options.ts';

export const generateSpec = defineCommand({
  name: 'generate',
  summary: 'generate synthetic live-commerce comments (labeled JSONL, a demo stream, or text)',
  description: 'Writes synthetic Chinese live-commerce comments to stdout, the same ones for the same seed.',
  options: {
    count: { type: 'integer', default: 1000, check: nonNegative, help: 'how many comments' },
    seed: { type: 'integer', default: 1, check: nonNegative, help: 'PRNG seed' },
    labeled: { type: 'boolean', help: 'JSONL {"text","labels","room","user"} (the default): training or test data' },
    'no-labeled': { type: 'boolean', help: 'JSONL {"text","room","user"}: a demo stream for the service to tag' },
    labels: { type: 'string', value: 'a,b,…', help: 'tags to generate', defaultHelp: `all ${DEFAULT_LABELS.length}: ${DEFAULT_LABELS.join(',')}` },
    format: { type: 'string', default: 'jsonl', choices: ['jsonl', 'text'], help: 'jsonl, or text: one comment a line, nothing else' },
  },
});
