import { replaceDirAtomically, writeFiles } from '../../common/atomic-write.ts';
import type { BertConfig } from '../bert-config.ts';
import { BUNDLE_FORMAT_VERSION, MANIFEST_FILE, MODEL_FILE, TOKENIZER_FILE, parseManifest, sha256, type LoadedBundle, type Manifest, type ServingChoice, type TrainingInfo, type Variant } from '../manifest.ts';
import { ONNX_OPSET, OUTPUT_NAME } from '../onnx-names.ts';
import type { TagCount } from '../runtime/select-tags.ts';
import type { WeightMap } from '../weights.ts';
import { buildBertOnnx, servingInputs } from './onnx-graph.ts';

export interface BundleSpec {
  readonly modelId: string;
  readonly version?: string;
  readonly parentVersion?: string | null;
  readonly labels: readonly string[];
  readonly thresholds?: readonly number[];
  readonly tagCount?: TagCount;
  readonly maxSequenceLength: number;
  readonly architecture: BertConfig;
  readonly tokenizerJson: string;
  readonly head: Manifest['head'];
  readonly source: string;
  readonly training?: TrainingInfo;
  readonly precision?: Manifest['onnx']['precision'];
}

/** Writes weights through the project's ONNX writer into a new bundle. */
export async function writeBundle(dir: string, spec: BundleSpec, weights: WeightMap): Promise<Manifest> {
  const model = buildBertOnnx(spec.architecture, weights, { meta: { 'livetag.model_id': spec.modelId } });
  return writeBundleFiles(dir, spec, model);
}

function defaultVersion(modelHash: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${modelHash.slice(0, 8)}`;
}

/** Writes a bundle from an already-built ONNX graph. */
export async function writeBundleFiles(dir: string, spec: BundleSpec, model: Uint8Array): Promise<Manifest> {
  const tokenizerBytes = Buffer.from(spec.tokenizerJson, 'utf8');
  const modelHash = sha256(model);
  const manifest = parseManifest({
    formatVersion: BUNDLE_FORMAT_VERSION,
    modelId: spec.modelId,
    version: spec.version ?? defaultVersion(modelHash),
    createdAt: new Date().toISOString(),
    parentVersion: spec.parentVersion ?? null,
    labels: [...spec.labels],
    thresholds: spec.thresholds ? [...spec.thresholds] : spec.labels.map(() => 0.5),
    ...(spec.tagCount ? { tagCount: { ...spec.tagCount } } : {}),
    maxSequenceLength: spec.maxSequenceLength,
    architecture: { ...spec.architecture },
    onnx: { inputs: [...servingInputs(spec.architecture)], output: OUTPUT_NAME, opset: ONNX_OPSET, precision: spec.precision ?? 'fp32' },
    head: spec.head,
    source: spec.source,
    files: {
      [MODEL_FILE]: { sha256: modelHash, bytes: model.byteLength },
      [TOKENIZER_FILE]: { sha256: sha256(tokenizerBytes), bytes: tokenizerBytes.length },
    },
    ...(spec.training ? { training: spec.training } : {}),
  });
  await writeAtomically(dir, manifest, new Map([[MODEL_FILE, model], [TOKENIZER_FILE, tokenizerBytes]]));
  return manifest;
}

async function writeAtomically(dir: string, manifest: Manifest, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
  // An earlier bundle here is replaced; anything else (a checkpoint being imported, --out .) is refused.
  await replaceDirAtomically(dir, (tmp) => writeFiles(tmp, [...files, [MANIFEST_FILE, JSON.stringify(manifest, null, 2) + '\n']]), { ownedBy: [MANIFEST_FILE] });
}

export interface VariantFile {
  readonly name: string;
  readonly variant: Variant;
  readonly bytes: Uint8Array;
}

/**
 * Writes `source` again with serving variants beside model.onnx (replacing
 * any it had) and which one `auto` serves per provider. The result is a new
 * version whose parent is the source.
 */
export async function writeBundleWithVariants(dir: string, source: LoadedBundle, variants: readonly VariantFile[], serving: ServingChoice, version?: string): Promise<Manifest> {
  const base = source.manifest;
  const tokenizerBytes = Buffer.from(source.tokenizerJson, 'utf8');
  const files = new Map<string, Uint8Array>([[MODEL_FILE, source.modelBytes], [TOKENIZER_FILE, tokenizerBytes]]);
  for (const v of variants) files.set(v.variant.file, v.bytes);
  const { variants: _old, serving: _s, ...rest } = base;
  const manifest = parseManifest({
    ...rest,
    version: version ?? `${base.version.replace(/-opt$/, '')}-opt`,
    createdAt: new Date().toISOString(),
    parentVersion: base.version,
    files: Object.fromEntries([...files].map(([f, b]) => [f, { sha256: sha256(b), bytes: b.byteLength }])),
    variants: Object.fromEntries(variants.map((v) => [v.name, v.variant])),
    serving,
  });
  await writeAtomically(dir, manifest, files);
  return manifest;
}
