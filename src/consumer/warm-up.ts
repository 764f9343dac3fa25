import type { Classifier } from '../model/runtime/classifier.ts';

/**
 * Live-commerce comments of the lengths and scripts the chat carries
 * (full-width punctuation, sizes in Latin letters, emoji, numbers). Only
 * their shapes matter: the results are thrown away.
 */
const SAMPLES = [
  '这个多少钱',
  'M码还有吗',
  '什么时候发货啊主播',
  '666',
  '链接在哪里呀？',
  '有优惠券吗，能不能便宜一点',
  '质量怎么样，会起球吗？洗了会不会缩水',
  '黑色还有货吗😭',
  '包邮吗',
  '身高160体重110穿什么码合适呢',
  '已经拍了，什么时候能到，急用',
  'XL码偏大还是偏小',
  '主播好漂亮👍👍',
  '买二送一是真的吗？',
  '退货运费谁出',
  '敏感肌可以用吗，会不会过敏，用了多久能看到效果',
];

export interface WarmUpOptions {
  /** How long to keep running batches; 0 runs none, any other value at least one per session. */
  readonly ms: number;
  /** The serving batch size: batches cycle from this size down to one. */
  readonly batchSize: number;
}

export interface WarmUpResult {
  readonly batches: number;
  readonly texts: number;
  readonly ms: number;
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
 * Batch sizes step down from the serving size and texts grow up to four
 * samples long, so the shapes cover what the batcher cuts from bursty chat.
 */
export async function warmUp(classifier: Classifier, o: WarmUpOptions): Promise<WarmUpResult> {
  const started = performance.now();
  const sizes = [o.batchSize, Math.ceil(o.batchSize / 2), Math.ceil(o.batchSize / 4), 1];
  let texts = 0;
  let i = 0;
  while (o.ms > 0 && (i === 0 || performance.now() - started < o.ms)) {
    const round: Promise<unknown>[] = [];
    for (let s = 0; s < classifier.parallelism; s++, i++) {
      const size = sizes[i % sizes.length];
      const batch = Array.from({ length: size }, (_, j) => SAMPLES.slice((i + j) % SAMPLES.length, ((i + j) % SAMPLES.length) + 1 + ((i + j) % 4)).join(' '));
      texts += batch.length;
      round.push(classifier.classify(batch));
    }
    await Promise.all(round);
  }
  return { batches: i, texts, ms: performance.now() - started };
}
