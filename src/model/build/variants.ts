import { BASE_VARIANT, type LoadedBundle, type Manifest, type ServingChoice, type Variant } from '../manifest.ts';
import { loadBundle } from '../runtime/load-bundle.ts';
import { writeBundleWithVariants, type VariantFile } from './write-bundle.ts';
import { createDecider, type Classification } from '../runtime/classifier.ts';
import { buildBertOnnx } from './onnx-graph.ts';
import { int8WeightRange, readBertWeights } from '../onnx-reader.ts';
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

/** model.onnx written again from its weights by this livetag's graph writer, measured like a variant. */
export interface BaseRewrite {
  /** False: the bundle's graph is already what this writer writes, nothing was measured. */
  readonly changed: boolean;
  /** The new bundle's model.onnx is the rewritten graph. */
  readonly accepted: boolean;
  readonly sameTags?: number;
  readonly maxAbsProbDiff?: number;
  /** CPU texts/s of the old graph and of the rewritten one, side by side. */
  readonly baseRate?: number;
  readonly rate?: number;
}

/**
 * A rewritten model.onnx replaces the old one only when it is the same model
 * to float rounding: every text keeps its tags, no probability moves by more.
 */
export const REWRITE_MAX_PROB_DIFF = 1e-4;

export interface OptimizeReport {
  readonly manifest: Manifest;
  readonly reports: readonly VariantReport[];
  readonly serving: ServingChoice;
  readonly base: BaseRewrite;
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
 * keeps the tags: int8 or fused on CPU when they pass, fp16 on CUDA. A bundle
 * written by an older livetag also gets model.onnx from today's writer (the
 * same weights; later writers compute less, e.g. the last layer on [CLS]
 * alone) when that graph is the same model to float rounding.
 */
export async function optimizeBundle(sourceDir: string, outDir: string, opts: OptimizeOptions): Promise<OptimizeReport> {
  if (opts.texts.length === 0) throw new LivetagError('LT_DATA', 'optimize needs texts to measure agreement on');
  let source = await loadBundle(sourceDir, { variants: [] });
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
  let base = await createOrtRunner(source.modelBytes, session);
  // The reference decisions, once for every graph measured.
  const reference: Classification[][] = [];
  for (const b of batches) reference.push(decide(await base.run(b), b.batchSize, true));

  /** `bytes` against the reference: the share of texts with the same tags, the largest probability difference, CPU texts/s beside the base graph's. */
  async function measure(bytes: Uint8Array, timeOnCpu: boolean): Promise<{ runner: OrtRunner; sameTags: number; maxAbsProbDiff: number; baseRate?: number; rate?: number }> {
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
      const result = { runner, sameTags: same / opts.texts.length, maxAbsProbDiff: worst };
      if (!timeOnCpu) return result;
      // Alternating rounds spread a noisy machine's drift over both.
      const timed = batches.slice(0, Math.min(batches.length, 16));
      const b1 = await timeRate(base, timed, seconds);
      const v1 = await timeRate(runner, timed, seconds);
      const b2 = await timeRate(base, timed, seconds);
      const v2 = await timeRate(runner, timed, seconds);
      return { ...result, baseRate: (b1 + b2) / 2, rate: (v1 + v2) / 2 };
    } catch (e) {
      await runner.release();
      throw e;
    }
  }

  const files: VariantFile[] = [];
  const reports: VariantReport[] = [];
  let rewrite: BaseRewrite = { changed: false, accepted: false };
  try {
    const config = manifest.architecture;
    const rewritten = buildBertOnnx(config, readBertWeights(config, source.modelBytes), { meta: { 'livetag.model_id': manifest.modelId } });
    if (!Buffer.from(rewritten).equals(Buffer.from(source.modelBytes))) {
      const { runner, ...m } = await measure(rewritten, true);
      rewrite = { changed: true, accepted: m.sameTags === 1 && m.maxAbsProbDiff <= REWRITE_MAX_PROB_DIFF, ...m };
      // Variants are then timed against the graph the new bundle keeps as model.onnx.
      const [keep, drop] = rewrite.accepted ? [runner, base] : [base, runner];
      await drop.release();
      base = keep;
      if (rewrite.accepted) source = { ...source, modelBytes: rewritten };
    }
    for (const name of names) {
      const bytes = buildVariantGraph(source, name);
      const kind = VARIANT_KINDS[name];
      const { runner, sameTags, maxAbsProbDiff, baseRate, rate } = await measure(bytes, (kind.devices as readonly string[]).includes('cpu'));
      await runner.release();
      const variant: Variant = {
        file: `model.${name}.onnx`,
        precision: kind.precision,
        fused: true,
        devices: [...kind.devices],
        agreement: { texts: opts.texts.length, sameTags, maxAbsProbDiff, measuredOn: opts.textsSource },
        // Read from the graph, not assumed: the manifest's word stands in for a scan at every load.
        ...(kind.precision === 'int8' ? { int8WeightMax: int8WeightRange(bytes) } : {}),
        ...(rate && baseRate ? { speedup: { device: 'cpu' as const, batch: batchSize, ratio: rate / baseRate } } : {}),
      };
      files.push({ name, variant, bytes });
      reports.push({ name, variant, bytes: bytes.byteLength, accepted: sameTags >= minAgreement, baseRate, rate });
    }
  } finally {
    await base.release();
  }
  const serving = chooseServing(reports);
  const written = await writeBundleWithVariants(outDir, source, files, serving);
  return { manifest: written, reports, serving, base: rewrite };
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
