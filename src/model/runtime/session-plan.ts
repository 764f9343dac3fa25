/**
 * How many onnxruntime sessions serve a model when the deployment does not
 * say (LIVETAG_SESSIONS=auto).
 *
 * A small model's operators are too short to split across threads: each
 * batch's threads meet at every operator, and with spinning on they burn the
 * cores that Kafka and tokenization need. One single-threaded session per
 * core runs whole batches side by side instead. A large model's operators
 * split well, and a second session would also double its weights in memory.
 * On 2 cores (docs/performance.md, "Sessions by the model's size"), the
 * default model (0.4 M encoder weights) drained 1.26-1.8x faster with two
 * sessions than with one over four comparisons, at ~40% less CPU per
 * message, and its p99 at half load was 52-85 ms against 59-265 with one; the bert-base shape (85 M) drained no faster
 * with two (122 vs 149 msgs/s in one full suite, 95 vs 90 in the next) and
 * held 1.2 GB more.
 */
import { availableParallelism } from 'node:os';
import type { BertConfig } from '../bert-config.ts';

/** The encoder sizes the plan reads. */
type EncoderShape = Pick<BertConfig, 'hiddenSize' | 'numLayers' | 'intermediateSize'>;

/** Encoder weights (`encoderWeights`) up to which auto runs a session per core. */
export const SMALL_MODEL_WEIGHTS = 8_000_000;

/** auto's cap: every session is a worker thread with its own copy of the weights and its own arena. */
export const MAX_AUTO_SESSIONS = 8;

export type SessionCount = number | 'auto';

export interface SessionPlan {
  readonly sessions: number;
  /** Why, for the startup log. */
  readonly reason: string;
}

/** The encoder's weight matrices: four h×h projections and two h×intermediate feed-forward matrices per layer. */
export function encoderWeights(arch: EncoderShape): number {
  return arch.numLayers * (4 * arch.hiddenSize * arch.hiddenSize + 2 * arch.hiddenSize * arch.intermediateSize);
}

export function planSessions(
  requested: SessionCount,
  arch: EncoderShape,
  opts: { readonly device?: 'cpu' | 'cuda'; readonly threads?: number } = {},
): SessionPlan {
  if (requested !== 'auto') return { sessions: requested, reason: 'LIVETAG_SESSIONS' };
  if (opts.device === 'cuda') return { sessions: 1, reason: 'auto: one session drives the GPU' };
  const weights = encoderWeights(arch);
  const millions = `${(weights / 1e6).toFixed(1)} M encoder weights`;
  if (weights > SMALL_MODEL_WEIGHTS) return { sessions: 1, reason: `auto: ${millions}, its operators split across the threads` };
  const cores = opts.threads || availableParallelism();
  const sessions = Math.max(1, Math.min(cores, MAX_AUTO_SESSIONS));
  return { sessions, reason: `auto: ${millions}, one single-threaded session per thread (${cores}${sessions < cores ? `, capped at ${MAX_AUTO_SESSIONS}` : ''})` };
}
