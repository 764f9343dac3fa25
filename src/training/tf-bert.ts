/**
 * The BERT of src/model/ (same config, same canonical weight names, same math
 * as buildBertOnnx) as TensorFlow.js variables, so it can be trained and then
 * exported back through the ONNX writer. Lower layers can be frozen: they stay
 * out of tfjs entirely and their output arrives as cached hidden states.
 */
import type { BertConfig } from '../model/bert-config.ts';
import { ATTENTION_MASK_BIAS } from '../model/onnx-names.ts';
import { isTrainable, layerPrefix, weightSpecs, type WeightMap, type WeightTensor } from '../model/weights.ts';
import { LivetagError } from '../common/errors.ts';
import { tf } from './tf-backend.ts';


export type TfInput =
  | {
      readonly kind: 'ids';
      readonly ids: tf.Tensor2D;
      readonly typeIds: tf.Tensor2D;
      /** 1 for real tokens, 0 for padding, float32. */
      readonly mask: tf.Tensor2D;
    }
  | {
      readonly kind: 'hidden';
      /** Output of the frozen lower layers, [batch, seq, hidden]. */
      readonly hidden: tf.Tensor3D;
      readonly mask: tf.Tensor2D;
    };

export interface DropoutSpec {
  readonly rate: number;
  /** Advanced per step so every step draws a new mask, reproducibly. */
  readonly seed: number;
}

export interface TfBert {
  readonly config: BertConfig;
  /** Encoder layers below this index are frozen (and embeddings with them when > 0). */
  readonly frozenLayers: number;
  readonly variables: ReadonlyMap<string, tf.Variable>;
  /** Logits [batch, numLabels]; dropout only when given (training). */
  logits(input: TfInput, dropout?: DropoutSpec): tf.Tensor2D;
  /** Full canonical weight map: trained tensors from tfjs, frozen ones as given at creation. */
  exportWeights(): WeightMap;
  /** Overwrites trainable variables from a weight map (checkpoint restore, best-epoch restore). */
  loadWeights(weights: WeightMap): void;
  dispose(): void;
}

let instances = 0;

/** Linear weights live in tfjs as [in, out] so the forward pass needs no transposes. */
export function isLinearWeight(name: string, shape: readonly number[]): boolean {
  return shape.length === 2 && name.endsWith('.weight') && !name.startsWith('bert.embeddings.');
}


function transposeData(t: WeightTensor): Float32Array {
  const [rows, cols] = t.shape;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c];
  return out;
}

function toTf(name: string, t: WeightTensor): { data: Float32Array; shape: number[] } {
  if (isLinearWeight(name, t.shape)) return { data: transposeData(t), shape: [t.shape[1], t.shape[0]] };
  return { data: t.data, shape: [...t.shape] };
}

type VariableLookup = (name: string) => tf.Variable;

/** Trainable tensors become tfjs variables; the frozen ones stay as given. */
function splitWeights(config: BertConfig, weights: WeightMap, frozenLayers: number): { variables: Map<string, tf.Variable>; frozen: Map<string, WeightTensor> } {
  const id = `bert${instances++}`;
  const variables = new Map<string, tf.Variable>();
  const frozen = new Map<string, WeightTensor>();
  for (const spec of weightSpecs(config)) {
    const t = weights.get(spec.name);
    if (!t) throw new LivetagError('LT_WEIGHTS_INVALID', `missing tensor ${spec.name}`);
    if (!isTrainable(spec.name, frozenLayers)) {
      frozen.set(spec.name, t);
      continue;
    }
    const { data, shape } = toTf(spec.name, t);
    // A variable shares its initial tensor's buffer; dispose the tensor handle so only the variable holds it.
    const initial = tf.tensor(data, shape, 'float32');
    variables.set(spec.name, tf.variable(initial, true, `${id}/${spec.name}`));
    initial.dispose();
  }
  return { variables, frozen };
}

function layerNorm(v: VariableLookup, eps: number, x: tf.Tensor, name: string): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  const normed = tf.mul(centered, tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(normed, v(`${name}.weight`)), v(`${name}.bias`));
}

/** x [n, in] → [n, out]. */
function linear(v: VariableLookup, x: tf.Tensor2D, name: string): tf.Tensor2D {
  return tf.add(tf.matMul(x, v(`${name}.weight`) as tf.Tensor2D), v(`${name}.bias`)) as tf.Tensor2D;
}

