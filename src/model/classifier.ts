import { loadBundle, type LoadedBundle, type Manifest } from './bundle.ts';
import { createModelRunner, type ModelRunner, type ModelRunnerOptions } from './model-runner.ts';
import { createTextEncoder, type EncodedBatch, type TextEncoder } from './tokenizer.ts';
import { LivetagError } from '../common/errors.ts';

export interface Tag {
  readonly label: string;
  readonly score: number;
}

export interface Classification {
  readonly tags: Tag[];
  /** Every label's probability, present when asked for. */
  readonly scores?: Record<string, number>;
}

export interface Classifier {
  readonly manifest: Readonly<Manifest>;
  readonly labels: readonly string[];
  readonly provider: ModelRunner['provider'];
  readonly encoder: TextEncoder;
  encode(texts: readonly string[]): Promise<EncodedBatch>;
  infer(batch: EncodedBatch): Promise<Float32Array>;
  decide(logits: Float32Array, count: number, allScores?: boolean): Classification[];
  classify(texts: readonly string[], opts?: { allScores?: boolean }): Promise<Classification[]>;
  stop(): Promise<void>;
}

export interface ClassifierOptions extends ModelRunnerOptions {
  readonly bundle: string | LoadedBundle;
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/**
 * tokenize → infer → sigmoid → per-label thresholds, the whole classify path
 * (after transformers.js's text-classification pipeline). encode and infer
 * are exposed separately so the stream pipeline can tokenize the next batch
 * while the current one is on the model.
 */
export async function createClassifier(opts: ClassifierOptions): Promise<Classifier> {
  const bundle = typeof opts.bundle === 'string' ? await loadBundle(opts.bundle) : opts.bundle;
  const { manifest } = bundle;
  const encoder = createTextEncoder(bundle.tokenizerJson, manifest.maxSequenceLength);
  const runner = await createModelRunner(bundle.modelBytes, opts);
  const labels = manifest.labels;
  const thresholds = manifest.thresholds;
  const width = labels.length;
  let stopped = false;

  function decide(logits: Float32Array, count: number, allScores = false): Classification[] {
    if (logits.length !== count * width) {
      throw new LivetagError('LT_INFERENCE', `model returned ${logits.length} logits for ${count} texts × ${width} labels`);
    }
    const out: Classification[] = [];
    for (let i = 0; i < count; i++) {
      const tags: Tag[] = [];
      const scores: Record<string, number> | undefined = allScores ? {} : undefined;
      for (let j = 0; j < width; j++) {
        const p = sigmoid(logits[i * width + j]);
        if (scores) scores[labels[j]] = p;
        if (p >= thresholds[j]) tags.push({ label: labels[j], score: p });
      }
      tags.sort((a, b) => b.score - a.score);
      out.push(scores ? { tags, scores } : { tags });
    }
    return out;
  }

  async function infer(batch: EncodedBatch): Promise<Float32Array> {
    if (stopped) throw new LivetagError('LT_STOPPED', 'classifier is stopped');
    if (batch.batchSize === 0) return new Float32Array();
    return runner.infer(batch);
  }

  return {
    manifest,
    labels,
    provider: runner.provider,
    encoder,
    encode: (texts) => encoder.encode(texts),
    infer,
    decide,
    async classify(texts, o = {}) {
      const batch = await encoder.encode(texts);
      return decide(await infer(batch), texts.length, o.allScores);
    },
    async stop() {
      stopped = true;
      await runner.stop();
    },
  };
}
