/**
 * BERT's embeddings and encoder layers on the autodiff tape, shared by every
 * graph that trains the encoder (the classifier's training graph and the
 * masked-language-model graph), so both compute exactly what the serving
 * graph computes with the same weight names.
 */
import onnxProto from 'onnx-proto';
import type { BertConfig } from '../bert-config.ts';
import { ATTENTION_MASK_BIAS, MS_DOMAIN, ONNX_IR_VERSION, ONNX_OPSET } from '../onnx-names.ts';
import { layerPrefix, WORD_EMBEDDINGS, type WeightMap } from '../weights.ts';
import * as op from './autodiff/ops.ts';
import { GRAD_SUMSQ_OUTPUT, type T, type Tape } from './autodiff/tape.ts';
import { DataType, intAttr, valueInfo } from './onnx-graph-builder.ts';

export interface EncoderCtx {
  readonly tape: Tape;
  readonly config: BertConfig;
  readonly w: (name: string) => T;
  readonly drop: (x: T) => T;
  /** Tables whose gradient leaves the graph as the gathered rows' (op.gatherRows), not a dense table. */
  readonly rowTables?: ReadonlySet<string>;
}

export function linear(c: EncoderCtx, x: T, name: string): T {
  return op.linear(c.tape, x, c.w(`${name}.weight`), c.w(`${name}.bias`));
}

export function norm(c: EncoderCtx, x: T, name: string): T {
  return op.layerNorm(c.tape, x, c.w(`${name}.weight`), c.w(`${name}.bias`), c.config.layerNormEps);
}

export function embeddings(c: EncoderCtx, ids: T, types: T): T {
  const { tape } = c;
  const g = tape.g;
  const seqLen = g.op('Gather', [g.op('Shape', [ids.name]), g.int64s([1], true)], [intAttr('axis', 0)]);
  const positions: T = { name: g.op('Range', [g.int64s([0], true), seqLen, g.int64s([1], true)]), shape: ['sequence'], grad: false };
  const word = (c.rowTables?.has(WORD_EMBEDDINGS) ? op.gatherRows : op.embed)(tape, c.w(WORD_EMBEDDINGS), ids);
  const pos = op.embed(tape, c.w('bert.embeddings.position_embeddings.weight'), positions, { distinctIds: true });
  const typ = op.embed(tape, c.w('bert.embeddings.token_type_embeddings.weight'), types, { oneHot: true });
  return c.drop(norm(c, op.add(tape, op.add(tape, word, pos), typ), 'bert.embeddings.LayerNorm'));
}

/** The additive attention bias from attention_mask: 0 on real tokens, a large negative on padding. */
export function attentionMaskBias(tape: Tape, mask: T): T {
  const g = tape.g;
  const maskF = g.op('Cast', [mask.name], [intAttr('to', DataType.FLOAT)]);
  const bias = g.op('Unsqueeze', [g.op('Mul', [g.op('Sub', [g.scalarFloat(1), maskF]), g.scalarFloat(ATTENTION_MASK_BIAS)]), g.int64s([1, 2])]);
  return { name: bias, shape: ['batch', 1, 1, 'sequence'], grad: false };
}

/**
 * One encoder layer. `clsOnly` is for the classifier's last layer, whose output
 * the pooler reads at [CLS] alone: queries, the attention output and the
 * feed-forward then run on that position only (keys and values still see every
 * token), the same logits for a fraction of the layer's work. Returns
 * [batch, 1, hidden] then.
 */
export function encoderLayer(c: EncoderCtx, x: T, i: number, maskBias: T, clsOnly = false): T {
  const { tape, config } = c;
  const p = layerPrefix(i);
  const headDim = config.hiddenSize / config.numHeads;
  const split = (t: T, perm: number[]): T =>
    op.transpose(tape, op.reshape(tape, t, [0, 0, config.numHeads, headDim], ['batch', t.shape[1], config.numHeads, headDim]), perm);
  const xq = clsOnly ? op.reshape(tape, op.firstPosition(tape, x), [0, 1, config.hiddenSize], ['batch', 1, config.hiddenSize]) : x;
  const q = split(linear(c, xq, `${p}.attention.self.query`), [0, 2, 1, 3]);
  const k = split(linear(c, x, `${p}.attention.self.key`), [0, 2, 1, 3]);
  const v = split(linear(c, x, `${p}.attention.self.value`), [0, 2, 1, 3]);
  const scores = op.add(tape, op.matmulNT(tape, q, k, 1 / Math.sqrt(headDim)), maskBias);
  const probs = c.drop(op.softmax(tape, scores));
  const ctxT = op.transpose(tape, op.matmul(tape, probs, v), [0, 2, 1, 3]);
  const merged = op.reshape(tape, ctxT, [0, 0, config.hiddenSize], ['batch', xq.shape[1], config.hiddenSize]);
  const h = norm(c, op.add(tape, c.drop(linear(c, merged, `${p}.attention.output.dense`)), xq), `${p}.attention.output.LayerNorm`);
  const inter = op.gelu(tape, linear(c, h, `${p}.intermediate.dense`));
  return norm(c, op.add(tape, c.drop(linear(c, inter, `${p}.output.dense`)), h), `${p}.output.LayerNorm`);
}

/** The taped graph as model bytes: `outputs` first, then one gradient output per trainable tensor, with any GRAD_SUMSQ_OUTPUT (dense gradients only), then each row gradient's ids and rows. */
export function encodeTrainingModel(tape: Tape, name: string, outputs: ReturnType<typeof valueInfo>[], gradients: ReadonlyMap<string, string>, weights: WeightMap): Uint8Array {
  const g = tape.g;
  const model = onnxProto.onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    producerName: 'livetag-training',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: ONNX_OPSET }, { domain: MS_DOMAIN, version: 1 }],
    graph: {
      name,
      node: g.nodes,
      initializer: g.initializers,
      input: tape.inputs,
      output: [
        ...outputs,
        ...[...gradients].map(([n, gname]) => valueInfo(gname, DataType.FLOAT, [...weights.get(n)!.shape])),
        ...(gradients.size > 0 ? [valueInfo(GRAD_SUMSQ_OUTPUT, DataType.FLOAT, [])] : []),
        ...[...tape.rowGradients.values()].flatMap((r) => [valueInfo(r.ids, DataType.INT64, [...r.idsShape]), valueInfo(r.rows, DataType.FLOAT, [...r.rowsShape])]),
      ],
    },
  });
  return onnxProto.onnx.ModelProto.encode(model).finish();
}
