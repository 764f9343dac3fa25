/**
 * The classical baseline every training report carries: logistic regression
 * per label on the hashed n-gram tf·idf features the wide branch reads
 * (../model/ngram-hash.ts), L2-regularised and fitted exactly (L-BFGS) on
 * the training rows, each label's strength chosen by its own validation
 * log loss (one-vs-rest with a per-label C, as scikit-learn's
 * LogisticRegressionCV per class).
 * It takes seconds; a transformer that cannot beat it is not done. Its
 * weights have the wide branch's layout, so a run can start the branch from it.
 */
import { fitIdf, ngramBuckets, sparseRow, type NgramSpec, type SparseRow } from '../model/ngram-hash.ts';
import { bceWithLogits } from './losses.ts';
import { scoreValidation, type ValidationScore } from './validation-score.ts';

export interface LinearModel {
  readonly spec: NgramSpec;
  readonly vocabSize: number;
  readonly idf: Float32Array;
  /** [buckets, labels], the layout of the wide branch's table. */
  readonly weight: Float32Array;
  readonly bias: Float32Array;
}

/** Inverse regularisation strengths tried (scikit-learn's C); validation picks one per label. */
export const DEFAULT_CS = [1, 4, 16, 64] as const;

export interface LinearFitOptions {
  readonly spec: NgramSpec;
  readonly vocabSize: number;
  readonly cs?: readonly number[];
  readonly maxIterations?: number;
}

export interface LinearFit {
  readonly model: LinearModel;
  /** The regularisation validation chose, per label. */
  readonly cs: readonly number[];
  readonly valLogits: Float32Array;
  readonly validation: ValidationScore;
  readonly seconds: number;
}

export function linearLogits(model: LinearModel, rows: readonly SparseRow[]): Float32Array {
  const width = model.bias.length;
  const out = new Float32Array(rows.length * width);
  rows.forEach((row, r) => {
    const o = r * width;
    out.set(model.bias, o);
    for (let k = 0; k < row.index.length; k++) {
      const base = row.index[k] * width;
      const v = row.value[k];
      for (let j = 0; j < width; j++) out[o + j] += v * model.weight[base + j];
    }
  });
  return out;
}

/** Token-id rows as the model's sparse feature rows. */
export function featurize(model: Pick<LinearModel, 'spec' | 'vocabSize' | 'idf'>, ids: readonly ArrayLike<number>[]): SparseRow[] {
  return ids.map((row) => sparseRow(ngramBuckets(row, model.spec, model.vocabSize), model.idf, model.spec.tf));
}

/**
 * Limited-memory BFGS (Nocedal & Wright, algorithm 7.4) with a backtracking
 * Armijo line search: the problem is convex and small, so the exact optimum
 * in a second beats an SGD schedule to tune (scikit-learn's lbfgs solver
 * solves the same problem).
 */
