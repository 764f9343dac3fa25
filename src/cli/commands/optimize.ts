import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createCommentGenerator } from '../../demo/comment-generator.ts';
import { VARIANT_NAMES, optimizeBundle, type VariantName } from '../../model/variants.ts';
import { usageError, type Command } from '../main.ts';
import { parseLine } from './classify.ts';

const HELP = `usage: livetag optimize --model <bundle> --out <bundle-dir> [--texts file] [--variants fused,int8,fp16]
                        [--min-agreement 0.99] [--threads N] [--seconds S]

Adds serving variants to a bundle: fused (onnxruntime's Attention, SkipLayerNormalization,
BiasGelu), int8 (weights quantized per column, activations at run time; CPU) and fp16 (CUDA).
Each is measured against model.onnx on the texts (plain lines or JSONL with "text"; default:
2000 generated live comments): share of texts with the same tags, largest probability
difference, CPU texts/s side by side. The new bundle serves, per provider, the fastest
variant whose tags agree on at least --min-agreement of the texts; model.onnx stays as the
reference and for training.`;

export const command: Command = {
  summary: 'add measured fused/int8/fp16 serving variants to a bundle',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        out: { type: 'string' },
        texts: { type: 'string' },
        variants: { type: 'string', default: VARIANT_NAMES.join(',') },
        'min-agreement': { type: 'string', default: '0.99' },
        threads: { type: 'string', default: '0' },
        seconds: { type: 'string', default: '2' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if (!values.model || !values.out) throw usageError(`--model and --out are required\n\n${HELP}`);
    const variants = values.variants.split(',').map((v) => v.trim());
    const unknown = variants.filter((v) => !(VARIANT_NAMES as string[]).includes(v));
    if (unknown.length) throw usageError(`unknown variant(s) ${unknown.join(', ')}; known: ${VARIANT_NAMES.join(', ')}`);
    const minAgreement = Number(values['min-agreement']);
    if (!(minAgreement > 0 && minAgreement <= 1)) throw usageError('--min-agreement must be in (0, 1]');

    let texts: string[];
    let source: string;
    if (values.texts) {
      const lines = (await readFile(values.texts, 'utf8')).split('\n');
      texts = lines.flatMap((l, i) => {
        const item = parseLine(l, i + 1);
        return 'text' in item ? [item.text] : [];
      });
      source = `${values.texts} (${texts.length} texts)`;
    } else {
      const gen = createCommentGenerator({ seed: 7 });
      texts = Array.from({ length: 2000 }, () => gen.next().text);
      source = '2000 generated live comments (seed 7)';
    }
    const { manifest, reports, serving } = await optimizeBundle(values.model, values.out, {
      texts,
      textsSource: source,
      variants: variants as VariantName[],
      minAgreement,
      threads: Number(values.threads),
      seconds: Number(values.seconds),
    });
    const out = (s: string): boolean => process.stdout.write(s + '\n');
    out(`measured on ${source}`);
    out('| variant | precision | same tags | max |Δp| | CPU texts/s (base → variant) | speed-up | MB | accepted |');
    out('|---|---|---:|---:|---:|---:|---:|---|');
    for (const r of reports) {
      const a = r.variant.agreement;
      const speed = r.rate && r.baseRate ? `${r.baseRate.toFixed(0)} → ${r.rate.toFixed(0)}` : 'not on CPU';
      const ratio = r.variant.speedup ? `${r.variant.speedup.ratio.toFixed(2)}×` : '–';
      out(`| ${r.name} | ${r.variant.precision} | ${(a.sameTags * 100).toFixed(2)}% | ${a.maxAbsProbDiff.toExponential(1)} | ${speed} | ${ratio} | ${(r.bytes / 1e6).toFixed(1)} | ${r.accepted ? 'yes' : 'no'} |`);
    }
    out(`serving: cpu → ${serving.cpu}, cuda → ${serving.cuda}`);
    out(`wrote ${values.out} (${manifest.modelId} ${manifest.version})`);
    return 0;
  },
};
