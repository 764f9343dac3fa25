/**
 * The differentiable operators of the training graph, each emitting its
 * forward node(s) and recording its backward rule on the tape. Gradients are
 * the textbook ones (PyTorch's derivatives.yaml states the same), written
 * with standard ONNX operators so any onnxruntime build runs them.
 */
import { LivetagError } from '../../../common/errors.ts';
import { DataType, floatAttr, intAttr, intsAttr, stringAttr } from '../onnx-graph-builder.ts';
import { broadcastShapes, matmulShape, reshapeShape, transposeShape, type Dim, type Shape } from './shapes.ts';
import type { T, Tape } from './tape.ts';

function out(tape: Tape, name: string, shape: Shape, from: readonly T[]): T {
  return { name, shape, grad: from.some((t) => t.grad) };
}

/** Elementwise binary operator with numpy broadcasting. */
function binary(tape: Tape, op: 'Add' | 'Sub' | 'Mul' | 'Div', a: T, b: T): T {
  const { g } = tape;
  const y = out(tape, g.op(op, [a.name, b.name]), broadcastShapes(a.shape, b.shape), [a, b]);
  return tape.record(y, (dy) => {
    const to = y.shape;
    if (op === 'Add') {
      tape.accumulateBroadcast(a, dy, to);
      tape.accumulateBroadcast(b, dy, to);
    } else if (op === 'Sub') {
      tape.accumulateBroadcast(a, dy, to);
      if (b.grad) tape.accumulateBroadcast(b, g.op('Neg', [dy]), to);
    } else if (op === 'Mul') {
      if (a.grad) tape.accumulateBroadcast(a, g.op('Mul', [dy, b.name]), to);
      if (b.grad) tape.accumulateBroadcast(b, g.op('Mul', [dy, a.name]), to);
    } else {
      if (a.grad) tape.accumulateBroadcast(a, g.op('Div', [dy, b.name]), to);
      if (b.grad) tape.accumulateBroadcast(b, g.op('Neg', [g.op('Mul', [dy, g.op('Div', [y.name, b.name])])]), to);
    }
  });
}

export const add = (tape: Tape, a: T, b: T): T => binary(tape, 'Add', a, b);
export const sub = (tape: Tape, a: T, b: T): T => binary(tape, 'Sub', a, b);
export const mul = (tape: Tape, a: T, b: T): T => binary(tape, 'Mul', a, b);
export const div = (tape: Tape, a: T, b: T): T => binary(tape, 'Div', a, b);

/** y = f(x) elementwise, with dx = dy * f'(x) built from x and y. */
function unary(tape: Tape, op: string, x: T, derivative: (x: string, y: string) => string): T {
  const y = out(tape, tape.g.op(op, [x.name]), x.shape, [x]);
  return tape.record(y, (dy) => tape.accumulate(x, tape.g.op('Mul', [dy, derivative(x.name, y.name)])));
}

/**
 * Exact (erf) GELU, x·½(1 + erf(x/√2)), Hugging Face's "gelu". The forward is
 * the standard pattern that onnxruntime fuses into one Gelu kernel (with the
 * bias add before it: BiasGelu); the backward reads only x, so no
 * intermediate pins the forward apart: dx = dy·(½(1 + erf u) + u·e^(−u²)/√π), u = x/√2.
 */
export function gelu(tape: Tape, x: T): T {
  const { g } = tape;
  const half = g.scalarFloat(0.5);
  const inner = g.op('Add', [g.op('Erf', [g.op('Div', [x.name, g.scalarFloat(Math.SQRT2)])]), g.scalarFloat(1)]);
  const y = out(tape, g.op('Mul', [g.op('Mul', [x.name, inner]), half]), x.shape, [x]);
  return tape.record(y, (dy) => {
    const u = g.op('Mul', [x.name, g.scalarFloat(Math.SQRT1_2)]);
    const cdf = g.op('Mul', [g.op('Add', [g.op('Erf', [u]), g.scalarFloat(1)]), half]);
    const density = g.op('Mul', [g.op('Mul', [u, g.op('Exp', [g.op('Neg', [g.op('Mul', [u, u])])])]), g.scalarFloat(1 / Math.sqrt(Math.PI))]);
    tape.accumulate(x, g.op('Mul', [dy, g.op('Add', [cdf, density])]));
  });
}

export function tanh(tape: Tape, x: T): T {
  const { g } = tape;
  return unary(tape, 'Tanh', x, (_x, y) => g.op('Sub', [g.scalarFloat(1), g.op('Mul', [y, y])]));
}

