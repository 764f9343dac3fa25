import { atLeast, defineCommand } from '../options.ts';

export const importHfSpec = defineCommand({
  name: 'import-hf',
  summary: 'import a Hugging Face BERT checkpoint as a livetag bundle',
  description: `Reads a Hugging Face BERT checkpoint and writes a livetag bundle, without Python:
weights from model.safetensors (F32/F16/BF16/F64; integer index buffers such as
position_ids are skipped), pytorch_model.bin (PyTorch's zip or legacy format, read by a
restricted unpickler that accepts tensor records only and executes nothing), or the
sharded index of either; the tokenizer from tokenizer.json, or from vocab.txt +
tokenizer_config.json with BertTokenizer's defaults. BertForSequenceClassification keeps
its head; BertModel, BertForMaskedLM and BertForPreTraining get a new head for --labels
(manifest head: "random"), and so does a head whose width differs from --labels.`,
  positionals: [{ name: 'checkpoint-dir', required: true, help: 'the Hugging Face checkpoint directory' }],
  options: {
    out: { type: 'string', required: true, value: 'DIR', help: 'bundle directory to write' },
    labels: { type: 'string', value: 'a,b,…', help: 'labels of the model (a new head when the checkpoint has none of this width)', defaultHelp: "the checkpoint's id2label" },
    'max-length': { type: 'integer', check: atLeast(3), help: 'token limit', defaultHelp: "the checkpoint's" },
    'model-id': { type: 'string', value: 'ID', help: 'modelId recorded in the manifest' },
  },
});
