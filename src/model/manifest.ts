/** The bundle format: file names, the manifest schema and its parser, shared by whatever writes or loads a bundle. */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { BertConfigSchema } from './bert-config.ts';
import { LivetagError } from '../common/errors.ts';

export const BUNDLE_FORMAT_VERSION = 1;
export const MODEL_FILE = 'model.onnx';
export const TOKENIZER_FILE = 'tokenizer.json';
export const MANIFEST_FILE = 'manifest.json';

/**
 * Size caps, checked against the file on disk before it is read: a bundle
 * from a shared volume or a download must not make a pod allocate without
 * bound (onnxruntime copies the graph again).
 */
export const MAX_BUNDLE_BYTES = Object.freeze({ onnx: 1536 * 1024 * 1024, tokenizer: 64 * 1024 * 1024, manifest: 4 * 1024 * 1024, other: 256 * 1024 * 1024 });

export function maxBytesOf(file: string): number {
  if (file.endsWith('.onnx')) return MAX_BUNDLE_BYTES.onnx;
  if (file === TOKENIZER_FILE) return MAX_BUNDLE_BYTES.tokenizer;
  return MAX_BUNDLE_BYTES.other;
}

/** A plain name inside the bundle directory: no '/', no '..', not absolute, not hidden. */
export const BundleFileNameSchema = z.string().regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/, 'must be a plain file name inside the bundle (no "/", "\\", ".." or leading ".")');

const FileEntrySchema = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().nonnegative().max(MAX_BUNDLE_BYTES.onnx) });

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

/**
 * The largest |int8 weight| livetag writes (7 bits, onnxruntime's reduce_range).
 * Without VNNI, x86 int8 GEMMs add two u8 × s8 products into a saturating
 * int16: 2 × 255 × 127 overflows it, 2 × 255 × 64 does not.
 */
export const INT8_WEIGHT_MAX = 64;

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
  /** An int8 variant's largest |weight|; absent in variants written before 7-bit weights (up to 127: read from the graph). */
  int8WeightMax: z.number().int().min(0).max(128).optional(),
  /** texts/s relative to the base graph, where measured (CPU, one batch size). */
  speedup: z.object({ device: z.enum(['cpu', 'cuda']), batch: z.number().int().positive(), ratio: z.number().positive() }).optional(),
});

/** Which variant `auto` serves on each provider ("base" or a key of variants). */
export const ServingSchema = z.object({ cpu: z.string(), cuda: z.string() });

export const ManifestSchema = z
  .object({
    formatVersion: z.literal(BUNDLE_FORMAT_VERSION),
    modelId: z.string().min(1),
    // It names the registry directory versions/<version>: never '.', '..' or hidden.
    version: z.string().min(1).max(128).regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_", "-" only, not starting with "."'),
    createdAt: z.iso.datetime(),
    parentVersion: z.string().nullable(),
    labels: z.array(z.string().min(1)).min(1),
    thresholds: z.array(z.number().min(0).max(1)),
    /** Tag-count bounds applied after the thresholds (runtime/select-tags.ts); absent: thresholds alone. */
    tagCount: z.object({ min: z.number().int().min(0), max: z.number().int().min(1).nullable() }).optional(),
    maxSequenceLength: z.number().int().min(3),
    architecture: BertConfigSchema,
    onnx: z.object({
      inputs: z.array(z.string()).min(1),
      output: z.string(),
      opset: z.number().int(),
      precision: z.enum(['fp32', 'fp16', 'int8']),
    }),
    /** 'encoder': a pretrained encoder (livetag pretrain) whose one placeholder label is no classifier; train on it, never serve it. */
    head: z.enum(['trained', 'pretrained', 'random', 'encoder']),
    source: z.string(),
    files: z.record(BundleFileNameSchema, FileEntrySchema),
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
    if (m.tagCount && m.tagCount.max !== null && (m.tagCount.min > m.tagCount.max || m.tagCount.max > m.labels.length)) {
      ctx.addIssue({ code: 'custom', path: ['tagCount'], message: `tag count ${m.tagCount.min}..${m.tagCount.max} does not fit ${m.labels.length} labels` });
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

export function refuse(file: string, problem: string, code: 'LT_BUNDLE_MISSING_FILE' | 'LT_BUNDLE_MANIFEST_INVALID' | 'LT_BUNDLE_HASH_MISMATCH' | 'LT_BUNDLE_INCONSISTENT' = 'LT_BUNDLE_INCONSISTENT'): never {
  throw new LivetagError(code, `${file}: ${problem}`);
}

export function parseManifest(raw: unknown, where = MANIFEST_FILE): Manifest {
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    refuse(where, problems, 'LT_BUNDLE_MANIFEST_INVALID');
  }
  return parsed.data;
}

/** Refuses an encoder-only bundle (livetag pretrain) where a classifier is needed: its one label is a placeholder. */
export function assertClassifier(manifest: Pick<Manifest, 'head' | 'modelId' | 'version'>, where: string): void {
  if (manifest.head === 'encoder') {
    throw new LivetagError('LT_BUNDLE_ENCODER_ONLY', `${where}: ${manifest.modelId} ${manifest.version} is a pretrained encoder without a classification head; fine-tune it with \`livetag train --init ${where} --data …\` and serve that bundle`);
  }
}
