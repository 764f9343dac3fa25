import onnxProto from 'onnx-proto';
import type { BertConfig } from '../bert-config.ts';
import { checkWeights, inEncoderPrefix, layerPrefix, weightSpecs, type WeightMap, type WeightTensor } from '../weights.ts';
import { LivetagError } from '../../common/errors.ts';
import { ATTENTION_MASK_BIAS, HIDDEN_OUTPUT_NAME, INPUT_NAMES, MS_DOMAIN, ONNX_IR_VERSION, ONNX_OPSET, NGRAM_INPUT, OUTPUT_NAME } from '../onnx-names.ts';
import { DataType, GraphBuilder, floatAttr, intAttr, intsAttr, valueInfo } from './onnx-graph-builder.ts';
import { emitNgramFeatures, emitWideLogits, ngramSource } from './ngram-graph.ts';
import { concatVectors, packTransposed, quantizeColumns } from './weight-packing.ts';

const { onnx } = onnxProto;


export interface BuildOptions {
  /**
   * Stop after this many encoder layers and output their hidden states
   * (`hidden_states` [batch, sequence, hidden]) instead of logits: the trainer
   * runs frozen lower layers through onnxruntime once and caches them.
   */
  readonly hiddenAfterLayers?: number;
  readonly meta?: Record<string, string>;
  /**
   * Emit onnxruntime's fused transformer operators (Attention with packed
   * QKV, SkipLayerNormalization, BiasGelu) instead of standard ones. Faster
   * on onnxruntime's CPU and CUDA providers; a serving variant only (its
   * packed weights are not read back by readBertWeights).
   */
  readonly fused?: boolean;
  /**
   * Serving precision of a fused graph. int8: weight matrices quantized per
   * column, activations quantized per batch at run time (QAttention,
   * DynamicQuantizeMatMul; onnxruntime CPU). fp16: every float weight and
   * activation in half precision, logits cast back to float32 (for CUDA; on
   * CPU onnxruntime inserts casts around operators it lacks fp16 kernels for).
   */
  readonly precision?: 'fp32' | 'int8' | 'fp16';
  /**
   * Run the last layer on every position, as Hugging Face does, instead of on
   * [CLS] alone (the same logits): for side-by-side measurements only.
   */
  readonly wholeLastLayer?: boolean;
}

/** One graph being emitted: the builder and what every part of the graph needs to know. */
interface Emit {
  readonly g: GraphBuilder;
  readonly config: BertConfig;
  readonly weights: WeightMap;
  /** hiddenAfterLayers, when the graph is an encoder prefix. */
  readonly prefix: number | undefined;
  readonly layers: number;
  readonly precision: NonNullable<BuildOptions['precision']>;
  readonly fused: boolean;
  /** The attention mask as int32, what the fused operators take ('' when unfused). */
  readonly maskInt: string;
  readonly wholeLastLayer: boolean;
}

function linear(g: GraphBuilder, x: string, name: string): string {
  const wt = g.op('Transpose', [`${name}.weight`], [intsAttr('perm', [1, 0])]);
  return g.op('Add', [g.op('MatMul', [x, wt]), `${name}.bias`]);
}

function layerNorm(e: Emit, x: string, name: string, out?: string): string {
  return e.g.op('LayerNormalization', [x, `${name}.weight`, `${name}.bias`], [intAttr('axis', -1), floatAttr('epsilon', e.config.layerNormEps)], out);
}

/** The name of a layer's output: the graph output after the last layer of an encoder prefix. */
function layerOut(e: Emit, i: number): string | undefined {
  return e.prefix !== undefined && i === e.layers - 1 ? HIDDEN_OUTPUT_NAME : undefined;
}

