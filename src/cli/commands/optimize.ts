import { readFile } from 'node:fs/promises';
import { createCommentGenerator } from '../../demo/comment-generator.ts';
import { optimizeBundle } from '../../model/build/variants.ts';
import { resolveModelRef } from '../../model/registry/model-ref.ts';
import { createCommand, requireFile } from '../command.ts';
import { parseLine } from '../input-line.ts';
import { optimizeSpec } from '../specs/optimize.ts';

export const command = createCommand(optimizeSpec, async ({ values }) => {
  let texts: string[];
  let source: string;
  if (values.texts) {
    requireFile(values.texts, '--texts');
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
  const { manifest, reports, serving, base } = await optimizeBundle(await resolveModelRef(values.model), values.out, {
    texts,
    textsSource: source,
    variants: values.variants,
    minAgreement: values['min-agreement'],
    threads: values.threads,
    seconds: values.seconds,
  });
  const out = (s: string): boolean => process.stdout.write(s + '\n');
  out(`measured on ${source}`);
  if (base.changed) {
    const speed = base.rate && base.baseRate ? `, CPU texts/s ${base.baseRate.toFixed(0)} → ${base.rate.toFixed(0)}` : '';
    const how = `same tags ${(base.sameTags! * 100).toFixed(2)}%, max |Δp| ${base.maxAbsProbDiff!.toExponential(1)}${speed}`;
    out(base.accepted ? `model.onnx: rewritten from its weights by this livetag's graph writer (${how})` : `model.onnx: kept; this livetag's graph writer gives another model (${how})`);
  }
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
});
