/**
 * Reverse-mode differentiation over ONNX: each operator the BERT writer uses
 * is emitted through this tape, which records how to send a gradient back
 * through it. `gradients(loss)` then appends the backward pass to the same
 * graph, so one onnxruntime run gives the loss, the logits and one gradient
 * per trainable tensor. Tensors that depend on no trainable one (masks,
 * frozen layers) get no backward nodes at all.
 */
import type onnxProto from 'onnx-proto';
import { LivetagError } from '../../../common/errors.ts';
import type { WeightTensor } from '../../weights.ts';
import { DataType, GraphBuilder, intAttr, valueInfo } from '../onnx-graph-builder.ts';
import { broadcastAxes, type Shape } from './shapes.ts';

/** A tensor in the graph: its name, symbolic shape, and whether a gradient flows to it. */
export interface T {
  readonly name: string;
  readonly shape: Shape;
  readonly grad: boolean;
}

type Backward = (g: string) => void;

/**
 * Σ of every dense gradient's squares, a scalar output beside the gradients:
 * the optimizer's global-norm clipping needs it before any weight moves, and
 * onnxruntime's threaded reduction gets it for a fraction of a JS pass over
 * every gradient (4% of a step).
 */
export const GRAD_SUMSQ_OUTPUT = 'grad_sumsq';

/**
 * A table's gradient as the rows a batch gathered: output `ids` (int64, the
 * row of each gathered position) and `rows` (its gradient, one row per id,
 * repeated ids not summed). The caller sums and applies them.
 */
export interface RowGradient {
  readonly ids: string;
  readonly rows: string;
  readonly idsShape: Shape;
  readonly rowsShape: Shape;
}

interface Entry {
  readonly out: T;
  readonly backward: Backward;
}

export class Tape {
  readonly g = new GraphBuilder();
  readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly entries: Entry[] = [];
  private readonly grads = new Map<string, string[]>();
  private readonly params: T[] = [];
  private readonly ones = new Map<string, string>();
  private readonly rowParts = new Map<string, { ids: string; dy: string; idsShape: Shape; rowsShape: Shape }>();
  private readonly rows = new Map<string, RowGradient>();

  input(name: string, elemType: number, shape: Shape): T {
    this.inputs.push(valueInfo(name, elemType, [...shape]));
    return { name, shape, grad: false };
  }

  /** A weight: trainable ones are graph inputs that get a gradient output; frozen ones are initializers. */
  param(name: string, tensor: WeightTensor, trainable: boolean): T {
    if (!trainable) {
      this.g.float32Tensor(name, tensor);
      return { name, shape: tensor.shape, grad: false };
    }
    const t = this.input(name, DataType.FLOAT, tensor.shape);
    const p = { ...t, grad: true };
    this.params.push(p);
    return p;
  }

  scalar(value: number): T {
    return { name: this.g.scalarFloat(value), shape: [], grad: false };
  }

  /** Records `out` as computed from differentiable inputs, with its backward rule. */
  record(out: T, backward: Backward): T {
    if (out.grad) this.entries.push({ out, backward });
    return out;
  }

  /** Adds a gradient contribution for `t` (summed with any others). */
  accumulate(t: T, g: string): void {
    if (!t.grad) return;
    const list = this.grads.get(t.name);
    if (list) list.push(g);
    else this.grads.set(t.name, [g]);
  }

  /**
   * `t`'s gradient as the gathered rows' gradients `dy` and their `ids`,
   * output as they are rather than scattered into a dense table of zeros
   * (gradients() names them `grad.<t>.ids` and `grad.<t>.rows`).
   */
  accumulateRows(t: T, ids: string, dy: string, idsShape: Shape, rowsShape: Shape): void {
    if (!t.grad) return;
    if (this.rowParts.has(t.name)) throw new LivetagError('LT_INTERNAL', `${t.name}: rows gathered twice; only one gather per row-gradient table`);
    this.rowParts.set(t.name, { ids, dy, idsShape, rowsShape });
  }

  /** Sums gradient `g` (shaped like `to`) back to `t`'s shape along the axes `t` was broadcast on, then accumulates it. */
  accumulateBroadcast(t: T, g: string, to: Shape): void {
    if (!t.grad) return;
    const { leading, kept } = broadcastAxes(t.shape, to);
    if (t.shape.length === 1 && typeof t.shape[0] === 'number' && to.length >= 2 && kept.length === 0) {
      this.accumulate(t, this.sumRows(g, t.shape[0], to.slice(0, -1)));
      return;
    }
    let out = g;
    if (leading.length > 0) out = this.g.op('ReduceSum', [out, this.g.int64s(leading)], [intAttr('keepdims', 0)]);
    if (kept.length > 0) out = this.g.op('ReduceSum', [out, this.g.int64s(kept)], [intAttr('keepdims', 1)]);
    this.accumulate(t, out);
  }