export function sigmoid(tape: Tape, x: T): T {
  const { g } = tape;
  return unary(tape, 'Sigmoid', x, (_x, y) => g.op('Mul', [y, g.op('Sub', [g.scalarFloat(1), y])]));
}

export function softplus(tape: Tape, x: T): T {
  return unary(tape, 'Softplus', x, (xn) => tape.g.op('Sigmoid', [xn]));
}

export function log(tape: Tape, x: T): T {
  return unary(tape, 'Log', x, (xn) => tape.g.op('Reciprocal', [xn]));
}

export function neg(tape: Tape, x: T): T {
  const y = out(tape, tape.g.op('Neg', [x.name]), x.shape, [x]);
  return tape.record(y, (dy) => tape.accumulate(x, tape.g.op('Neg', [dy])));
}

/**
 * max(log x, floor): PyTorch BCELoss's clamped log, with its own gradient, dy/x where log x > floor
 * and 0 elsewhere. Log then maxConst would give 0·(1/0) = NaN at x = 0, which a saturated
 * sigmoid's 1 − p is in float32 from a logit of ~17 on.
 */
export function logFloor(tape: Tape, x: T, floor: number): T {
  const { g } = tape;
  const fl = g.scalarFloat(floor);
  const logX = g.op('Log', [x.name]);
  const y = out(tape, g.op('Max', [logX, fl]), x.shape, [x]);
  return tape.record(y, (dy) => tape.accumulate(x, g.op('Where', [g.op('Greater', [logX, fl]), g.op('Div', [dy, x.name]), g.scalarFloat(0)])));
}

/** max(x, c) for a constant c; the gradient goes to x where x > c. */
export function maxConst(tape: Tape, x: T, c: number): T {
  const { g } = tape;
  const cn = g.scalarFloat(c);
  const y = out(tape, g.op('Max', [x.name, cn]), x.shape, [x]);
  return tape.record(y, (dy) => tape.accumulate(x, g.op('Mul', [dy, g.op('Cast', [g.op('Greater', [x.name, cn])], [intAttr('to', DataType.FLOAT)])])));
}

/** x^n for a constant whole n ≥ 0 (n = 0 is the constant 1, with no gradient). */
export function powConst(tape: Tape, x: T, n: number): T {
  const { g } = tape;
  if (n === 0) return { name: g.op('Expand', [g.scalarFloat(1), g.op('Shape', [x.name])]), shape: x.shape, grad: false };
  if (n === 1) return x;
  const y = out(tape, g.op('Pow', [x.name, g.scalarFloat(n)]), x.shape, [x]);
  return tape.record(y, (dy) => {
    const d = g.op('Mul', [g.op('Pow', [x.name, g.scalarFloat(n - 1)]), g.scalarFloat(n)]);
    tape.accumulate(x, g.op('Mul', [dy, d]));
  });
}

/** onnxruntime's FusedMatMul: alpha·op(x)·op(y), each operand's last two axes transposed inside the GEMM when its flag says so. */
function fusedMatMul(g: Tape['g'], x: string, y: string, transA: number, transB: number, alpha = 1): string {
  return g.msOp('FusedMatMul', [x, y], [intAttr('transA', transA), intAttr('transB', transB), floatAttr('alpha', alpha)]);
}

export function matmul(tape: Tape, a: T, b: T): T {
  const { g } = tape;
  const y = out(tape, g.op('MatMul', [a.name, b.name]), matmulShape(a.shape, b.shape), [a, b]);
  return tape.record(y, (dy) => {
    if (a.shape.length > 2 && a.shape.length === b.shape.length) {
      // Batched operands (attention's probs·V): transposed inside the GEMM, not by a 4-D Transpose copy each.
      if (a.grad) tape.accumulateBroadcast(a, fusedMatMul(g, dy, b.name, 0, 1), [...y.shape.slice(0, -2), ...a.shape.slice(-2)]);
      if (b.grad) tape.accumulateBroadcast(b, fusedMatMul(g, a.name, dy, 1, 0), [...y.shape.slice(0, -2), ...b.shape.slice(-2)]);
      return;
    }
    const swapLast = (t: string, rank: number): string => g.op('Transpose', [t], [intsAttr('perm', [...Array(rank - 2).keys(), rank - 1, rank - 2])]);
    if (a.grad) tape.accumulateBroadcast(a, g.op('MatMul', [dy, swapLast(b.name, b.shape.length)]), [...y.shape.slice(0, -2), ...a.shape.slice(-2)]);
    if (!b.grad) return;
    if (b.shape.length === 2 && a.shape.length > 2) {
      // A weight shared by every row: fold the batch dims into one GEMM, Aᵀ·dY over all rows.
      const k = a.shape[a.shape.length - 1];
      const n = b.shape[1];
      const a2 = g.op('Reshape', [a.name, g.int64s([-1, Number(k)])]);
      const dy2 = g.op('Reshape', [dy, g.int64s([-1, Number(n)])]);
      tape.accumulate(b, g.op('MatMul', [g.op('Transpose', [a2], [intsAttr('perm', [1, 0])]), dy2]));
    } else {
      tape.accumulateBroadcast(b, g.op('MatMul', [swapLast(a.name, a.shape.length), dy]), [...y.shape.slice(0, -2), ...b.shape.slice(-2)]);
    }
  });
}

