import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { BertConfigSchema, type BertConfig } from './bert-config.ts';
import { INPUT_NAMES, ONNX_OPSET, OUTPUT_NAME, buildBertOnnx, summarizeOnnx } from './onnx-graph.ts';
import { parseTokenizer } from './tokenizer.ts';
import type { WeightMap } from './weights.ts';
import { LivetagError } from '../common/errors.ts';
import { deepFreeze } from '../common/freeze.ts';
import { pathExists } from '../common/fs.ts';

export const BUNDLE_FORMAT_VERSION = 1;
export const MODEL_FILE = 'model.onnx';
export const TOKENIZER_FILE = 'tokenizer.json';
export const MANIFEST_FILE = 'manifest.json';

const FileEntrySchema = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().nonnegative() });

/** What a training run says about itself; the trainer owns the contents. */
export const TrainingInfoSchema = z.object({
  recipe: z.string(),
  trainedOn: z.string(),
  evaluatedOn: z.string().optional(),
  metrics: z.record(z.string(), z.number()).optional(),
  perLabel: z
    .record(z.string(), z.object({ precision: z.number(), recall: z.number(), f1: z.number(), support: z.number() }))
    .optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

/** The standard fp32 graph, model.onnx: what training reads and every other variant is derived from. */
export const BASE_VARIANT = 'base';

/**
 * A serving variant of model.onnx (fused, int8, fp16), written by
 * `livetag optimize` with the agreement it measured against the base graph.
 */
export const VariantSchema = z.object({
  file: z.string().regex(/^model\.[a-z0-9-]+\.onnx$/),
  precision: z.enum(['fp32', 'fp16', 'int8']),
  fused: z.boolean(),
  /** Providers it is built for; others can run it, usually slower. */
  devices: z.array(z.enum(['cpu', 'cuda'])).min(1),
  agreement: z.object({
    texts: z.number().int().positive(),
    /** Share of texts whose tag set equals the base graph's. */
    sameTags: z.number().min(0).max(1),
    maxAbsProbDiff: z.number().nonnegative(),
    measuredOn: z.string(),
  }),
  /** texts/s relative to the base graph, where measured (CPU, one batch size). */
  speedup: z.object({ device: z.enum(['cpu', 'cuda']), batch: z.number().int().positive(), ratio: z.number().positive() }).optional(),
});

/** Which variant `auto` serves on each provider ("base" or a key of variants). */
export const ServingSchema = z.object({ cpu: z.string(), cuda: z.string() });

export const ManifestSchema = z
  .object({
    formatVersion: z.literal(BUNDLE_FORMAT_VERSION),
    modelId: z.string().min(1),
    version: z.string().min(1).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_", "-" only'),
    createdAt: z.iso.datetime(),
    parentVersion: z.string().nullable(),
    labels: z.array(z.string().min(1)).min(1),
    thresholds: z.array(z.number().min(0).max(1)),
    maxSequenceLength: z.number().int().min(3),
    architecture: BertConfigSchema,
    onnx: z.object({
      inputs: z.array(z.string()).min(1),
      output: z.string(),
      opset: z.number().int(),
      precision: z.enum(['fp32', 'fp16', 'int8']),
    }),
    head: z.enum(['trained', 'pretrained', 'random']),
    source: z.string(),
    files: z.record(z.string(), FileEntrySchema),
    training: TrainingInfoSchema.optional(),
    variants: z.record(z.string().regex(/^[a-z0-9-]+$/), VariantSchema).optional(),
    serving: ServingSchema.optional(),
  })
  .superRefine((m, ctx) => {
    for (const [name, v] of Object.entries(m.variants ?? {})) {
      if (name === BASE_VARIANT) ctx.addIssue({ code: 'custom', path: ['variants', name], message: `"${BASE_VARIANT}" names model.onnx itself` });
      if (!m.files[v.file]) ctx.addIssue({ code: 'custom', path: ['variants', name, 'file'], message: `${v.file} is not listed in files` });
    }
    for (const device of ['cpu', 'cuda'] as const) {
      const name = m.serving?.[device];
      if (name !== undefined && name !== BASE_VARIANT && !m.variants?.[name]) {
        ctx.addIssue({ code: 'custom', path: ['serving', device], message: `"${name}" is neither "${BASE_VARIANT}" nor a listed variant` });
      }
    }
    if (new Set(m.labels).size !== m.labels.length) ctx.addIssue({ code: 'custom', path: ['labels'], message: 'labels repeat' });
    if (m.thresholds.length !== m.labels.length) {
      ctx.addIssue({ code: 'custom', path: ['thresholds'], message: `${m.thresholds.length} thresholds for ${m.labels.length} labels` });
    }
    if (m.architecture.numLabels !== m.labels.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['architecture', 'numLabels'],
        message: `architecture has ${m.architecture.numLabels} labels, manifest lists ${m.labels.length}`,
      });
    }
    if (m.maxSequenceLength > m.architecture.maxPositions) {
      ctx.addIssue({ code: 'custom', path: ['maxSequenceLength'], message: 'exceeds architecture.maxPositions' });
    }
    for (const f of [MODEL_FILE, TOKENIZER_FILE]) {
      if (!m.files[f]) ctx.addIssue({ code: 'custom', path: ['files', f], message: 'required file not listed' });
    }
  });

export type Manifest = z.infer<typeof ManifestSchema>;
export type Variant = z.infer<typeof VariantSchema>;
export type ServingChoice = z.infer<typeof ServingSchema>;
export type TrainingInfo = z.infer<typeof TrainingInfoSchema>;

