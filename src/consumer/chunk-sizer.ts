/**
 * How many records of a partition go through the pipeline, get published and
 * committed together. Large chunks amortise Kafka round trips for a fast
 * model; for a slow one every record waits for its whole chunk (256 texts of
 * a bert-base model on 2 cores is ~6 s), so the size follows the measured
 * time per record towards a target chunk time, between `min` and `max`.
 */
export interface ChunkSizer {
  size(): number;
  /** A chunk of `records` took `ms` from entering the pipeline to its results. */
  observe(records: number, ms: number): void;
}

export function createChunkSizer(opts: { min: number; max: number; targetMs: number }): ChunkSizer {
  let msPerRecord: number | undefined;
  // Start small: a slow model's first chunk should not be its worst.
  let current = opts.min;
  return {
    size: () => current,
    observe(records, ms) {
      if (records <= 0) return;
      const sample = Math.max(ms, 0.001) / records;
      msPerRecord = msPerRecord === undefined ? sample : 0.7 * msPerRecord + 0.3 * sample;
      current = Math.min(opts.max, Math.max(opts.min, Math.round(opts.targetMs / msPerRecord)));
    },
  };
}