/**
 * x·Wᵀ + b with W in PyTorch's [out, in] layout, as one op rather than
 * transpose → matmul → add: the backward then reads W and x as they are
 * (dx = dy·W; dW = dyᵀ·x over all rows, whose Transpose onnxruntime folds
 * into its GEMM), so no step copies a transposed weight or gradient.
 */
export function linear(tape: Tape, x: T, w: T, b: T): T {
  const { g } = tape;
  const t2 = (name: string): string => g.op('Transpose', [name], [intsAttr('perm', [1, 0])]);
  const y = out(tape, g.op('Add', [g.op('MatMul', [x.name, t2(w.name)]), b.name]), [...x.shape.slice(0, -1), w.shape[0]], [x, w, b]);
  return tape.record(y, (dy) => {
    const rows = (name: string, width: Dim): string => (x.shape.length > 2 ? g.op('Reshape', [name, g.int64s([-1, Number(width)])]) : name);
    const dy2 = rows(dy, w.shape[0]);
    tape.accumulateBroadcast(b, dy, y.shape);
    if (x.grad) tape.accumulate(x, g.op('MatMul', [dy, w.name]));
    if (w.grad) tape.accumulate(w, g.op('MatMul', [t2(dy2), rows(x.name, w.shape[1])]));
  });
}

/**
 * alpha·a·bᵀ over the last two axes for operands with the same batch axes
 * (attention's scaled Q·Kᵀ), as onnxruntime's FusedMatMul, whose flags
 * transpose inside the GEMM. A standard Transpose of K here is merged by
 * onnxruntime's transpose optimizer with the head split before it into one
 * [0, 2, 3, 1] copy, which it cannot fold into the MatMul: with its inverse
 * in the backward, a tenth of a small-model step.
 */
export function matmulNT(tape: Tape, a: T, b: T, alpha = 1): T {
  const { g } = tape;
  const fused = (x: string, y: string, transA: number, transB: number): string => fusedMatMul(g, x, y, transA, transB, alpha);
  const y = out(tape, fused(a.name, b.name, 0, 1), [...a.shape.slice(0, -1), b.shape[b.shape.length - 2]], [a, b]);
  return tape.record(y, (dy) => {
    if (a.grad) tape.accumulate(a, fused(dy, b.name, 0, 0));
    if (b.grad) tape.accumulate(b, fused(dy, a.name, 1, 0));
  });
}

export function transpose(tape: Tape, x: T, perm: readonly number[]): T {
  const { g } = tape;
  const y = out(tape, g.op('Transpose', [x.name], [intsAttr('perm', [...perm])]), transposeShape(x.shape, perm), [x]);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return tape.record(y, (dy) => tape.accumulate(x, g.op('Transpose', [dy], [intsAttr('perm', inverse)])));
}

/** Reshape to a static target (0 copies the input's dim, -1 is allowed once). */
export function reshape(tape: Tape, x: T, target: readonly Dim[], shape?: Shape): T {
  const { g } = tape;
  const numeric = target.map((d) => (typeof d === 'number' ? d : -1));
  const y = out(tape, g.op('Reshape', [x.name, g.int64s(numeric)]), shape ?? reshapeShape(x.shape, target), [x]);
  return tape.record(y, (dy) => tape.accumulate(x, g.op('Reshape', [dy, g.op('Shape', [x.name])])));
}

/** Softmax over the last axis: dx = y·(dy − Σ dy·y). */
export function softmax(tape: Tape, x: T): T {
  const { g } = tape;
  const y = out(tape, g.op('Softmax', [x.name], [intAttr('axis', -1)]), x.shape, [x]);
  return tape.record(y, (dy) => {
    const dot = g.op('ReduceSum', [g.op('Mul', [dy, y.name]), g.int64s([-1])], [intAttr('keepdims', 1)]);
    tape.accumulate(x, g.op('Mul', [y.name, g.op('Sub', [dy, dot])]));
  });
}

