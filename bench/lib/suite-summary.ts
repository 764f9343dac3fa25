/**
 * The suite's `summary` (issue 19): one object per model shape with the
 * ratios and bounds the serving goals are stated in, at the top of
 * suite.json, so a reader (or a check) needs no table arithmetic.
 */
import { mainAboveIdleUsPerMsg, STEADY_FROM_SHARE, steadyMainUsPerMsg } from './serve-harness.ts';
import type { RawRow, ServeResult, ShapeSummary } from './suite-report.ts';



type Ladder = readonly (ServeResult & { share: number; rate: number })[];

interface ShapeResult {
  readonly key: string;
  readonly best: number;
  readonly rawBeside: { before: RawRow; after: RawRow; mean: number };
  readonly livetag: ServeResult;
  /** The same service with nothing to read (CPU s per s by thread); absent in runs from before it was measured. */
  readonly idle?: { threadsCpuSecondsPerSecond: Record<string, number> };
  readonly livetagAuto: ServeResult;
  readonly ladder: Ladder;
  readonly serving: { cpu: string; cuda: string };
  readonly transformersJs: { rows: { batch: number; transformersJs: number }[] };
  /** Serve's sessions (LIVETAG_SESSIONS=auto) in this run; absent in runs from before auto. */
  readonly sessions?: { auto: number };
}

/** Serve settings the numbers were taken with (livetag's defaults unless the run set them). */
export const SERVE_DEFAULTS = { LIVETAG_BATCH_MAX_SIZE: 64, LIVETAG_BATCH_MAX_WAIT_MS: 5, LIVETAG_BATCH_QUIET_MS: 2, LIVETAG_BATCH_MAX_TOKENS: 4096, LIVETAG_WARMUP_MS: 250, LIVETAG_MAX_IN_FLIGHT: 4096, LIVETAG_DEDUPE_CACHE_SIZE: 0 };

/**
 * The batch time the p99 bound is built from: the 50 % step's own batches (the backlog drain's are
 * ten times larger), and no longer than that step's wall time allows a batch per session. The
 * inference timer runs from submission, so with a batch in flight ahead of it (the batcher keeps
 * parallelism + 1) it also counts that wait, which the bound's "2 ×" already covers: the timers
 * summed to twice the session capacity. Undefined without the 50 % step's model figures.
 */
export function halfLoadBatchMs(half: { readonly model?: { readonly inferenceSeconds: number; readonly batches: number }; readonly usage?: { readonly wallSeconds?: number } } | undefined, sessions: number | undefined): number | undefined {
  const m = half?.model;
  if (!m || m.batches === 0) return undefined;
  const timed = m.inferenceSeconds / m.batches;
  const wall = half?.usage?.wallSeconds;
  const capacity = wall !== undefined && sessions ? (wall * sessions) / m.batches : Infinity;
  return Math.min(timed, capacity) * 1000;
}

export function summarizeShape(r: ShapeResult, run: { quick: boolean; threads: number; partitions: number; loadAverageAtStart: number }): ShapeSummary {
  const s = r.livetag;
  const m = s.model;
  const paddedPerText = m ? m.paddedTokens / m.texts : NaN;
  const raw = [r.rawBeside.before, r.rawBeside.after];
  // The raw rows run arrival-order batches; serve cuts length-bucketed ones: compare CPU per padded token.
  const rawUsPerToken = raw.reduce((a, x) => a + (x.cpuSecondsPer1000 * 1000) / (x.meanTokens / (1 - x.paddingShare)), 0) / raw.length;
  const serveUsPerMsg = (s.usage.cpuSeconds / s.received) * 1e6;
  const half = r.ladder.find((x) => x.share === 0.5);
  const tjs = Math.max(...r.transformersJs.rows.map((x) => x.transformersJs));
  const idleMain = r.idle?.threadsCpuSecondsPerSecond.main;
  const wholeMainUsPerMsg = s.usage.threads?.main !== undefined ? (s.usage.threads.main / s.received) * 1e6 : NaN;
  const batchMs = m && m.batches > 0 ? (m.inferenceSeconds / m.batches) * 1000 : NaN;
  const boundBatchMs = halfLoadBatchMs(half, r.sessions?.auto) ?? batchMs;
  return {
    serve_over_raw: s.msgsPerSecond / r.rawBeside.mean,
    serve_over_transformersjs: r.livetagAuto.msgsPerSecond / tjs,
    overhead_cpu_us_per_msg: s.steady ? steadyMainUsPerMsg(s) : wholeMainUsPerMsg,
    ...(s.steady ? { overhead_cpu_us_per_msg_whole_drain: wholeMainUsPerMsg } : {}),
    ...(idleMain !== undefined ? { idle_main_cpu_ms_per_s: idleMain * 1000, overhead_cpu_us_per_msg_above_idle: s.steady ? steadyMainUsPerMsg(s, idleMain) : mainAboveIdleUsPerMsg(s, idleMain) } : {}),
    overhead_by_subtraction_us_per_msg: serveUsPerMsg - rawUsPerToken * paddedPerText,
    p99_ms_at_50pct: half?.latency?.p99 ?? NaN,
    ...(half?.latencyWholeRun ? { p99_ms_at_50pct_whole_run: half.latencyWholeRun.p99 } : {}),
    p99_bound_ms: SERVE_DEFAULTS.LIVETAG_BATCH_MAX_WAIT_MS + 2 * boundBatchMs,
    p99_in_livetag_ms_at_50pct: half?.latencySplit?.fetchedToClassified?.p99 ?? NaN,
    settings: {
      ...SERVE_DEFAULTS,
      variant_for_serve_over_raw: 'base',
      variant_for_serve_over_transformersjs: `auto (cpu → ${r.serving.cpu})`,
      ...(r.sessions ? { LIVETAG_SESSIONS: `auto (${r.sessions.auto})` } : {}),
      raw_best_batch: r.best,
      serve_cpu_us_per_msg: serveUsPerMsg,
      ...(s.steady ? { overhead_steady_from: `the drain's message ${s.steady.fromReceived} of ${s.received} on (past its first ${STEADY_FROM_SHARE * 100} %)` } : {}),
      serve_padded_tokens_per_text: paddedPerText,
      mean_batch_ms: batchMs,
      bound_batch_ms: boundBatchMs,
      mean_batch_texts: m ? m.texts / m.batches : NaN,
      ...run,
    },
  };
}
