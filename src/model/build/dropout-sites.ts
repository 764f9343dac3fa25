/**
 * Where a training graph applies dropout: one float mask input per site,
 * shaped like the tensor it masks in the graph's symbolic dims ('batch',
 * 'sequence', numbers). The engine fills them each step
 * (src/training/dropout-masks.ts), so the graph itself draws nothing.
 */
import * as op from './autodiff/ops.ts';
import type { Shape } from './autodiff/shapes.ts';
import type { T, Tape } from './autodiff/tape.ts';
import { DataType } from './onnx-graph-builder.ts';

export const DROPOUT_MASK_PREFIX = 'dropout_mask.';

export interface DropoutSite {
  readonly name: string;
  readonly shape: Shape;
}

/**
 * `drop` for an EncoderCtx: with `enabled`, each call adds a mask input and
 * records its site; without, it is the identity and the graph has no masks.
 */
export function createDropoutSites(tape: Tape, enabled: boolean): { readonly drop: (x: T) => T; readonly sites: readonly DropoutSite[] } {
  const sites: DropoutSite[] = [];
  const drop = (x: T): T => {
    if (!enabled) return x;
    const name = `${DROPOUT_MASK_PREFIX}${sites.length}`;
    sites.push({ name, shape: x.shape });
    return op.dropout(tape, x, tape.input(name, DataType.FLOAT, x.shape));
  };
  return { drop, sites };
}
