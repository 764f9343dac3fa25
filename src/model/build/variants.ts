import { BASE_VARIANT, type LoadedBundle, type Manifest, type ServingChoice, type Variant } from '../manifest.ts';
import { loadBundle } from '../runtime/load-bundle.ts';
import { writeBundleWithVariants, type VariantFile } from './write-bundle.ts';
import { createDecider, type Classification } from '../runtime/classifier.ts';
import { buildBertOnnx } from './onnx-graph.ts';
import { readBertWeights } from '../onnx-reader.ts';
import { createOrtRunner, type OrtRunner } from '../runtime/onnx-session.ts';
import { textChars } from '../ngram-hash.ts';
import { createTextEncoder, type EncodedBatch } from '../tokenizer.ts';
import { LivetagError } from '../../common/errors.ts';

/** What each serving variant is: the writer options and the providers it is for. */
export const VARIANT_KINDS = {
  fused: { precision: 'fp32', devices: ['cpu', 'cuda'] },
  int8: { precision: 'int8', devices: ['cpu'] },
  fp16: { precision: 'fp16', devices: ['cuda'] },
} as const satisfies Record<string, { precision: Variant['precision']; devices: Variant['devices'] }>;

export type VariantName = keyof typeof VARIANT_KINDS;
export const VARIANT_NAMES = Object.keys(VARIANT_KINDS) as VariantName[];

export interface OptimizeOptions {
  /** Texts the agreement and the speed are measured on (real traffic when there is some). */
  readonly texts: readonly string[];
  /** Where the texts come from, recorded in the manifest. */
  readonly textsSource: string;
  readonly variants?: readonly VariantName[];
  /** A variant is served only if it gives the base graph's tags on at least this share of texts. */
  readonly minAgreement?: number;
  readonly threads?: number;
  readonly batchSize?: number;
  /** Seconds of timing per variant and round (two rounds, alternating). */
  readonly seconds?: number;
}

export interface VariantReport {
  readonly name: string;
  readonly variant: Variant;
  readonly bytes: number;
  readonly accepted: boolean;
  /** texts/s of the base graph and of this variant on CPU, side by side. */
  readonly baseRate?: number;
  readonly rate?: number;
}

export interface OptimizeReport {
  readonly manifest: Manifest;
  readonly reports: readonly VariantReport[];
  readonly serving: ServingChoice;
}

/** The graph of a variant, from the weights in model.onnx. */
export function buildVariantGraph(bundle: LoadedBundle, name: VariantName): Uint8Array {
  const config = bundle.manifest.architecture;
  const weights = readBertWeights(config, bundle.modelBytes);
  return buildBertOnnx(config, weights, {
    fused: true,
    precision: VARIANT_KINDS[name].precision,
    meta: { 'livetag.model_id': bundle.manifest.modelId, 'livetag.variant': name },
  });
}

const tagKey = (c: Classification): string =>
  c.tags
    .map((x) => x.label)
    .sort()
    .join(',');

async function timeRate(runner: OrtRunner, batches: readonly EncodedBatch[], seconds: number): Promise<number> {
  await runner.run(batches[0]);
  let n = 0;
  let k = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000 || k < batches.length) {
    const b = batches[k++ % batches.length];
    await runner.run(b);
    n += b.batchSize;
  }
  return n / ((performance.now() - start) / 1000);
}

/**
 * Builds serving variants of a bundle, measures each against model.onnx on
 * the given texts (same tags, max probability difference, CPU speed), and
 * writes a new bundle that serves, per provider, the fastest variant that
 * keeps the tags: int8 or fused on CPU when they pass, fp16 on CUDA.
 */