  /**
   * Σ over every axis but the last, as ones[rows]·G[rows, width]: onnxruntime's
   * GEMV does this 3× faster than its ReduceSum over leading axes (measured on
   * the bias and LayerNorm gradients of a small-model step).
   */
  private sumRows(g: string, width: number, leading: Shape): string {
    const rows = this.g.op('Reshape', [g, this.g.int64s([-1, width])]);
    // One ones-vector per leading shape (every [batch, sequence, ·] gradient shares one): three nodes fewer per bias.
    const key = leading.join(',');
    let ones = this.ones.get(key);
    if (ones === undefined) {
      const count = this.g.op('Slice', [this.g.op('Shape', [rows]), this.g.int64s([0]), this.g.int64s([1])]);
      ones = this.g.op('ConstantOfShape', [count], [tensorAttr(1)]);
      this.ones.set(key, ones);
    }
    return this.g.op('MatMul', [ones, rows]);
  }

  private total(name: string): string | undefined {
    const list = this.grads.get(name);
    if (!list || list.length === 0) return undefined;
    return list.reduce((a, b) => this.g.op('Add', [a, b]));
  }

  /**
   * Appends the backward pass from a scalar `loss` and returns each trainable
   * tensor's gradient output name (`grad.<name>`), zeros where none reaches
   * it, and GRAD_SUMSQ_OUTPUT; tables gathered by rows are in rowGradients
   * instead.
   */
  gradients(loss: T): Map<string, string> {
    if (loss.shape.length !== 0) throw new LivetagError('LT_INTERNAL', 'gradients() needs a scalar loss');
    this.accumulate(loss, this.g.op('ConstantOfShape', [this.g.int64s([])], [tensorAttr(1)]));
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const { out, backward } = this.entries[i];
      const g = this.total(out.name);
      if (g !== undefined) backward(g);
    }
    const result = new Map<string, string>();
    for (const p of this.params) {
      const name = `grad.${p.name}`;
      const part = this.rowParts.get(p.name);
      if (part) {
        if (this.grads.has(p.name)) throw new LivetagError('LT_INTERNAL', `${p.name}: a row gradient and a dense one`);
        const rows = `${name}.rows`;
        if (!this.renameOutput(part.dy, rows)) this.g.op('Identity', [part.dy], [], rows);
        this.rows.set(p.name, { ids: this.g.op('Identity', [part.ids], [], `${name}.ids`), rows, idsShape: part.idsShape, rowsShape: part.rowsShape });
        continue;
      }
      const g = this.total(p.name);
      if (g === undefined) this.g.op('ConstantOfShape', [this.g.op('Shape', [p.name])], [tensorAttr(0)], name);
      else if (!this.renameOutput(g, name)) this.g.op('Identity', [g], [], name);
      result.set(p.name, name);
    }
    if (result.size > 0) this.g.op('Sum', [...result.values()].map((name) => this.g.op('ReduceSumSquare', [name], [intAttr('keepdims', 0)])), [], GRAD_SUMSQ_OUTPUT);
    return result;
  }

  /**
   * Names the node output `from` as `to` where nothing else reads it, so a
   * gradient output needs no Identity. onnxruntime removes such an Identity
   * itself, but not once the output has a reader of its own (the Σg² beside
   * the gradients): then it copies every gradient, 6% of a bert-base step.
   */
  private renameOutput(from: string, to: string): boolean {
    const producer = this.g.nodes.find((n) => n.output?.includes(from));
    if (!producer || this.g.nodes.some((n) => n.input?.includes(from))) return false;
    producer.output = producer.output!.map((o) => (o === from ? to : o));
    return true;
  }

  /** Filled by gradients(): the tables whose gradient leaves the graph as rows (see accumulateRows). */
  get rowGradients(): ReadonlyMap<string, RowGradient> {
    return this.rows;
  }

  get trainable(): readonly T[] {
    return this.params;
  }
}

/** A float scalar tensor attribute (ConstantOfShape's `value`). */
function tensorAttr(value: number) {
  return { name: 'value', type: 4 /* TENSOR */, t: { dims: [1], dataType: DataType.FLOAT, floatData: [value] } } as unknown as ReturnType<typeof intAttr>;
}