export function minimizeLbfgs(f: (x: Float64Array, g: Float64Array) => number, x: Float64Array, maxIter = 300, memory = 5, tol = 1e-6): { value: number; iterations: number } {
  const n = x.length;
  const g = new Float64Array(n);
  let fx = f(x, g);
  const ss: Float64Array[] = [];
  const ys: Float64Array[] = [];
  const dot = (a: Float64Array, b: Float64Array): number => {
    let t = 0;
    for (let i = 0; i < n; i++) t += a[i] * b[i];
    return t;
  };
  const xNew = new Float64Array(n);
  const gNew = new Float64Array(n);
  const d = new Float64Array(n);
  // The (s, y) pairs and their 1/(y·s) live in a ring of memory + 1 arrays
  // reused every iteration: allocating two fresh n-vectors per iteration left
  // a fifth of the fit to the garbage collector.
  const spare: Float64Array[][] = [];
  const rhos: number[] = [];
  let iter = 0;
  for (; iter < maxIter; iter++) {
    if (Math.sqrt(dot(g, g)) <= tol * Math.max(1, Math.sqrt(dot(x, x)))) break;
    // Two-loop recursion: d = −H·g.
    for (let i = 0; i < n; i++) d[i] = -g[i];
    const alpha: number[] = [];
    for (let k = ss.length - 1; k >= 0; k--) {
      const a = dot(ss[k], d) / rhos[k];
      alpha[k] = a;
      const yk = ys[k];
      for (let i = 0; i < n; i++) d[i] -= a * yk[i];
    }
    if (ss.length > 0) {
      const last = ss.length - 1;
      const gamma = dot(ss[last], ys[last]) / dot(ys[last], ys[last]);
      for (let i = 0; i < n; i++) d[i] *= gamma;
    }
    for (let k = 0; k < ss.length; k++) {
      const b = dot(ys[k], d) / rhos[k];
      const sk = ss[k];
      const c = alpha[k] - b;
      for (let i = 0; i < n; i++) d[i] += sk[i] * c;
    }
    let slope = dot(g, d);
    if (slope >= 0) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      ss.length = 0;
      ys.length = 0;
      rhos.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i];
      slope = dot(g, d);
    }
    let step = iter === 0 ? 1 / Math.max(1, Math.sqrt(dot(g, g))) : 1;
    let fNew = Infinity;
    for (let tries = 0; tries < 30; tries++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i] + step * d[i];
      fNew = f(xNew, gNew);
      if (fNew <= fx + 1e-4 * step * slope) break;
      step /= 2;
    }
    if (!(fNew < fx)) break;
    const [s, y] = spare.pop() ?? [new Float64Array(n), new Float64Array(n)];
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i] - x[i];
      y[i] = gNew[i] - g[i];
    }
    if (dot(s, y) > 1e-12) {
      ss.push(s);
      ys.push(y);
      rhos.push(dot(ys[ys.length - 1], ss[ss.length - 1]));
      if (ss.length > memory) {
        spare.push([ss.shift()!, ys.shift()!]);
        rhos.shift();
      }
    } else spare.push([s, y]);
    x.set(xNew);
    g.set(gNew);
    const progress = fx - fNew;
    fx = fNew;
    if (progress <= 1e-10 * Math.max(1, Math.abs(fx))) break;
  }
  return { value: fx, iterations: iter };
}

interface Compact {
  /** Bucket → column in the compact weight vector (−1: never seen in training). */
  readonly column: Int32Array;
  readonly buckets: number[];
}

function compactBuckets(rows: readonly SparseRow[], trainRows: readonly number[], buckets: number): Compact {
  const column = new Int32Array(buckets).fill(-1);
  const list: number[] = [];
  for (const r of trainRows) for (const b of rows[r].index) if (column[b] < 0) (column[b] = list.length, list.push(b));
  return { column, buckets: list };
}

/** Mean BCE over rows × labels + λ/2·‖W‖², its gradient into g; x = [W (compact, columns × labels), bias]. */
function objective(rows: readonly SparseRow[], trainRows: readonly number[], targets: readonly Uint8Array[], c: Compact, width: number, l2: number) {
  const wSize = c.buckets.length * width;
  const n = trainRows.length;
  // Each row's weight offsets, looked up once instead of on every evaluation.
  const bases = trainRows.map((r) => Int32Array.from(rows[r].index, (b) => c.column[b] * width));
  return (x: Float64Array, g: Float64Array): number => {
    g.fill(0);
    let loss = 0;
    const z = new Float64Array(width);
    for (let t = 0; t < trainRows.length; t++) {
      const r = trainRows[t];
      const row = rows[r];
      const offsets = bases[t];
      for (let j = 0; j < width; j++) z[j] = x[wSize + j];
      for (let k = 0; k < offsets.length; k++) {
        const base = offsets[k];
        for (let j = 0; j < width; j++) z[j] += row.value[k] * x[base + j];
      }
      for (let j = 0; j < width; j++) {
        const y = targets[r][j];
        // Stable log(1 + e^−|z|) form of the logistic loss.
        loss += Math.max(z[j], 0) - z[j] * y + Math.log1p(Math.exp(-Math.abs(z[j])));
        z[j] = (1 / (1 + Math.exp(-z[j])) - y) / n;
        g[wSize + j] += z[j];
      }
      for (let k = 0; k < offsets.length; k++) {
        const base = offsets[k];
        for (let j = 0; j < width; j++) g[base + j] += row.value[k] * z[j];
      }
    }
    let reg = 0;
    for (let i = 0; i < wSize; i++) {
      reg += x[i] * x[i];
      g[i] += l2 * x[i];
    }
    return loss / n + 0.5 * l2 * reg;
  };
}

