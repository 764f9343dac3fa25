import { createCommentGenerator } from '../demo/comment-generator.ts';
import type { Classifier } from '../model/runtime/classifier.ts';

export interface WarmUpOptions {
  /** How long to keep running batches; 0 runs none, any other value at least one per session. */
  readonly ms: number;
  /** The serving batch size: batches cycle from this size down to one. */
  readonly batchSize: number;
  /** Checked before each round: a stop during the warm-up ends it there (no batch at all if it came first). */
  readonly cancelled?: () => boolean;
}

export interface WarmUpResult {
  readonly batches: number;
  readonly texts: number;
  readonly ms: number;
  /** Ended by `cancelled()` rather than by its budget. */
  readonly cancelled: boolean;
}

/**
 * Runs a freshly loaded model over sample comments before it serves, as
 * serving systems do (Triton's model warm-up, TF Serving's warm-up records):
 * a device's first runs pay one-time setup (memory arenas for each new batch
 * shape; on CUDA, library handles and device memory), and the first calls
 * through tokenizer and decision code run unoptimized in V8. On CPU it is
 * small: the default model's first batch takes 8 ms against 4-5, and a fresh
 * service's first second under load moved by a few ms (docs/performance.md).
 * A time budget rather than a count, because a count that warms the default
 * model in a blink would keep bert-base from serving for seconds.
 * `classifier.parallelism` batches run at once, so every session warms.
 * The texts are the demo generator's live comments (their lengths and
 * scripts: emoji, full-width punctuation, sizes in Latin letters), and batch
 * sizes step down from the serving size, so the shapes are the ones the
 * batcher cuts from bursty chat; the results are thrown away.
 */
export async function warmUp(classifier: Classifier, o: WarmUpOptions): Promise<WarmUpResult> {
  const started = performance.now();
  const sizes = [o.batchSize, Math.ceil(o.batchSize / 2), Math.ceil(o.batchSize / 4), 1];
  const comments = createCommentGenerator({ seed: 1 });
  let texts = 0;
  let i = 0;
  let cancelled = false;
  while (o.ms > 0 && !(cancelled = o.cancelled?.() ?? false) && (i === 0 || performance.now() - started < o.ms)) {
    const round: Promise<unknown>[] = [];
    for (let s = 0; s < classifier.parallelism; s++, i++) {
      const size = sizes[i % sizes.length];
      const batch = comments.take(size).map((c) => c.text);
      texts += batch.length;
      round.push(classifier.classify(batch));
    }
    await Promise.all(round);
  }
  return { batches: i, texts, ms: performance.now() - started, cancelled };
}
