/**
 * What one more inference batch costs, in padded tokens: the fixed part of a
 * batch (worker hand-off, onnxruntime's per-run work, decoding) over the cost
 * of one padded token. The micro-batcher weighs splitting a shallow queue by
 * length against it. Timed in process on an idle machine, a batch's fixed part
 * is worth ~200 padded tokens on the default model and ~25 on the bert-base
 * shape, and sharing the cores with a broker moves both: a constant would be
 * wrong somewhere.
 *
 * Fitted online, time = a + b × tokens by exponentially weighted least squares
 * over batches that ran with nothing ahead of them (their time is their own).
 */
export interface BatchCost {
  /** a / b of the fit, in padded tokens; the default until the fit has enough spread. */
  overheadTokens(): number;
  observe(paddedTokens: number, ms: number): void;
}

export const DEFAULT_OVERHEAD_TOKENS = 8;
const MAX_OVERHEAD_TOKENS = 1024;
const MIN_SAMPLES = 16;
const DECAY = 0.98;

export function createBatchCost(initial = DEFAULT_OVERHEAD_TOKENS): BatchCost {
  let w = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  let samples = 0;
  let current = initial;
  return {
    overheadTokens: () => current,
    observe(x, y) {
      if (!(x > 0) || !(y >= 0) || !Number.isFinite(y)) return;
      w = w * DECAY + 1;
      sx = sx * DECAY + x;
      sy = sy * DECAY + y;
      sxx = sxx * DECAY + x * x;
      sxy = sxy * DECAY + x * y;
      if (++samples < MIN_SAMPLES) return;
      const det = w * sxx - sx * sx;
      // Batches of one size only say nothing about the fixed part.
      if (det <= 1e-9 * w * sxx) return;
      const b = (w * sxy - sx * sy) / det;
      const a = (sy - b * sx) / w;
      if (b > 0) current = Math.min(MAX_OVERHEAD_TOKENS, Math.max(0, a / b));
    },
  };
}

/**
 * Splits lengths sorted ascending into consecutive batches minimising
 * Σ (overhead + size × longest): the least padded work for the batches run.
 * Returns the end index of each batch. O(n²) for the ≤ maxSize texts of a cut.
 */
export function splitByLength(sorted: readonly number[], overhead: number): number[] {
  const n = sorted.length;
  const best = new Float64Array(n + 1);
  const from = new Int32Array(n + 1);
  for (let j = 1; j <= n; j++) {
    best[j] = Infinity;
    // Fewer batches win ties: i runs from the widest batch down.
    for (let i = 0; i < j; i++) {
      const c = best[i] + overhead + (j - i) * sorted[j - 1];
      if (c < best[j]) {
        best[j] = c;
        from[j] = i;
      }
    }
  }
  const ends: number[] = [];
  for (let j = n; j > 0; j = from[j]) ends.push(j);
  return ends.reverse();
}
