/**
 * The training graph: the serving graph's forward pass (same operators, same
 * weight names and layouts as buildBertOnnx), dropout where BERT has it, a
 * multi-label loss, and the backward pass derived by the tape. One
 * onnxruntime run returns the loss, the logits and a gradient for every
 * trainable tensor; frozen tensors are baked in and get no backward nodes.
 */
import { LivetagError } from '../../common/errors.ts';
import type { BertConfig } from '../bert-config.ts';
import { INPUT_NAMES, NGRAM_INPUT, OUTPUT_NAME } from '../onnx-names.ts';
import { checkWeights, isTrainable, weightSpecs, type WeightMap } from '../weights.ts';
import * as op from './autodiff/ops.ts';
import { Tape, type RowGradient, type T } from './autodiff/tape.ts';
import { attentionMaskBias, embeddings, encodeTrainingModel, encoderLayer, linear, type EncoderCtx } from './encoder-graph.ts';
import { createDropoutSites, type DropoutSite } from './dropout-sites.ts';
import { emitNgramFeatures, NGRAM_IDF, NGRAM_TABLE, ngramSource } from './ngram-graph.ts';
import { DataType, valueInfo } from './onnx-graph-builder.ts';

/** PyTorch's BCELoss clamps log terms at -100 so saturated sigmoids give a finite loss. */
export const TORCH_LOG_FLOOR = -100;

export const TRAINING_INPUTS = Object.freeze({
  hidden: 'hidden_states',
  labels: 'labels',
  posWeight: 'pos_weight',
});
export const LOSS_OUTPUT = 'loss';

export type TrainingLoss =
  | { readonly name: 'bce' }
  | { readonly name: 'sigmoid-bce' }
  | { readonly name: 'focal'; readonly gamma: number }
  | { readonly name: 'asl'; readonly gammaNeg: number; readonly gammaPos: number; readonly clip: number };

export interface TrainingGraphOptions {
  readonly loss: TrainingLoss;
  /**
   * Encoder layers below this index are frozen and not in the graph: its
   * input is then their output (`hidden_states`), cached once by the trainer.
   */
  readonly frozenLayers: number;
  /**
   * Forward only: logits from the same inputs and weight inputs, no loss, no
   * backward nodes (what the trainer predicts validation rows with).
   */
  readonly forwardOnly?: boolean;
  /** Tensors kept as they are (baked in, no gradient) although their layer trains: the n-gram table started from the linear fit. */
  readonly frozenTensors?: ReadonlySet<string>;
  /** Dropout where BERT has it, with masks fed per step (TrainingGraph.dropoutSites); off when absent. */
  readonly dropout?: boolean;
  /** Tables whose gradient leaves the graph as gathered rows (TrainingGraph.rowGradients): the n-gram table, the word embeddings. */
  readonly rowGradients?: ReadonlySet<string>;
  /** The last layer on every position instead of [CLS] alone (encoderLayer's clsOnly; the same loss and gradients): for side-by-side measurements only. */
  readonly wholeLastLayer?: boolean;
}

export interface TrainingGraph {
  readonly bytes: Uint8Array;
  /** Graph inputs besides the trainable weights, in order. */
  readonly inputs: readonly string[];
  /** Weight inputs (the trainable tensors), in order. */
  readonly trainable: readonly string[];
  /** Trainable tensor name → its gradient output name (empty for a forward-only graph). */
  readonly gradients: ReadonlyMap<string, string>;
  /** The dropout mask inputs, empty without dropout. */
  readonly dropoutSites: readonly DropoutSite[];
  /** Tensor name → its row gradient's outputs, for the tables TrainingGraphOptions.rowGradients named (not in `gradients`). */
  readonly rowGradients: ReadonlyMap<string, RowGradient>;
}

/** Σ over n-gram positions of weight × table row: the serving graph's wide logits, with the table's gradient. */
function wideLogits(c: EncoderCtx, ids: T | undefined, mask: T, weights: WeightMap, byRows: boolean): T {
  const { tape, config } = c;
  const g = tape.g;
  g.float32Tensor(NGRAM_IDF, weights.get(NGRAM_IDF)!);
  const src = ngramSource(g, config.ngram!, ids?.name, mask.name);
  const f = emitNgramFeatures(g, src.ids, src.mask, config.ngram!, config.vocabSize);
  const buckets: T = { name: f.buckets, shape: ['batch', 'ngrams'], grad: false };
  const w: T = { name: g.op('Unsqueeze', [f.weights, g.int64s([-1])]), shape: ['batch', 'ngrams', 1], grad: false };
  const rows = (byRows ? op.gatherRows : op.embed)(tape, c.w(NGRAM_TABLE), buckets);
  return op.sumAxis(tape, op.mul(tape, rows, w), 1);
}

