import { parseArgs } from 'node:util';
import { importHf } from '../../model/hf-import.ts';
import { parseLabelList } from '../../model/labels.ts';
import { usageError, type Command } from '../main.ts';

const HELP = `usage: livetag import-hf <checkpoint-dir> --out <bundle-dir> [--labels a,b,…] [--max-length N] [--model-id ID]

Reads a Hugging Face BERT checkpoint (config.json, model.safetensors in F32/F16/BF16,
tokenizer.json or vocab.txt + tokenizer_config.json) and writes a livetag bundle.
A checkpoint without a classification head (e.g. bert-base-chinese) gets a new head
for --labels; the manifest records head: "random".`;

export const command: Command = {
  summary: 'import a Hugging Face BERT checkpoint as a livetag bundle',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        labels: { type: 'string' },
        'max-length': { type: 'string' },
        'model-id': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const [dir] = positionals;
    if (!dir || !values.out) throw usageError(`a checkpoint directory and --out are required\n\n${HELP}`);
    const maxLength = values['max-length'] === undefined ? undefined : Number(values['max-length']);
    if (maxLength !== undefined && !(Number.isInteger(maxLength) && maxLength >= 3)) throw usageError('--max-length must be an integer ≥ 3');
    const { manifest, checkpoint } = await importHf(dir, values.out, {
      labels: values.labels ? parseLabelList(values.labels) : undefined,
      maxLength,
      modelId: values['model-id'],
    });
    const a = manifest.architecture;
    process.stdout.write(
      [
        `wrote ${values.out} (version ${manifest.version})`,
        `  architecture: ${a.numLayers} layers, hidden ${a.hiddenSize}, ${a.numHeads} heads, vocab ${a.vocabSize}, max length ${manifest.maxSequenceLength}`,
        `  labels (${manifest.labels.length}): ${manifest.labels.join(', ')}`,
        `  head: ${manifest.head}${checkpoint.initialised.length ? ` (initialised: ${checkpoint.initialised.join(', ')})` : ''}`,
        checkpoint.ignored.length ? `  ignored tensors: ${checkpoint.ignored.join(', ')}` : '  ignored tensors: none',
      ].join('\n') + '\n',
    );
    return 0;
  },
};