/** The forward pass, op for op the ONNX graph's; call inside tf.tidy. */
function forward(config: BertConfig, frozenLayers: number, v: VariableLookup, input: TfInput, dropout?: DropoutSpec): tf.Tensor2D {
  const h = config.hiddenSize;
  const heads = config.numHeads;
  const headDim = h / heads;
  const scale = 1 / Math.sqrt(headDim);
  const norm = (x: tf.Tensor, name: string): tf.Tensor => layerNorm(v, config.layerNormEps, x, name);
  let seed = dropout?.seed ?? 0;
  const drop = <T extends tf.Tensor>(x: T): T => (dropout && dropout.rate > 0 ? (tf.dropout(x, dropout.rate, undefined, seed++) as T) : x);
  let x: tf.Tensor3D;
  if (input.kind === 'ids') {
    if (frozenLayers > 0) throw new LivetagError('LT_TRAINING', 'frozen layers need cached hidden states, not token ids');
    const [, s] = input.ids.shape;
    const word = tf.gather(v('bert.embeddings.word_embeddings.weight'), input.ids);
    const pos = tf.gather(v('bert.embeddings.position_embeddings.weight'), tf.range(0, s, 1, 'int32'));
    const typ = tf.gather(v('bert.embeddings.token_type_embeddings.weight'), input.typeIds);
    x = drop(norm(tf.add(tf.add(word, pos), typ), 'bert.embeddings.LayerNorm')) as tf.Tensor3D;
  } else {
    x = input.hidden;
  }
  const [b, s] = [x.shape[0], x.shape[1]];
  const maskBias = tf.reshape(tf.mul(tf.sub(1, input.mask), ATTENTION_MASK_BIAS), [b, 1, 1, s]);
  for (let i = frozenLayers; i < config.numLayers; i++) {
    const p = layerPrefix(i);
    const flat = tf.reshape(x, [b * s, h]) as tf.Tensor2D;
    const split = (t: tf.Tensor2D, perm: number[]): tf.Tensor => tf.transpose(tf.reshape(t, [b, s, heads, headDim]), perm);
    const q = split(linear(v, flat, `${p}.attention.self.query`), [0, 2, 1, 3]);
    // K is laid out [b, heads, dim, seq] up front: a plain product is XNNPACK's fast path.
    const k = split(linear(v, flat, `${p}.attention.self.key`), [0, 2, 3, 1]);
    const val = split(linear(v, flat, `${p}.attention.self.value`), [0, 2, 1, 3]);
    const scores = tf.add(tf.mul(tf.matMul(q, k), scale), maskBias);
    const probs = drop(tf.softmax(scores, -1));
    const ctx = tf.reshape(tf.transpose(tf.matMul(probs, val), [0, 2, 1, 3]), [b * s, h]) as tf.Tensor2D;
    const attnOut = drop(linear(v, ctx, `${p}.attention.output.dense`));
    const x1 = norm(tf.add(attnOut, flat), `${p}.attention.output.LayerNorm`) as tf.Tensor2D;
    const inter = linear(v, x1, `${p}.intermediate.dense`);
    // Exact (erf) GELU, as the ONNX graph and Hugging Face's "gelu".
    const gelu = tf.mul(tf.mul(inter, 0.5), tf.add(tf.erf(tf.div(inter, Math.SQRT2)), 1)) as tf.Tensor2D;
    const out = drop(linear(v, gelu, `${p}.output.dense`));
    x = tf.reshape(norm(tf.add(out, x1), `${p}.output.LayerNorm`), [b, s, h]);
  }
  const first = tf.reshape(tf.slice(x, [0, 0, 0], [b, 1, h]), [b, h]) as tf.Tensor2D;
  const pooled = drop(tf.tanh(linear(v, first, 'bert.pooler.dense')));
  return linear(v, pooled, 'classifier');
}

function exportWeights(config: BertConfig, variables: ReadonlyMap<string, tf.Variable>, frozen: ReadonlyMap<string, WeightTensor>): WeightMap {
  const map: WeightMap = new Map();
  for (const spec of weightSpecs(config)) {
    const fixed = frozen.get(spec.name);
    if (fixed) {
      map.set(spec.name, fixed);
      continue;
    }
    const data = variables.get(spec.name)!.dataSync() as Float32Array;
    const tfShape = variables.get(spec.name)!.shape;
    if (isLinearWeight(spec.name, spec.shape)) {
      map.set(spec.name, { shape: [...spec.shape], data: transposeData({ shape: tfShape, data }) });
    } else {
      map.set(spec.name, { shape: [...spec.shape], data: Float32Array.from(data) });
    }
  }
  return map;
}

function loadWeights(variables: ReadonlyMap<string, tf.Variable>, weights: WeightMap): void {
  for (const [name, variable] of variables) {
    const t = weights.get(name);
    if (!t) throw new LivetagError('LT_WEIGHTS_INVALID', `missing tensor ${name}`);
    const { data, shape } = toTf(name, t);
    tf.tidy(() => variable.assign(tf.tensor(data, shape, 'float32')));
  }
}

export function createTfBert(config: BertConfig, weights: WeightMap, frozenLayers = 0): TfBert {
  if (frozenLayers < 0 || frozenLayers > config.numLayers) {
    throw new LivetagError('LT_TRAINING', `cannot freeze ${frozenLayers} of ${config.numLayers} layers`);
  }
  const { variables, frozen } = splitWeights(config, weights, frozenLayers);
  const v: VariableLookup = (name) => {
    const found = variables.get(name);
    if (!found) throw new LivetagError('LT_TRAINING', `variable ${name} is frozen or missing`);
    return found;
  };
  return {
    config,
    frozenLayers,
    variables,
    logits: (input, dropout) => tf.tidy(() => forward(config, frozenLayers, v, input, dropout)),
    exportWeights: () => exportWeights(config, variables, frozen),
    loadWeights: (w) => loadWeights(variables, w),
    dispose() {
      for (const variable of variables.values()) variable.dispose();
      variables.clear();
    },
  };
}