function embeddings(e: Emit): string {
  const { g } = e;
  if (e.fused && e.prefix === undefined) {
    // EmbedLayerNormalization: the three lookups, their sum and the LayerNorm
    // in one kernel (positions 0…S-1, as the unfused graph's Range).
    const int32 = (name: string): string => g.op('Cast', [name], [intAttr('to', DataType.INT32)]);
    const inputs = [
      int32('input_ids'),
      int32('token_type_ids'),
      'bert.embeddings.word_embeddings.weight',
      'bert.embeddings.position_embeddings.weight',
      'bert.embeddings.token_type_embeddings.weight',
      'bert.embeddings.LayerNorm.weight',
      'bert.embeddings.LayerNorm.bias',
      e.maskInt,
    ];
    return g.opN('EmbedLayerNormalization', inputs, 2, [floatAttr('epsilon', e.config.layerNormEps)], undefined, MS_DOMAIN)[0];
  }
  // Word + position + token type, then LayerNorm.
  const seqLen = g.op('Gather', [g.op('Shape', ['input_ids']), g.int64s([1], true)], [intAttr('axis', 0)]);
  const positions = g.op('Range', [g.int64s([0], true), seqLen, g.int64s([1], true)]);
  const word = g.op('Gather', ['bert.embeddings.word_embeddings.weight', 'input_ids'], [intAttr('axis', 0)]);
  const pos = g.op('Gather', ['bert.embeddings.position_embeddings.weight', positions], [intAttr('axis', 0)]);
  const typ = g.op('Gather', ['bert.embeddings.token_type_embeddings.weight', 'token_type_ids'], [intAttr('axis', 0)]);
  const out = e.layers === 0 && e.prefix !== undefined ? HIDDEN_OUTPUT_NAME : undefined;
  return layerNorm(e, g.op('Add', [g.op('Add', [word, pos]), typ]), 'bert.embeddings.LayerNorm', out);
}

/** Additive mask [B, 1, 1, S]: 0 where attended, ATTENTION_MASK_BIAS where padded (the fused Attention takes the raw mask), in the graph's float type. */
function additiveMask(g: GraphBuilder): string {
  const maskF = g.op('Cast', ['attention_mask'], [intAttr('to', g.half ? DataType.FLOAT16 : DataType.FLOAT)]);
  const inverted = g.op('Sub', [g.scalarFloat(1), maskF]);
  return g.op('Unsqueeze', [g.op('Mul', [inverted, g.scalarFloat(ATTENTION_MASK_BIAS)]), g.int64s([1, 2])]);
}

/**
 * The standard layers' shape tensors and scalars. Emitted for every graph,
 * fused too, so tensor and node names do not depend on the variant; the fused
 * graph's unread ones are dropped with the other unread initializers.
 */
function standardConstants(e: Emit) {
  const { g, config } = e;
  const headDim = config.hiddenSize / config.numHeads;
  return {
    splitShape: g.int64s([0, 0, config.numHeads, headDim]),
    mergeShape: g.int64s([0, 0, config.hiddenSize]),
    scale: g.scalarFloat(1 / Math.sqrt(headDim)),
    sqrt2: g.scalarFloat(Math.SQRT2),
    one: g.scalarFloat(1),
    half: g.scalarFloat(0.5),
  };
}

/** The [CLS] position of [batch, sequence, hidden] as [batch, 1, hidden]. */
function clsPosition(g: GraphBuilder, x: string): string {
  return g.op('Gather', [x, g.int64s([0])], [intAttr('axis', 1)]);
}

/**
 * Whether layer i is the classifier's last: the pooler reads its output at
 * [CLS] only, so it runs queries, the attention output and the feed-forward
 * on that position alone (encoderLayer's clsOnly, the training graph's twin).
 */
function clsOnlyLayer(e: Emit, i: number): boolean {
  return e.prefix === undefined && !e.wholeLastLayer && i === e.layers - 1;
}

/** Scaled dot-product attention of `queries` over `keys` and `values` (each [batch, positions, hidden]) as standard operators. */
function standardAttention(e: Emit, queries: string, keys: string, values: string, k: ReturnType<typeof standardConstants>, maskBias: string): string {
  const { g } = e;
  const split = (t: string, perm: number[]): string => g.op('Transpose', [g.op('Reshape', [t, k.splitShape])], [intsAttr('perm', perm)]);
  const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [split(queries, [0, 2, 1, 3]), split(keys, [0, 2, 3, 1])]), k.scale]), maskBias]);
  const probs = g.op('Softmax', [scores], [intAttr('axis', -1)]);
  return g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, split(values, [0, 2, 1, 3])])], [intsAttr('perm', [0, 2, 1, 3])]), k.mergeShape]);
}

