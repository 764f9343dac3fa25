import { defineCommand } from '../options.ts';
import { MODEL_FORMS } from './model-option.ts';

export const exportHfSpec = defineCommand({
  name: 'export-hf',
  summary: 'export a bundle as a Hugging Face BertForSequenceClassification directory',
  description: `Writes a directory that BertForSequenceClassification.from_pretrained and AutoTokenizer
load: config.json (architectures, id2label/label2id, problem_type multi_label_classification,
the model's sizes), model.safetensors with Hugging Face tensor names, tokenizer.json (+ vocab.txt
and tokenizer_config.json for a BERT WordPiece tokenizer), the per-label thresholds in
livetag_thresholds.json and a README on using them. Before writing anything it checks that the
bundle is plain BERT: a manifest field it does not know (such as an n-gram branch in the head)
is refused with the reason, and onnxruntime must give the same logits (≤ 1e-5) on the bundle's
graph and on a BERT rebuilt from the exported weights.`,
  positionals: [{ name: 'model', required: true, help: `the model to export: ${MODEL_FORMS}` }],
  options: {
    out: { type: 'string', required: true, value: 'DIR', help: 'new (or empty) directory to write' },
  },
  exitCodes: {
    LT_HF_EXPORT: { status: 2, help: 'the bundle cannot be expressed as BertForSequenceClassification, or --out is not empty; nothing was written' },
  },
});