/** A bundle whose every byte was verified; serve only these. */
export interface LoadedBundle {
  readonly dir: string;
  readonly manifest: Readonly<Manifest>;
  readonly modelBytes: Uint8Array;
  readonly tokenizerJson: string;
  /** Graphs of the variants asked for at load (by default those the manifest serves). */
  readonly variantBytes: Readonly<Record<string, Uint8Array>>;
}

export interface LoadBundleOptions {
  /** Variants whose graphs to keep in memory; every file is hash-checked regardless. */
  readonly variants?: readonly string[] | 'all';
}

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function refuse(file: string, problem: string, code: 'LT_BUNDLE_MISSING_FILE' | 'LT_BUNDLE_MANIFEST_INVALID' | 'LT_BUNDLE_HASH_MISMATCH' | 'LT_BUNDLE_INCONSISTENT' = 'LT_BUNDLE_INCONSISTENT'): never {
  throw new LivetagError(code, `${file}: ${problem}`);
}

async function readOrRefuse(dir: string, file: string): Promise<Buffer> {
  try {
    return await readFile(join(dir, file));
  } catch (cause) {
    throw new LivetagError('LT_BUNDLE_MISSING_FILE', `${join(dir, file)}: cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
  }
}

export function parseManifest(raw: unknown, where = MANIFEST_FILE): Manifest {
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    refuse(where, problems, 'LT_BUNDLE_MANIFEST_INVALID');
  }
  return parsed.data;
}

/**
 * Loads a bundle, verifying every file's hash and that manifest, graph and
 * tokenizer agree. Throws on the first problem, naming the file; nothing
 * partially verified is returned.
 */
export async function loadBundle(dir: string, opts: LoadBundleOptions = {}): Promise<LoadedBundle> {
  const manifestText = (await readOrRefuse(dir, MANIFEST_FILE)).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(manifestText);
  } catch {
    refuse(join(dir, MANIFEST_FILE), 'is not valid JSON', 'LT_BUNDLE_MANIFEST_INVALID');
  }
  const manifest = parseManifest(raw, join(dir, MANIFEST_FILE));
  const variants = manifest.variants ?? {};
  const wanted = opts.variants === 'all' ? Object.keys(variants) : (opts.variants ?? [manifest.serving?.cpu, manifest.serving?.cuda]);
  const keep = new Set([MODEL_FILE, TOKENIZER_FILE, ...wanted.flatMap((n) => (n && variants[n] ? [variants[n].file] : []))]);
  const contents = new Map<string, Buffer>();
  for (const [file, entry] of Object.entries(manifest.files)) {
    const bytes = await readOrRefuse(dir, file);
    const actual = sha256(bytes);
    if (actual !== entry.sha256 || bytes.length !== entry.bytes) {
      refuse(join(dir, file), `sha256 ${actual.slice(0, 12)}… (${bytes.length} bytes) does not match the manifest's ${entry.sha256.slice(0, 12)}… (${entry.bytes} bytes)`, 'LT_BUNDLE_HASH_MISMATCH');
    }
    if (keep.has(file)) contents.set(file, bytes);
  }
  const variantBytes: Record<string, Uint8Array> = {};
  for (const [name, v] of Object.entries(variants)) {
    const bytes = contents.get(v.file);
    if (!bytes) continue;
    checkGraph(join(dir, v.file), manifest, bytes);
    variantBytes[name] = new Uint8Array(bytes);
  }
  const modelBytes = contents.get(MODEL_FILE)!;
  const tokenizerJson = contents.get(TOKENIZER_FILE)!.toString('utf8');
  checkGraph(join(dir, MODEL_FILE), manifest, modelBytes);
  const tokenizer = parseTokenizer(tokenizerJson);
  const vocab = tokenizer.getVocabSize(true);
  if (vocab > manifest.architecture.vocabSize) {
    refuse(join(dir, TOKENIZER_FILE), `vocabulary of ${vocab} tokens exceeds the model's ${manifest.architecture.vocabSize} embeddings`);
  }
  return deepFreeze({ dir, manifest, modelBytes: new Uint8Array(modelBytes), tokenizerJson, variantBytes });
}

/** A graph's inputs, output and label width agree with the manifest. */
function checkGraph(modelPath: string, manifest: Manifest, bytes: Uint8Array): void {
  const graph = summarizeOnnx(bytes);
  const expected = [...manifest.onnx.inputs].sort().join(',');
  if ([...graph.inputs].sort().join(',') !== expected) {
    refuse(modelPath, `graph inputs [${graph.inputs.join(', ')}] differ from the manifest's [${manifest.onnx.inputs.join(', ')}]`);
  }
  if (!graph.outputs.includes(manifest.onnx.output)) {
    refuse(modelPath, `graph has no output "${manifest.onnx.output}" (has ${graph.outputs.join(', ')})`);
  }
  if (graph.outputWidth !== manifest.labels.length) {
    refuse(modelPath, `output width ${graph.outputWidth ?? 'unknown'} does not match the manifest's ${manifest.labels.length} labels`);
  }
}

export interface BundleSpec {
  readonly modelId: string;
  readonly version?: string;
  readonly parentVersion?: string | null;
  readonly labels: readonly string[];
  readonly thresholds?: readonly number[];
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
    maxSequenceLength: spec.maxSequenceLength,
    architecture: { ...spec.architecture },
    onnx: { inputs: [...INPUT_NAMES], output: OUTPUT_NAME, opset: ONNX_OPSET, precision: spec.precision ?? 'fp32' },
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

/**
 * Files land in a sibling temp directory first and are renamed into place, so
 * a reader never sees a half-written bundle.
 */
async function writeAtomically(dir: string, manifest: Manifest, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dir)}.tmp-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  try {
    for (const [file, bytes] of files) await writeFile(join(tmp, file), bytes);
    await writeFile(join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
    if (await pathExists(dir)) await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
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