/** Mean over rows × labels, as the tfjs losses in src/training/losses.ts. */
function lossOf(tape: Tape, logits: T, labels: T, posWeight: T, loss: TrainingLoss): T {
  const one = tape.scalar(1);
  const notY = op.sub(tape, one, labels);
  const spNeg = () => op.softplus(tape, op.neg(tape, logits));
  const spPos = () => op.softplus(tape, logits);
  switch (loss.name) {
    case 'bce':
      return op.meanAll(tape, op.add(tape, op.mul(tape, op.mul(tape, labels, spNeg()), posWeight), op.mul(tape, notY, spPos())));
    case 'sigmoid-bce': {
      const p = op.sigmoid(tape, logits);
      // log σ(z) as −softplus(−z): onnxruntime's CPU Sigmoid is exactly 0 from z ≈ −18 on (float32 still
      // holds 2e-9 at −20), so log p would hit the floor there with no gradient, where PyTorch and tfjs
      // give −z and −1: a confidently wrong positive would never be corrected.
      const logP = op.maxConst(tape, op.neg(tape, spNeg()), TORCH_LOG_FLOOR);
      const log1mP = op.logFloor(tape, op.sub(tape, one, p), TORCH_LOG_FLOOR);
      return op.neg(tape, op.meanAll(tape, op.add(tape, op.mul(tape, labels, logP), op.mul(tape, notY, log1mP))));
    }
    case 'focal': {
      const p = op.sigmoid(tape, logits);
      const pos = op.mul(tape, op.mul(tape, labels, op.powConst(tape, op.sub(tape, one, p), loss.gamma)), spNeg());
      const neg = op.mul(tape, op.mul(tape, notY, op.powConst(tape, p, loss.gamma)), spPos());
      return op.meanAll(tape, op.add(tape, pos, neg));
    }
    case 'asl': {
      const p = op.sigmoid(tape, logits);
      const pm = loss.clip > 0 ? op.maxConst(tape, op.sub(tape, p, tape.scalar(loss.clip)), 0) : p;
      const pos = op.mul(tape, op.mul(tape, labels, op.powConst(tape, op.sub(tape, one, p), loss.gammaPos)), spNeg());
      const logNotPm = op.log(tape, op.maxConst(tape, op.sub(tape, one, pm), 1e-8));
      const neg = op.mul(tape, op.mul(tape, notY, op.powConst(tape, pm, loss.gammaNeg)), op.neg(tape, logNotPm));
      return op.meanAll(tape, op.add(tape, pos, neg));
    }
    default:
      throw new LivetagError('LT_TRAINING', `unknown loss ${String((loss as { name: string }).name)}`);
  }
}

/** Builds the training graph for `weights` (the trainable ones become inputs; see TrainingGraph). */
export function buildTrainingGraph(config: BertConfig, weights: WeightMap, opts: TrainingGraphOptions): TrainingGraph {
  checkWeights(config, weights);
  const frozen = opts.frozenLayers;
  if (frozen < 0 || frozen > config.numLayers) throw new LivetagError('LT_TRAINING', `cannot freeze ${frozen} of ${config.numLayers} layers`);
  const tape = new Tape();
  const I = DataType.INT64;
  const inputs: string[] = [];
  const input = (name: string, type: number, shape: (string | number)[]): T => (inputs.push(name), tape.input(name, type, shape));
  // A token branch hashes token ids, so it reads them even above a frozen prefix; a text branch reads its own codes.
  const ids = frozen === 0 || config.ngram?.source === 'tokens' ? input(INPUT_NAMES[0], I, ['batch', 'sequence']) : undefined;
  const hidden = frozen > 0 ? input(TRAINING_INPUTS.hidden, DataType.FLOAT, ['batch', 'sequence', config.hiddenSize]) : undefined;
  const mask = input(INPUT_NAMES[1], I, ['batch', 'sequence']);
  const types = frozen === 0 ? input(INPUT_NAMES[2], I, ['batch', 'sequence']) : undefined;
  if (config.ngram?.source === 'text') input(NGRAM_INPUT, I, ['batch', 'chars']);
  const forward = opts.forwardOnly === true;
  const labels = forward ? undefined : input(TRAINING_INPUTS.labels, DataType.FLOAT, ['batch', config.numLabels]);
  const posWeight = forward ? undefined : input(TRAINING_INPUTS.posWeight, DataType.FLOAT, [config.numLabels]);

  const params = new Map<string, T>();
  for (const spec of weightSpecs(config)) {
    // Frozen layers are not in the graph at all; frozen tensors of a training layer are baked in as initializers.
    if (!isTrainable(spec.name, frozen)) continue;
    params.set(spec.name, tape.param(spec.name, weights.get(spec.name)!, !opts.frozenTensors?.has(spec.name)));
  }
  const { drop, sites } = createDropoutSites(tape, !forward && opts.dropout === true);
  const c: EncoderCtx = { tape, config, w: (n) => params.get(n)!, drop, rowTables: opts.rowGradients };

  const g = tape.g;
  const maskBias = attentionMaskBias(tape, mask);
  let x = hidden ?? embeddings(c, ids!, types!);
  for (let i = frozen; i < config.numLayers; i++) x = encoderLayer(c, x, i, maskBias, opts.wholeLastLayer !== true && i === config.numLayers - 1);
  const pooled = c.drop(op.tanh(tape, linear(c, op.firstPosition(tape, x), 'bert.pooler.dense')));
  const logits = config.ngram ? op.add(tape, linear(c, pooled, 'classifier'), wideLogits(c, ids, mask, weights, opts.rowGradients?.has(NGRAM_TABLE) === true)) : linear(c, pooled, 'classifier');
  g.op('Identity', [logits.name], [], OUTPUT_NAME);
  let gradients = new Map<string, string>();
  if (labels && posWeight) {
    const loss = lossOf(tape, logits, labels, posWeight, opts.loss);
    g.op('Identity', [loss.name], [], LOSS_OUTPUT);
    gradients = tape.gradients(loss);
  }

  const outputs = [...(forward ? [] : [valueInfo(LOSS_OUTPUT, DataType.FLOAT, [])]), valueInfo(OUTPUT_NAME, DataType.FLOAT, ['batch', config.numLabels])];
  const bytes = encodeTrainingModel(tape, 'bert_multilabel_training', outputs, gradients, weights);
  return { bytes, inputs, trainable: tape.trainable.map((t) => t.name), gradients, dropoutSites: sites, rowGradients: tape.rowGradients };
}
