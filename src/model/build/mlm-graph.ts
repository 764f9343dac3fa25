/**
 * The masked-language-model training graph: BERT's encoder (shared with the
 * classifier's training graph) under Hugging Face BertForMaskedLM's head,
 * run only at the masked positions. The decoder is tied to the word
 * embeddings: one graph input whose gradient sums the embedding lookup's and
 * the decoder's, as PyTorch's tied parameter does.
 */
import type { BertConfig } from '../bert-config.ts';
import { INPUT_NAMES } from '../onnx-names.ts';
import { LivetagError } from '../../common/errors.ts';
import { inEncoderPrefix, weightSpecs, WORD_EMBEDDINGS, type WeightMap, type WeightSpec } from '../weights.ts';
import * as op from './autodiff/ops.ts';
import { Tape, type T } from './autodiff/tape.ts';
import { attentionMaskBias, embeddings, encodeTrainingModel, encoderLayer, linear, norm, type EncoderCtx } from './encoder-graph.ts';
import { createDropoutSites, type DropoutSite } from './dropout-sites.ts';
import { DataType, intAttr, valueInfo } from './onnx-graph-builder.ts';

export const MLM_INPUTS = Object.freeze({
  /** Flat indices (row · sequence + position) of the masked tokens, int64 [masked]. */
  positions: 'mlm_positions',
  /** The original token id at each masked position, int64 [masked]. */
  labels: 'mlm_labels',
});
export const MLM_OUTPUTS = Object.freeze({ loss: 'loss', predictions: 'mlm_predictions' });
export const TIED_EMBEDDING = WORD_EMBEDDINGS;

/** BertForMaskedLM's head tensors (its decoder weight is the tied word embedding, so not listed). */
export function mlmHeadSpecs(c: BertConfig): WeightSpec[] {
  const h = c.hiddenSize;
  return [
    { name: 'cls.predictions.transform.dense.weight', shape: [h, h], init: 'normal' },
    { name: 'cls.predictions.transform.dense.bias', shape: [h], init: 'zeros' },
    { name: 'cls.predictions.transform.LayerNorm.weight', shape: [h], init: 'ones' },
    { name: 'cls.predictions.transform.LayerNorm.bias', shape: [h], init: 'zeros' },
    { name: 'cls.predictions.bias', shape: [c.vocabSize], init: 'zeros' },
  ];
}

/** Every tensor the MLM graph trains: the encoder (no pooler, no classifier) and the MLM head. */
export function mlmWeightSpecs(c: BertConfig): WeightSpec[] {
  return [...weightSpecs(c).filter((s) => inEncoderPrefix(s.name, c.numLayers)), ...mlmHeadSpecs(c)];
}

export interface MlmGraph {
  readonly bytes: Uint8Array;
  readonly inputs: readonly string[];
  readonly trainable: readonly string[];
  readonly gradients: ReadonlyMap<string, string>;
  /** The dropout mask inputs, empty without dropout. */
  readonly dropoutSites: readonly DropoutSite[];
}

function checkMlmWeights(config: BertConfig, weights: WeightMap): WeightSpec[] {
  const specs = mlmWeightSpecs(config);
  for (const s of specs) {
    const t = weights.get(s.name);
    if (!t || t.shape.join() !== s.shape.join()) throw new LivetagError('LT_WEIGHTS_INVALID', `MLM graph: tensor ${s.name} is ${t ? `[${t.shape.join(',')}]` : 'missing'}, expected [${s.shape.join(',')}]`);
  }
  return specs;
}

/** Builds the MLM graph: inputs BERT's three, the masked positions and their labels, dropout masks when `dropout`; outputs loss, argmax predictions and a gradient per tensor. */
export function buildMlmGraph(config: BertConfig, weights: WeightMap, dropout = false): MlmGraph {
  const specs = checkMlmWeights(config, weights);
  const tape = new Tape();
  const I = DataType.INT64;
  const inputs: string[] = [];
  const input = (name: string, type: number, shape: (string | number)[]): T => (inputs.push(name), tape.input(name, type, shape));
  const ids = input(INPUT_NAMES[0], I, ['batch', 'sequence']);
  const mask = input(INPUT_NAMES[1], I, ['batch', 'sequence']);
  const types = input(INPUT_NAMES[2], I, ['batch', 'sequence']);
  const positions = input(MLM_INPUTS.positions, I, ['masked']);
  const labels = input(MLM_INPUTS.labels, I, ['masked']);
  const params = new Map(specs.map((s) => [s.name, tape.param(s.name, weights.get(s.name)!, true)]));
  const { drop, sites } = createDropoutSites(tape, dropout);
  const c: EncoderCtx = { tape, config, w: (n) => params.get(n)!, drop };

  const maskBias = attentionMaskBias(tape, mask);
  let x = embeddings(c, ids, types);
  for (let i = 0; i < config.numLayers; i++) x = encoderLayer(c, x, i, maskBias);
  const flat = op.reshape(tape, x, [-1, config.hiddenSize], ['tokens', config.hiddenSize]);
  const picked = op.embed(tape, flat, positions, { distinctIds: true });
  const h = norm(c, op.gelu(tape, linear(c, picked, 'cls.predictions.transform.dense')), 'cls.predictions.transform.LayerNorm');
  // The tied decoder: the same word-embedding input the lookup above read.
  const logits = op.linear(tape, h, c.w(TIED_EMBEDDING), c.w('cls.predictions.bias'));
  const loss = op.neg(tape, op.meanAll(tape, op.pickColumn(tape, op.logSoftmax(tape, logits), labels)));
  const g = tape.g;
  g.op('Identity', [loss.name], [], MLM_OUTPUTS.loss);
  g.op('ArgMax', [logits.name], [intAttr('axis', -1), intAttr('keepdims', 0)], MLM_OUTPUTS.predictions);
  const gradients = tape.gradients(loss);

  const outputs = [valueInfo(MLM_OUTPUTS.loss, DataType.FLOAT, []), valueInfo(MLM_OUTPUTS.predictions, I, ['masked'])];
  const bytes = encodeTrainingModel(tape, 'bert_mlm_training', outputs, gradients, weights);
  return { bytes, inputs, trainable: tape.trainable.map((t) => t.name), gradients, dropoutSites: sites };
}
