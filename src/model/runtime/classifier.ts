import { assertClassifier, BASE_VARIANT, type LoadedBundle, type Manifest } from '../manifest.ts';
import { loadBundle } from './load-bundle.ts';
import { createModelRunner, type ModelRunner, type ModelRunnerOptions } from './model-runner.ts';
import { planSessions, type SessionCount } from './session-plan.ts';
import { int8Unsafe } from './int8-saturation.ts';
import { textChars } from '../ngram-hash.ts';
import { createTextEncoder, type EncodedBatch, type TextEncoder } from '../tokenizer.ts';
import { LivetagError } from '../../common/errors.ts';
import { ANY_TAG_COUNT, selectTags, type TagCount } from './select-tags.ts';

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
  /** Batches the model runs at once (its sessions): how many the batcher keeps in flight. */
  readonly parallelism: number;
  /** Why it runs that many sessions (`planSessions`). */
  readonly sessionsReason: string;
  /** The bundle variant running: "base" (model.onnx) or a key of manifest.variants. */
  readonly variant: string;
  readonly encoder: TextEncoder;
  encode(texts: readonly string[]): Promise<EncodedBatch>;
  infer(batch: EncodedBatch): Promise<Float32Array>;
  decide(logits: Float32Array, count: number, allScores?: boolean): Classification[];
  classify(texts: readonly string[], opts?: { allScores?: boolean }): Promise<Classification[]>;
  stop(): Promise<void>;
}

export interface ClassifierOptions extends Omit<ModelRunnerOptions, 'cudaModel' | 'sessions'> {
  readonly bundle: string | LoadedBundle;
  /** A number, or "auto" (default): by the model's size, see session-plan.ts. */
  readonly sessions?: SessionCount;
  /**
   * "auto" (default): the variant the manifest's serving choice names for the
   * provider that loads; "base": model.onnx; otherwise a variant's name.
   */
  readonly variant?: string;
}

/** The graphs to hand the runner: for the CPU provider and, when it loads, for CUDA. */
function pickGraphs(bundle: LoadedBundle, choice: string, warn: (message: string) => void): { cpu: string; cuda: string; bytes: (name: string) => Uint8Array } {
  const variants = bundle.manifest.variants ?? {};
  const known = [BASE_VARIANT, ...Object.keys(variants)];
  const bytes = (name: string): Uint8Array => {
    if (name === BASE_VARIANT) return bundle.modelBytes;
    const b = bundle.variantBytes[name];
    if (!b) throw new LivetagError('LT_CONFIG_INVALID', `variant "${name}" of ${bundle.dir} was not loaded (load the bundle with variants: ["${name}"])`);
    return b;
  };
  // A variant chosen where optimize ran; an int8 one from before 7-bit weights can lose tags on this CPU.
  const unsafeHere = (name: string): string | undefined => {
    const variant = variants[name];
    return variant && int8Unsafe(variant, () => bytes(name));
  };
  if (choice === 'auto') {
    const serving = bundle.manifest.serving ?? { cpu: BASE_VARIANT, cuda: BASE_VARIANT };
    const unsafe = unsafeHere(serving.cpu);
    if (unsafe) warn(`model variant "${serving.cpu}" of ${bundle.dir} is not served on CPU: ${unsafe}; serving model.onnx`);
    return { ...serving, ...(unsafe ? { cpu: BASE_VARIANT } : {}), bytes };
  }
  if (!known.includes(choice)) {
    throw new LivetagError('LT_CONFIG_INVALID', `model variant "${choice}" is not in ${bundle.dir} (it has: ${known.join(', ')}; or "auto")`);
  }
  const unsafe = unsafeHere(choice);
  if (unsafe) warn(`model variant "${choice}" of ${bundle.dir} serves as asked, but ${unsafe}`);
  return { cpu: choice, cuda: choice, bytes };
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

export type Decide = (logits: Float32Array, count: number, allScores?: boolean) => Classification[];

/** sigmoid → per-label thresholds and tag-count bounds → tags sorted by score. */
export function createDecider(labels: readonly string[], thresholds: readonly number[], tagCount: TagCount = ANY_TAG_COUNT): Decide {
  const width = labels.length;
  return (logits, count, allScores = false) => {
    if (logits.length !== count * width) {
      throw new LivetagError('LT_INFERENCE', `model returned ${logits.length} logits for ${count} texts × ${width} labels`);
    }
    // One probability buffer per batch; rows are read at their offset. A plain loop:
    // Float64Array.from(logits, sigmoid) maps through the iterator, ~90 µs a 64-text batch against ~17.
    const probs = new Float64Array(logits.length);
    for (let i = 0; i < logits.length; i++) probs[i] = sigmoid(logits[i]);
    const out: Classification[] = [];
    for (let i = 0; i < count; i++) {
      const at = i * width;
      const tags: Tag[] = selectTags(probs, at, thresholds, tagCount).map((j) => ({ label: labels[j], score: probs[at + j] }));
      const scores = allScores ? Object.fromEntries(labels.map((l, j) => [l, probs[at + j]])) : undefined;
      tags.sort((a, b) => b.score - a.score);
      out.push(scores ? { tags, scores } : { tags });
    }
    return out;
  };
}

/**
 * tokenize → infer → sigmoid → per-label thresholds, the whole classify path
 * (after transformers.js's text-classification pipeline). encode and infer
 * are exposed separately so the stream pipeline can tokenize the next batch
 * while the current one is on the model.
 */
export async function createClassifier(opts: ClassifierOptions): Promise<Classifier> {
  const choice = opts.variant ?? 'auto';
  const bundle =
    typeof opts.bundle === 'string' ? await loadBundle(opts.bundle, choice === 'auto' ? {} : { variants: [choice] }) : opts.bundle;
  const { manifest } = bundle;
  assertClassifier(manifest, bundle.dir);
  const encoder = createTextEncoder(bundle.tokenizerJson, manifest.maxSequenceLength, { ngramChars: textChars(manifest.architecture.ngram) });
  const graphs = pickGraphs(bundle, choice, opts.warn ?? console.warn);
  const { bundle: _b, variant: _v, sessions: requested, ...runnerOpts } = opts;
  // In process there is one session and no worker to spread batches over.
  const plan = opts.worker === false ? { sessions: 1, reason: 'in process' } : planSessions(requested ?? 'auto', manifest.architecture, opts);
  const runner = await createModelRunner(graphs.bytes(graphs.cpu), {
    ...runnerOpts,
    sessions: plan.sessions,
    ...(opts.device === 'cuda' && graphs.cuda !== graphs.cpu ? { cudaModel: graphs.bytes(graphs.cuda) } : {}),
  });
  const variant = runner.provider === 'cuda' ? graphs.cuda : graphs.cpu;
  const labels = manifest.labels;
  const thresholds = manifest.thresholds;
  let stopped = false;

  const decide = createDecider(labels, thresholds, manifest.tagCount);

  async function infer(batch: EncodedBatch): Promise<Float32Array> {
    if (stopped) throw new LivetagError('LT_STOPPED', 'classifier is stopped');
    if (batch.batchSize === 0) return new Float32Array();
    return runner.infer(batch);
  }

  return {
    manifest,
    labels,
    provider: runner.provider,
    parallelism: runner.parallelism,
    sessionsReason: plan.reason,
    variant,
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
