import { parseArgs } from 'node:util';
import { parseLabelList } from '../../model/labels.ts';
import { writeRandomBundle, type ModelShape } from '../../model/random-bundle.ts';
import { usageError, type Command } from '../main.ts';

const HELP = `usage: livetag make-model --out <bundle-dir> [--shape tiny|small|base] [--tokenizer tokenizer.json]
                          [--labels a,b,…] [--seed N] [--max-length N]

Writes a bundle with random weights at a given shape through the project's ONNX writer:
for tests and speed measurements only (its tags are meaningless). --shape base is
bert-base-chinese's shape (12 layers, hidden 768); pair it with the real tokenizer.`;

export const command: Command = {
  summary: 'generate a random-weight model bundle (tests, benchmarks)',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        shape: { type: 'string', default: 'tiny' },
        tokenizer: { type: 'string' },
        labels: { type: 'string' },
        seed: { type: 'string', default: '42' },
        'max-length': { type: 'string', default: '128' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if (!values.out) throw usageError(`--out is required\n\n${HELP}`);
    if (!['tiny', 'small', 'base'].includes(values.shape)) throw usageError('--shape must be tiny, small or base');
    const manifest = await writeRandomBundle(values.out, {
      shape: values.shape as ModelShape,
      tokenizerPath: values.tokenizer,
      labels: values.labels ? parseLabelList(values.labels) : undefined,
      seed: Number(values.seed),
      maxLength: Number(values['max-length']),
    });
    process.stdout.write(`wrote ${values.out} (${manifest.modelId} ${manifest.version}, ${manifest.files['model.onnx'].bytes} bytes)\n`);
    return 0;
  },
};
