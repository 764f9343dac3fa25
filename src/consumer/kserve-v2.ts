/**
 * The Open Inference Protocol (KServe V2, REST) as livetag speaks it, and the
 * plain `/v1/classify` shape: request schemas and response bodies. One BYTES
 * input of texts; outputs `tags` (BYTES, one JSON array of labels per text)
 * and `scores` (FP32, texts × labels). Pure: the HTTP handling lives in
 * http-inference.ts.
 */
import { z } from 'zod';
import type { Classification } from '../model/runtime/classifier.ts';

export const V2_OUTPUTS = ['tags', 'scores'] as const;

const nonEmptyText = z.string().refine((t) => t.trim().length > 0, 'text is empty');

/** Row-major data may come nested (the protocol allows it for a shape of rank > 1): texts, flattened. */
type Nested = string | Nested[];
const nestedTexts: z.ZodType<Nested[]> = z.array(z.union([nonEmptyText, z.lazy(() => nestedTexts)]));
const flatTexts = z
  .array(z.union([nonEmptyText, nestedTexts]))
  .transform((d): string[] => (d as unknown[]).flat(Infinity) as string[])
  // After flattening: [[]] is no text either.
  .refine((d) => d.length > 0, 'no texts');

const V2Input = z
  .object({
    name: z.literal('text', { error: 'the input is named "text" (see GET /v2/models/{name})' }),
    shape: z.array(z.number().int().min(0, 'a request shape has concrete dimensions (≥ 0)')).min(1),
    datatype: z.literal('BYTES'),
    data: flatTexts,
    parameters: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((input, ctx) => {
    const elements = input.shape.reduce((a, b) => a * b, 1);
    // A client's wrong batch count must not be answered as if it were right.
    if (elements !== input.data.length) ctx.addIssue({ code: 'custom', path: ['shape'], message: `shape [${input.shape.join(', ')}] holds ${elements} texts; data has ${input.data.length}` });
  });

export const V2InferRequestSchema = z.object({
  id: z.string().optional(),
  inputs: z.array(V2Input).length(1, 'exactly one input (the texts, datatype BYTES)'),
  outputs: z.array(z.object({ name: z.enum(V2_OUTPUTS) })).min(1, 'name at least one output, or leave outputs out for both').optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
});

export type V2InferRequest = z.infer<typeof V2InferRequestSchema>;

export const ClassifyRequestSchema = z.object({
  texts: z.array(nonEmptyText).min(1),
});

export type ClassifyRequest = z.infer<typeof ClassifyRequestSchema>;

export interface ModelInfo {
  readonly name: string;
  readonly id: string;
  readonly version: string;
  readonly labels: readonly string[];
  readonly platform: string;
}

/** `GET /v2/models/{name}`. */
export function v2ModelMetadata(model: ModelInfo) {
  return {
    name: model.name,
    versions: [model.version],
    platform: model.platform,
    inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
    outputs: [
      { name: 'tags', datatype: 'BYTES', shape: [-1] },
      { name: 'scores', datatype: 'FP32', shape: [-1, model.labels.length] },
    ],
    parameters: { model_id: model.id, labels: model.labels },
  };
}

/** `GET /v2`. */
export function v2ServerMetadata(version: string) {
  return { name: 'livetag', version, extensions: [] as string[] };
}

/**
 * Every label's probability in label order. Without LIVETAG_ALL_SCORES the
 * classifier keeps only the scores of the tags it gives; the others read 0.
 */
function scoreRow(c: Classification, labels: readonly string[]): number[] {
  if (c.scores) return labels.map((l) => c.scores![l] ?? 0);
  const byLabel = new Map(c.tags.map((t) => [t.label, t.score]));
  return labels.map((l) => byLabel.get(l) ?? 0);
}

/** The V2 response: the requested outputs (both when none are named). */
export function v2InferResponse(req: V2InferRequest, model: ModelInfo, results: readonly Classification[]) {
  const wanted = new Set(req.outputs?.map((o) => o.name) ?? V2_OUTPUTS);
  const outputs = [];
  if (wanted.has('tags')) {
    outputs.push({ name: 'tags', datatype: 'BYTES', shape: [results.length], data: results.map((r) => JSON.stringify(r.tags.map((t) => t.label))) });
  }
  if (wanted.has('scores')) {
    outputs.push({ name: 'scores', datatype: 'FP32', shape: [results.length, model.labels.length], data: results.flatMap((r) => scoreRow(r, model.labels)) });
  }
  return { model_name: model.name, model_version: model.version, ...(req.id === undefined ? {} : { id: req.id }), outputs };
}

/** The `/v1/classify` response: per text, its tags (and every label's score with LIVETAG_ALL_SCORES), like an output record's. */
export function classifyResponse(model: ModelInfo, results: readonly Classification[]) {
  return {
    model: { id: model.id, version: model.version },
    results: results.map((r) => ({ tags: r.tags, ...(r.scores ? { scores: r.scores } : {}) })),
  };
}
