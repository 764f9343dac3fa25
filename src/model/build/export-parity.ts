/**
 * Trained weights out through the project's ONNX writer, accepted only if
 * onnxruntime computes on the written graph what the training forward pass
 * computed. The training side's logits arrive as plain numbers, so the model
 * core stays independent of whichever backend trained them.
 */
import { LivetagError } from '../../common/errors.ts';
import type { LoadedBundle } from '../manifest.ts';
import { loadBundle } from '../runtime/load-bundle.ts';
import { createOrtRunner } from '../runtime/onnx-session.ts';
import type { WeightMap } from '../weights.ts';
import { toEncodedBatch } from './id-batch.ts';
import { writeBundle, type BundleSpec } from './write-bundle.ts';

export interface OnnxLogitsOptions {
  readonly threads?: number;
  /** Rows per onnxruntime run. */
  readonly batchSize?: number;
  /** The rows' textCodes, for a graph whose n-gram branch reads the text (other graphs ignore them). */
  readonly codes?: readonly Int32Array[];
}

/** Outputs of an ONNX graph for rows of token ids, in row order (rows × outputs, row-major). */
export async function onnxLogits(model: Uint8Array, rows: readonly Int32Array[], opts: OnnxLogitsOptions = {}): Promise<Float32Array> {
  const size = Math.max(1, opts.batchSize ?? 32);
  const runner = await createOrtRunner(model, opts.threads === undefined ? {} : { threads: opts.threads });
  const parts: Float32Array[] = [];
  try {
    for (let i = 0; i < rows.length; i += size) parts.push(await runner.run(toEncodedBatch(rows.slice(i, i + size), opts.codes?.slice(i, i + size))));
  } finally {
    await runner.release();
  }
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Largest elementwise difference; Infinity when the shapes differ, NaN when either side has one. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export interface ParityCheck {
  /** Token ids of the rows compared. */
  readonly rows: readonly Int32Array[];
  /** Their textCodes, when the graph's n-gram branch reads the text. */
  readonly codes?: readonly Int32Array[];
  /** The training forward pass's logits for those rows (rows × labels, row-major). */
  readonly expected: Float32Array;
  readonly tolerance: number;
  /** Names the training side in the log line and the error ("tfjs"). */
  readonly reference: string;
}

export interface ParityResult {
  readonly rows: number;
  readonly maxAbsDiff: number;
  readonly tolerance: number;
}

export interface ExportOptions {
  readonly threads?: number;
  readonly log?: (line: string) => void;
}

export interface ExportedBundle {
  /** The bundle as written and verified by loadBundle: its model bytes are the ones checked. */
  readonly bundle: LoadedBundle;
  readonly parity: ParityResult;
}

/**
 * Writes the bundle, reloads it (hashes verified) and runs its graph on the
 * check rows. A difference over the tolerance (or NaN) is LT_PARITY: the
 * bundle stays on disk for inspection but must not be served.
 */
export async function exportWithParity(dir: string, spec: BundleSpec, weights: WeightMap, check: ParityCheck, opts: ExportOptions = {}): Promise<ExportedBundle> {
  await writeBundle(dir, spec, weights);
  const bundle = await loadBundle(dir);
  const actual = await onnxLogits(bundle.modelBytes, check.rows, { ...(opts.threads === undefined ? {} : { threads: opts.threads }), ...(check.codes ? { codes: check.codes } : {}) });
  const diff = maxAbsDiff(check.expected, actual);
  opts.log?.(`parity ${check.reference} ↔ onnxruntime on ${check.rows.length} rows: max |Δlogit| ${diff.toExponential(3)} (tolerance ${check.tolerance})`);
  if (!(diff <= check.tolerance)) {
    throw new LivetagError('LT_PARITY', `exported model disagrees with ${check.reference}: max |Δlogit| ${diff} > ${check.tolerance}; bundle ${dir} must not be served`);
  }
  return { bundle, parity: { rows: check.rows.length, maxAbsDiff: diff, tolerance: check.tolerance } };
}
