/**
 * Symbolic shapes for the training graph: a dim is a number or a name
 * ('batch', 'sequence'). The backward pass needs them only to know which
 * axes an operand was broadcast along, so the rules here cover the
 * operators the BERT writer uses and nothing more.
 */
import { LivetagError } from '../../../common/errors.ts';

export type Dim = number | string;
export type Shape = readonly Dim[];

function fail(message: string): never {
  throw new LivetagError('LT_INTERNAL', `training graph shapes: ${message}`);
}

/** numpy broadcasting of two shapes. */
export function broadcastShapes(a: Shape, b: Shape): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === 1) out.push(y);
    else if (y === 1 || x === y) out.push(x);
    else fail(`cannot broadcast [${a.join(',')}] with [${b.join(',')}]`);
  }
  return out;
}

/**
 * The axes of `to` that `from` was broadcast along: leading axes `from`
 * lacks (`leading`, reduced away) and axes where `from` has 1 (`kept`,
 * reduced with keepdims). Used to sum a gradient back to an operand's shape.
 */
export function broadcastAxes(from: Shape, to: Shape): { leading: number[]; kept: number[] } {
  const extra = to.length - from.length;
  const leading = Array.from({ length: extra }, (_, i) => i);
  const kept: number[] = [];
  from.forEach((d, i) => {
    if (d === 1 && to[extra + i] !== 1) kept.push(i);
  });
  return { leading, kept };
}

export function matmulShape(a: Shape, b: Shape): Dim[] {
  if (a.length < 2 || b.length < 2) fail('MatMul operands need rank 2 or more');
  if (a[a.length - 1] !== b[b.length - 2]) fail(`MatMul inner dims differ: [${a.join(',')}] x [${b.join(',')}]`);
  const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
  return [...batch, a[a.length - 2], b[b.length - 1]];
}

export function transposeShape(a: Shape, perm: readonly number[]): Dim[] {
  return perm.map((p) => a[p]);
}

/** ONNX Reshape semantics for a static target: 0 copies the input dim; one -1 is allowed only where the result is named. */
export function reshapeShape(a: Shape, target: readonly Dim[]): Dim[] {
  return target.map((d, i) => (d === 0 ? a[i] : d));
}