/**
 * LayerNormalization over the last axis, taking the mean and 1/σ it already
 * computes as extra outputs so the backward pass does not recompute them.
 */
export function layerNorm(tape: Tape, x: T, gamma: T, beta: T, eps: number, name?: string): T {
  const { g } = tape;
  const [yn, mean, invStd] = g.opN('LayerNormalization', [x.name, gamma.name, beta.name], 3, [intAttr('axis', -1), floatAttr('epsilon', eps)], name ? [name, `${name}.mean`, `${name}.inv_std`] : undefined);
  const y = out(tape, yn, x.shape, [x, gamma, beta]);
  return tape.record(y, (dy) => {
    const xHat = g.op('Mul', [g.op('Sub', [x.name, mean]), invStd]);
    tape.accumulateBroadcast(beta, dy, x.shape);
    if (gamma.grad) tape.accumulateBroadcast(gamma, g.op('Mul', [dy, xHat]), x.shape);
    if (!x.grad) return;
    const dxHat = g.op('Mul', [dy, gamma.name]);
    const meanOf = (t: string): string => g.op('ReduceMean', [t], [intsAttr('axes', [-1]), intAttr('keepdims', 1)]);
    const inner = g.op('Sub', [g.op('Sub', [dxHat, meanOf(dxHat)]), g.op('Mul', [xHat, meanOf(g.op('Mul', [dxHat, xHat]))])]);
    tape.accumulate(x, g.op('Mul', [inner, invStd]));
  });
}

/**
 * Rows of an embedding table; dW sums dy onto the rows that were read.
 * `distinctIds` (positions, picked rows: no id twice) scatter with ScatterND.
 * Ids that repeat (tokens, token types, n-gram buckets) must not: onnxruntime's
 * CPU ScatterND splits its index rows across threads and adds without atomics,
 * so a row that two threads add to loses updates (a bert-sized batch's word
 * and token-type gradients came out 6–25% off, different every run).
 * ScatterElements with reduction add walks the indices in order: exact, and
 * the same bits every run, but serial; a table of a few rows (token types)
 * takes `oneHot`, one-hot(ids)ᵀ·dy, a GEMM of that many rows instead.
 */
export function embed(tape: Tape, table: T, ids: T, opts: { readonly distinctIds?: boolean; readonly oneHot?: boolean } = {}): T {
  const { g } = tape;
  const y = out(tape, g.op('Gather', [table.name, ids.name], [intAttr('axis', 0)]), [...ids.shape, table.shape[1]], [table]);
  return tape.record(y, (dy) => {
    const [rows, width] = table.shape;
    if (typeof width !== 'number' || (opts.oneHot && typeof rows !== 'number')) throw new LivetagError('LT_INTERNAL', `${table.name}: embedding width (and a one-hot table's rows) must be static`);
    const flatIds = g.op('Reshape', [ids.name, g.int64s([-1])]);
    const flatDy = g.op('Reshape', [dy, g.int64s([-1, width])]);
    if (opts.oneHot) {
      const hit = g.op('Equal', [g.op('Unsqueeze', [g.op('Range', [g.int64s([0], true), g.int64s([rows as number], true), g.int64s([1], true)]), g.int64s([1])]), g.op('Unsqueeze', [flatIds, g.int64s([0])])]);
      tape.accumulate(table, g.op('MatMul', [g.op('Cast', [hit], [intAttr('to', DataType.FLOAT)]), flatDy]));
      return;
    }
    // ConstantOfShape's default value is float 0.
    const zeros = g.op('ConstantOfShape', [g.op('Shape', [table.name])]);
    const idColumn = g.op('Unsqueeze', [flatIds, g.int64s([-1])]);
    const summed = opts.distinctIds
      ? g.op('ScatterND', [zeros, idColumn, flatDy], [stringAttr('reduction', 'add')])
      : g.op('ScatterElements', [zeros, g.op('Expand', [idColumn, g.op('Shape', [flatDy])]), flatDy], [intAttr('axis', 0), stringAttr('reduction', 'add')]);
    tape.accumulate(table, summed);
  });
}

/**
 * Rows of a table whose gradient leaves the graph as the gathered rows'
 * gradients and their ids (Tape.accumulateRows), not scattered into a dense
 * table: a batch reads a few thousand of the n-gram table's 262144 rows, and
 * the dense form zeroed, filled, copied out and scanned all of them each step.
 */