function standardLayer(e: Emit, x: string, i: number, k: ReturnType<typeof standardConstants>, maskBias: string): string {
  const { g } = e;
  const p = layerPrefix(i);
  const xq = clsOnlyLayer(e, i) ? clsPosition(g, x) : x;
  const q = linear(g, xq, `${p}.attention.self.query`);
  const ctx = standardAttention(e, q, linear(g, x, `${p}.attention.self.key`), linear(g, x, `${p}.attention.self.value`), k, maskBias);
  const attnOut = linear(g, ctx, `${p}.attention.output.dense`);
  const h = layerNorm(e, g.op('Add', [attnOut, xq]), `${p}.attention.output.LayerNorm`);

  // GELU, exact (erf) form as in Hugging Face's "gelu".
  const inter = linear(g, h, `${p}.intermediate.dense`);
  const erf = g.op('Erf', [g.op('Div', [inter, k.sqrt2])]);
  const gelu = g.op('Mul', [g.op('Mul', [inter, k.half]), g.op('Add', [erf, k.one])]);
  const out = linear(g, gelu, `${p}.output.dense`);
  return layerNorm(e, g.op('Add', [out, h]), `${p}.output.LayerNorm`, layerOut(e, i));
}

function quantized(g: GraphBuilder, name: string, w: WeightTensor): { weight: string; scale: string } {
  const q = quantizeColumns(w);
  return {
    weight: g.int8Tensor(`${name}.weight_int8`, [...w.shape], q.data),
    scale: g.float32Tensor(`${name}.weight_scale`, { shape: [q.scales.length], data: q.scales }),
  };
}

/** t × Wᵀ for a Linear's [out, in] weight: a transposed MatMul, or int8 DynamicQuantizeMatMul. */
function matmulT(e: Emit, t: string, name: string): string {
  if (e.precision !== 'int8') return e.g.op('MatMul', [t, e.g.op('Transpose', [`${name}.weight`], [intsAttr('perm', [1, 0])])]);
  const q = quantized(e.g, name, packTransposed([e.weights.get(`${name}.weight`)!]));
  return e.g.msOp('DynamicQuantizeMatMul', [t, q.weight, q.scale]);
}

/** x × [W₁ᵀ W₂ᵀ …] + [b₁ b₂ …] as one product (int8 where the graph is: one quantization of x), split back per Linear. */
function packedLinears(e: Emit, x: string, names: readonly string[], packedName: string): string[] {
  const { g } = e;
  const packed = packTransposed(names.map((n) => e.weights.get(`${n}.weight`)!));
  const bias = g.floatTensor(`${packedName}.bias`, concatVectors(names.map((n) => e.weights.get(`${n}.bias`)!)));
  let product: string;
  if (e.precision === 'int8') {
    const q = quantized(g, packedName, packed);
    product = g.msOp('DynamicQuantizeMatMul', [x, q.weight, q.scale]);
  } else {
    product = g.op('MatMul', [x, g.floatTensor(`${packedName}.weight`, packed)]);
  }
  const y = g.op('Add', [product, bias]);
  return names.length === 1 ? [y] : g.opN('Split', [y], names.length, [intAttr('axis', -1)]);
}

/**
 * The fused graph's last layer on [CLS] alone: the packed Attention operators
 * take one sequence for queries and keys, so this layer projects the [CLS]
 * query and every token's key and value (one packed product) itself and
 * attends with standard operators; the rest is fusedLayer's.
 */
