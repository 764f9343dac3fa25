import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseBertConfig } from '../../src/model/bert-config.ts';
import { writeBundle } from '../../src/model/build/write-bundle.ts';
import { loadBundle } from '../../src/model/runtime/load-bundle.ts';
import { readBertWeights } from '../../src/model/onnx-reader.ts';

/**
 * The bundle's BERT without its wide n-gram branch, for speed comparisons
 * with other runtimes: transformers.js and a raw session take one graph of
 * token inputs, and issue 15 keeps those comparisons on the plain BERT graph.
 * The encoder and head weights are the bundle's own (under late fusion the
 * head carries BERT's share of the logits, so tags can differ from the
 * shipped model's; the arithmetic is the same). A bundle without a branch is
 * returned as it is; the plain one is written once per bundle version.
 */
export async function plainBertBundle(bundleDir: string, workDir: string): Promise<string> {
  const bundle = await loadBundle(bundleDir);
  const m = bundle.manifest;
  if (!m.architecture.ngram) return bundleDir;
  const weights = readBertWeights(m.architecture, bundle.modelBytes);
  const { ngram: _branch, ...rest } = m.architecture;
  const architecture = parseBertConfig(rest);
  const dir = join(workDir, `${m.modelId}-${m.version}-plain-bert`);
  if (existsSync(join(dir, 'manifest.json'))) return dir;
  await writeBundle(
    dir,
    {
      modelId: `${m.modelId}-plain-bert`,
      parentVersion: m.version,
      labels: m.labels,
      thresholds: m.thresholds,
      maxSequenceLength: m.maxSequenceLength,
      architecture,
      tokenizerJson: bundle.tokenizerJson,
      head: m.head,
      source: `${m.source}; its BERT alone (wide branch removed) for speed comparisons`,
    },
    new Map([...weights].filter(([name]) => !name.startsWith('ngram.'))),
  );
  return dir;
}