export function gatherRows(tape: Tape, table: T, ids: T): T {
  const { g } = tape;
  const shape = [...ids.shape, table.shape[1]];
  const y = out(tape, g.op('Gather', [table.name, ids.name], [intAttr('axis', 0)]), shape, [table]);
  return tape.record(y, (dy) => tape.accumulateRows(table, ids.name, dy, ids.shape, shape));
}

/** x[:, 0] of [batch, sequence, hidden]: the [CLS] position. dx is dy at position 0, zeros elsewhere. */
export function firstPosition(tape: Tape, x: T): T {
  const { g } = tape;
  const y = out(tape, g.op('Gather', [x.name, g.int64s([0], true)], [intAttr('axis', 1)]), [x.shape[0], x.shape[2]], [x]);
  return tape.record(y, (dy) => {
    const seq = g.op('Gather', [g.op('Shape', [x.name]), g.int64s([1])], [intAttr('axis', 0)]);
    const pads = g.op('Concat', [g.int64s([0, 0, 0, 0]), g.op('Sub', [seq, g.int64s([1])]), g.int64s([0])], [intAttr('axis', 0)]);
    tape.accumulate(x, g.op('Pad', [g.op('Unsqueeze', [dy, g.int64s([1])]), pads]));
  });
}

/** Sum over one axis (dropped). dx is dy broadcast back along it. */
export function sumAxis(tape: Tape, x: T, axis: number): T {
  const { g } = tape;
  const shape = x.shape.filter((_, i) => i !== axis);
  const y = out(tape, g.op('ReduceSum', [x.name, g.int64s([axis])], [intAttr('keepdims', 0)]), shape, [x]);
  return tape.record(y, (dy) => tape.accumulate(x, g.op('Expand', [g.op('Unsqueeze', [dy, g.int64s([axis])]), g.op('Shape', [x.name])])));
}

/** Mean of every element: the scalar loss. */
export function meanAll(tape: Tape, x: T): T {
  const { g } = tape;
  const y = out(tape, g.op('ReduceMean', [x.name], [intAttr('keepdims', 0)]), [], [x]);
  return tape.record(y, (dy) => {
    const n = g.op('Cast', [g.op('Size', [x.name])], [intAttr('to', DataType.FLOAT)]);
    tape.accumulate(x, g.op('Div', [g.op('Expand', [dy, g.op('Shape', [x.name])]), n]));
  });
}

/**
 * Inverted dropout with the mask as an input: `mask` holds 0 or 1/(1−ratio)
 * per element, drawn by the caller (src/training/dropout-masks.ts).
 * onnxruntime's own Dropout draws its randomness one element at a time on one
 * thread, 14% of a small-model training step here; a fed mask costs one Mul
 * each way, and a step's masks are reproducible from its seed.
 */
export function dropout(tape: Tape, x: T, mask: T): T {
  const { g } = tape;
  const y = out(tape, g.op('Mul', [x.name, mask.name]), x.shape, [x]);
  return tape.record(y, (dy) => tape.accumulate(x, g.op('Mul', [dy, mask.name])));
}

/** Log-softmax over the last axis (onnxruntime subtracts the max, so it is stable): dx = dy − softmax(x)·Σdy. */
export function logSoftmax(tape: Tape, x: T): T {
  const { g } = tape;
  const y = out(tape, g.op('LogSoftmax', [x.name], [intAttr('axis', -1)]), x.shape, [x]);
  return tape.record(y, (dy) => {
    const sum = g.op('ReduceSum', [dy, g.int64s([-1])], [intAttr('keepdims', 1)]);
    tape.accumulate(x, g.op('Sub', [dy, g.op('Mul', [g.op('Exp', [y.name]), sum])]));
  });
}

/**
 * x[i, index[i]] of a [rows, classes] matrix for int64 `index` [rows]: each
 * row's target entry. dx scatters dy back to those entries, zeros elsewhere.
 */
export function pickColumn(tape: Tape, x: T, index: T): T {
  const { g } = tape;
  const at = g.op('Unsqueeze', [index.name, g.int64s([-1])]);
  const y = out(tape, g.op('Squeeze', [g.op('GatherElements', [x.name, at], [intAttr('axis', 1)]), g.int64s([-1])]), [x.shape[0]], [x]);
  return tape.record(y, (dy) => {
    const zeros = g.op('ConstantOfShape', [g.op('Shape', [x.name])]);
    tape.accumulate(x, g.op('ScatterElements', [zeros, at, g.op('Unsqueeze', [dy, g.int64s([-1])])], [intAttr('axis', 1)]));
  });
}