/** The textbook rule the baseline is defined with: per-label thresholds maximising validation F1, nothing more. */
const BASELINE_RULE = { thresholds: 'tuned', rareLabelFloor: 0 } as const;

/** "C 16", or "C per label: 整体 16, 价格 64, …". */
export function describeCs(cs: readonly number[], labels: readonly string[]): string {
  return cs.every((c) => c === cs[0]) ? `C ${cs[0]}` : `C per label: ${cs.map((c, j) => `${labels[j]} ${c}`).join(', ')}`;
}

/**
 * Fits on `trainRows` of `ids`/`targets` for each regularisation strength
 * (C as scikit-learn's: λ = 1/(C·n)) and keeps, label by label, the C whose
 * column has the lowest validation log loss (the first on a tie: the
 * stronger penalty). The loss separates by label, so the columns of
 * different fits combine into one model exactly. Log loss, not macro-F1
 * under tuned thresholds: a proper score, steady on a few hundred rows, and
 * the criterion the job's other validation choices use; frequent labels
 * take a weak penalty while labels with a handful of rows keep a strong one.
 */
export function fitLinearBaseline(
  ids: readonly ArrayLike<number>[],
  targets: readonly Uint8Array[],
  trainRows: readonly number[],
  valRows: readonly number[],
  labels: readonly string[],
  opts: LinearFitOptions,
): LinearFit {
  const started = Date.now();
  const width = labels.length;
  const { spec, vocabSize } = opts;
  const idf = fitIdf(trainRows.map((r) => ngramBuckets(ids[r], spec, vocabSize)), spec.buckets);
  const rows = featurize({ spec, vocabSize, idf }, ids);
  const compact = compactBuckets(rows, trainRows, spec.buckets);
  const wSize = compact.buckets.length * width;
  const valTruth = valRows.map((r) => targets[r]);
  // Validation logits straight from the compact weights: no full-size table per C.
  const valBases = valRows.map((r) => Int32Array.from(rows[r].index, (b) => compact.column[b] * width));
  const truthColumns = labels.map((_, j) => Float32Array.from(valTruth, (y) => y[j]));
  const fits = (opts.cs ?? DEFAULT_CS).map((c) => {
    const x = new Float64Array(wSize + width);
    minimizeLbfgs(objective(rows, trainRows, targets, compact, width, 1 / (c * trainRows.length)), x, opts.maxIterations ?? 150);
    const valLogits = new Float32Array(valRows.length * width);
    valRows.forEach((r, i) => {
      const o = i * width;
      for (let j = 0; j < width; j++) valLogits[o + j] = x[wSize + j];
      valBases[i].forEach((base, k) => {
        // A bucket never seen in training has no weight.
        if (base < 0) return;
        for (let j = 0; j < width; j++) valLogits[o + j] += rows[r].value[k] * x[base + j];
      });
    });
    return { c, x, losses: truthColumns.map((truth, j) => bceWithLogits(Float32Array.from(truth, (_, i) => valLogits[i * width + j]), truth)) };
  });
  const chosen = labels.map((_, j) => fits.reduce((a, b) => (b.losses[j] < a.losses[j] ? b : a)));
  const model: LinearModel = { spec, vocabSize, idf, weight: new Float32Array(spec.buckets * width), bias: new Float32Array(width) };
  chosen.forEach(({ x }, j) => {
    model.bias[j] = x[wSize + j];
    compact.buckets.forEach((b, col) => (model.weight[b * width + j] = x[col * width + j]));
  });
  // From the float32 model, as serving and late fusion compute them.
  const valLogits = linearLogits(model, valRows.map((r) => rows[r]));
  const validation = scoreValidation(valLogits, valTruth, labels, BASELINE_RULE);
  return { model, cs: chosen.map((f) => f.c), valLogits, validation, seconds: (Date.now() - started) / 1000 };
}