function fusedClsLayer(e: Emit, x: string, i: number, k: ReturnType<typeof standardConstants>, maskBias: string): string {
  const { g } = e;
  const p = layerPrefix(i);
  const xq = clsPosition(g, x);
  const [q] = packedLinears(e, xq, [`${p}.attention.self.query`], `${p}.attention.self.q`);
  const [key, value] = packedLinears(e, x, [`${p}.attention.self.key`, `${p}.attention.self.value`], `${p}.attention.self.kv`);
  return fusedTail(e, standardAttention(e, q, key, value, k, maskBias), xq, i);
}

function fusedLayer(e: Emit, x: string, i: number): string {
  const { g, config } = e;
  const p = layerPrefix(i);
  const w = (n: string): WeightTensor => e.weights.get(n)!;
  const qkv = packTransposed(['query', 'key', 'value'].map((n) => w(`${p}.attention.self.${n}.weight`)));
  const qkvB = concatVectors(['query', 'key', 'value'].map((n) => w(`${p}.attention.self.${n}.bias`)));
  const heads = [intAttr('num_heads', config.numHeads)];
  let attn: string;
  if (e.precision === 'int8') {
    const q = quantized(g, `${p}.attention.self.qkv`, qkv);
    const [xq, xScale, xZero] = g.opN('DynamicQuantizeLinear', [x], 3);
    attn = g.msOp('QAttention', [xq, q.weight, g.float32Tensor(`${p}.attention.self.qkv.bias`, qkvB), xScale, q.scale, e.maskInt, xZero], heads);
  } else {
    // Attention's default mask_filter_value is -10000, the same bias the unfused graph adds.
    const qkvW = g.floatTensor(`${p}.attention.self.qkv.weight`, qkv);
    attn = g.msOp('Attention', [x, qkvW, g.floatTensor(`${p}.attention.self.qkv.bias`, qkvB), e.maskInt], heads);
  }
  return fusedTail(e, attn, x, i);
}

/** A fused layer after attention: output projection, two SkipLayerNormalizations and the BiasGelu feed-forward; `x` is the residual. */
function fusedTail(e: Emit, attn: string, x: string, i: number): string {
  const { g, config } = e;
  const p = layerPrefix(i);
  const skipLn = (t: string, skip: string, bias: string, norm: string, out?: string): string =>
    g.msOp('SkipLayerNormalization', [t, skip, `${norm}.weight`, `${norm}.bias`, bias], [floatAttr('epsilon', config.layerNormEps)], out);
  const h = skipLn(matmulT(e, attn, `${p}.attention.output.dense`), x, `${p}.attention.output.dense.bias`, `${p}.attention.output.LayerNorm`);
  const gelu = g.msOp('BiasGelu', [matmulT(e, h, `${p}.intermediate.dense`), `${p}.intermediate.dense.bias`]);
  return skipLn(matmulT(e, gelu, `${p}.output.dense`), h, `${p}.output.dense.bias`, `${p}.output.LayerNorm`, layerOut(e, i));
}

/** Pooler and classifier on the [CLS] position (plus the wide n-gram logits); logits are float32 whatever the precision, as callers read them. */
function classifierHead(e: Emit, x: string): void {
  const { g, config } = e;
  const first = g.op('Gather', [x, g.int64s([0], true)], [intAttr('axis', 1)]);
  const pooled = g.op('Tanh', [linear(g, first, 'bert.pooler.dense')]);
  const wt = g.op('Transpose', ['classifier.weight'], [intsAttr('perm', [1, 0])]);
  const ngram = config.ngram;
  const deep = g.op('Add', [g.op('MatMul', [pooled, wt]), 'classifier.bias'], [], ngram || e.precision === 'fp16' ? undefined : OUTPUT_NAME);
  const deep32 = e.precision === 'fp16' ? g.op('Cast', [deep], [intAttr('to', DataType.FLOAT)], ngram ? undefined : OUTPUT_NAME) : deep;
  if (ngram) {
    const src = ngramSource(g, ngram, INPUT_NAMES[0], INPUT_NAMES[1]);
    g.op('Add', [deep32, emitWideLogits(g, emitNgramFeatures(g, src.ids, src.mask, ngram, config.vocabSize))], [], OUTPUT_NAME);
  }
}

