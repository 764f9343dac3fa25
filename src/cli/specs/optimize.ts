import { defineCommand, nonNegative, positive, share } from '../options.ts';
import { MODEL_FORMS, MODEL_VALUE } from './model-option.ts';

/** src/model/build/variants.ts VARIANT_NAMES, repeated so `livetag --help` need not load onnxruntime (a test keeps them equal). */
export const OPTIMIZE_VARIANTS = ['fused', 'int8', 'fp16'] as const;

export const optimizeSpec = defineCommand({
  name: 'optimize',
  summary: 'add measured fused/int8/fp16 serving variants to a bundle',
  description: `Adds serving variants to a bundle: fused (onnxruntime's Attention, SkipLayerNormalization,
BiasGelu), int8 (weights quantized per column, activations at run time; CPU) and fp16 (CUDA).
Each is measured against model.onnx on the texts (plain lines or JSONL with "text"; default:
2000 generated live comments): share of texts with the same tags, largest probability
difference, CPU texts/s side by side. The new bundle serves, per provider, the fastest
variant whose tags agree on at least --min-agreement of the texts; model.onnx stays as the
reference and for training.`,
  options: {
    model: { type: 'string', required: true, value: MODEL_VALUE, help: `the model: ${MODEL_FORMS}` },
    out: { type: 'string', required: true, value: 'DIR', help: 'bundle directory to write' },
    texts: { type: 'string', value: 'FILE', help: 'texts to measure on: plain lines or JSONL with "text"', defaultHelp: '2000 generated live comments' },
    variants: { type: 'list', default: OPTIMIZE_VARIANTS, choices: OPTIMIZE_VARIANTS, help: 'variants to build and measure' },
    'min-agreement': { type: 'number', default: 0.99, check: share, help: 'share of texts whose tags a served variant must keep' },
    threads: { type: 'integer', default: 0, check: nonNegative, help: 'onnxruntime threads; 0: one per core' },
    seconds: { type: 'number', default: 2, check: positive, help: 'seconds of timing per variant' },
  },
  exitCodes: {
    LT_DATA: { status: 2, help: '--texts holds no text to measure on' },
  },
});