export async function optimizeBundle(sourceDir: string, outDir: string, opts: OptimizeOptions): Promise<OptimizeReport> {
  if (opts.texts.length === 0) throw new LivetagError('LT_DATA', 'optimize needs texts to measure agreement on');
  const source = await loadBundle(sourceDir, { variants: [] });
  const { manifest } = source;
  const names = opts.variants ?? VARIANT_NAMES;
  const minAgreement = opts.minAgreement ?? 0.99;
  const batchSize = opts.batchSize ?? 32;
  const seconds = opts.seconds ?? 2;
  const encoder = createTextEncoder(source.tokenizerJson, manifest.maxSequenceLength, { ngramChars: textChars(manifest.architecture.ngram) });
  const decide = createDecider(manifest.labels, manifest.thresholds, manifest.tagCount);
  const batches: EncodedBatch[] = [];
  for (let i = 0; i < opts.texts.length; i += batchSize) batches.push(await encoder.encode(opts.texts.slice(i, i + batchSize)));

  const session = { threads: opts.threads ?? 0 };
  const base = await createOrtRunner(source.modelBytes, session);
  // The reference decisions, once for every variant.
  const reference: Classification[][] = [];
  for (const b of batches) reference.push(decide(await base.run(b), b.batchSize, true));

  const files: VariantFile[] = [];
  const reports: VariantReport[] = [];
  try {
    for (const name of names) {
      const bytes = buildVariantGraph(source, name);
      const runner = await createOrtRunner(bytes, session);
      try {
        let same = 0;
        let worst = 0;
        for (let i = 0; i < batches.length; i++) {
          const a = reference[i];
          const b = decide(await runner.run(batches[i]), batches[i].batchSize, true);
          for (let t = 0; t < a.length; t++) {
            if (tagKey(a[t]) === tagKey(b[t])) same++;
            for (const label of manifest.labels) worst = Math.max(worst, Math.abs(a[t].scores![label] - b[t].scores![label]));
          }
        }
        const kind = VARIANT_KINDS[name];
        const sameTags = same / opts.texts.length;
        let baseRate: number | undefined;
        let rate: number | undefined;
        if ((kind.devices as readonly string[]).includes('cpu')) {
          // Alternating rounds spread a noisy machine's drift over both.
          const timed = batches.slice(0, Math.min(batches.length, 16));
          const b1 = await timeRate(base, timed, seconds);
          const v1 = await timeRate(runner, timed, seconds);
          const b2 = await timeRate(base, timed, seconds);
          const v2 = await timeRate(runner, timed, seconds);
          [baseRate, rate] = [(b1 + b2) / 2, (v1 + v2) / 2];
        }
        const variant: Variant = {
          file: `model.${name}.onnx`,
          precision: kind.precision,
          fused: true,
          devices: [...kind.devices],
          agreement: { texts: opts.texts.length, sameTags, maxAbsProbDiff: worst, measuredOn: opts.textsSource },
          ...(rate && baseRate ? { speedup: { device: 'cpu' as const, batch: batchSize, ratio: rate / baseRate } } : {}),
        };
        files.push({ name, variant, bytes });
        reports.push({ name, variant, bytes: bytes.byteLength, accepted: sameTags >= minAgreement, baseRate, rate });
      } finally {
        await runner.release();
      }
    }
  } finally {
    await base.release();
  }
  const serving = chooseServing(reports);
  const written = await writeBundleWithVariants(outDir, source, files, serving);
  return { manifest: written, reports, serving };
}

/**
 * CPU: the fastest accepted CPU variant, if it beats the base graph at all.
 * CUDA: fp16, else fused, when accepted (speed on CUDA cannot be measured
 * without a GPU; both are the standard choice there).
 */
export function chooseServing(reports: readonly VariantReport[]): ServingChoice {
  let cpu = BASE_VARIANT;
  let best = 1;
  for (const r of reports) {
    const ratio = r.variant.speedup?.ratio ?? 0;
    if (r.accepted && r.variant.devices.includes('cpu') && ratio > best) [cpu, best] = [r.name, ratio];
  }
  const cuda = ['fp16', 'fused'].find((n) => reports.some((r) => r.name === n && r.accepted)) ?? BASE_VARIANT;
  return { cpu, cuda };
}