function startGraph(config: BertConfig, weights: WeightMap, opts: BuildOptions): Emit {
  checkWeights(config, weights);
  const prefix = opts.hiddenAfterLayers;
  if (prefix !== undefined && (prefix < 0 || prefix > config.numLayers)) {
    throw new LivetagError('LT_WEIGHTS_INVALID', `hiddenAfterLayers ${prefix} is outside 0..${config.numLayers}`);
  }
  const precision = opts.precision ?? 'fp32';
  if (precision !== 'fp32' && (!opts.fused || prefix !== undefined)) {
    throw new LivetagError('LT_WEIGHTS_INVALID', `precision ${precision} is a serving variant of the fused full graph (set fused, not hiddenAfterLayers)`);
  }
  const g = new GraphBuilder(precision === 'fp16');
  const used = weightSpecs(config).filter((spec) => prefix === undefined || inEncoderPrefix(spec.name, prefix));
  // The n-gram table stays float32 in an fp16 graph: its logits are summed, not multiplied through layers.
  for (const spec of used) (spec.name.startsWith('ngram.') ? g.float32Tensor(spec.name, weights.get(spec.name)!) : g.floatTensor(spec.name, weights.get(spec.name)!));
  const fused = opts.fused === true;
  const maskInt = fused ? g.op('Cast', ['attention_mask'], [intAttr('to', DataType.INT32)]) : '';
  return { g, config, weights, prefix, layers: prefix ?? config.numLayers, precision, fused, maskInt, wholeLastLayer: opts.wholeLastLayer === true };
}

/** The inputs of a classifier graph for `config`, as its manifest lists them: BERT's, and the codes of a text n-gram branch. */
export function servingInputs(config: BertConfig): readonly string[] {
  return config.ngram?.source === 'text' ? [...INPUT_NAMES, NGRAM_INPUT] : INPUT_NAMES;
}

/**
 * Emits BERT-for-sequence-classification as standard ONNX operators. Weights
 * keep Hugging Face's names and layouts (Linear as [out, in] behind a
 * Transpose), so the reader is a plain lookup and onnxruntime's constant
 * folding removes the transposes at load.
 */
export function buildBertOnnx(config: BertConfig, weights: WeightMap, opts: BuildOptions = {}): Uint8Array {
  const e = startGraph(config, weights, opts);
  let x = embeddings(e);
  // The fused graph's packed Attention takes the raw mask; only its [CLS] layer adds the bias itself.
  const maskBias = e.layers === 0 || (e.fused && !clsOnlyLayer(e, e.layers - 1)) ? '' : additiveMask(e.g);
  const k = standardConstants(e);
  for (let i = 0; i < e.layers; i++) {
    if (!e.fused) x = standardLayer(e, x, i, k, maskBias);
    else x = clsOnlyLayer(e, i) ? fusedClsLayer(e, x, i, k, maskBias) : fusedLayer(e, x, i);
  }

  const FLOAT = DataType.FLOAT;
  let output: onnxProto.onnx.IValueInfoProto;
  if (e.prefix === undefined) {
    classifierHead(e, x);
    output = valueInfo(OUTPUT_NAME, FLOAT, ['batch', config.numLabels]);
  } else {
    output = valueInfo(HIDDEN_OUTPUT_NAME, FLOAT, ['batch', 'sequence', config.hiddenSize]);
  }
  // Fused and quantized graphs repack weights; drop the originals they no longer read.
  const read = new Set(e.g.nodes.flatMap((n) => n.input ?? []));
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    producerName: 'livetag',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: ONNX_OPSET }, ...(e.fused ? [{ domain: MS_DOMAIN, version: 1 }] : [])],
    metadataProps: Object.entries(opts.meta ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: 'bert_multilabel',
      node: e.g.nodes,
      initializer: e.g.initializers.filter((t) => read.has(String(t.name))),
      input: (e.prefix === undefined ? servingInputs(config) : INPUT_NAMES).map((n) => valueInfo(n, DataType.INT64, ['batch', n === NGRAM_INPUT ? 'chars' : 'sequence'])),
      output: [output],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
