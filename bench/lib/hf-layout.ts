import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { hfConfig } from '../../src/model/build/hf-export.ts';
import { ManifestSchema } from '../../src/model/manifest.ts';

/**
 * The same model files laid out as a Hugging Face model directory
 * (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx) so
 * transformers.js's pipeline can load them. model.onnx is a hard link to the
 * bundle's file (a copy across devices): the very same graph.
 */
export function exportHfLayout(bundleDir: string, outDir: string): void {
  const m = ManifestSchema.parse(JSON.parse(readFileSync(join(bundleDir, 'manifest.json'), 'utf8')));
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, 'onnx'), { recursive: true });
  // problem_type multi_label_classification: transformers.js applies a sigmoid per label.
  const config = hfConfig(m);
  writeFileSync(join(outDir, 'config.json'), JSON.stringify(config, null, 2));
  // Without pad_token transformers.js cannot pad a batch of different lengths.
  const tokenizerConfig = {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    tokenize_chinese_chars: true,
    model_max_length: m.maxSequenceLength,
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    mask_token: '[MASK]',
  };
  writeFileSync(join(outDir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2));
  copyFileSync(join(bundleDir, 'tokenizer.json'), join(outDir, 'tokenizer.json'));
  const target = join(outDir, 'onnx', 'model.onnx');
  try {
    linkSync(join(bundleDir, 'model.onnx'), target);
  } catch {
    if (!existsSync(target)) copyFileSync(join(bundleDir, 'model.onnx'), target);
  }
}
