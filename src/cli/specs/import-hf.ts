import { atLeast, defineCommand } from '../options.ts';

export const importHfSpec = defineCommand({
  name: 'import-hf',
  summary: 'import a Hugging Face BERT checkpoint as a livetag bundle',
  description: `Reads a Hugging Face BERT checkpoint (config.json, model.safetensors in F32/F16/BF16,
tokenizer.json or vocab.txt + tokenizer_config.json) and writes a livetag bundle.
A checkpoint without a classification head (e.g. bert-base-chinese) gets a new head
for --labels; the manifest records head: "random".`,
  positionals: [{ name: 'checkpoint-dir', required: true, help: 'the Hugging Face checkpoint directory' }],
  options: {
    out: { type: 'string', required: true, value: 'DIR', help: 'bundle directory to write' },
    labels: { type: 'string', value: 'a,b,…', help: 'labels of a new head', defaultHelp: "the checkpoint's id2label" },
    'max-length': { type: 'integer', check: atLeast(3), help: 'token limit', defaultHelp: "the checkpoint's" },
    'model-id': { type: 'string', value: 'ID', help: 'modelId recorded in the manifest' },
  },
});
